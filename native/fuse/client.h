// Daemon link of sentinel-fuse: a bounded event queue filled by FUSE threads and drained by one
// sender thread, the deny set received in STATE_PUSH frames, and the outage policy.
//
// FUSE threads never touch the socket. They encode a record straight into the pending buffer
// under a short mutex (one memcpy, no allocation once the buffer has grown) and wake the sender
// through an eventfd only when the buffer goes from empty to non-empty. When the queue is at its
// bound (events or bytes, counting batches sent but not yet acknowledged) the event is dropped
// and counted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../core/protocol.h"

namespace sentinel::fuse {

enum class Policy { kFailOpen, kFailClosed };

struct ClientOptions {
  std::string socket_path;
  Policy policy = Policy::kFailOpen;
  size_t queue_events = 65536;
  size_t queue_bytes = 64u << 20;
  int stats_interval_s = 30;
  // Verdict barrier: longest wait (ms) of a held destructive operation for BARRIER_ACK; 0 = off
  // (the BARRIER role is then not asked for). On by default: it is what keeps the files lost to
  // a fast attacker at 2-4 live (docs/lab.md); benign processes in Normal are rarely held.
  int barrier_ms = 100;
  std::string name = "sentinel-fuse";
};

struct Counters {
  std::atomic<uint64_t> enqueued{0}, dropped{0}, sent{0}, acked{0}, rejected{0}, resent{0};
  std::atomic<uint64_t> batches{0}, outages{0}, reconnects{0}, state_pushes{0};
  std::atomic<uint64_t> denied{0}, denied_outage{0}, allowed_outage{0}, errors{0};
  // Verdict barrier: operations held, holds released by the timeout (fail-open), total hold
  // time (µs), held operations refused right after the hold (the daemon decided meanwhile),
  // BARRIER frames sent.
  std::atomic<uint64_t> held{0}, hold_timeouts{0}, hold_us{0}, hold_denied{0}, barriers{0};
};

class Client {
 public:
  explicit Client(ClientOptions opts);
  ~Client();

  void start();
  // Stops the sender after trying for up to `flush_ms` to deliver (and have acknowledged) what is
  // queued, then logs the final counters.
  void stop(int flush_ms);

  // Called by FUSE threads. Encodes and queues; never blocks on I/O.
  void enqueue(const proto::EventView& e);

  // Actions the daemon's last snapshot gives (pid, start_time); 0 when none. Lock-free fast path
  // when the snapshot is empty.
  uint8_t actionsFor(uint32_t pid, uint64_t start) const;
  // True while the daemon link is down (not handshaken / no snapshot yet on this connection).
  bool disconnected() const { return !live_.load(std::memory_order_acquire); }
  Policy policy() const { return opts_.policy; }

  // Verdict barrier: blocks the calling FUSE thread until the daemon has acknowledged a BARRIER
  // sent after every event queued so far (so the events of (pid, start) are scored and any
  // resulting STATE_PUSH applied), or until barrier_ms passed (counted; the caller proceeds).
  // Returns at once when the barrier is off, not granted, or the link is not live. Only the
  // caller waits (its own condition variable); other threads go on.
  void barrier(uint32_t pid, uint64_t start);
  bool barrierActive() const { return barrier_granted_.load(std::memory_order_acquire) && live_.load(std::memory_order_acquire); }

  Counters counters;
  void logStats(const char* msg);

 private:
  struct Waiter {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    uint32_t pid = 0;
    uint64_t start = 0;
  };
  struct Inflight {
    uint32_t seq;
    uint32_t events;
    std::vector<uint8_t> frame;
    // A BARRIER frame (events == 0): the waiters it releases when its BARRIER_ACK arrives.
    std::vector<std::shared_ptr<Waiter>> waiters;
  };
  static void release(const std::shared_ptr<Waiter>& w);
  void releaseAllWaiters();
  void run();
  bool connectAndHello(int* fd);
  void onFrame(uint8_t type, uint32_t seq, const uint8_t* p, uint32_t len);
  void disconnect(int* fd, const char* why);
  void takePending();
  bool flushOut(int fd);  // false on a socket error
  void dropInflight(const char* why);
  void markOutage(const char* why);

  ClientOptions opts_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> stop_deadline_ms_{0};

  // Queue (FUSE threads → sender).
  std::mutex qm_;
  std::vector<uint8_t> pending_;
  size_t pending_events_ = 0;
  int64_t first_pending_us_ = 0;  // when the oldest queued event arrived (linger for batching)
  // Barrier requests not yet framed (under qm_, so the frame follows every event queued before).
  std::vector<std::shared_ptr<Waiter>> barrier_req_;
  std::atomic<bool> barrier_granted_{false};
  // BARRIER frames written, waiting for BARRIER_ACK: seq → waiters (sender thread only).
  std::unordered_map<uint32_t, std::vector<std::shared_ptr<Waiter>>> barrier_wait_;
  std::atomic<size_t> inflight_events_{0};
  std::atomic<size_t> inflight_bytes_{0};

  // Sender-only state.
  std::vector<uint8_t> spare_;
  std::vector<uint8_t> ctrl_;      // control frames (HELLO) written before any batch
  size_t ctrl_off_ = 0;
  // Batches taken from the queue and not yet delivered: [0, write_idx_) written to the socket and
  // waiting for BATCH_ACK (ACKS granted), [write_idx_, end) not yet (fully) written. Without ACKS
  // a batch is delivered once fully written. On reconnect all of them are sent again.
  std::deque<Inflight> unacked_;
  size_t write_idx_ = 0;
  size_t write_off_ = 0;
  int64_t hello_sent_ms_ = 0;
  std::vector<uint8_t> in_;
  uint32_t seq_ = 1;
  bool acks_ = false;
  bool events_ = true;
  bool handshaken_ = false;
  uint32_t max_payload_ = 64 * 1024;
  bool in_outage_ = false;
  int64_t outage_since_ms_ = 0;

  // Deny set.
  std::atomic<bool> live_{false};
  std::atomic<bool> deny_nonempty_{false};
  mutable std::shared_mutex dm_;
  struct Key {
    uint32_t pid;
    uint64_t start;
    bool operator==(const Key& o) const { return pid == o.pid && start == o.start; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<uint64_t>()((uint64_t(k.pid) << 40) ^ k.start); }
  };
  std::unordered_map<Key, uint8_t, KeyHash> deny_;
  uint64_t generation_ = 0;
};

// One JSON log line on stderr (pino-like fields: level, time, msg, plus extra JSON members).
void logLine(const char* level, const char* msg, const std::string& extraJson = "");
std::string jsonStr(const std::string& s);

}  // namespace sentinel::fuse

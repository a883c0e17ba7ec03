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
  std::string name = "sentinel-fuse";
};

struct Counters {
  std::atomic<uint64_t> enqueued{0}, dropped{0}, sent{0}, acked{0}, rejected{0}, resent{0};
  std::atomic<uint64_t> batches{0}, outages{0}, reconnects{0}, state_pushes{0};
  std::atomic<uint64_t> denied{0}, denied_outage{0}, allowed_outage{0}, errors{0};
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

  Counters counters;
  void logStats(const char* msg);

 private:
  struct Inflight {
    uint32_t seq;
    uint32_t events;
    std::vector<uint8_t> frame;
  };
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

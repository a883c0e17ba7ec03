#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "proc_cache.h"

namespace sentinel::fuse {

namespace p = sentinel::proto;

static std::mutex g_log_mutex;

std::string jsonStr(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

void logLine(const char* level, const char* msg, const std::string& extra) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long ms = static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  std::string line = "{\"level\":\"" + std::string(level) + "\",\"time\":" + std::to_string(ms) +
                     ",\"name\":\"sentinel-fuse\",\"pid\":" + std::to_string(getpid()) +
                     ",\"msg\":" + jsonStr(msg);
  if (!extra.empty()) line += "," + extra;
  line += "}\n";
  std::lock_guard<std::mutex> g(g_log_mutex);
  ssize_t r = ::write(2, line.data(), line.size());
  (void)r;
}

Client::Client(ClientOptions opts) : opts_(std::move(opts)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pending_.reserve(256 * 1024);
  spare_.reserve(256 * 1024);
}

Client::~Client() {
  if (thread_.joinable()) stop(0);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Client::start() { thread_ = std::thread([this] { run(); }); }

void Client::stop(int flush_ms) {
  stop_deadline_ms_.store(monotonicMs() + flush_ms);
  stopping_.store(true);
  uint64_t one = 1;
  ssize_t r = ::write(wake_fd_, &one, sizeof one);
  (void)r;
  if (thread_.joinable()) thread_.join();
  logStats("exit");
}

void Client::enqueue(const p::EventView& e) {
  size_t recBytes = p::kRecordFixed + e.comm.size + e.path.size + e.path2.size + e.sample.size +
                    e.header_before.size + e.header_after.size;
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> g(qm_);
    if (pending_events_ + inflight_events_.load(std::memory_order_relaxed) >= opts_.queue_events ||
        pending_.size() + recBytes + inflight_bytes_.load(std::memory_order_relaxed) > opts_.queue_bytes) {
      counters.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wasEmpty = pending_events_ == 0;
    if (wasEmpty) first_pending_us_ = monotonicUs();
    p::appendRecord(pending_, e);
    pending_events_++;
  }
  counters.enqueued.fetch_add(1, std::memory_order_relaxed);
  if (wasEmpty) {
    uint64_t one = 1;
    ssize_t r = ::write(wake_fd_, &one, sizeof one);
    (void)r;
  }
}

void Client::release(const std::shared_ptr<Waiter>& w) {
  {
    std::lock_guard<std::mutex> g(w->m);
    w->done = true;
  }
  w->cv.notify_one();
}

// Sender thread (or after it stopped): lets every held operation go (link lost, stopping).
void Client::releaseAllWaiters() {
  std::vector<std::shared_ptr<Waiter>> req;
  {
    std::lock_guard<std::mutex> g(qm_);
    req.swap(barrier_req_);
  }
  for (auto& w : req) release(w);
  for (auto& kv : barrier_wait_)
    for (auto& w : kv.second) release(w);
  barrier_wait_.clear();
  for (size_t i = 0; i < unacked_.size();) {
    if (unacked_[i].events == 0 && !unacked_[i].waiters.empty()) {
      for (auto& w : unacked_[i].waiters) release(w);
      inflight_bytes_.fetch_sub(unacked_[i].frame.size());
      if (i < write_idx_) write_idx_--;
      unacked_.erase(unacked_.begin() + static_cast<long>(i));
    } else {
      i++;
    }
  }
}

void Client::barrier(uint32_t pid, uint64_t start) {
  if (opts_.barrier_ms <= 0 || !barrierActive()) return;
  auto w = std::make_shared<Waiter>();
  w->pid = pid;
  w->start = start;
  int64_t t0 = monotonicUs();
  {
    std::lock_guard<std::mutex> g(qm_);
    barrier_req_.push_back(w);
  }
  uint64_t one = 1;
  ssize_t r = ::write(wake_fd_, &one, sizeof one);
  (void)r;
  counters.held.fetch_add(1, std::memory_order_relaxed);
  bool ok;
  {
    std::unique_lock<std::mutex> l(w->m);
    ok = w->cv.wait_for(l, std::chrono::milliseconds(opts_.barrier_ms), [&] { return w->done; });
  }
  if (!ok) counters.hold_timeouts.fetch_add(1, std::memory_order_relaxed);
  counters.hold_us.fetch_add(static_cast<uint64_t>(monotonicUs() - t0), std::memory_order_relaxed);
}

uint8_t Client::actionsFor(uint32_t pid, uint64_t start) const {
  if (!deny_nonempty_.load(std::memory_order_acquire)) return 0;
  std::shared_lock<std::shared_mutex> g(dm_);
  auto it = deny_.find(Key{pid, start});
  return it == deny_.end() ? 0 : it->second;
}

void Client::logStats(const char* msg) {
  size_t queued;
  {
    std::lock_guard<std::mutex> g(qm_);
    queued = pending_events_;
  }
  char b[1024];
  std::snprintf(b, sizeof b,
                "\"connected\":%s,\"queued\":%zu,\"inflight\":%zu,\"enqueued\":%llu,\"dropped\":%llu,"
                "\"sent\":%llu,\"acked\":%llu,\"rejected\":%llu,\"resent\":%llu,\"batches\":%llu,"
                "\"outages\":%llu,\"reconnects\":%llu,\"statePushes\":%llu,\"denied\":%llu,"
                "\"deniedOutage\":%llu,\"allowedOutage\":%llu,\"daemonErrors\":%llu,\"held\":%llu,"
                "\"holdTimeouts\":%llu,\"holdUs\":%llu,\"holdDenied\":%llu,\"barriers\":%llu",
                live_.load() ? "true" : "false", queued, inflight_events_.load(),
                (unsigned long long)counters.enqueued.load(), (unsigned long long)counters.dropped.load(),
                (unsigned long long)counters.sent.load(), (unsigned long long)counters.acked.load(),
                (unsigned long long)counters.rejected.load(), (unsigned long long)counters.resent.load(),
                (unsigned long long)counters.batches.load(), (unsigned long long)counters.outages.load(),
                (unsigned long long)counters.reconnects.load(), (unsigned long long)counters.state_pushes.load(),
                (unsigned long long)counters.denied.load(), (unsigned long long)counters.denied_outage.load(),
                (unsigned long long)counters.allowed_outage.load(), (unsigned long long)counters.errors.load(),
                (unsigned long long)counters.held.load(), (unsigned long long)counters.hold_timeouts.load(),
                (unsigned long long)counters.hold_us.load(), (unsigned long long)counters.hold_denied.load(),
                (unsigned long long)counters.barriers.load());
  logLine(counters.dropped.load() ? "warn" : "info", msg, b);
}

void Client::markOutage(const char* why) {
  if (in_outage_) return;
  in_outage_ = true;
  outage_since_ms_ = monotonicMs();
  counters.outages.fetch_add(1);
  const char* pol = opts_.policy == Policy::kFailOpen
                        ? "fail-open: ALL operations are ALLOWED while the daemon is unreachable (last deny set still enforced)"
                        : "fail-closed: mutating operations are DENIED (EPERM) while the daemon is unreachable";
  logLine("error", "daemon unreachable",
          "\"socket\":" + jsonStr(opts_.socket_path) + ",\"reason\":" + jsonStr(why) +
              ",\"policy\":" + jsonStr(opts_.policy == Policy::kFailOpen ? "fail-open" : "fail-closed") +
              ",\"effect\":" + jsonStr(pol) + ",\"outages\":" + std::to_string(counters.outages.load()));
}

bool Client::connectAndHello(int* out) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    markOutage(std::strerror(errno));
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (opts_.socket_path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    markOutage("socket path too long");
    return false;
  }
  std::memcpy(addr.sun_path, opts_.socket_path.c_str(), opts_.socket_path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    markOutage(std::strerror(e));
    return false;
  }
  ctrl_.clear();
  ctrl_off_ = 0;
  in_.clear();
  p::appendHello(ctrl_, seq_++,
                 p::kRoleEvents | p::kRoleSubscribe | p::kRoleAcks | (opts_.barrier_ms > 0 ? p::kRoleBarrier : 0u),
                 static_cast<uint32_t>(getpid()), opts_.name);
  handshaken_ = false;
  hello_sent_ms_ = monotonicMs();
  *out = fd;
  return true;
}

void Client::disconnect(int* fd, const char* why) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
  bool wasLive = live_.exchange(false);
  barrier_granted_.store(false);
  releaseAllWaiters();
  handshaken_ = false;
  write_idx_ = 0;
  write_off_ = 0;
  ctrl_.clear();
  ctrl_off_ = 0;
  if (wasLive || !in_outage_) markOutage(why);
}

void Client::dropInflight(const char* why) {
  releaseAllWaiters();
  size_t n = 0;
  for (auto& b : unacked_) n += b.events;
  unacked_.clear();
  write_idx_ = write_off_ = 0;
  inflight_events_.store(0);
  inflight_bytes_.store(0);
  size_t q;
  {
    std::lock_guard<std::mutex> g(qm_);
    q = pending_events_;
    pending_.clear();
    pending_events_ = 0;
  }
  if (n + q) {
    counters.dropped.fetch_add(n + q);
    logLine("warn", "undelivered events dropped", "\"reason\":" + jsonStr(why) + ",\"events\":" + std::to_string(n + q));
  }
}

void Client::takePending() {
  size_t taken;
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard<std::mutex> g(qm_);
    waiters.swap(barrier_req_);
    spare_.clear();
    std::swap(spare_, pending_);
    taken = pending_events_;
    pending_events_ = 0;
  }
  // After the batches holding every event queued before these requests: one BARRIER frame
  // naming their processes (the daemon scores them and acknowledges after its next tick).
  auto addBarrier = [&] {
    if (waiters.empty()) return;
    if (!barrier_granted_.load()) {
      for (auto& w : waiters) release(w);
      return;
    }
    std::vector<std::pair<uint32_t, uint64_t>> keys;
    for (auto& w : waiters) {
      std::pair<uint32_t, uint64_t> k{w->pid, w->start};
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
      if (keys.size() >= 4096) break;
    }
    Inflight b;
    b.seq = 0;
    b.events = 0;
    uint32_t payload = static_cast<uint32_t>(4 + keys.size() * 16);
    p::appendHeader(b.frame, p::kBarrier, payload, 0);
    size_t at0 = b.frame.size();
    b.frame.resize(at0 + payload);
    p::store<uint32_t>(b.frame.data() + at0, static_cast<uint32_t>(keys.size()));
    for (size_t i = 0; i < keys.size(); i++) {
      uint8_t* q = b.frame.data() + at0 + 4 + i * 16;
      p::store<uint32_t>(q, keys[i].first);
      p::store<uint32_t>(q + 4, 0);
      p::store<uint64_t>(q + 8, keys[i].second);
    }
    b.waiters = std::move(waiters);
    inflight_bytes_.fetch_add(b.frame.size());
    unacked_.push_back(std::move(b));
  };
  if (taken == 0) {
    addBarrier();
    return;
  }
  if (!events_) {
    counters.dropped.fetch_add(taken);
    spare_.clear();
    addBarrier();
    return;
  }
  // Split the encoded records into EVENT_BATCH frames of at most 64 KiB (and max_payload).
  size_t maxPayload = 64 * 1024 - p::kHeaderSize;  // frames of at most 64 KiB
  if (max_payload_ < maxPayload) maxPayload = max_payload_;
  const uint8_t* d = spare_.data();
  size_t n = spare_.size(), at = 0;
  while (at < n) {
    // Find how many records fit, then allocate exactly that (the byte bound counts frame sizes,
    // so a frame must not hold more memory than its size).
    size_t end = at, payload = 4;
    uint32_t count = 0;
    while (end < n) {
      uint16_t len = p::load<uint16_t>(d + end);
      if (count > 0 && payload + len > maxPayload) break;
      payload += len;
      end += len;
      count++;
    }
    Inflight b;
    b.seq = 0;
    b.events = count;
    b.frame.reserve(p::kHeaderSize + payload);
    p::appendHeader(b.frame, p::kEventBatch, static_cast<uint32_t>(payload), 0);
    b.frame.resize(p::kHeaderSize + 4);
    p::store<uint32_t>(b.frame.data() + p::kHeaderSize, count);
    b.frame.insert(b.frame.end(), d + at, d + end);
    at = end;
    inflight_events_.fetch_add(b.events);
    inflight_bytes_.fetch_add(b.frame.size());
    unacked_.push_back(std::move(b));
  }
  spare_.clear();
  if (spare_.capacity() > (4u << 20)) spare_.shrink_to_fit();  // give back a burst's buffer
  addBarrier();
}

bool Client::flushOut(int fd) {
  while (ctrl_off_ < ctrl_.size()) {
    ssize_t w = ::send(fd, ctrl_.data() + ctrl_off_, ctrl_.size() - ctrl_off_, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    ctrl_off_ += static_cast<size_t>(w);
  }
  if (!handshaken_) return true;
  while (write_idx_ < unacked_.size()) {
    Inflight& b = unacked_[write_idx_];
    if (write_off_ == 0) {
      b.seq = seq_++;
      p::store<uint32_t>(b.frame.data() + 8, b.seq);
    }
    ssize_t w = ::send(fd, b.frame.data() + write_off_, b.frame.size() - write_off_, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    write_off_ += static_cast<size_t>(w);
    if (write_off_ < b.frame.size()) continue;
    write_off_ = 0;
    if (b.events == 0 && !b.waiters.empty()) {
      // A BARRIER: not resent after a reconnect (its waiters are released instead).
      counters.barriers.fetch_add(1);
      barrier_wait_[b.seq] = std::move(b.waiters);
      inflight_bytes_.fetch_sub(b.frame.size());
      unacked_.erase(unacked_.begin() + static_cast<long>(write_idx_));
      continue;
    }
    counters.sent.fetch_add(b.events);
    counters.batches.fetch_add(1);
    if (acks_) {
      write_idx_++;
    } else {
      inflight_events_.fetch_sub(b.events);
      inflight_bytes_.fetch_sub(b.frame.size());
      unacked_.pop_front();
    }
  }
  return true;
}

void Client::onFrame(uint8_t type, uint32_t seq, const uint8_t* d, uint32_t len) {
  switch (type) {
    case p::kHelloAck: {
      if (len < 12) break;
      uint16_t ver = p::load<uint16_t>(d);
      uint32_t roles = p::load<uint32_t>(d + 4);
      uint32_t mp = p::load<uint32_t>(d + 8);
      handshaken_ = true;
      acks_ = (roles & p::kRoleAcks) != 0;
      barrier_granted_.store(opts_.barrier_ms > 0 && (roles & p::kRoleBarrier) != 0);
      if (opts_.barrier_ms > 0 && !(roles & p::kRoleBarrier))
        logLine("warn", "daemon did not grant BARRIER: destructive operations are not held on this connection");
      events_ = (roles & p::kRoleEvents) != 0;
      if (!events_) logLine("error", "daemon did not grant EVENTS: events are dropped (counted) on this connection");
      max_payload_ = mp ? mp : 64 * 1024;
      size_t resend = 0;
      for (auto& b : unacked_) resend += b.events;
      write_idx_ = 0;
      write_off_ = 0;
      if (resend) counters.resent.fetch_add(resend);
      counters.reconnects.fetch_add(1);
      std::string extra = "\"socket\":" + jsonStr(opts_.socket_path) + ",\"version\":" + std::to_string(ver) +
                          ",\"roles\":" + std::to_string(roles) + ",\"resending\":" + std::to_string(resend);
      if (in_outage_) extra += ",\"outageMs\":" + std::to_string(monotonicMs() - outage_since_ms_);
      in_outage_ = false;
      logLine("info", "connected", extra);
      if (!(roles & p::kRoleSubscribe)) {
        logLine("warn", "daemon did not grant SUBSCRIBE: no deny set will be received");
        live_.store(true, std::memory_order_release);
      }
      break;
    }
    case p::kBatchAck: {
      if (len < 8) break;
      uint32_t acc = p::load<uint32_t>(d), rej = p::load<uint32_t>(d + 4);
      counters.acked.fetch_add(acc);
      counters.rejected.fetch_add(rej);
      // Acks come in order; drop every written batch up to and including this seq.
      size_t pos = write_idx_;
      for (size_t i = 0; i < write_idx_; i++)
        if (unacked_[i].seq == seq) {
          pos = i;
          break;
        }
      if (pos == write_idx_) break;  // unknown seq (e.g. from before a reconnect)
      for (size_t i = 0; i <= pos; i++) {
        inflight_events_.fetch_sub(unacked_.front().events);
        inflight_bytes_.fetch_sub(unacked_.front().frame.size());
        unacked_.pop_front();
      }
      write_idx_ -= pos + 1;
      break;
    }
    case p::kStatePush: {
      if (len < 16) break;
      uint64_t gen = p::load<uint64_t>(d);
      uint32_t count = p::load<uint32_t>(d + 8);
      if (len != 16 + static_cast<uint64_t>(count) * p::kVerdictEntrySize) {
        logLine("warn", "malformed STATE_PUSH ignored", "\"length\":" + std::to_string(len));
        break;
      }
      std::unordered_map<Key, uint8_t, KeyHash> next;
      next.reserve(count);
      std::string list;
      for (uint32_t i = 0; i < count; i++) {
        p::VerdictEntry v = p::readVerdictEntry(d + 16 + i * p::kVerdictEntrySize);
        uint8_t a = v.actions | p::actionsFor(v.state);
        if (a) next[Key{v.pid, v.start_time}] |= a;
        if (i < 32) {
          if (!list.empty()) list += ",";
          list += "{\"pid\":" + std::to_string(v.pid) + ",\"state\":" + std::to_string(v.state) +
                  ",\"actions\":" + std::to_string(a) + ",\"start\":" + std::to_string(v.start_time) + "}";
        }
      }
      {
        std::unique_lock<std::shared_mutex> g(dm_);
        deny_.swap(next);
        generation_ = gen;
        deny_nonempty_.store(!deny_.empty(), std::memory_order_release);
      }
      counters.state_pushes.fetch_add(1);
      live_.store(true, std::memory_order_release);
      logLine("info", "state push", "\"generation\":" + std::to_string(gen) + ",\"count\":" + std::to_string(count) +
                                        ",\"entries\":[" + list + "]");
      break;
    }
    case p::kError: {
      counters.errors.fetch_add(1);
      uint32_t code = len >= 4 ? p::load<uint32_t>(d) : 0;
      uint32_t ref = len >= 8 ? p::load<uint32_t>(d + 4) : 0;
      uint16_t ml = len >= 10 ? p::load<uint16_t>(d + 8) : 0;
      std::string m = len >= 10u + ml ? std::string(reinterpret_cast<const char*>(d + 10), ml) : "";
      logLine("warn", "daemon error", "\"code\":" + std::to_string(code) + ",\"refSeq\":" + std::to_string(ref) +
                                          ",\"message\":" + jsonStr(m));
      break;
    }
    case p::kVerdictReply:
      break;
    case p::kBarrierAck: {
      auto it = barrier_wait_.find(seq);
      if (it == barrier_wait_.end()) break;
      for (auto& w : it->second) release(w);
      barrier_wait_.erase(it);
      break;
    }
    default:
      logLine("warn", "unknown frame from daemon", "\"type\":" + std::to_string(type));
  }
}

void Client::run() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  int fd = -1;
  int64_t backoff = 100;
  int64_t next_connect = 0;
  int64_t next_stats = monotonicMs() + opts_.stats_interval_s * 1000LL;
  uint8_t rbuf[64 * 1024];
  constexpr int64_t kLingerUs = 5000;
  constexpr size_t kLingerBytes = 48 * 1024;
  for (;;) {
    int64_t now = monotonicMs();
    int linger_ms = -1;
    if (stopping_.load()) {
      bool empty;
      {
        std::lock_guard<std::mutex> g(qm_);
        empty = pending_events_ == 0;
      }
      if (empty && unacked_.empty()) break;
      if (now >= stop_deadline_ms_.load() || fd < 0) {
        dropInflight(fd < 0 ? "daemon unreachable at exit" : "flush timeout at exit");
        break;
      }
    }
    if (fd < 0 && now >= next_connect) {
      if (connectAndHello(&fd)) {
        // backoff is reset once the handshake completes
      } else {
        next_connect = now + backoff;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
      }
    }
    if (fd >= 0) {
      if (!handshaken_ && now - hello_sent_ms_ > 5000) {
        disconnect(&fd, "no HELLO_ACK within 5 s");
        next_connect = now + backoff;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        continue;
      }
      if (handshaken_) {
        backoff = 100;
        if (write_idx_ == unacked_.size()) {
          // Linger up to kLingerUs after the oldest queued event so batches fill up (fewer
          // syscalls and acks on both sides), unless enough is queued already or we are stopping.
          size_t bytes;
          int64_t first;
          bool held;
          {
            std::lock_guard<std::mutex> g(qm_);
            bytes = pending_events_ ? pending_.size() : 0;
            first = first_pending_us_;
            held = !barrier_req_.empty();
          }
          int64_t waited = monotonicUs() - first;
          // A held operation waits on this batch: no lingering.
          if (!held && bytes > 0 && bytes < kLingerBytes && waited < kLingerUs && !stopping_.load()) {
            linger_ms = static_cast<int>((kLingerUs - waited + 999) / 1000);
          } else {
            takePending();
          }
        }
      }
      if (!flushOut(fd)) {
        disconnect(&fd, std::strerror(errno));
        next_connect = now + backoff;
        continue;
      }
    }
    if (now >= next_stats) {
      logStats("stats");
      next_stats = now + opts_.stats_interval_s * 1000LL;
    }
    pollfd pf[2];
    pf[0] = {wake_fd_, POLLIN, 0};
    int nf = 1;
    if (fd >= 0) {
      bool wantOut = ctrl_off_ < ctrl_.size() || (handshaken_ && write_idx_ < unacked_.size());
      pf[1] = {fd, static_cast<short>(POLLIN | (wantOut ? POLLOUT : 0)), 0};
      nf = 2;
    }
    int64_t timeout = next_stats - now;
    if (fd < 0) timeout = std::min<int64_t>(timeout, std::max<int64_t>(0, next_connect - now));
    if (stopping_.load()) timeout = std::min<int64_t>(timeout, 20);
    if (linger_ms >= 0) timeout = std::min<int64_t>(timeout, linger_ms);
    if (timeout > 1000) timeout = 1000;
    if (timeout < 0) timeout = 0;
    int r = ::poll(pf, nf, static_cast<int>(timeout));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (pf[0].revents & POLLIN) {
      uint64_t v;
      ssize_t rr = ::read(wake_fd_, &v, sizeof v);
      (void)rr;
    }
    if (nf == 2 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      bool closed = false;
      const char* why = "daemon closed the connection";
      for (;;) {
        ssize_t n = ::recv(fd, rbuf, sizeof rbuf, 0);
        if (n > 0) {
          in_.insert(in_.end(), rbuf, rbuf + n);
          if (static_cast<size_t>(n) < sizeof rbuf) break;
          continue;
        }
        if (n == 0) closed = true;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          closed = true;
          why = std::strerror(errno);
        }
        break;
      }
      size_t at = 0;
      while (in_.size() - at >= p::kHeaderSize) {
        p::FrameHeader h = p::readHeader(in_.data() + at);
        if (p::checkHeader(h) != p::kOk) {
          closed = true;
          why = "bad frame header from daemon";
          break;
        }
        if (in_.size() - at < p::kHeaderSize + h.length) break;
        onFrame(h.type, h.seq, in_.data() + at + p::kHeaderSize, h.length);
        at += p::kHeaderSize + h.length;
      }
      in_.erase(in_.begin(), in_.begin() + static_cast<long>(at));
      if (closed) {
        disconnect(&fd, why);
        next_connect = monotonicMs() + backoff;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
      }
    }
  }
  if (fd >= 0) ::close(fd);
  live_.store(false);
  barrier_granted_.store(false);
  releaseAllWaiters();
}

}  // namespace sentinel::fuse

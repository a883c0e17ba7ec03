#include "proc_cache.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace sentinel::fuse {

int64_t monotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

static ssize_t readSmall(const char* path, char* buf, size_t cap) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

bool readStat(uint32_t pid, StatFields* out) {
  char path[48];
  char buf[1024];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  ssize_t n = readSmall(path, buf, sizeof buf);
  if (n <= 0) return false;
  char* open = std::strchr(buf, '(');
  char* close = std::strrchr(buf, ')');
  if (!open || !close || close < open) return false;
  out->comm.assign(open + 1, close - open - 1);
  // Tokens after ") ": index 0 is field 3 (state), so field N is token N-3.
  char* p = close + 1;
  int field = 2;
  while (*p && field < 22) {
    while (*p == ' ') p++;
    if (!*p) break;
    field++;
    char* end;
    unsigned long long v = std::strtoull(p, &end, 10);
    if (field == 4) out->ppid = static_cast<uint32_t>(v);
    if (field == 6) out->sid = static_cast<uint32_t>(v);
    if (field == 22) out->start = v;
    p = end;
    while (*p && *p != ' ') p++;
  }
  return field == 22;
}

static uint32_t readTgid(uint32_t tid) {
  char path[48];
  char buf[2048];
  std::snprintf(path, sizeof path, "/proc/%u/status", tid);
  if (readSmall(path, buf, sizeof buf) <= 0) return 0;
  const char* t = std::strstr(buf, "\nTgid:");
  if (!t) return 0;
  return static_cast<uint32_t>(std::strtoul(t + 6, nullptr, 10));
}

bool ProcCache::resolve(uint32_t tid, ProcInfo* out) {
  if (tid == 0) return false;
  Shard& sh = shards_[tid % kShards];
  int64_t now = monotonicMs();
  uint64_t cachedThreadStart = 0;
  bool have = false;
  {
    std::lock_guard<std::mutex> g(sh.m);
    auto it = sh.map.find(tid);
    if (it != sh.map.end()) {
      if (now - it->second.checked_ms < kRevalidateMs) {
        *out = it->second.info;
        return true;
      }
      cachedThreadStart = it->second.thread_start;
      *out = it->second.info;
      have = true;
    }
  }
  StatFields ts;
  if (!readStat(tid, &ts)) {
    // Thread gone: keep reporting what we knew (a release after exit, for instance).
    return have;
  }
  if (have && ts.start == cachedThreadStart) {
    std::lock_guard<std::mutex> g(sh.m);
    auto it = sh.map.find(tid);
    if (it != sh.map.end()) it->second.checked_ms = now;
    return true;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  Entry e;
  e.thread_start = ts.start;
  e.checked_ms = now;
  uint32_t tgid = readTgid(tid);
  StatFields ps;
  if (tgid != 0 && tgid != tid && readStat(tgid, &ps)) {
    e.info.pid = tgid;
  } else {
    e.info.pid = tid;
    ps = ts;
  }
  e.info.ppid = ps.ppid;
  e.info.sid = ps.sid;
  e.info.start = ps.start;
  size_t n = ps.comm.size() > 16 ? 16 : ps.comm.size();
  std::memcpy(e.info.comm, ps.comm.data(), n);
  e.info.comm[n] = 0;
  e.info.comm_len = static_cast<uint8_t>(n);
  if (ps.ppid != 0) {
    StatFields pp;
    if (readStat(ps.ppid, &pp)) e.info.ppid_start = pp.start;
  }
  {
    std::lock_guard<std::mutex> g(sh.m);
    if (sh.map.size() >= kMaxEntries / kShards) sh.map.clear();  // bounded; refills on demand
    sh.map[tid] = e;
  }
  *out = e.info;
  return true;
}

}  // namespace sentinel::fuse

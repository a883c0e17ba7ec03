// Per-thread-id cache of the calling process's identity, read from /proc.
//
// FUSE reports the *thread* id of the caller (task pid), not the process id. A multithreaded
// program (Node's libuv pool, for one) calls us from many tids, so each tid is mapped to its
// thread group (Tgid in /proc/<tid>/status) and the process fields come from /proc/<tgid>/stat:
// ppid (field 4), session (field 6), start_time (field 22) and comm (field 2, the same string as
// /proc/<tgid>/comm). The parent's start time is kept too, so a child of a denied process can be
// denied before the daemon has heard of it.
//
// Entries are revalidated at most every kRevalidateMs: the tid's own start time is read again and
// compared, so a reused tid gets a fresh entry. Within that window a reused tid would keep the old
// identity; pid reuse inside 200 ms needs a full pid-space wrap and is accepted as a limit.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sentinel::fuse {

struct ProcInfo {
  uint32_t pid = 0;   // thread group id (the process)
  uint32_t ppid = 0;
  uint32_t sid = 0;
  uint64_t start = 0;        // process start time, /proc/<pid>/stat field 22 (clock ticks)
  uint64_t ppid_start = 0;   // parent's start time (0 = unknown)
  char comm[17] = {0};
  uint8_t comm_len = 0;
};

class ProcCache {
 public:
  static constexpr int64_t kRevalidateMs = 200;
  static constexpr size_t kMaxEntries = 8192;
  static constexpr int kShards = 16;

  // Fills *out for the calling tid; false when nothing is known (process gone and never seen).
  bool resolve(uint32_t tid, ProcInfo* out);

  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    ProcInfo info;
    uint64_t thread_start = 0;
    int64_t checked_ms = 0;
  };
  struct Shard {
    std::mutex m;
    std::unordered_map<uint32_t, Entry> map;
  };
  Shard shards_[kShards];
  std::atomic<uint64_t> misses_{0};
};

// Parsed subset of /proc/<pid>/stat.
struct StatFields {
  uint32_t ppid = 0, sid = 0;
  uint64_t start = 0;
  std::string comm;
};
bool readStat(uint32_t pid, StatFields* out);
int64_t monotonicMs();
int64_t monotonicUs();

}  // namespace sentinel::fuse

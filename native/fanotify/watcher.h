// fanotify watcher: turns fanotify notifications under a set of watched paths into protocol-v1
// EVENT_BATCH frames, and (with enforcement) answers FAN_OPEN_PERM permission events from a local
// deny table. Pure C++17, no Node-API (the N-API wrapper is native/addon/fanotify_binding.cc).
// docs/fanotify.md is the description of what is marked, resolved, reported and denied.
//
// Threads
// - notification thread: poll(notification fd, stop eventfd); reads batches, resolves
//   DFID+name to paths (directory-handle cache seeded at mark time, open_by_handle_at on a miss),
//   filters to the watched paths, builds records, appends finished frames to a bounded queue and
//   calls onReady() (never waits on the consumer; a full queue drops whole frames, counted).
// - permission thread (enforce only): poll(permission fd, stop eventfd); answers every
//   permission event at once from the current deny table snapshot (shared_ptr swapped under a
//   mutex held only for the pointer copy). It never opens a file on a marked file system, so it
//   can never wait on a permission event of its own.
//
// The consumer (JavaScript) calls drain(), setDenySet() and stats() from its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sentinel::fanotify {

enum class MarkMode { kInode, kFilesystem };
enum class KillPolicy { kNone, kStop, kKill };

struct Options {
  std::vector<std::string> paths;    // files or directories; canonicalized by open()
  bool enforce = false;              // second group with FAN_OPEN_PERM
  bool accessPerm = false;           // also FAN_ACCESS_PERM (reads on already-open files)
  MarkMode markMode = MarkMode::kInode;  // notification group only; the permission group always uses inode marks
  KillPolicy killPolicy = KillPolicy::kNone;
  size_t maxQueueBytes = 8u << 20;   // bound of finished frames waiting for drain()
  std::vector<uint32_t> protectPids;  // never denied / signalled (the daemon); self and pid 1 always
  bool movedEvents = false;          // use FAN_MOVED_FROM/TO pairing even where FAN_RENAME exists (tests)
};

struct Stats {
  uint64_t events = 0;          // fanotify notification events read (merged masks count once)
  uint64_t records = 0;         // protocol records produced
  uint64_t recordsQueued = 0;   // records in frames accepted into the queue
  uint64_t dropped = 0;         // records dropped because the queue was full
  uint64_t frames = 0;          // frames accepted into the queue
  uint64_t overflows = 0;       // FAN_Q_OVERFLOW events (kernel queue overflowed: events lost)
  uint64_t filtered = 0;        // events outside the watched paths
  uint64_t unresolved = 0;      // events whose directory handle could not be resolved
  uint64_t sampleFailures = 0;  // close-write files that could not be opened for sampling
  uint64_t marks = 0;           // directory/file marks placed (per group counted once)
  uint64_t markFailures = 0;    // marks that failed on new directories
  uint64_t permAllowed = 0;
  uint64_t permDenied = 0;
  uint64_t signalled = 0;       // processes sent SIGSTOP/SIGKILL by the kill policy
  uint64_t synthesized = 0;     // entries found in new directories when marking them (reported as created)
  uint64_t denyEntries = 0;     // entries in the current deny table (Lockdown only)
  uint64_t denyUpdates = 0;     // setDenySet calls
  uint64_t queuedBytes = 0;     // bytes waiting for drain()
  uint64_t dirCache = 0;        // directory handles cached
  bool renameEvents = false;    // FAN_RENAME in use (else FAN_MOVED_FROM/TO pairing)
  bool filesystemMarks = false; // notification group uses FAN_MARK_FILESYSTEM
};

// Result of setDenySet.
struct DenyUpdate {
  uint32_t lockdown = 0;           // entries that deny (Lockdown / DENY_ALL)
  std::vector<uint32_t> newlyDenied;  // pids that were not denied before
  uint32_t signalled = 0;          // processes signalled now by the kill policy
};

class Watcher {
 public:
  // Opens the groups and places the marks. On failure returns nullptr and sets *err to a
  // message that names the cause (errno text and what it means for fanotify).
  static std::unique_ptr<Watcher> open(const Options& o, std::string* err);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Starts the notification thread (the permission thread already runs from open() on);
  // onReady is called from it when the queue turns non-empty (at most once until the next
  // drain()). Returns false (and *err) on failure.
  bool start(std::function<void()> onReady, std::string* err);
  // Stops and joins both threads and closes both groups (idempotent; also on destruction).
  // Pending permission events are allowed by the kernel when the permission group closes.
  void stop();
  bool running() const { return running_; }

  // Appends every finished frame to *out (frames are finished at the end of each kernel read,
  // so nothing waits in a half-built frame). Returns the bytes appended.
  size_t drain(std::vector<uint8_t>* out);
  // Replaces the deny table with n 16-byte protocol verdict entries (STATE_PUSH entries).
  DenyUpdate setDenySet(const uint8_t* entries, size_t n);
  Stats stats() const;
  // The daemon's pid (0: none), protected like protectPids; may change on reconnect. Lock-free.
  void setDaemonPid(uint32_t pid) { daemonPid_.store(pid, std::memory_order_relaxed); }
  const std::vector<std::string>& roots() const { return roots_; }

 private:
  Watcher() = default;

  struct DenyEntry {
    uint64_t start_time;
  };
  using DenyTable = std::unordered_map<uint32_t, DenyEntry>;

  struct ProcEntry {
    uint32_t ppid = 0, sid = 0, uid = 0;
    uint64_t start = 0;
    int64_t checkedMs = 0;
    std::string comm;
  };

  struct DirEntry {
    std::string path;
    uint64_t gen = 0;
  };

  struct Parsed;
  struct Content {
    bool valid = false;
    const uint8_t* data = nullptr;
    size_t n = 0;
    uint64_t size = 0;
    float entropy = 0;
  };
  struct Dirty {
    uint32_t pid;
    int64_t firstMs;
  };

  bool markTree(const std::string& dir, uint32_t synthPid, std::string* err);
  bool markOne(const std::string& path, bool isDir, std::string* err);
  bool markFile(const std::string& path, std::string* err);
  void seedDir(const std::string& path);
  bool resolveDir(const uint8_t* fsid, const void* fh, std::string* out);
  void notifyLoop();
  void permLoop();
  void handleBatch(const uint8_t* buf, size_t len);
  void flushFrame();
  void appendEvent(uint8_t op, const Parsed& p, const std::string& path, const std::string* path2, const Content* c);
  // later: the events after this one in the same read (to follow a rename of the file).
  void closeWrite(const Parsed& p, const Parsed* later = nullptr, size_t nLater = 0, bool mayDefer = false);
  void flushPendingCloses(const Parsed* next, size_t nNext);
  void flushDirty(bool all);
  int dirtyTimeout() const;
  const ProcEntry* procInfo(uint32_t pid);
  bool inside(const std::string& path) const;
  bool protectedPid(uint32_t pid) const;
  bool isDaemonPid(uint32_t pid) const;
  bool shouldDeny(uint32_t pid, const DenyTable& t);
  uint32_t signalTree(uint32_t pid, uint64_t start);

  Options opt_;
  std::vector<std::string> roots_;
  int notifyFd_ = -1, permFd_ = -1, stopNotifyFd_ = -1, stopPermFd_ = -1;
  uint32_t notifyMask_ = 0, permMask_ = 0;
  bool fsMarks_ = false, renameEvents_ = false;
  std::unordered_map<uint64_t, int> mountFds_;  // fsid -> fd on that file system (open_by_handle_at)
  uint32_t selfPid_ = 0;
  std::atomic<uint32_t> daemonPid_{0};
  std::atomic<bool> running_{false};  // notification thread started and not stopped
  bool stopped_ = false;
  std::thread notifyThread_, permThread_;

  // notification-thread state
  std::unordered_map<std::string, DirEntry> dirs_;  // key: fsid + handle type + handle bytes
  uint64_t dirGen_ = 1;
  std::unordered_map<uint32_t, ProcEntry> procs_;
  std::vector<uint8_t> cur_;
  uint32_t curCount_ = 0;
  std::vector<uint8_t> sample_;
  std::unordered_map<std::string, Dirty> dirty_;  // modified, not yet closed
  std::vector<Parsed> pendingCloses_;  // close-writes whose file vanished before the rename was read
  uint64_t tsNs_ = 0;

  // shared
  mutable std::mutex qm_;
  std::deque<std::vector<uint8_t>> queue_;
  size_t queuedBytes_ = 0;
  std::atomic<bool> notified_{false};
  std::function<void()> onReady_;

  mutable std::mutex dm_;
  std::shared_ptr<const DenyTable> deny_ = std::make_shared<DenyTable>();

  std::atomic<uint64_t> events_{0}, records_{0}, recordsQueued_{0}, dropped_{0}, frames_{0},
      overflows_{0}, filtered_{0}, unresolved_{0}, sampleFailures_{0}, marks_{0}, markFailures_{0},
      permAllowed_{0}, permDenied_{0}, signalled_{0}, synthesized_{0}, denyEntries_{0}, denyUpdates_{0}, dirCache_{0};
};

// Parsed subset of /proc/<pid>/stat. False when the process is gone.
struct ProcStat {
  uint32_t ppid = 0, sid = 0;
  uint64_t start = 0;
  std::string comm;
};
bool readProcStat(uint32_t pid, ProcStat* out);

}  // namespace sentinel::fanotify

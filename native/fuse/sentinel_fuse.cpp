// sentinel-fuse: a passthrough FUSE view of a source directory that reports every operation to
// the Sentinel daemon (protocol v1, docs/protocol.md) and enforces the daemon's deny set locally.
// See docs/sentinel-fuse.md for the exact behaviour.
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "../core/protocol.h"
#include "client.h"
#include "proc_cache.h"

namespace p = sentinel::proto;
using sentinel::fuse::Client;
using sentinel::fuse::ClientOptions;
using sentinel::fuse::logLine;
using sentinel::fuse::jsonStr;
using sentinel::fuse::Policy;
using sentinel::fuse::ProcCache;
using sentinel::fuse::ProcInfo;

namespace {

struct Globals {
  int src_fd = -1;
  std::string source;
  std::string mountpoint;  // absolute, no trailing slash (except "/")
  bool report = true;
  Client* client = nullptr;
  ProcCache procs;
  std::atomic<uint64_t> unattributed{0};
};
Globals G;

struct FileHandle {
  int fd = -1;
  int flags = 0;
  ProcInfo opener;
  bool have_opener = false;
  std::string path;  // fuse path at open
  std::once_flag first_write;
  uint8_t hb[p::kMaxHeader];
  uint16_t hb_len = 0;
  bool hb_pre = false;  // captured at open (O_TRUNC) before truncation
  std::atomic<bool> wrote{false};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> size{0};
};

inline FileHandle* fhOf(fuse_file_info* fi) { return reinterpret_cast<FileHandle*>(fi->fh); }

// The request's path, or (NULL path on an open file) the path it was opened under.
inline const char* pathOf(const char* path, fuse_file_info* fi) {
  if (path) return path;
  return fi && fi->fh ? fhOf(fi)->path.c_str() : "/";
}

// "/a/b" → "a/b"; "/" → "."
inline const char* rel(const char* path) {
  while (*path == '/') path++;
  return *path ? path : ".";
}

inline std::string shown(const char* path) {
  if (std::strcmp(path, "/") == 0) return G.mountpoint;
  if (G.mountpoint == "/") return std::string(path);
  return G.mountpoint + path;
}

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

float entropyOf(const uint8_t* d, size_t n) {
  if (n == 0) return 0.0f;
  uint32_t h[256] = {0};
  for (size_t i = 0; i < n; i++) h[d[i]]++;
  double e = 0, inv = 1.0 / static_cast<double>(n);
  for (int i = 0; i < 256; i++)
    if (h[i]) {
      double q = h[i] * inv;
      e -= q * std::log2(q);
    }
  if (e < 0) e = 0;
  if (e > 8) e = 8;
  return static_cast<float>(e);
}

// Reads the first ≤256 bytes of the open file; reopens through /proc/self/fd when the descriptor
// is write-only.
uint16_t readHeaderOf(int fd, uint8_t* out) {
  ssize_t n = ::pread(fd, out, p::kMaxHeader, 0);
  if (n < 0 && errno == EBADF) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int r = ::open(link, O_RDONLY | O_CLOEXEC);
    if (r < 0) return 0;
    n = ::pread(r, out, p::kMaxHeader, 0);
    ::close(r);
  }
  return n > 0 ? static_cast<uint16_t>(n) : 0;
}

// The caller of the current request.
struct Caller {
  ProcInfo info;
  uint32_t uid = 0;
  bool known = false;
};

Caller caller() {
  Caller c;
  fuse_context* ctx = fuse_get_context();
  c.uid = ctx->uid;
  if (ctx->pid > 0) c.known = G.procs.resolve(static_cast<uint32_t>(ctx->pid), &c.info);
  if (!c.known && ctx->pid > 0) {
    c.info.pid = static_cast<uint32_t>(ctx->pid);
    c.known = true;
  }
  return c;
}

struct Ev {
  uint8_t op;
  int32_t result = 0;
  std::string path, path2;
  uint64_t offset = 0, len = 0, size = 0;
  uint32_t open_flags = 0;
  bool has_entropy = false;
  float entropy = 0;
  const uint8_t* sample = nullptr;
  uint16_t sample_len = 0;
  const uint8_t* hb = nullptr;
  uint16_t hb_len = 0;
  const uint8_t* ha = nullptr;
  uint16_t ha_len = 0;
};

void emit(const Caller& c, const Ev& ev) {
  if (!G.report) return;
  if (!c.known || c.info.pid == 0) {
    G.unattributed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  p::EventView e{};
  e.op = ev.op;
  e.flags = ev.has_entropy ? p::kFlagHasEntropy : 0;
  e.pid = c.info.pid;
  e.ppid = c.info.ppid;
  e.uid = c.uid;
  e.sid = c.info.sid;
  e.result = ev.result;
  e.ts_ns = nowNs();
  e.start_time = c.info.start;
  e.offset = ev.offset;
  e.len = ev.len;
  e.size = ev.size;
  e.open_flags = ev.open_flags;
  e.entropy = ev.has_entropy ? ev.entropy : 0.0f;
  e.comm = {reinterpret_cast<const uint8_t*>(c.info.comm), c.info.comm_len};
  auto clipPath = [](const std::string& s) {
    return p::Bytes{reinterpret_cast<const uint8_t*>(s.data()),
                    static_cast<uint16_t>(s.size() > p::kMaxPath ? p::kMaxPath : s.size())};
  };
  e.path = clipPath(ev.path);
  e.path2 = clipPath(ev.path2);
  e.sample = {ev.sample, ev.sample_len};
  e.header_before = {ev.hb, ev.hb_len};
  e.header_after = {ev.ha, ev.ha_len};
  G.client->enqueue(e);
}

enum class Kind { kRead, kMutate };

constexpr uint8_t kDeny = p::kDenyMutate | p::kDenyAll;

// The caller's actions: its own entry, or-ed with its parent's when its own entry denies nothing
// (a child the daemon has not heard of yet, or one only held, inherits its parent's denial).
inline uint8_t actionsOf(Client* cl, const Caller& c) {
  uint8_t a = cl->actionsFor(c.info.pid, c.info.start);
  if (!(a & kDeny) && c.info.ppid) a |= cl->actionsFor(c.info.ppid, c.info.ppid_start);
  return a;
}

// Verdict barrier (docs/sentinel-fuse.md): before a destructive operation on an existing file
// (open for writing, truncate, unlink, rename), a process waits until the daemon has scored every
// event sent so far (or --barrier-ms), when either the daemon holds it (HOLD action: Monitoring,
// or heuristic >= 0.5) or it has used up its free destructive operations: one at first; each
// barrier after which the daemon neither holds nor denies it grants 4, 8, 16, ... (up to 1024)
// more. So an unknown process's second destructive operation waits for the daemon's verdict on
// the first, and a benign bulk job (rm -rf) pays a logarithmic number of round trips. The
// caller then runs check(), which sees any deny set pushed meanwhile. Returns true if it held.
struct HoldKey {
  uint32_t pid;
  uint64_t start;
  bool operator==(const HoldKey& o) const { return pid == o.pid && start == o.start; }
};
struct HoldKeyHash {
  size_t operator()(const HoldKey& k) const { return std::hash<uint64_t>()((uint64_t(k.pid) << 40) ^ k.start); }
};
struct HoldState {
  uint32_t free = 1;   // destructive operations allowed before the next barrier
  uint32_t grant = 4;  // free operations granted after the next clean barrier
};
std::mutex g_hold_m;
std::unordered_map<HoldKey, HoldState, HoldKeyHash> g_holds;
constexpr size_t kMaxHoldEntries = 16384;

bool hold(const Caller& c) {
  if (!G.report || !c.known) return false;
  Client* cl = G.client;
  if (!cl->barrierActive()) return false;
  uint8_t a = actionsOf(cl, c);
  if (a & kDeny) return false;
  HoldKey k{c.info.pid, c.info.start};
  if (!(a & p::kHold)) {
    std::lock_guard<std::mutex> g(g_hold_m);
    if (g_holds.size() >= kMaxHoldEntries && !g_holds.count(k)) g_holds.clear();
    HoldState& h = g_holds[k];
    if (h.free > 0) {
      h.free--;
      return false;
    }
  }
  cl->barrier(c.info.pid, c.info.start);
  uint8_t after = actionsOf(cl, c);
  if (!(after & (kDeny | p::kHold))) {
    std::lock_guard<std::mutex> g(g_hold_m);
    HoldState& h = g_holds[k];
    h.free = h.grant;
    h.grant = h.grant >= 512 ? 1024 : h.grant * 2;
  }
  return true;
}

inline void countHoldDenied(bool held, int r) {
  if (held && r) G.client->counters.hold_denied.fetch_add(1, std::memory_order_relaxed);
}

// Verdict for the caller; 0 to proceed, -EPERM to refuse.
int check(const Caller& c, Kind kind, const char* path = nullptr) {
  if (!G.report || !c.known) return 0;
  Client* cl = G.client;
  uint8_t a = actionsOf(cl, c);
  if (a & p::kDenyAll) {
    if (path && std::strcmp(path, "/") == 0 && kind == Kind::kRead) return 0;  // getattr on root only
    cl->counters.denied.fetch_add(1, std::memory_order_relaxed);
    return -EPERM;
  }
  if (kind == Kind::kMutate) {
    if (a & p::kDenyMutate) {
      cl->counters.denied.fetch_add(1, std::memory_order_relaxed);
      return -EPERM;
    }
    if (cl->disconnected()) {
      if (cl->policy() == Policy::kFailClosed) {
        cl->counters.denied_outage.fetch_add(1, std::memory_order_relaxed);
        return -EPERM;
      }
      cl->counters.allowed_outage.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Operations

void* op_init(fuse_conn_info* conn, fuse_config* cfg) {
  cfg->use_ino = 1;
  cfg->readdir_ino = 1;
  // Operations on an open file use its descriptor; with nullpath_ok the library passes a NULL
  // path for a file unlinked while open (hard_remove: no .fuse_hidden renames), and we fall back
  // to the path the file was opened under.
  cfg->nullpath_ok = 1;
  cfg->hard_remove = 1;
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;  // every write must reach us to be checked
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead, pathOf(path, fi))) return r;
  }
  int r = fi ? ::fstat(fhOf(fi)->fd, st) : ::fstatat(G.src_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
  return r == 0 ? 0 : -errno;
}

int op_access(const char* path, int mask) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  return ::faccessat(G.src_fd, rel(path), mask, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

int op_readlink(const char* path, char* buf, size_t size) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  ssize_t n = ::readlinkat(G.src_fd, rel(path), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = 0;
  return 0;
}

int op_opendir(const char* path, fuse_file_info* fi) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  int fd = ::openat(G.src_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  fi->fh = reinterpret_cast<uint64_t>(d);
  return 0;
}

int op_readdir(const char*, void* buf, fuse_fill_dir_t filler, off_t off, fuse_file_info* fi,
               fuse_readdir_flags) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  DIR* d = reinterpret_cast<DIR*>(fi->fh);
  if (off == 0) rewinddir(d);
  else seekdir(d, off);
  for (;;) {
    errno = 0;
    dirent* de = ::readdir(d);
    if (!de) {
      if (errno) return -errno;
      break;
    }
    struct stat st {};
    st.st_ino = de->d_ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(de->d_type));
    if (filler(buf, de->d_name, &st, telldir(d), static_cast<fuse_fill_dir_flags>(0))) break;
  }
  return 0;
}

int op_releasedir(const char*, fuse_file_info* fi) {
  ::closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}

int openCommon(const char* path, fuse_file_info* fi, bool create, mode_t mode) {
  Caller c;
  bool mutate = create || (fi->flags & O_TRUNC);
  if (G.report) {
    c = caller();
    bool held = !create && (fi->flags & O_ACCMODE) != O_RDONLY && hold(c);
    int r = check(c, mutate ? Kind::kMutate : Kind::kRead);
    countHoldDenied(held, r);
    if (r) {
      Ev ev;
      ev.op = create ? p::kOpCreate : (fi->flags & O_TRUNC) ? p::kOpTruncate : p::kOpOpen;
      ev.result = r;
      ev.path = shown(path);
      ev.open_flags = static_cast<uint32_t>(fi->flags);
      emit(c, ev);
      return r;
    }
  }
  auto fh = std::make_unique<FileHandle>();
  int flags = fi->flags | O_CLOEXEC;
  bool truncWrite = (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY;
  int fd;
  if (create) {
    fd = ::openat(G.src_fd, rel(path), flags | O_CREAT, mode);
    // A file made by this create holds nothing yet (unless it already existed without O_EXCL,
    // which the kernel sends as open, not create): header_before is empty, no read needed.
    fh->hb_pre = true;
  } else if (G.report && truncWrite) {
    // Capture the header before the truncation so header_before shows what was overwritten.
    fd = ::openat(G.src_fd, rel(path), flags & ~O_TRUNC);
    if (fd >= 0) {
      fh->hb_len = readHeaderOf(fd, fh->hb);
      fh->hb_pre = true;
      if (::ftruncate(fd, 0) != 0) {
        int e = errno;
        ::close(fd);
        fd = -1;
        errno = e;
      }
    }
  } else {
    fd = ::openat(G.src_fd, rel(path), flags);
  }
  int result = fd < 0 ? -errno : 0;
  if (G.report) {
    uint64_t size = 0;
    struct stat st;
    if (fd >= 0 && !create && ::fstat(fd, &st) == 0) size = static_cast<uint64_t>(st.st_size);
    Ev ev;
    ev.op = create ? p::kOpCreate : p::kOpOpen;
    ev.result = result;
    ev.path = shown(path);
    ev.open_flags = static_cast<uint32_t>(fi->flags);
    ev.size = size;
    emit(c, ev);
    if (!create && truncWrite) {
      Ev t;
      t.op = p::kOpTruncate;
      t.result = result;
      t.path = ev.path;
      t.open_flags = ev.open_flags;
      t.hb = fh->hb;
      t.hb_len = fh->hb_len;
      emit(c, t);
    }
    fh->size = size;
    fh->opener = c.info;
    fh->have_opener = c.known;
  }
  if (fd < 0) return result;
  fh->fd = fd;
  fh->flags = fi->flags;
  fh->path = path;
  fi->fh = reinterpret_cast<uint64_t>(fh.release());
  return 0;
}

int op_open(const char* path, fuse_file_info* fi) { return openCommon(path, fi, false, 0); }
int op_create(const char* path, mode_t mode, fuse_file_info* fi) { return openCommon(path, fi, true, mode); }

int op_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  FileHandle* fh = fhOf(fi);
  Caller c;
  if (G.report) {
    c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  ssize_t n = ::pread(fh->fd, buf, size, off);
  int result = n < 0 ? -errno : 0;
  if (G.report) {
    Ev ev;
    ev.op = p::kOpRead;
    ev.result = result;
    ev.path = shown(path ? path : fh->path.c_str());
    ev.offset = static_cast<uint64_t>(off);
    ev.len = n > 0 ? static_cast<uint64_t>(n) : 0;
    ev.size = fh->size.load(std::memory_order_relaxed);
    ev.open_flags = static_cast<uint32_t>(fh->flags);
    emit(c, ev);
  }
  return n < 0 ? result : static_cast<int>(n);
}

int op_write(const char* path, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  FileHandle* fh = fhOf(fi);
  if (!G.report) {
    ssize_t n = ::pwrite(fh->fd, buf, size, off);
    return n < 0 ? -errno : static_cast<int>(n);
  }
  Caller c = caller();
  Ev ev;
  ev.op = p::kOpWrite;
  ev.path = shown(path ? path : fh->path.c_str());
  ev.offset = static_cast<uint64_t>(off);
  ev.open_flags = static_cast<uint32_t>(fh->flags);
  ev.sample = reinterpret_cast<const uint8_t*>(buf);
  ev.sample_len = static_cast<uint16_t>(size > p::kMaxSample ? p::kMaxSample : size);
  ev.has_entropy = true;
  size_t entN = size > 65536 ? 65536 : size;
  ev.entropy = entropyOf(reinterpret_cast<const uint8_t*>(buf), entN);
  int r = check(c, Kind::kMutate);
  if (r) {
    ev.result = r;
    ev.len = size;
    ev.size = fh->size.load();
    emit(c, ev);
    return r;
  }
  bool first = false;
  std::call_once(fh->first_write, [&] {
    first = true;
    if (!fh->hb_pre) fh->hb_len = readHeaderOf(fh->fd, fh->hb);
  });
  ssize_t n = ::pwrite(fh->fd, buf, size, off);
  ev.result = n < 0 ? -errno : 0;
  if (n > 0) {
    fh->wrote.store(true, std::memory_order_relaxed);
    fh->bytes_written.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    uint64_t end = static_cast<uint64_t>(off) + static_cast<uint64_t>(n);
    uint64_t cur = fh->size.load(std::memory_order_relaxed);
    while (end > cur && !fh->size.compare_exchange_weak(cur, end)) {
    }
  }
  ev.len = n > 0 ? static_cast<uint64_t>(n) : 0;
  ev.size = fh->size.load(std::memory_order_relaxed);
  if (first) {
    ev.hb = fh->hb;
    ev.hb_len = fh->hb_len;
  }
  emit(c, ev);
  return n < 0 ? ev.result : static_cast<int>(n);
}

int op_flush(const char*, fuse_file_info*) { return 0; }

int op_release(const char* path, fuse_file_info* fi) {
  FileHandle* fh = fhOf(fi);
  if (G.report) {
    Caller c;
    if (fh->have_opener) {
      c.info = fh->opener;
      c.known = true;
      c.uid = fuse_get_context()->uid;
    } else {
      c = caller();
    }
    Ev ev;
    ev.op = p::kOpClose;
    ev.path = shown(path ? path : fh->path.c_str());
    ev.open_flags = static_cast<uint32_t>(fh->flags);
    ev.len = fh->bytes_written.load();
    ev.size = fh->size.load();
    uint8_t ha[p::kMaxHeader];
    if (fh->wrote.load()) {
      struct stat st;
      if (::fstat(fh->fd, &st) == 0) ev.size = static_cast<uint64_t>(st.st_size);
      ev.ha_len = readHeaderOf(fh->fd, ha);
      ev.ha = ha;
    }
    emit(c, ev);
  }
  ::close(fh->fd);
  delete fh;
  return 0;
}

int op_fsync(const char*, int datasync, fuse_file_info* fi) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  int r = datasync ? ::fdatasync(fhOf(fi)->fd) : ::fsync(fhOf(fi)->fd);
  return r == 0 ? 0 : -errno;
}

// Path-only mutating operations share one shape: check, do, report.
template <typename F>
int mutating(uint8_t op, const char* path, const char* path2, F&& fn, uint64_t size = 0, uint32_t flags = 0,
             const uint8_t* hb = nullptr, uint16_t hbLen = 0) {
  if (!G.report) return fn();
  Caller c = caller();
  bool held = (op == p::kOpUnlink || op == p::kOpRename || op == p::kOpTruncate) && hold(c);
  int r = check(c, Kind::kMutate);
  countHoldDenied(held, r);
  if (!r) r = fn();
  Ev ev;
  ev.op = op;
  ev.result = r;
  ev.path = shown(path);
  if (path2) ev.path2 = shown(path2);
  ev.size = size;
  ev.open_flags = flags;
  ev.hb = hb;
  ev.hb_len = hbLen;
  emit(c, ev);
  return r;
}

inline int rc(int r) { return r == 0 ? 0 : -errno; }

int op_mknod(const char* path, mode_t mode, dev_t dev) {
  return mutating(p::kOpCreate, path, nullptr, [&] { return rc(::mknodat(G.src_fd, rel(path), mode, dev)); });
}
int op_mkdir(const char* path, mode_t mode) {
  return mutating(p::kOpMkdir, path, nullptr, [&] { return rc(::mkdirat(G.src_fd, rel(path), mode)); });
}
int op_unlink(const char* path) {
  return mutating(p::kOpUnlink, path, nullptr, [&] { return rc(::unlinkat(G.src_fd, rel(path), 0)); });
}
int op_rmdir(const char* path) {
  return mutating(p::kOpRmdir, path, nullptr, [&] { return rc(::unlinkat(G.src_fd, rel(path), AT_REMOVEDIR)); });
}
int op_symlink(const char* target, const char* path) {
  return mutating(p::kOpCreate, path, nullptr, [&] { return rc(::symlinkat(target, G.src_fd, rel(path))); });
}
int op_link(const char* from, const char* to) {
  return mutating(p::kOpCreate, to, from, [&] { return rc(::linkat(G.src_fd, rel(from), G.src_fd, rel(to), 0)); });
}
int op_rename(const char* from, const char* to, unsigned int flags) {
  return mutating(p::kOpRename, from, to, [&] {
    return rc(static_cast<int>(::renameat2(G.src_fd, rel(from), G.src_fd, rel(to), flags)));
  });
}
int op_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
  return mutating(p::kOpChmod, pathOf(path, fi), nullptr, [&] {
    return rc(fi ? ::fchmod(fhOf(fi)->fd, mode) : ::fchmodat(G.src_fd, rel(path), mode, 0));
  }, 0, mode & 07777);
}
int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  return mutating(p::kOpSetattr, pathOf(path, fi), nullptr, [&] {
    return rc(fi ? ::fchown(fhOf(fi)->fd, uid, gid) : ::fchownat(G.src_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW));
  });
}
int op_utimens(const char* path, const timespec tv[2], fuse_file_info* fi) {
  return mutating(p::kOpSetattr, pathOf(path, fi), nullptr, [&] {
    return rc(fi ? ::futimens(fhOf(fi)->fd, tv) : ::utimensat(G.src_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW));
  });
}
int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  uint8_t hb[p::kMaxHeader];
  uint16_t hbLen = 0;
  int tmp = -1;
  int fd = fi ? fhOf(fi)->fd : -1;
  if (G.report) {
    if (fd < 0) fd = tmp = ::openat(G.src_fd, rel(path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) hbLen = readHeaderOf(fd, hb);
  }
  int r = mutating(p::kOpTruncate, pathOf(path, fi), nullptr, [&] {
    if (fi) return rc(::ftruncate(fhOf(fi)->fd, size));
    int wfd = ::openat(G.src_fd, rel(path), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (wfd < 0) return -errno;
    int x = rc(::ftruncate(wfd, size));
    ::close(wfd);
    return x;
  }, static_cast<uint64_t>(size), 0, hb, hbLen);
  if (tmp >= 0) ::close(tmp);
  if (r == 0 && fi) fhOf(fi)->size.store(static_cast<uint64_t>(size));
  return r;
}

int op_statfs(const char* path, struct statvfs* st) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  (void)path;
  return rc(::fstatvfs(G.src_fd, st));
}

int op_fallocate(const char* path, int mode, off_t off, off_t len, fuse_file_info* fi) {
  return mutating(p::kOpWrite, pathOf(path, fi), nullptr, [&] {
    return rc(::fallocate(fhOf(fi)->fd, mode, off, len));
  }, static_cast<uint64_t>(off + len));
}

off_t op_lseek(const char*, off_t off, int whence, fuse_file_info* fi) {
  if (G.report) {
    Caller c = caller();
    if (int r = check(c, Kind::kRead)) return r;
  }
  off_t r = ::lseek(fhOf(fi)->fd, off, whence);
  return r < 0 ? -errno : r;
}

// ---------------------------------------------------------------------------------------------

void usage(FILE* f) {
  fprintf(f,
          "usage: sentinel-fuse --socket <path> [--policy fail-open|fail-closed] [--queue-events N]\n"
          "                     [--queue-bytes N] [--stats-interval S] [--allow-other] [--no-report]\n"
          "                     [--exit-with-parent] [--barrier-ms MS]\n"
          "                     [-f] [-d] <source-dir> <mountpoint>\n"
          "Mounts a passthrough view of <source-dir> on <mountpoint>, reports every operation to the\n"
          "Sentinel daemon on <socket> and denies operations of Restricted/Lockdown processes.\n");
}

int fail(const std::string& msg) {
  fprintf(stderr, "sentinel-fuse: error: %s\n", msg.c_str());
  logLine("error", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  ClientOptions copts;
  bool foreground = false, debug = false, allowOther = geteuid() == 0, exitWithParent = false;
  std::string source, mountpoint;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        fprintf(stderr, "sentinel-fuse: %s needs a value\n", name);
        exit(2);
      }
      return argv[++i];
    };
    if (a == "--socket") copts.socket_path = val("--socket");
    else if (a == "--policy") {
      std::string v = val("--policy");
      if (v == "fail-open") copts.policy = Policy::kFailOpen;
      else if (v == "fail-closed") copts.policy = Policy::kFailClosed;
      else return fail("--policy must be fail-open or fail-closed, not '" + v + "'");
    } else if (a == "--queue-events") copts.queue_events = std::strtoull(val("--queue-events").c_str(), nullptr, 10);
    else if (a == "--queue-bytes") copts.queue_bytes = std::strtoull(val("--queue-bytes").c_str(), nullptr, 10);
    else if (a == "--stats-interval") copts.stats_interval_s = std::atoi(val("--stats-interval").c_str());
    else if (a == "--barrier-ms") copts.barrier_ms = std::atoi(val("--barrier-ms").c_str());
    else if (a == "--no-report") G.report = false;
    else if (a == "--exit-with-parent") exitWithParent = true;
    else if (a == "--allow-other") allowOther = true;
    else if (a == "--no-allow-other") allowOther = false;
    else if (a == "-f" || a == "--foreground") foreground = true;
    else if (a == "-d" || a == "--debug") debug = foreground = true;
    else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      usage(stderr);
      return fail("unknown option " + a);
    } else if (source.empty()) source = a;
    else if (mountpoint.empty()) mountpoint = a;
    else {
      usage(stderr);
      return fail("too many arguments");
    }
  }
  if (source.empty() || mountpoint.empty()) {
    usage(stderr);
    return fail("<source-dir> and <mountpoint> are required");
  }
  if (G.report && copts.socket_path.empty()) return fail("--socket <path> is required (or --no-report)");
  if (copts.queue_events == 0) copts.queue_events = 1;
  if (copts.stats_interval_s <= 0) copts.stats_interval_s = 30;

  if (::access("/dev/fuse", F_OK) != 0)
    return fail("/dev/fuse is missing: load the fuse module (modprobe fuse) or, in a container, pass --device /dev/fuse");
  if (::access("/dev/fuse", R_OK | W_OK) != 0 && geteuid() == 0)
    return fail("/dev/fuse is not readable and writable: " + std::string(strerror(errno)));
  char buf[PATH_MAX];
  if (!realpath(source.c_str(), buf)) return fail("source directory " + source + ": " + strerror(errno));
  G.source = buf;
  if (!realpath(mountpoint.c_str(), buf)) return fail("mountpoint " + mountpoint + ": " + strerror(errno));
  G.mountpoint = buf;
  struct stat st;
  if (::stat(G.source.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return fail("source " + G.source + " is not a directory");
  if (::stat(G.mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail("mountpoint " + G.mountpoint + " is not a directory");
  {
    DIR* d = ::opendir(G.mountpoint.c_str());
    if (!d) return fail("mountpoint " + G.mountpoint + ": " + strerror(errno));
    bool empty = true;
    while (dirent* de = ::readdir(d))
      if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) empty = false;
    ::closedir(d);
    if (!empty) return fail("mountpoint " + G.mountpoint + " is not an empty directory");
  }
  if (G.source == G.mountpoint) return fail("source and mountpoint must differ");
  G.src_fd = ::open(G.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (G.src_fd < 0) return fail("cannot open source " + G.source + ": " + strerror(errno));
  umask(0);  // modes come from the callers (the kernel applies their umask)

  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.access = op_access;
  ops.readlink = op_readlink;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.releasedir = op_releasedir;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.symlink = op_symlink;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.chmod = op_chmod;
  ops.chown = op_chown;
  ops.truncate = op_truncate;
  ops.utimens = op_utimens;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.statfs = op_statfs;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.fallocate = op_fallocate;
  ops.lseek = op_lseek;

  std::string opts = "fsname=sentinel:" + G.source + ",subtype=sentinel,default_permissions";
  if (allowOther) opts += ",allow_other";
  std::string argv0 = "sentinel-fuse";
  std::string dashO = "-o";
  std::vector<char*> fargs = {argv0.data(), dashO.data(), opts.data()};
  std::string dbg = "-d";
  if (debug) fargs.push_back(dbg.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(fargs.size()), fargs.data());

  fuse* f = fuse_new(&args, &ops, sizeof ops, nullptr);
  fuse_opt_free_args(&args);
  if (!f) return fail("fuse_new failed (bad options?)");
  if (fuse_mount(f, G.mountpoint.c_str()) != 0) {
    fuse_destroy(f);
    return fail("cannot mount on " + G.mountpoint +
                " (not root and fusermount3 missing? install fuse3: apt-get install fuse3 libfuse3-dev)");
  }
  fuse_session* se = fuse_get_session(f);
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_unmount(f);
    fuse_destroy(f);
    return fail("cannot install signal handlers");
  }
  signal(SIGPIPE, SIG_IGN);
  if (fuse_daemonize(foreground ? 1 : 0) != 0) {
    fuse_unmount(f);
    fuse_destroy(f);
    return fail("cannot daemonize");
  }
  if (exitWithParent) {
    // SIGTERM when the supervising process dies (even SIGKILLed): unmount cleanly, no orphan mount.
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) fuse_session_exit(se);
  }
  Client* client = nullptr;
  if (G.report) {
    client = new Client(copts);
    G.client = client;
    client->start();
  }
  logLine("info", "mounted",
          "\"source\":" + jsonStr(G.source) + ",\"mountpoint\":" + jsonStr(G.mountpoint) +
              ",\"report\":" + (G.report ? "true" : "false") + ",\"socket\":" + jsonStr(copts.socket_path) +
              ",\"policy\":" + jsonStr(copts.policy == Policy::kFailOpen ? "fail-open" : "fail-closed") +
              ",\"queueEvents\":" + std::to_string(copts.queue_events) + ",\"barrierMs\":" + std::to_string(copts.barrier_ms));
  fuse_loop_config lc{};
  lc.clone_fd = 0;
  lc.max_idle_threads = 16;
  int rc = fuse_loop_mt(f, &lc);
  logLine("info", "unmounting", "\"mountpoint\":" + jsonStr(G.mountpoint));
  fuse_remove_signal_handlers(se);
  fuse_unmount(f);
  if (client) {
    client->stop(3000);
    if (G.unattributed.load())
      logLine("info", "unattributed requests", "\"count\":" + std::to_string(G.unattributed.load()));
  }
  fuse_destroy(f);
  G.client = nullptr;
  delete client;
  // fuse_loop_mt returns the signal number after SIGTERM/SIGINT: that is a clean stop.
  int code = rc < 0 ? 1 : 0;
  logLine("info", "exited", "\"code\":" + std::to_string(code));
  return code;
}

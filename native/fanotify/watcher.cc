// fanotify watcher (see watcher.h and docs/fanotify.md).
#include "watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "../core/protocol.h"
#include "../core/sample.h"

#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

namespace sentinel::fanotify {
namespace proto = sentinel::proto;

namespace {

constexpr size_t kFrameMax = 64 * 1024;
constexpr size_t kReadBuf = 256 * 1024;
constexpr int64_t kProcRevalidateMs = 200;
constexpr size_t kMaxProcs = 8192;
constexpr size_t kMaxDirs = 65536;
constexpr int64_t kDirtyMs = 1000;
constexpr size_t kMaxDirty = 4096;
constexpr int kAncestorDepth = 8;
constexpr size_t kHandleMax = 128;  // MAX_HANDLE_SZ

int64_t monoMs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

uint64_t realNs() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

std::string errnoText(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

std::string initError(int e, bool content) {
  std::string what = content ? "fanotify_init(FAN_CLASS_CONTENT)" : "fanotify_init(FAN_CLASS_NOTIF|FAN_REPORT_DFID_NAME)";
  if (e == EPERM) return "fanotify needs root (CAP_SYS_ADMIN): " + what + ": " + errnoText(e);
  if (e == EINVAL) return "kernel lacks FAN_REPORT_DFID_NAME (Linux >= 5.9) or permission events: " + what + ": " + errnoText(e);
  if (e == ENOSYS) return "kernel built without fanotify (CONFIG_FANOTIFY): " + what + ": " + errnoText(e);
  if (e == EMFILE) return "too many fanotify groups for this user (fs.fanotify.max_user_groups): " + what + ": " + errnoText(e);
  return what + ": " + errnoText(e);
}

std::string markError(int e, const std::string& path, bool perm) {
  std::string what = std::string(perm ? "fanotify_mark(FAN_OPEN_PERM) " : "fanotify_mark ") + path + ": ";
  if (e == EPERM) return what + "not permitted (root with CAP_SYS_ADMIN needed): " + errnoText(e);
  if (e == ENODEV || e == EOPNOTSUPP || e == EXDEV)
    return what + "this file system does not support file handles or fanotify marks (FAN_REPORT_DFID_NAME needs exportable file systems): " + errnoText(e);
  if (e == ENOSPC) return what + "too many marks (fs.fanotify.max_user_marks): " + errnoText(e);
  if (e == ENOENT) return what + "no such file or directory";
  if (e == EINVAL) return what + "kernel does not support this mark/event combination: " + errnoText(e);
  return what + errnoText(e);
}

uint64_t fsidKey(const void* p) {
  uint64_t k;
  std::memcpy(&k, p, 8);
  return k;
}

std::string handleKey(uint64_t fsid, const file_handle* fh) {
  std::string k;
  k.resize(12 + fh->handle_bytes);
  std::memcpy(&k[0], &fsid, 8);
  std::memcpy(&k[8], &fh->handle_type, 4);
  std::memcpy(&k[12], fh->f_handle, fh->handle_bytes);
  return k;
}

bool parseU32(const char*& s, uint32_t* v) {
  while (*s == ' ') s++;
  if (*s < '0' || *s > '9') return false;
  uint64_t x = 0;
  while (*s >= '0' && *s <= '9') x = x * 10 + uint64_t(*s++ - '0');
  *v = uint32_t(x);
  return true;
}

std::string joinPath(const std::string& dir, const char* name) {
  if (name == nullptr || name[0] == '\0' || (name[0] == '.' && name[1] == '\0')) return dir;
  if (dir == "/") return "/" + std::string(name);
  std::string r;
  r.reserve(dir.size() + 1 + std::strlen(name));
  r += dir;
  r += '/';
  r += name;
  return r;
}

// Effective capability bit from /proc/self/status (CapEff), false when unreadable.
bool hasCap(int bit) {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return false;
  char line[256];
  unsigned long long eff = 0;
  bool found = false;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "CapEff:", 7) == 0) {
      eff = std::strtoull(line + 7, nullptr, 16);
      found = true;
      break;
    }
  }
  std::fclose(f);
  return found && ((eff >> bit) & 1ull);
}

}  // namespace

bool readProcStat(uint32_t pid, ProcStat* out) {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  char* lp = std::strchr(buf, '(');
  char* rp = std::strrchr(buf, ')');
  if (!lp || !rp || rp < lp) return false;
  out->comm.assign(lp + 1, size_t(rp - lp - 1));
  // Fields after ") ": 3 state, 4 ppid, 5 pgrp, 6 session, ..., 22 starttime.
  const char* s = rp + 1;
  while (*s == ' ') s++;
  if (*s == '\0') return false;
  s++;  // state
  uint32_t ppid = 0, pgrp = 0, sid = 0;
  if (!parseU32(s, &ppid) || !parseU32(s, &pgrp) || !parseU32(s, &sid)) return false;
  // skip fields 7..21 (15 fields; some may be negative)
  for (int i = 0; i < 15; i++) {
    while (*s == ' ') s++;
    while (*s && *s != ' ') s++;
  }
  while (*s == ' ') s++;
  uint64_t start = 0;
  while (*s >= '0' && *s <= '9') start = start * 10 + uint64_t(*s++ - '0');
  out->ppid = ppid;
  out->sid = sid;
  out->start = start;
  return true;
}

// One notification event, parsed and resolved.
struct Watcher::Parsed {
  uint64_t mask = 0;
  uint32_t pid = 0;
  bool isDir = false;
  bool ok = false;       // path resolved
  bool ok2 = false;      // path2 resolved (FAN_RENAME)
  std::string path;      // object (or rename source)
  std::string path2;     // rename target
};

std::unique_ptr<Watcher> Watcher::open(const Options& o, std::string* err) {
  std::unique_ptr<Watcher> w(new Watcher());
  w->opt_ = o;
  w->selfPid_ = uint32_t(getpid());
  if (o.paths.empty()) {
    *err = "no paths to watch";
    return nullptr;
  }
  for (const std::string& p : o.paths) {
    char* rp = realpath(p.c_str(), nullptr);
    if (!rp) {
      *err = "cannot watch " + p + ": " + errnoText(errno);
      return nullptr;
    }
    w->roots_.push_back(rp);
    std::free(rp);
  }
  std::sort(w->roots_.begin(), w->roots_.end());
  w->roots_.erase(std::unique(w->roots_.begin(), w->roots_.end()), w->roots_.end());

  // Since Linux 5.13 an unprivileged user may open a FID notification group, but it gets no
  // pids of other processes, no filesystem marks, no permission events and no
  // open_by_handle_at: refuse clearly instead of running blind.
  if (!hasCap(21 /* CAP_SYS_ADMIN */)) {
    *err = "fanotify needs root (CAP_SYS_ADMIN): this process lacks it (run sentinel watch as root)";
    return nullptr;
  }
  if (!hasCap(2 /* CAP_DAC_READ_SEARCH */)) {
    *err = "fanotify needs CAP_DAC_READ_SEARCH to resolve file handles (open_by_handle_at); run as root";
    return nullptr;
  }
  w->notifyFd_ = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
  if (w->notifyFd_ < 0) {
    *err = initError(errno, false);
    return nullptr;
  }
  if (o.enforce) {
    w->permFd_ = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (w->permFd_ < 0) {
      *err = initError(errno, true);
      return nullptr;
    }
    w->permMask_ = FAN_OPEN_PERM | FAN_ONDIR | FAN_EVENT_ON_CHILD | (o.accessPerm ? FAN_ACCESS_PERM : 0);
  }
  w->stopNotifyFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  w->stopPermFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->stopNotifyFd_ < 0 || w->stopPermFd_ < 0) {
    *err = "eventfd: " + errnoText(errno);
    return nullptr;
  }
  // The permission thread runs from before the first permission mark until stop(): a marked
  // tree is never left without an answerer (opens there would wait forever), whether or not
  // start() is ever called. Until setDenySet it allows everything.
  if (w->permFd_ >= 0) {
    try {
      w->permThread_ = std::thread([p = w.get()] { p->permLoop(); });
    } catch (const std::exception& e) {
      *err = std::string("cannot start the permission thread: ") + e.what();
      return nullptr;
    }
  }

  const uint32_t base = FAN_CREATE | FAN_DELETE | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ONDIR;
  // Probe FAN_RENAME (Linux >= 5.17: one event with both names) on the first root.
  w->renameEvents_ = true;
  w->notifyMask_ = base | FAN_RENAME;
  std::string first = w->roots_.front();
  struct stat fst;
  if (stat(first.c_str(), &fst) == 0 && !S_ISDIR(fst.st_mode)) {  // probe on a directory
    size_t slash = first.rfind('/');
    first = slash == 0 ? "/" : first.substr(0, slash);
  }
  if (o.movedEvents) {
    w->renameEvents_ = false;
    w->notifyMask_ = base | FAN_MOVED_FROM | FAN_MOVED_TO;
  } else if (fanotify_mark(w->notifyFd_, FAN_MARK_ADD, w->notifyMask_ | FAN_EVENT_ON_CHILD, AT_FDCWD, first.c_str()) != 0) {
    if (errno != EINVAL) {
      *err = markError(errno, first, false);
      return nullptr;
    }
    w->renameEvents_ = false;
    w->notifyMask_ = base | FAN_MOVED_FROM | FAN_MOVED_TO;
  }
  fanotify_mark(w->notifyFd_, FAN_MARK_REMOVE, w->notifyMask_ | FAN_EVENT_ON_CHILD, AT_FDCWD, first.c_str());

  if (o.markMode == MarkMode::kFilesystem) {
    for (const std::string& r : w->roots_) {
      if (fanotify_mark(w->notifyFd_, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, w->notifyMask_, AT_FDCWD, r.c_str()) != 0) {
        *err = markError(errno, r, false) + " (FAN_MARK_FILESYSTEM)";
        return nullptr;
      }
    }
    w->fsMarks_ = true;
  }
  for (const std::string& r : w->roots_) {
    struct stat st;
    if (stat(r.c_str(), &st) != 0) {
      *err = "cannot watch " + r + ": " + errnoText(errno);
      return nullptr;
    }
    if (S_ISDIR(st.st_mode)) {
      if (!w->markTree(r, 0, err)) return nullptr;
    } else if (!w->markFile(r, err)) {
      return nullptr;
    }
  }
  return w;
}

Watcher::~Watcher() {
  stop();
  for (auto& [k, fd] : mountFds_) ::close(fd);
  if (notifyFd_ >= 0) ::close(notifyFd_);
  if (permFd_ >= 0) ::close(permFd_);
  if (stopNotifyFd_ >= 0) ::close(stopNotifyFd_);
  if (stopPermFd_ >= 0) ::close(stopPermFd_);
}

// Marks one object in both groups (the notification group only in inode mode) and seeds the
// directory cache. Failure on a root is fatal (err set); elsewhere the caller counts it.
bool Watcher::markOne(const std::string& path, bool isDir, std::string* err) {
  uint32_t child = isDir ? FAN_EVENT_ON_CHILD : 0;
  if (!fsMarks_) {
    if (fanotify_mark(notifyFd_, FAN_MARK_ADD, notifyMask_ | child, AT_FDCWD, path.c_str()) != 0) {
      if (err) *err = markError(errno, path, false);
      return false;
    }
  }
  if (permFd_ >= 0) {
    uint32_t m = isDir ? permMask_ : (permMask_ & ~uint32_t(FAN_EVENT_ON_CHILD | FAN_ONDIR));
    if (fanotify_mark(permFd_, FAN_MARK_ADD, m, AT_FDCWD, path.c_str()) != 0) {
      if (err) *err = markError(errno, path, true);
      return false;
    }
  }
  marks_.fetch_add(1, std::memory_order_relaxed);
  if (isDir) seedDir(path);
  return true;
}

// A single file as a root: its own inode gets the content events (modify, close-write, open
// permission), its parent directory the directory-entry events (create, delete, rename; the
// siblings' events are filtered out by path). The inode mark follows the file, not the name: a
// file replaced under the same name is no longer marked (watch directories for that).
bool Watcher::markFile(const std::string& path, std::string* err) {
  size_t slash = path.rfind('/');
  std::string parent = slash == 0 ? "/" : path.substr(0, slash);
  if (!fsMarks_) {
    if (fanotify_mark(notifyFd_, FAN_MARK_ADD, FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD, path.c_str()) != 0) {
      *err = markError(errno, path, false);
      return false;
    }
    uint32_t dirent = notifyMask_ & ~uint32_t(FAN_MODIFY | FAN_CLOSE_WRITE);
    if (fanotify_mark(notifyFd_, FAN_MARK_ADD, dirent, AT_FDCWD, parent.c_str()) != 0) {
      *err = markError(errno, parent, false);
      return false;
    }
  }
  if (permFd_ >= 0) {
    uint32_t m = permMask_ & ~uint32_t(FAN_EVENT_ON_CHILD | FAN_ONDIR);
    if (fanotify_mark(permFd_, FAN_MARK_ADD, m, AT_FDCWD, path.c_str()) != 0) {
      *err = markError(errno, path, true);
      return false;
    }
  }
  marks_.fetch_add(1, std::memory_order_relaxed);
  seedDir(parent);
  return true;
}

void Watcher::seedDir(const std::string& path) {
  alignas(file_handle) uint8_t buf[sizeof(file_handle) + kHandleMax];
  auto* fh = reinterpret_cast<file_handle*>(buf);
  fh->handle_bytes = kHandleMax;
  int mnt = 0;
  if (name_to_handle_at(AT_FDCWD, path.c_str(), fh, &mnt, 0) != 0) return;
  struct statfs sfs;
  if (statfs(path.c_str(), &sfs) != 0) return;
  uint64_t fsid = fsidKey(&sfs.f_fsid);
  if (!mountFds_.count(fsid)) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // not O_PATH: open_by_handle_at refuses those (EBADF)
    if (fd >= 0) mountFds_[fsid] = fd;
  }
  if (dirs_.size() >= kMaxDirs) dirs_.clear();
  dirs_[handleKey(fsid, fh)] = DirEntry{path, dirGen_};
  dirCache_.store(dirs_.size(), std::memory_order_relaxed);
}

// Marks dir and every directory below it (no symlinks followed).
// At open() (synthPid 0) each directory is listed before it is marked: the permission thread is
// not running yet, and opening a directory that carries our FAN_OPEN_PERM|FAN_ONDIR mark would
// wait for it. For a directory that appears at run time (synthPid = the pid that created or
// moved it) each directory is marked first and listed after, and what the listing finds is
// reported as mkdir/create (and, for non-empty files, write with sample + close) records of that
// pid: those entries were made before the mark could see them.
bool Watcher::markTree(const std::string& root, uint32_t synthPid, std::string* err) {
  std::vector<std::string> stack{root};
  bool isRoot = true;
  while (!stack.empty()) {
    std::string d = std::move(stack.back());
    stack.pop_back();
    if (synthPid != 0) {
      if (!markOne(d, true, nullptr)) {
        markFailures_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    std::vector<std::string> subdirs, files;
    if (DIR* dp = opendir(d.c_str())) {
      while (dirent* e = readdir(dp)) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) continue;
        bool dir = e->d_type == DT_DIR, reg = e->d_type == DT_REG;
        if (e->d_type == DT_UNKNOWN) {
          struct stat st;
          if (fstatat(dirfd(dp), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            dir = S_ISDIR(st.st_mode);
            reg = S_ISREG(st.st_mode);
          }
        }
        if (dir) subdirs.push_back(joinPath(d, e->d_name));
        else if (reg && synthPid != 0) files.push_back(joinPath(d, e->d_name));
      }
      closedir(dp);
    }
    if (synthPid == 0) {
      if (!markOne(d, true, isRoot ? err : nullptr)) {
        if (isRoot) return false;
        markFailures_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    } else {
      Parsed p;
      p.pid = synthPid;
      p.ok = true;
      for (const std::string& sd : subdirs) {
        p.path = sd;
        p.isDir = true;
        appendEvent(proto::kOpMkdir, p, sd, nullptr, nullptr);
      }
      p.isDir = false;
      for (const std::string& f : files) {
        p.path = f;
        appendEvent(proto::kOpCreate, p, f, nullptr, nullptr);
        struct stat st;
        if (stat(f.c_str(), &st) == 0 && st.st_size > 0) closeWrite(p);
      }
      synthesized_.fetch_add(subdirs.size() + files.size(), std::memory_order_relaxed);
    }
    isRoot = false;
    for (auto& sd : subdirs) stack.push_back(std::move(sd));
  }
  return true;
}

bool Watcher::resolveDir(const uint8_t* fsidp, const void* fhp, std::string* out) {
  const auto* fhIn = static_cast<const file_handle*>(fhp);
  if (fhIn->handle_bytes > kHandleMax) return false;
  uint64_t fsid = fsidKey(fsidp);
  std::string key = handleKey(fsid, fhIn);
  auto it = dirs_.find(key);
  if (it != dirs_.end() && it->second.gen == dirGen_) {
    *out = it->second.path;
    return true;
  }
  auto mf = mountFds_.find(fsid);
  if (mf != mountFds_.end()) {
    alignas(file_handle) uint8_t buf[sizeof(file_handle) + kHandleMax];
    std::memcpy(buf, fhIn, sizeof(file_handle) + fhIn->handle_bytes);
    // O_PATH: no open permission event is generated, so this never waits on our own group.
    int fd = open_by_handle_at(mf->second, reinterpret_cast<file_handle*>(buf), O_PATH | O_CLOEXEC);
    if (fd >= 0) {
      char link[48];
      std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      char target[4200];
      ssize_t n = readlink(link, target, sizeof target - 1);
      ::close(fd);
      if (n > 0) {
        std::string p(target, size_t(n));
        const std::string del = " (deleted)";
        if (p.size() > del.size() && p.compare(p.size() - del.size(), del.size(), del) == 0) p.resize(p.size() - del.size());
        if (dirs_.size() >= kMaxDirs) dirs_.clear();
        dirs_[key] = DirEntry{p, dirGen_};
        dirCache_.store(dirs_.size(), std::memory_order_relaxed);
        *out = std::move(p);
        return true;
      }
    }
  }
  if (it != dirs_.end()) {  // stale but better than nothing (directory gone or moved)
    *out = it->second.path;
    return true;
  }
  return false;
}

bool Watcher::inside(const std::string& p) const {
  for (const std::string& r : roots_) {
    if (r == "/") return true;
    if (p.size() >= r.size() && p.compare(0, r.size(), r) == 0 && (p.size() == r.size() || p[r.size()] == '/')) return true;
  }
  return false;
}

bool Watcher::protectedPid(uint32_t pid) const {
  if (pid <= 1 || pid == selfPid_) return true;
  return isDaemonPid(pid);
}

bool Watcher::isDaemonPid(uint32_t pid) const {
  if (pid == daemonPid_.load(std::memory_order_relaxed)) return true;
  for (uint32_t p : opt_.protectPids)
    if (p == pid) return true;
  return false;
}

const Watcher::ProcEntry* Watcher::procInfo(uint32_t pid) {
  int64_t now = monoMs();
  auto it = procs_.find(pid);
  if (it != procs_.end() && now - it->second.checkedMs < kProcRevalidateMs) return &it->second;
  ProcStat st;
  if (!readProcStat(pid, &st)) {
    if (it != procs_.end()) return &it->second;  // process gone: keep what we knew
    return nullptr;
  }
  if (it == procs_.end()) {
    if (procs_.size() >= kMaxProcs) procs_.clear();
    it = procs_.emplace(pid, ProcEntry{}).first;
  }
  ProcEntry& e = it->second;
  e.ppid = st.ppid;
  e.sid = st.sid;
  e.start = st.start;
  e.comm = std::move(st.comm);
  e.checkedMs = now;
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%u", pid);
  struct stat ps;
  if (stat(path, &ps) == 0) e.uid = ps.st_uid;
  return &e;
}

bool Watcher::start(std::function<void()> onReady, std::string* err) {
  if (running_) {
    *err = "already started";
    return false;
  }
  if (stopped_ || notifyFd_ < 0) {
    *err = "watcher was stopped; create a new one";
    return false;
  }
  onReady_ = std::move(onReady);
  try {
    notifyThread_ = std::thread([this] { notifyLoop(); });
  } catch (const std::exception& e) {
    *err = std::string("cannot start the notification thread: ") + e.what();
    return false;
  }
  running_ = true;
  return true;
}

void Watcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  running_ = false;
  uint64_t one = 1;
  // The notification thread stops first; the permission thread keeps answering until then, so
  // a sample read of the notification thread never waits on a permission event nobody answers.
  if (notifyThread_.joinable()) {
    ssize_t w = ::write(stopNotifyFd_, &one, sizeof one);
    (void)w;
    notifyThread_.join();
  }
  if (permThread_.joinable()) {
    ssize_t w = ::write(stopPermFd_, &one, sizeof one);
    (void)w;
    permThread_.join();
  }
  // Closing the permission group lets the kernel allow whatever is pending and stop asking.
  if (permFd_ >= 0) {
    ::close(permFd_);
    permFd_ = -1;
  }
  if (notifyFd_ >= 0) {
    ::close(notifyFd_);
    notifyFd_ = -1;
  }
}

void Watcher::notifyLoop() {
  std::vector<uint8_t> buf(kReadBuf);
  for (;;) {
    pollfd p[2] = {{notifyFd_, POLLIN, 0}, {stopNotifyFd_, POLLIN, 0}};
    int r = poll(p, 2, dirtyTimeout());
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents & POLLIN) {
      // Stopping: take what the kernel still holds (at most its queue) so nothing that was
      // already reported to us is lost at shutdown. The permission thread still answers.
      for (;;) {
        ssize_t n = ::read(notifyFd_, buf.data(), buf.size());
        if (n <= 0) break;
        handleBatch(buf.data(), size_t(n));
        flushFrame();
      }
      break;
    }
    if (r == 0) flushPendingCloses(nullptr, 0);
    if (p[0].revents & POLLIN) {
      for (int i = 0; i < 64; i++) {
        ssize_t n = ::read(notifyFd_, buf.data(), buf.size());
        if (n <= 0) break;
        handleBatch(buf.data(), size_t(n));
        if (size_t(n) < buf.size() / 2) break;
      }
    }
    flushDirty(false);
    flushFrame();
  }
  flushPendingCloses(nullptr, 0);
  flushDirty(true);
  flushFrame();
}

int Watcher::dirtyTimeout() const {
  if (!pendingCloses_.empty()) return 5;
  if (dirty_.empty()) return 1000;
  return int(kDirtyMs / 4);
}

// Modifications without a close-write: reported once per file and second (see docs).
void Watcher::flushDirty(bool all) {
  if (dirty_.empty()) return;
  int64_t now = monoMs();
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    if (all || now - it->second.firstMs >= kDirtyMs) {
      Parsed p;
      p.pid = it->second.pid;
      p.path = it->first;
      p.ok = true;
      appendEvent(proto::kOpWrite, p, p.path, nullptr, nullptr);
      it = dirty_.erase(it);
    } else {
      ++it;
    }
  }
}

void Watcher::handleBatch(const uint8_t* buf, size_t len) {
  uint64_t now = realNs();
  tsNs_ = now;
  std::vector<Parsed> evs;
  const auto* m = reinterpret_cast<const fanotify_event_metadata*>(buf);
  size_t left = len;
  while (FAN_EVENT_OK(m, left)) {
    events_.fetch_add(1, std::memory_order_relaxed);
    if (m->vers != FANOTIFY_METADATA_VERSION) break;
    if (m->fd >= 0) ::close(m->fd);
    if (m->mask & FAN_Q_OVERFLOW) {
      overflows_.fetch_add(1, std::memory_order_relaxed);
      m = FAN_EVENT_NEXT(m, left);
      continue;
    }
    Parsed p;
    p.mask = m->mask;
    p.pid = uint32_t(m->pid);
    p.isDir = (m->mask & FAN_ONDIR) != 0;
    const uint8_t* info = reinterpret_cast<const uint8_t*>(m) + m->metadata_len;
    const uint8_t* end = reinterpret_cast<const uint8_t*>(m) + m->event_len;
    bool any = false;
    while (info + sizeof(fanotify_event_info_header) <= end) {
      const auto* h = reinterpret_cast<const fanotify_event_info_header*>(info);
      if (h->len < sizeof(fanotify_event_info_header) || info + h->len > end) break;
      uint8_t t = h->info_type;
      if (t == FAN_EVENT_INFO_TYPE_DFID_NAME || t == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
          t == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME || t == FAN_EVENT_INFO_TYPE_DFID) {
        if (h->len < sizeof(fanotify_event_info_fid) + sizeof(file_handle)) {
          info += h->len;
          continue;
        }
        const auto* fid = reinterpret_cast<const fanotify_event_info_fid*>(info);
        const auto* fh = reinterpret_cast<const file_handle*>(fid->handle);
        const uint8_t* fhEnd = fid->handle + sizeof(file_handle) + fh->handle_bytes;
        const char* name = nullptr;
        if (t != FAN_EVENT_INFO_TYPE_DFID && fhEnd < info + h->len) name = reinterpret_cast<const char*>(fhEnd);
        std::string dir;
        if (fhEnd <= info + h->len && resolveDir(reinterpret_cast<const uint8_t*>(&fid->fsid), fh, &dir)) {
          std::string full = joinPath(dir, name);
          if (t == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
            p.path2 = std::move(full);
            p.ok2 = true;
          } else {
            p.path = std::move(full);
            p.ok = true;
          }
        }
        any = true;
      }
      info += h->len;
    }
    // A directory moved: every cached directory path below it may be stale. Bumped here, while
    // parsing, so the events after it in this same read are resolved afresh.
    if (p.isDir && (p.mask & (FAN_RENAME | FAN_MOVED_FROM | FAN_MOVED_TO))) dirGen_++;
    if (!any || (!p.ok && !p.ok2)) unresolved_.fetch_add(1, std::memory_order_relaxed);
    else evs.push_back(std::move(p));
    m = FAN_EVENT_NEXT(m, left);
  }

  flushPendingCloses(evs.data(), evs.size());
  // The kernel merges consecutive events on the same name into one mask, so one event may stand
  // for several operations. They are emitted in the order a name lives through them:
  // arrival (MOVED_TO / CREATE), MODIFY, CLOSE_WRITE, departure (MOVED_FROM / DELETE).
  // Without FAN_RENAME a departure (MOVED_FROM) is held until the next event: if that one
  // arrives (MOVED_TO) from the same pid, the two are one rename; otherwise the file left the
  // tree (unlink).
  const Parsed* from = nullptr;
  auto flushFrom = [&]() {
    if (from && inside(from->path)) appendEvent(from->isDir ? proto::kOpRmdir : proto::kOpUnlink, *from, from->path, nullptr, nullptr);
    from = nullptr;
  };
  for (size_t i = 0; i < evs.size(); i++) {
    Parsed& p = evs[i];
    // pid 0: no process (kernel-internal). protectPids (the daemon): its own writes (its
    // database, when under a watched path) must not feed back into it. The watcher's own pid is
    // kept: it writes nothing under the paths itself, and in-process users (tests) want it.
    if (p.pid == 0 || isDaemonPid(p.pid)) {
      flushFrom();
      filtered_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (p.mask & FAN_RENAME) {
      flushFrom();
      bool in1 = p.ok && inside(p.path), in2 = p.ok2 && inside(p.path2);
      if (!in1 && !in2) {
        filtered_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (p.ok && p.ok2) appendEvent(proto::kOpRename, p, p.path, &p.path2, nullptr);
      else if (p.ok) appendEvent(p.isDir ? proto::kOpRmdir : proto::kOpUnlink, p, p.path, nullptr, nullptr);
      else appendEvent(p.isDir ? proto::kOpMkdir : proto::kOpCreate, p, p.path2, nullptr, nullptr);
      if (in2 && p.isDir && !fsMarks_ && !in1) markTree(p.path2, p.pid, nullptr);
      continue;
    }
    if (!p.ok) {
      flushFrom();
      continue;
    }
    bool in = inside(p.path);
    if (p.mask & FAN_MOVED_TO) {
      if (from && from->pid == p.pid) {
        bool in1 = inside(from->path);
        if (in1 || in) appendEvent(proto::kOpRename, *from, from->path, &p.path, nullptr);
        if (in && !in1 && p.isDir && !fsMarks_) markTree(p.path, p.pid, nullptr);
        from = nullptr;
      } else {
        flushFrom();
        if (in) {
          appendEvent(p.isDir ? proto::kOpMkdir : proto::kOpCreate, p, p.path, nullptr, nullptr);
          if (p.isDir && !fsMarks_) markTree(p.path, p.pid, nullptr);
        }
      }
    } else {
      flushFrom();
    }
    if (!in) {
      if (p.mask & FAN_MOVED_FROM) from = &p;  // may be a rename into the tree
      else filtered_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (p.mask & FAN_CREATE) {
      appendEvent(p.isDir ? proto::kOpMkdir : proto::kOpCreate, p, p.path, nullptr, nullptr);
      if (p.isDir && !fsMarks_) markTree(p.path, p.pid, nullptr);
    }
    if ((p.mask & FAN_MODIFY) && !(p.mask & FAN_CLOSE_WRITE) && !p.isDir) {
      auto it = dirty_.find(p.path);
      if (it == dirty_.end()) {
        if (dirty_.size() >= kMaxDirty) appendEvent(proto::kOpWrite, p, p.path, nullptr, nullptr);
        else dirty_.emplace(p.path, Dirty{p.pid, monoMs()});
      }
    }
    if ((p.mask & FAN_CLOSE_WRITE) && !p.isDir) {
      dirty_.erase(p.path);
      // Deferring (to find a rename in the next read) would put the write after a departure
      // already in this mask: only the rest of this read is searched then.
      bool departs = (p.mask & (FAN_DELETE | FAN_MOVED_FROM)) != 0;
      closeWrite(p, evs.data() + i + 1, evs.size() - i - 1, !departs);
    }
    if (p.mask & FAN_MOVED_FROM) from = &p;
    if (p.mask & FAN_DELETE) appendEvent(p.isDir ? proto::kOpRmdir : proto::kOpUnlink, p, p.path, nullptr, nullptr);
  }
  flushFrom();
}

// close-write: the file's leading bytes become a write record's sample (with entropy) and
// header_after, followed by a close record with the size.
// Close-writes deferred by the previous read: the rename that explains them is in this one.
void Watcher::flushPendingCloses(const Parsed* next, size_t nNext) {
  if (pendingCloses_.empty()) return;
  std::vector<Parsed> pend;
  pend.swap(pendingCloses_);
  for (const Parsed& p : pend) closeWrite(p, next, nNext, false);
}

void Watcher::closeWrite(const Parsed& p, const Parsed* later, size_t nLater, bool mayDefer) {
  Content c;
  auto openIt = [](const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOATIME | O_CLOEXEC);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    return fd;
  };
  int fd = openIt(p.path);
  if (fd < 0 && errno == ENOENT) {
    // Written, closed, then renamed before we got here (the usual "encrypt, then rename to
    // .locked"): follow the renames later in this read to the file's current name.
    std::string cur = p.path;
    bool gone = false;
    // Without FAN_RENAME: a MOVED_FROM merged into this very event pairs with the next MOVED_TO.
    size_t j = 0;
    if ((p.mask & FAN_MOVED_FROM) && nLater && (later[0].mask & FAN_MOVED_TO) && later[0].pid == p.pid && later[0].ok) {
      cur = later[0].path;
      j = 1;
    }
    for (; j < nLater; j++) {
      const Parsed& q = later[j];
      if ((q.mask & FAN_RENAME) && q.ok && q.ok2 && q.path == cur) cur = q.path2;
      else if ((q.mask & FAN_MOVED_FROM) && q.ok && q.path == cur && j + 1 < nLater && (later[j + 1].mask & FAN_MOVED_TO) &&
               later[j + 1].pid == q.pid && later[j + 1].ok)
        cur = later[++j].path;
      else if ((q.mask & FAN_DELETE) && q.ok && q.path == cur) gone = true;
    }
    if (cur != p.path) fd = openIt(cur);
    else if (mayDefer && !gone && pendingCloses_.size() < 1024) {
      // Not renamed in this read: the rename may be the next event we read. Wait one read.
      pendingCloses_.push_back(p);
      return;
    }
  }
  if (fd >= 0) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      c.size = uint64_t(st.st_size);
      sample_.resize(proto::kMaxSample);
      ssize_t n = pread(fd, sample_.data(), sample_.size(), 0);
      c.n = n > 0 ? size_t(n) : 0;
      c.data = sample_.data();
      if (c.n) c.entropy = core::entropyOf(c.data, c.n);
    }
    ::close(fd);
  } else {
    sampleFailures_.fetch_add(1, std::memory_order_relaxed);
  }
  c.valid = fd >= 0;
  appendEvent(proto::kOpWrite, p, p.path, nullptr, &c);
  appendEvent(proto::kOpClose, p, p.path, nullptr, &c);
}

void Watcher::appendEvent(uint8_t op, const Parsed& p, const std::string& path, const std::string* path2, const Content* c) {
  if (path.empty() || path.size() > proto::kMaxPath || (path2 && path2->size() > proto::kMaxPath)) {
    filtered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const ProcEntry* pi = procInfo(p.pid);
  proto::EventView e{};
  e.op = op;
  e.flags = 0;
  e.pid = p.pid;
  e.ts_ns = tsNs_;
  if (pi) {
    e.ppid = pi->ppid;
    e.uid = pi->uid;
    e.sid = pi->sid;
    e.start_time = pi->start;
    e.comm = proto::Bytes{reinterpret_cast<const uint8_t*>(pi->comm.data()), uint16_t(std::min<size_t>(pi->comm.size(), proto::kMaxComm))};
  }
  e.path = proto::Bytes{reinterpret_cast<const uint8_t*>(path.data()), uint16_t(path.size())};
  if (path2) e.path2 = proto::Bytes{reinterpret_cast<const uint8_t*>(path2->data()), uint16_t(path2->size())};
  if (c && c->valid) {
    e.size = c->size;
    if (op == proto::kOpWrite) {
      e.len = c->size;
      e.sample = proto::Bytes{c->data, uint16_t(c->n)};
      e.header_after = proto::Bytes{c->data, uint16_t(std::min<size_t>(c->n, proto::kMaxHeader))};
      if (c->n) {
        e.flags = proto::kFlagHasEntropy;
        e.entropy = std::min(8.0f, std::max(0.0f, c->entropy));
      }
    }
  }
  size_t rec = proto::kRecordFixed + e.comm.size + e.path.size + e.path2.size + e.sample.size + e.header_after.size;
  if (!cur_.empty() && cur_.size() + rec > kFrameMax) flushFrame();
  if (cur_.empty()) {
    cur_.reserve(kFrameMax);
    proto::appendHeader(cur_, proto::kEventBatch, 0, 0);
    cur_.resize(cur_.size() + 4);
    curCount_ = 0;
  }
  proto::appendRecord(cur_, e);
  curCount_++;
  records_.fetch_add(1, std::memory_order_relaxed);
}

void Watcher::flushFrame() {
  if (curCount_ == 0) return;
  proto::store<uint32_t>(cur_.data() + proto::kHeaderSize, curCount_);
  proto::patchLength(cur_, 0);
  bool pushed = false;
  {
    std::lock_guard<std::mutex> g(qm_);
    if (queuedBytes_ + cur_.size() > opt_.maxQueueBytes) {
      dropped_.fetch_add(curCount_, std::memory_order_relaxed);
    } else {
      queuedBytes_ += cur_.size();
      queue_.push_back(std::move(cur_));
      pushed = true;
    }
  }
  if (pushed) {
    frames_.fetch_add(1, std::memory_order_relaxed);
    recordsQueued_.fetch_add(curCount_, std::memory_order_relaxed);
  }
  cur_ = std::vector<uint8_t>();
  curCount_ = 0;
  if (pushed && !notified_.exchange(true) && onReady_) onReady_();
}

size_t Watcher::drain(std::vector<uint8_t>* out) {
  notified_.store(false);  // before taking the queue: a frame pushed after this notifies again
  std::deque<std::vector<uint8_t>> q;
  {
    std::lock_guard<std::mutex> g(qm_);
    q.swap(queue_);
    queuedBytes_ = 0;
  }
  size_t total = 0;
  for (auto& f : q) total += f.size();
  out->reserve(out->size() + total);
  for (auto& f : q) out->insert(out->end(), f.begin(), f.end());
  return total;
}

// ---- enforcement ----

bool Watcher::shouldDeny(uint32_t pid, const DenyTable& t) {
  if (t.empty() || protectedPid(pid)) return false;
  auto hit = [&](uint32_t p, uint64_t start) {
    auto it = t.find(p);
    if (it == t.end()) return false;
    return it->second.start_time == 0 || start == 0 || it->second.start_time == start;
  };
  ProcStat st;
  bool have = readProcStat(pid, &st);
  if (hit(pid, have ? st.start : 0)) return true;
  // Descendants of a Lockdown process (forked before the daemon heard of them) are denied too.
  uint32_t cur = have ? st.ppid : 0;
  for (int d = 0; d < kAncestorDepth && cur > 1 && !protectedPid(cur); d++) {
    ProcStat ps;
    if (!readProcStat(cur, &ps)) break;
    if (hit(cur, ps.start)) return true;
    cur = ps.ppid;
  }
  return false;
}

void Watcher::permLoop() {
  std::vector<uint8_t> buf(64 * 1024);
  for (;;) {
    pollfd p[2] = {{permFd_, POLLIN, 0}, {stopPermFd_, POLLIN, 0}};
    int r = poll(p, 2, 1000);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & POLLIN) {
      for (;;) {
        ssize_t n = ::read(permFd_, buf.data(), buf.size());
        if (n <= 0) break;
        // The table is taken after the read returns: every event it returned was queued before,
        // so an open that follows a completed setDenySet is always judged by the new table.
        std::shared_ptr<const DenyTable> table;
        {
          std::lock_guard<std::mutex> g(dm_);
          table = deny_;
        }
        const auto* m = reinterpret_cast<const fanotify_event_metadata*>(buf.data());
        size_t left = size_t(n);
        while (FAN_EVENT_OK(m, left)) {
          if (m->fd >= 0) {
            if (m->mask & (FAN_OPEN_PERM | FAN_ACCESS_PERM)) {
              bool deny = shouldDeny(uint32_t(m->pid), *table);
              fanotify_response resp{m->fd, deny ? uint32_t(FAN_DENY) : uint32_t(FAN_ALLOW)};
              ssize_t w = ::write(permFd_, &resp, sizeof resp);
              (void)w;
              (deny ? permDenied_ : permAllowed_).fetch_add(1, std::memory_order_relaxed);
            }
            ::close(m->fd);
          }
          m = FAN_EVENT_NEXT(m, left);
        }
      }
    }
    if (p[1].revents & POLLIN) break;
  }
}

uint32_t Watcher::signalTree(uint32_t root, uint64_t start) {
  if (opt_.killPolicy == KillPolicy::kNone || protectedPid(root)) return 0;
  ProcStat rs;
  if (!readProcStat(root, &rs)) return 0;
  if (start != 0 && rs.start != start) return 0;  // pid reused: not the Lockdown process
  int sig = opt_.killPolicy == KillPolicy::kKill ? SIGKILL : SIGSTOP;
  uint32_t n = 0;
  if (::kill(pid_t(root), sig) == 0) n++;
  // Children map from /proc, then every descendant (breadth first).
  std::unordered_multimap<uint32_t, uint32_t> kids;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* endp = nullptr;
      unsigned long pid = std::strtoul(e->d_name, &endp, 10);
      if (endp == e->d_name || *endp != '\0') continue;
      ProcStat ps;
      if (readProcStat(uint32_t(pid), &ps)) kids.emplace(ps.ppid, uint32_t(pid));
    }
    closedir(d);
  }
  std::vector<uint32_t> q{root};
  std::unordered_set<uint32_t> seen{root};
  for (size_t i = 0; i < q.size() && q.size() < 100000; i++) {
    auto range = kids.equal_range(q[i]);
    for (auto it = range.first; it != range.second; ++it) {
      uint32_t c = it->second;
      if (seen.count(c) || protectedPid(c)) continue;
      seen.insert(c);
      q.push_back(c);
      if (::kill(pid_t(c), sig) == 0) n++;
    }
  }
  return n;
}

DenyUpdate Watcher::setDenySet(const uint8_t* entries, size_t n) {
  auto t = std::make_shared<DenyTable>();
  for (size_t i = 0; i < n; i++) {
    proto::VerdictEntry v = proto::readVerdictEntry(entries + i * proto::kVerdictEntrySize);
    if (v.pid == 0) continue;
    if (v.state >= proto::kLockdown || (v.actions & proto::kDenyAll)) (*t)[v.pid] = DenyEntry{v.start_time};
  }
  std::shared_ptr<const DenyTable> old;
  {
    std::lock_guard<std::mutex> g(dm_);
    old = deny_;
    deny_ = t;
  }
  DenyUpdate u;
  u.lockdown = uint32_t(t->size());
  for (auto& [pid, e] : *t) {
    auto it = old->find(pid);
    if (it != old->end() && it->second.start_time == e.start_time) continue;
    u.newlyDenied.push_back(pid);
    u.signalled += signalTree(pid, e.start_time);
  }
  std::sort(u.newlyDenied.begin(), u.newlyDenied.end());
  signalled_.fetch_add(u.signalled, std::memory_order_relaxed);
  denyEntries_.store(t->size(), std::memory_order_relaxed);
  denyUpdates_.fetch_add(1, std::memory_order_relaxed);
  return u;
}

Stats Watcher::stats() const {
  Stats s;
  s.events = events_.load();
  s.records = records_.load();
  s.recordsQueued = recordsQueued_.load();
  s.dropped = dropped_.load();
  s.frames = frames_.load();
  s.overflows = overflows_.load();
  s.filtered = filtered_.load();
  s.unresolved = unresolved_.load();
  s.sampleFailures = sampleFailures_.load();
  s.marks = marks_.load();
  s.markFailures = markFailures_.load();
  s.permAllowed = permAllowed_.load();
  s.permDenied = permDenied_.load();
  s.signalled = signalled_.load();
  s.synthesized = synthesized_.load();
  s.denyEntries = denyEntries_.load();
  s.denyUpdates = denyUpdates_.load();
  s.dirCache = dirCache_.load();
  {
    std::lock_guard<std::mutex> g(qm_);
    s.queuedBytes = queuedBytes_;
  }
  s.renameEvents = renameEvents_;
  s.filesystemMarks = fsMarks_;
  return s;
}

}  // namespace sentinel::fanotify

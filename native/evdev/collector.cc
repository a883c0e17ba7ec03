#include "collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>

namespace sentinel::evdev {

namespace {

// Poll timeout while input is in progress: how late a movement that ended in a pause (or a press
// whose release was lost) is noticed. Idle collectors sleep without a timeout.
constexpr int kIdlePollMs = 200;
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerWake = 1 << 20;  // per device per wake-up: one busy device cannot starve the rest

std::string openErrorMessage(const std::string& path, int e) {
  std::string m = "cannot open input device " + path + ": " + std::strerror(e);
  if (e == EACCES || e == EPERM)
    m += " (this process may not read input devices: run the daemon as root or in the 'input' group)";
  return m;
}

bool isEventName(const char* name) { return std::strncmp(name, "event", 5) == 0; }

int64_t monoUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Printable ASCII only, at most kIdentityNameMax bytes: identities go to JSON, logs and the
// profile, and a device name is whatever the device's firmware says.
constexpr size_t kIdentityNameMax = 64;

std::string printableName(const char* s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && s[i] && out.size() < kIdentityNameMax; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? char(c) : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Nominal screen density the device units of an absolute pointer are scaled to, so that a
// touchpad's speeds and lengths compare with a mouse's pixels.
constexpr double kNominalPxPerMm = 96.0 / 25.4;

bool testBit(const unsigned long* bits, unsigned bit) {
  constexpr unsigned kBitsPerLong = 8 * sizeof(unsigned long);
  return (bits[bit / kBitsPerLong] >> (bit % kBitsPerLong)) & 1UL;
}

// What an evdev character device says about its absolute axes (see "Absolute pointers" in
// collector.h); nothing for anything else, which keeps the configured scale.
void setupAbsolutePointer(int fd, DeviceDecoder* decoder) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) return;
  struct input_absinfo ax, ay;
  if (::ioctl(fd, EVIOCGABS(ABS_X), &ax) == 0 && ::ioctl(fd, EVIOCGABS(ABS_Y), &ay) == 0 && ax.resolution > 0 &&
      ay.resolution > 0)
    decoder->setAbsScale(kNominalPxPerMm / ax.resolution, kNominalPxPerMm / ay.resolution);
  unsigned long keys[KEY_MAX / (8 * sizeof(unsigned long)) + 1] = {0};
  if (::ioctl(fd, EVIOCGBIT(EV_KEY, sizeof keys), keys) >= 0 &&
      (testBit(keys, BTN_TOUCH) || testBit(keys, BTN_TOOL_FINGER)))
    decoder->markTouchDevice();
}

}  // namespace

std::string deviceIdentity(int fd, const std::string& path) {
  struct stat st;
  struct input_id id;
  if (::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && ::ioctl(fd, EVIOCGID, &id) == 0) {
    char head[16];
    std::snprintf(head, sizeof head, "%04x:%04x:%04x", unsigned(id.bustype), unsigned(id.vendor), unsigned(id.product));
    char name[256] = {0};
    int n = ::ioctl(fd, EVIOCGNAME(sizeof name - 1), name);
    std::string nm = n > 0 ? printableName(name, size_t(n)) : std::string();
    return nm.empty() ? std::string(head) : std::string(head) + " " + nm;
  }
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return "file:" + printableName(base.data(), base.size());
}

Collector::Collector(const CollectorOptions& opt) : opt_(opt), assembler_(opt.key, opt.decoder) {}

std::unique_ptr<Collector> Collector::open(const CollectorOptions& opt, std::string* err, int* errnum) {
  std::unique_ptr<Collector> c(new Collector(opt));
  for (const std::string& p : opt.paths) {
    int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      *errnum = errno;
      *err = openErrorMessage(p, errno);
      return nullptr;
    }
    c->addDevice(p, fd);
  }
  if (!opt.dir.empty() && opt.watch) {
    c->inotifyFd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (c->inotifyFd_ < 0 ||
        inotify_add_watch(c->inotifyFd_, opt.dir.c_str(), IN_CREATE | IN_ATTRIB | IN_MOVED_TO | IN_DELETE) < 0) {
      *errnum = errno;
      *err = "cannot watch input directory " + opt.dir + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  return c;
}

Collector::~Collector() {
  stop();
  for (Device& d : devices_)
    if (d.fd >= 0) ::close(d.fd);
  if (inotifyFd_ >= 0) ::close(inotifyFd_);
}

bool Collector::start(std::function<void()> onReady, std::string* err) {
  if (running_.load() || thread_.joinable()) {
    *err = "collector already started";
    return false;
  }
  stopFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stopFd_ < 0) {
    *err = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  onReady_ = std::move(onReady);
  running_.store(true);
  thread_ = std::thread([this] { run(); });
  return true;
}

void Collector::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t w = ::write(stopFd_, &one, sizeof one);
    (void)w;
    thread_.join();
  }
  if (stopFd_ >= 0) {
    ::close(stopFd_);
    stopFd_ = -1;
  }
  running_.store(false);
  std::lock_guard<std::mutex> lk(mu_);
  shared_.running = false;
}

void Collector::deviceEvent(DeviceEvent ev) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    switch (ev.kind) {
      case DeviceEvent::kAdded: shared_.devicesAdded++; break;
      case DeviceEvent::kRemoved: shared_.devicesRemoved++; break;
      case DeviceEvent::kError: shared_.deviceErrors++; break;
    }
  }
  pendingDeviceEvents_.push_back(std::move(ev));
}

void Collector::addDevice(const std::string& path, int fd) {
  Device d;
  d.path = path;
  d.fd = fd;
  d.number = nextDevice_++;
  d.identity = deviceIdentity(fd, path);
  d.decoder = std::make_unique<DeviceDecoder>(&assembler_, d.number);
  setupAbsolutePointer(fd, d.decoder.get());
  DeviceEvent ev{DeviceEvent::kAdded, path, 0, 0, "", d.number, d.identity};
  devices_.push_back(std::move(d));
  deviceEvent(std::move(ev));
}

void Collector::openDiscovered(const std::string& name) {
  std::string path = opt_.dir + "/" + name;
  for (const Device& d : devices_)
    if (d.path == path) return;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    deviceEvent({DeviceEvent::kError, path, e, 0, openErrorMessage(path, e), 0, ""});
    return;
  }
  addDevice(path, fd);
}

void Collector::closeDevice(size_t i, int err) {
  Device& d = devices_[i];
  uint32_t partial = uint32_t(d.decoder->partialBytes());
  // Nothing more will come from this device: its action in progress is complete.
  d.decoder->flush();
  ::close(d.fd);
  std::string msg;
  if (err) msg = std::string("input device ") + d.path + " failed: " + std::strerror(err);
  if (partial) {
    std::lock_guard<std::mutex> lk(mu_);
    shared_.truncatedRecords++;
  }
  deviceEvent({DeviceEvent::kRemoved, d.path, err, partial, msg, d.number, d.identity});
  devices_.erase(devices_.begin() + long(i));
  // With no device left nothing will release the keys still held: emit them now.
  if (devices_.empty()) assembler_.flush();
}

void Collector::publish() {
  bool any = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    size_t queued = queue_.keys.size() + queue_.actions.size();
    for (KeyRecordOut& k : assembler_.keys) {
      if (queued >= opt_.maxQueued) {
        shared_.dropped++;
        continue;
      }
      queue_.keys.push_back(k);
      queued++;
      any = true;
    }
    for (MouseActionOut& a : assembler_.actions) {
      if (queued >= opt_.maxQueued) {
        shared_.dropped++;
        continue;
      }
      queue_.actions.push_back(a);
      queued++;
      any = true;
    }
    // Device events are few and never dropped: losing a "removed" would hide a dead modality.
    for (DeviceEvent& e : pendingDeviceEvents_) {
      queue_.devices.push_back(std::move(e));
      any = true;
    }
    shared_.decode = assembler_.stats;
    shared_.devicesOpen = devices_.size();
    shared_.queued = queue_.keys.size() + queue_.actions.size();
    shared_.running = true;
  }
  assembler_.keys.clear();
  assembler_.actions.clear();
  pendingDeviceEvents_.clear();
  if (any && onReady_) onReady_();
}

void Collector::run() {
  if (!opt_.dir.empty()) {
    if (DIR* dir = ::opendir(opt_.dir.c_str())) {
      std::set<std::string> names;  // sorted: event0, event1, ... in a stable order
      while (struct dirent* e = ::readdir(dir))
        if (isEventName(e->d_name)) names.insert(e->d_name);
      ::closedir(dir);
      for (const std::string& n : names) openDiscovered(n);
    } else {
      int e = errno;
      deviceEvent({DeviceEvent::kError, opt_.dir, e, 0,
                   "cannot list input directory " + opt_.dir + ": " + std::strerror(e), 0, ""});
    }
  }
  publish();
  std::vector<uint8_t> buf(kReadChunk);
  std::vector<struct pollfd> fds;
  int64_t lastEventUs = 0, lastEventMono = 0;
  bool inProgress = false;
  for (;;) {
    fds.clear();
    fds.push_back({stopFd_, POLLIN, 0});
    if (inotifyFd_ >= 0) fds.push_back({inotifyFd_, POLLIN, 0});
    const size_t firstDev = fds.size();
    for (const Device& d : devices_) fds.push_back({d.fd, POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), inProgress ? kIdlePollMs : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::lock_guard<std::mutex> lk(mu_);
      shared_.readErrors++;
      break;
    }
    if (fds[0].revents) break;
    if (n == 0) {
      // Timed out: extrapolate the event clock (which may be a recording's) by the real time since.
      const int64_t nowUs = lastEventUs + (monoUs() - lastEventMono);
      assembler_.idle(nowUs);
      for (Device& d : devices_) d.decoder->idle(nowUs);
      inProgress = false;
      publish();
      continue;
    }
    if (inotifyFd_ >= 0 && fds[1].revents) {
      alignas(struct inotify_event) char ibuf[4096];
      ssize_t r;
      while ((r = ::read(inotifyFd_, ibuf, sizeof ibuf)) > 0) {
        for (char* p = ibuf; p < ibuf + r;) {
          auto* ie = reinterpret_cast<struct inotify_event*>(p);
          if (ie->len && isEventName(ie->name)) {
            if (ie->mask & IN_DELETE) {
              std::string path = opt_.dir + "/" + ie->name;
              for (size_t i = 0; i < devices_.size(); i++)
                if (devices_[i].path == path) {
                  closeDevice(i, ENODEV);
                  break;
                }
            } else if (ie->mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB)) {
              openDiscovered(ie->name);
            }
          }
          p += sizeof(struct inotify_event) + ie->len;
        }
      }
    }
    // Devices: iterate backwards so closing one does not shift the ones still to visit.
    const size_t ndev = fds.size() - firstDev;
    for (size_t k = ndev; k-- > 0;) {
      const struct pollfd& pf = fds[firstDev + k];
      if (!pf.revents) continue;
      if (k >= devices_.size()) continue;  // closed by an inotify IN_DELETE above
      Device& d = devices_[k];
      if (d.fd != pf.fd) continue;
      size_t total = 0;
      for (;;) {
        ssize_t r = ::read(d.fd, buf.data(), buf.size());
        if (r > 0) {
          d.decoder->feed(buf.data(), size_t(r));
          total += size_t(r);
          if (total >= kMaxReadPerWake) break;
          continue;
        }
        if (r == 0) {
          closeDevice(k, 0);
          break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        int e = errno;
        {
          std::lock_guard<std::mutex> lk(mu_);
          shared_.readErrors++;
        }
        closeDevice(k, e);  // ENODEV: unplugged
        break;
      }
      if (total) {
        lastEventMono = monoUs();
        inProgress = true;
      }
    }
    // The event clock follows the newest record decoded (kernel time of the device).
    if (inProgress) lastEventUs = assembler_.lastEventUs();
    publish();
  }
  publish();
}

bool Collector::drain(CollectorBatch* out) {
  std::lock_guard<std::mutex> lk(mu_);
  if (queue_.empty()) return false;
  *out = std::move(queue_);
  queue_ = CollectorBatch();
  shared_.queued = 0;
  return true;
}

CollectorStats Collector::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  CollectorStats s = shared_;
  s.running = running_.load();
  return s;
}

}  // namespace sentinel::evdev

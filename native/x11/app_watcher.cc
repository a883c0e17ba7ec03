// Active-application watcher on X11; the contract is in app_watcher.h.
#include "app_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "../biometrics/siphash.h"

namespace sentinel::x11 {
namespace {

const char* connErrorText(int e) {
  switch (e) {
    case XCB_CONN_ERROR: return "socket, pipe or stream error (server unreachable or gone)";
    case XCB_CONN_CLOSED_EXT_NOTSUPPORTED: return "extension not supported";
    case XCB_CONN_CLOSED_MEM_INSUFFICIENT: return "out of memory";
    case XCB_CONN_CLOSED_REQ_LEN_EXCEED: return "request length exceeded";
    case XCB_CONN_CLOSED_PARSE_ERR: return "cannot parse the display string";
    case XCB_CONN_CLOSED_INVALID_SCREEN: return "no such screen on the display";
    default: return "connection failed";
  }
}

double monotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec / 1000);
}

uint8_t localHour() {
  time_t now = time(nullptr);
  tm lt;
  if (!localtime_r(&now, &lt)) return 0;
  return uint8_t(lt.tm_hour);
}

// Interns an atom; 0 on failure. Synchronous (one round trip).
uint32_t internAtom(xcb_connection_t* c, const char* name, bool onlyIfExists) {
  xcb_intern_atom_cookie_t ck = xcb_intern_atom(c, onlyIfExists ? 1 : 0, uint16_t(std::strlen(name)), name);
  xcb_intern_atom_reply_t* r = xcb_intern_atom_reply(c, ck, nullptr);
  if (!r) return 0;
  uint32_t a = r->atom;
  std::free(r);
  return a;
}

}  // namespace

uint64_t app_id(const HashKey& key, std::string_view wm_class) {
  if (wm_class.empty()) return kNoApp;
  // 'A' || class, hashed from a stack buffer for the usual short class names.
  uint8_t small[256];
  std::vector<uint8_t> big;
  uint8_t* buf = small;
  if (wm_class.size() + 1 > sizeof small) {
    big.resize(wm_class.size() + 1);
    buf = big.data();
  }
  buf[0] = 'A';
  std::memcpy(buf + 1, wm_class.data(), wm_class.size());
  uint64_t h = bio::siphash24(key.data(), buf, wm_class.size() + 1);
  std::memset(buf, 0, wm_class.size() + 1);
  return h == kNoApp ? 1 : h;
}

std::unique_ptr<AppWatcher> AppWatcher::open(const AppWatcherOptions& opt, const HashKey& key, std::string* err) {
  const char* disp = opt.display.empty() ? std::getenv("DISPLAY") : opt.display.c_str();
  if (!disp || !*disp) {
    *err = "app modality off: no X display ($DISPLAY is not set and no display was given)";
    return nullptr;
  }
  std::string d(disp);
  int screenNum = 0;
  xcb_connection_t* c = xcb_connect(d.c_str(), &screenNum);
  if (int e = xcb_connection_has_error(c)) {
    xcb_disconnect(c);
    *err = "app modality off: cannot connect to X display " + d + ": " + connErrorText(e);
    return nullptr;
  }
  const xcb_setup_t* setup = xcb_get_setup(c);
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
  for (int i = 0; i < screenNum && it.rem; i++) xcb_screen_next(&it);
  if (!it.rem) {
    xcb_disconnect(c);
    *err = "app modality off: display " + d + " has no screen " + std::to_string(screenNum);
    return nullptr;
  }
  uint32_t root = it.data->root;
  uint32_t supported = internAtom(c, "_NET_SUPPORTED", false);
  uint32_t active = internAtom(c, "_NET_ACTIVE_WINDOW", false);
  if (!supported || !active) {
    xcb_disconnect(c);
    *err = "app modality off: cannot intern EWMH atoms on " + d;
    return nullptr;
  }
  // EWMH: a WM that maintains _NET_ACTIVE_WINDOW lists it in _NET_SUPPORTED. Without it there
  // is nothing to watch (no WM, or a WM without EWMH focus reporting).
  bool listed = false;
  xcb_get_property_reply_t* pr =
      xcb_get_property_reply(c, xcb_get_property(c, 0, root, supported, XCB_ATOM_ATOM, 0, 4096), nullptr);
  if (pr) {
    int n = xcb_get_property_value_length(pr) / 4;
    if (pr->format == 32 && n > 0) {
      const uint32_t* atoms = static_cast<const uint32_t*>(xcb_get_property_value(pr));
      for (int i = 0; i < n; i++) listed = listed || atoms[i] == active;
    }
    std::free(pr);
  }
  if (!listed) {
    xcb_disconnect(c);
    *err = "app modality off: the window manager on " + d +
           " does not publish _NET_ACTIVE_WINDOW (not in _NET_SUPPORTED; no EWMH window manager running?)";
    return nullptr;
  }
  // Our own event mask on the root window (per client; other clients' masks are untouched).
  uint32_t mask = XCB_EVENT_MASK_PROPERTY_CHANGE;
  xcb_generic_error_t* e = xcb_request_check(c, xcb_change_window_attributes_checked(c, root, XCB_CW_EVENT_MASK, &mask));
  if (e) {
    std::free(e);
    xcb_disconnect(c);
    *err = "app modality off: cannot select PropertyNotify on the root window of " + d;
    return nullptr;
  }
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) {
    xcb_disconnect(c);
    *err = std::string("app modality off: eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<AppWatcher> w(new AppWatcher());
  w->key_ = key;
  w->maxQueue_ = opt.maxQueue ? opt.maxQueue : 1;
  w->noneSettleMs_ = opt.noneSettleMs;
  w->conn_ = c;
  w->root_ = root;
  w->atomActive_ = active;
  w->stopFd_ = efd;
  return w;
}

AppWatcher::~AppWatcher() {
  stop();
  // Key material is not left in freed memory.
  std::memset(key_.data(), 0, key_.size());
}

bool AppWatcher::start(std::function<void()> onReady, std::string* err) {
  if (started_ || stopped_ || !conn_) {
    *err = "AppWatcher: already started or stopped";
    return false;
  }
  started_ = true;
  onReady_ = std::move(onReady);
  running_ = true;
  {
    std::lock_guard<std::mutex> g(mu_);
    stats_.running = true;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void AppWatcher::notifyReady() {
  // Called with mu_ NOT held; onReady is non-blocking (a ThreadSafeFunction NonBlockingCall).
  if (onReady_) onReady_();
}

void AppWatcher::observe(uint64_t app) {
  if (app == kNoApp && noneSettleMs_ > 0) {
    if (!nonePending_) {
      nonePending_ = true;
      noneT_ = monotonicUs();
      noneHour_ = localHour();
    }
    return;  // emitted by run() when it has lasted noneSettleMs
  }
  if (nonePending_) {
    nonePending_ = false;
    std::lock_guard<std::mutex> g(mu_);
    stats_.transientNone++;
  }
  emitNow(app, monotonicUs(), localHour());
}

void AppWatcher::emitNow(uint64_t app, double t_us, uint8_t hour) {
  if (haveLast_ && app == last_) {
    std::lock_guard<std::mutex> g(mu_);
    stats_.duplicates++;
    return;
  }
  haveLast_ = true;
  last_ = app;
  bool tell = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (queue_.size() >= maxQueue_) {
      stats_.dropped++;
      return;
    }
    queue_.push_back(AppEvent{t_us, app, hour});
    stats_.emitted++;
    if (!readyPending_) {
      readyPending_ = true;
      tell = true;
    }
  }
  if (tell) notifyReady();
}

uint64_t AppWatcher::readActiveApp() {
  xcb_connection_t* c = conn_;
  uint32_t win = 0;
  xcb_get_property_reply_t* ar =
      xcb_get_property_reply(c, xcb_get_property(c, 0, root_, atomActive_, XCB_ATOM_WINDOW, 0, 1), nullptr);
  if (ar) {
    if (ar->format == 32 && xcb_get_property_value_length(ar) >= 4)
      std::memcpy(&win, xcb_get_property_value(ar), 4);
    std::free(ar);
  }
  if (win == 0) {
    std::lock_guard<std::mutex> g(mu_);
    stats_.noWindow++;
    return kNoApp;
  }
  // WM_CLASS is "instance\0class\0" (ICCCM 4.1.2.5); 1 KiB is far beyond any real class.
  xcb_generic_error_t* e = nullptr;
  xcb_get_property_reply_t* cr =
      xcb_get_property_reply(c, xcb_get_property(c, 0, win, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, 0, 256), &e);
  uint64_t id = kNoApp;
  if (cr && cr->format == 8) {
    const char* v = static_cast<const char*>(xcb_get_property_value(cr));
    size_t n = size_t(xcb_get_property_value_length(cr));
    const void* nul = std::memchr(v, '\0', n);
    if (nul) {
      size_t off = size_t(static_cast<const char*>(nul) - v) + 1;
      std::string_view cls(v + off, n - off);
      size_t end = cls.find('\0');
      if (end != std::string_view::npos) cls = cls.substr(0, end);
      id = app_id(key_, cls);
    }
  }
  if (cr) {
    // The reply buffer held the class string: cleared before it is freed.
    std::memset(xcb_get_property_value(cr), 0, size_t(xcb_get_property_value_length(cr)));
    std::free(cr);
  }
  if (e) std::free(e);  // BadWindow: the window was destroyed between the two requests
  if (id == kNoApp) {
    std::lock_guard<std::mutex> g(mu_);
    stats_.noClass++;
  }
  return id;
}

void AppWatcher::run() {
  xcb_connection_t* c = conn_;
  std::string reason;
  observe(readActiveApp());  // the state at start, so the consumer knows the first app
  const int xfd = xcb_get_file_descriptor(c);
  for (;;) {
    // Drain everything xcb has buffered (including events queued during reply waits) before
    // sleeping in poll.
    while (xcb_generic_event_t* ev = xcb_poll_for_event(c)) {
      if ((ev->response_type & 0x7f) == XCB_PROPERTY_NOTIFY) {
        auto* pn = reinterpret_cast<xcb_property_notify_event_t*>(ev);
        if (pn->window == root_ && pn->atom == atomActive_) {
          {
            std::lock_guard<std::mutex> g(mu_);
            stats_.propertyNotifies++;
          }
          observe(readActiveApp());
        }
      }
      std::free(ev);
    }
    if (stopping_.load()) break;
    if (int e = xcb_connection_has_error(c)) {
      reason = std::string("X connection lost: ") + connErrorText(e);
      break;
    }
    int timeoutMs = -1;
    if (nonePending_) {
      double left = noneT_ + double(noneSettleMs_) * 1000.0 - monotonicUs();
      if (left <= 0) {
        nonePending_ = false;
        emitNow(kNoApp, noneT_, noneHour_);  // it lasted: a real "no app" state
        continue;
      }
      timeoutMs = int(left / 1000.0) + 1;
    }
    pollfd fds[2] = {{xfd, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    int r = ::poll(fds, 2, timeoutMs);
    if (r < 0 && errno != EINTR) {
      reason = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (r > 0 && fds[1].revents) break;
    // POLLHUP/POLLERR on the X socket: the next xcb_poll_for_event reads EOF and sets the
    // connection error, reported above.
  }
  bool lost = !stopping_.load() && !reason.empty();
  {
    std::lock_guard<std::mutex> g(mu_);
    stats_.running = false;
    stats_.ended = true;
    if (lost) {
      stats_.connectionLost++;
      stats_.endReason = reason;
    }
  }
  running_ = false;
  // Tell the consumer once that the watcher ended (it reads stats().ended), even with an empty
  // queue, unless it is stopping us itself.
  if (lost) notifyReady();
}

size_t AppWatcher::drain(std::vector<AppEvent>* out) {
  std::lock_guard<std::mutex> g(mu_);
  size_t n = queue_.size();
  out->insert(out->end(), queue_.begin(), queue_.end());
  queue_.clear();
  readyPending_ = false;
  return n;
}

AppStats AppWatcher::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  AppStats s = stats_;
  s.queued = queue_.size();
  return s;
}

void AppWatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    stopping_ = true;
    uint64_t one = 1;
    ssize_t ignored = ::write(stopFd_, &one, sizeof one);
    (void)ignored;
    // A reply wait inside the thread (a hung server) returns once the socket is shut down.
    if (conn_) ::shutdown(xcb_get_file_descriptor(conn_), SHUT_RDWR);
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    stats_.running = false;
    stats_.ended = true;
  }
  if (conn_) {
    xcb_disconnect(conn_);
    conn_ = nullptr;
  }
  if (stopFd_ >= 0) {
    ::close(stopFd_);
    stopFd_ = -1;
  }
}

}  // namespace sentinel::x11

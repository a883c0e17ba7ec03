// Active-application watcher on X11 (issue 5, continuous authentication: the "app" modality).
// Pure C++17 + libxcb, no Node-API (the N-API wrapper is native/addon/app_binding.cc);
// docs/biometrics.md ("Active application (X11)") and docs/privacy.md describe it.
//
// What it does
// - open() connects to an X display, checks that the window manager publishes
//   _NET_ACTIVE_WINDOW (EWMH: listed in the root window's _NET_SUPPORTED), and subscribes to
//   PropertyNotify on the root window. It fails (returns null, `err` = "app modality off:
//   <reason>") when no display is named or reachable, or the WM does not publish the property.
// - start() runs one thread: poll(xcb fd, stop eventfd). On start and on every change of
//   _NET_ACTIVE_WINDOW it reads the active window's WM_CLASS (the class part, the second of the
//   two NUL-terminated strings) and turns it AT ONCE into a 64-bit app id with app_id() below.
//   The class string lives only in a local buffer of that function; no queue, counter or
//   message holds it. Consecutive identical ids are dropped (counted as `duplicates`).
// - A change to "no app" (active window None or without a class) is held for noneSettleMs
//   before it is emitted: window managers (openbox) set _NET_ACTIVE_WINDOW to None for about a
//   millisecond on every focus switch, and a -> none -> b would otherwise be two false
//   transitions. A real app arriving within the settle time cancels it (`transientNone`). The
//   emitted event keeps the time the None was first seen.
// - Events {t_us on CLOCK_MONOTONIC, app id, local hour of day} go into a bounded queue
//   (drop newest, counted); onReady() is called (from the watcher thread) when the queue goes
//   from empty to non-empty, and once when the watcher ends, so the consumer never polls.
// - The X server going away (connection error: server killed, socket closed) ends the thread:
//   `ended` is set, `connectionLost` counted, the reason kept; it is not an error of the caller.
//
// Threading: drain(), stats(), running() and stop() may be called from any one consumer thread;
// they take the queue mutex only to swap or copy. stop() is idempotent and joins the thread; it
// shuts the socket down first so a reply wait on a hung server cannot block it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

struct xcb_connection_t;

namespace sentinel::x11 {

using HashKey = std::array<uint8_t, 16>;

// The id reported for "no active window" or "active window without WM_CLASS".
constexpr uint64_t kNoApp = 0;

// SipHash-2-4(key, 'A' || class bytes); never kNoApp for a non-empty class (0 is mapped to 1).
// An empty class gives kNoApp. Pure function. The 'A' prefix separates this domain from the
// keystroke buckets ('M', 'D') hashed with the same host key.
uint64_t app_id(const HashKey& key, std::string_view wm_class);

struct AppEvent {
  double t_us = 0;      // CLOCK_MONOTONIC, µs (exact in a double for ~285 years of uptime)
  uint64_t app = 0;     // app_id() of the active window's class, kNoApp when none
  uint8_t hour = 0;     // local hour of day 0..23 when the change was seen
};

struct AppStats {
  uint64_t propertyNotifies = 0;  // PropertyNotify events for _NET_ACTIVE_WINDOW
  uint64_t emitted = 0;           // events put in the queue (after deduplication)
  uint64_t duplicates = 0;        // changes whose app id equalled the previous one (not emitted)
  uint64_t dropped = 0;           // events dropped because the queue was full
  uint64_t noWindow = 0;          // _NET_ACTIVE_WINDOW was None (0) or absent
  uint64_t noClass = 0;           // active window without a readable WM_CLASS (incl. destroyed)
  uint64_t transientNone = 0;     // "no app" states replaced by an app within noneSettleMs
  uint64_t connectionLost = 0;    // the X connection failed while running (0 or 1)
  uint64_t queued = 0;            // events waiting for drain()
  bool running = false;
  bool ended = false;             // the thread has finished (server gone, or stop())
  std::string endReason;          // why it ended when the connection was lost; "" otherwise
};

struct AppWatcherOptions {
  std::string display;            // "" = $DISPLAY
  size_t maxQueue = 65536;        // events waiting for drain()
  uint32_t noneSettleMs = 100;    // hold time of a "no app" state before it is emitted (0: none)
};

class AppWatcher {
 public:
  // Connects and checks; null with `err` = "app modality off: <reason>" on failure. Synchronous
  // (one round trip per request, bounded by the server answering).
  static std::unique_ptr<AppWatcher> open(const AppWatcherOptions& opt, const HashKey& key, std::string* err);
  ~AppWatcher();
  AppWatcher(const AppWatcher&) = delete;
  AppWatcher& operator=(const AppWatcher&) = delete;

  // Starts the thread (once). onReady runs on the watcher thread; it must not block.
  bool start(std::function<void()> onReady, std::string* err);
  // Moves the waiting events into *out (appended); returns how many.
  size_t drain(std::vector<AppEvent>* out);
  AppStats stats() const;
  bool running() const { return running_.load(); }
  // Joins the thread and disconnects. Idempotent; safe without start().
  void stop();

 private:
  AppWatcher() = default;
  void run();
  // Reads the active window's class and returns its app id (the class never leaves this call).
  uint64_t readActiveApp();
  // Applies the settle rule, then emitNow().
  void observe(uint64_t app);
  void emitNow(uint64_t app, double t_us, uint8_t hour);
  void notifyReady();

  HashKey key_{};
  size_t maxQueue_ = 65536;
  uint32_t noneSettleMs_ = 100;
  xcb_connection_t* conn_ = nullptr;
  uint32_t root_ = 0;
  uint32_t atomActive_ = 0;
  int stopFd_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool stopped_ = false;
  std::function<void()> onReady_;

  mutable std::mutex mu_;  // guards queue_, readyPending_ and stats_
  std::vector<AppEvent> queue_;
  bool readyPending_ = false;
  AppStats stats_;
  bool haveLast_ = false;  // watcher thread only
  uint64_t last_ = 0;      // watcher thread only
  bool nonePending_ = false;  // watcher thread only: a "no app" state waiting to settle
  double noneT_ = 0;          // when it was first seen
  uint8_t noneHour_ = 0;
};

}  // namespace sentinel::x11

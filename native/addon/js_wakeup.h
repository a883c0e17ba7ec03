// JsWakeup: how a wrapped native source (a reader thread: fanotify watcher, input collector, X11
// app watcher) tells JavaScript that output is waiting, and how it is stopped when the Node
// environment goes away. Shared by the three bindings so the lifecycle is written once.
//
// Contract
// - Construct it once the source is open, with `stop`: a callable that joins the source's
//   thread(s). It registers an environment cleanup hook (worker exit, process exit).
// - arm(env, onReady, name) creates the ThreadSafeFunction and returns the notify callable for
//   the native thread (any thread; non-blocking: a full TSFN queue drops the call, and the
//   caller's own queue keeps the data, so a dropped wake-up loses nothing but a call). onReady
//   runs on the JS thread; an exception it throws goes to 'uncaughtException', never into libuv,
//   and a wake-up that lands while a worker environment is terminating is dropped.
// - disarm() releases the TSFN without stopping (a start that failed after arm()).
// - shutdown() calls `stop` (so no notify runs after it) and then releases the TSFN. Idempotent;
//   the cleanup hook and the destructor call it.
// - Not thread-safe itself: arm/disarm/shutdown run on the JS thread.
#pragma once
#include <napi.h>

#include <functional>
#include <utility>

namespace sentinel::addon {

class JsWakeup {
 public:
  JsWakeup(napi_env env, std::function<void()> stop) : env_(env), stop_(std::move(stop)) {
    napi_add_env_cleanup_hook(env_, &JsWakeup::CleanupHook, this);
    hooked_ = true;
  }
  ~JsWakeup() {
    if (hooked_) napi_remove_env_cleanup_hook(env_, &JsWakeup::CleanupHook, this);
    shutdown();
  }
  JsWakeup(const JsWakeup&) = delete;
  JsWakeup& operator=(const JsWakeup&) = delete;

  bool armed() const { return live_; }

  std::function<void()> arm(Napi::Env env, Napi::Function onReady, const char* name) {
    tsfn_ = Napi::ThreadSafeFunction::New(env, onReady, name, 0, 1);
    live_ = true;
    Napi::ThreadSafeFunction t = tsfn_;
    return [t]() mutable { t.NonBlockingCall(&JsWakeup::CallJs); };
  }

  void disarm() {
    if (live_) {
      tsfn_.Release();
      live_ = false;
    }
  }

  void shutdown() {
    if (stop_) stop_();  // joins: no notify after this
    disarm();
  }

 private:
  static void CleanupHook(void* arg) {
    auto* self = static_cast<JsWakeup*>(arg);
    self->hooked_ = false;
    self->shutdown();
  }

  // Runs on the JS thread. When the environment is going away (a worker terminating) the call
  // fails, and onReady may throw: neither may let a C++ exception escape into libuv, which would
  // end the process. So this uses the C API only (it reports, never throws): an exception from
  // onReady goes to 'uncaughtException'; a failed call in a dying environment is dropped.
  static void CallJs(Napi::Env env, Napi::Function fn) {
    if (env == nullptr || fn.IsEmpty()) return;
    napi_value undefined, result;
    if (napi_get_undefined(env, &undefined) != napi_ok) return;
    if (napi_call_function(env, undefined, fn, 0, nullptr, &result) == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }

  napi_env env_;
  std::function<void()> stop_;
  Napi::ThreadSafeFunction tsfn_;
  bool live_ = false;
  bool hooked_ = false;
};

}  // namespace sentinel::addon

// FanotifyWatcher: argument checks and conversion only; the work is in native/fanotify/.
//
// Threading: the watcher's notification thread calls onReady through a ThreadSafeFunction
// (non-blocking, at most once until the next drain()), so JavaScript is told when frames are
// waiting and never polls. drain/setDenySet/stats run on the JS thread and take the watcher's
// locks only to swap a queue or a table pointer. JsWakeup (js_wakeup.h) owns the
// ThreadSafeFunction and the environment cleanup hook that stops the threads.
#include "fanotify_binding.h"
#include "napi_args.h"

#include <memory>
#include <string>
#include <vector>

#include "../core/protocol.h"
#include "../fanotify/watcher.h"
#include "js_wakeup.h"

namespace sentinel::fanotify {
namespace {

using sentinel::addon::throwRange;
using sentinel::addon::throwType;

class FanotifyWatcher : public Napi::ObjectWrap<FanotifyWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FanotifyWatcher",
                       {
                           InstanceMethod<&FanotifyWatcher::Start>("start"),
                           InstanceMethod<&FanotifyWatcher::Drain>("drain"),
                           InstanceMethod<&FanotifyWatcher::SetDenySet>("setDenySet"),
                           InstanceMethod<&FanotifyWatcher::Stats>("stats"),
                           InstanceMethod<&FanotifyWatcher::Stop>("stop"),
                           InstanceMethod<&FanotifyWatcher::Roots>("roots"),
                           InstanceMethod<&FanotifyWatcher::SetDaemonPid>("setDaemonPid"),
                       });
  }

  explicit FanotifyWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FanotifyWatcher>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray())
      throwType(env, "FanotifyWatcher(options): options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    Options opt;
    opt.paths = sentinel::addon::pathListOpt(env, o.Get("paths"), "paths", 1, 1024);
    auto flag = [&](const char* key) {
      Napi::Value v = o.Get(key);
      if (v.IsUndefined()) return false;
      if (!v.IsBoolean()) throwType(env, std::string("options.") + key + " must be a boolean");
      return v.As<Napi::Boolean>().Value();
    };
    opt.enforce = flag("enforce");
    opt.accessPerm = flag("accessPerm");
    opt.movedEvents = flag("movedEvents");
    Napi::Value q = o.Get("maxQueueBytes");
    if (!q.IsUndefined()) {
      if (!q.IsNumber()) throwType(env, "options.maxQueueBytes must be a number");
      double d = q.As<Napi::Number>().DoubleValue();
      if (!(d >= 65536 && d <= 1073741824.0)) throwRange(env, "options.maxQueueBytes must be in 65536..2^30");
      opt.maxQueueBytes = size_t(d);
    }
    Napi::Value mm = o.Get("markMode");
    if (!mm.IsUndefined()) {
      std::string s = mm.IsString() ? mm.As<Napi::String>().Utf8Value() : "";
      if (s == "inode") opt.markMode = MarkMode::kInode;
      else if (s == "filesystem") opt.markMode = MarkMode::kFilesystem;
      else throwType(env, "options.markMode must be 'inode' or 'filesystem'");
    }
    Napi::Value kp = o.Get("killPolicy");
    if (!kp.IsUndefined()) {
      std::string s = kp.IsString() ? kp.As<Napi::String>().Utf8Value() : "";
      if (s == "none") opt.killPolicy = KillPolicy::kNone;
      else if (s == "stop") opt.killPolicy = KillPolicy::kStop;
      else if (s == "kill") opt.killPolicy = KillPolicy::kKill;
      else throwType(env, "options.killPolicy must be 'none', 'stop' or 'kill'");
    }
    Napi::Value pp = o.Get("protectPids");
    if (!pp.IsUndefined()) {
      if (!pp.IsArray()) throwType(env, "options.protectPids must be an array of pids");
      Napi::Array a = pp.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length() && i < 64; i++) {
        Napi::Value v = a.Get(i);
        if (!v.IsNumber()) throwType(env, "options.protectPids must be an array of pids");
        double d = v.As<Napi::Number>().DoubleValue();
        if (!(d >= 1 && d <= 4194304.0)) throwRange(env, "options.protectPids: pid out of range");
        opt.protectPids.push_back(uint32_t(d));
      }
    }
    std::string err;
    watcher_ = Watcher::open(opt, &err);
    if (!watcher_) throw Napi::Error::New(env, err);
    wake_ = std::make_unique<sentinel::addon::JsWakeup>(env, [this] { watcher_->stop(); });
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) throwType(env, "start(onReady): onReady must be a function");
    if (watcher_->running() || wake_->armed()) throw Napi::Error::New(env, "FanotifyWatcher: already started or stopped");
    auto notify = wake_->arm(env, info[0].As<Napi::Function>(), "sentinel-fanotify");
    std::string err;
    if (!watcher_->start(notify, &err)) {
      wake_->disarm();
      throw Napi::Error::New(env, err);
    }
    return env.Undefined();
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!watcher_) return env.Null();
    auto* v = new std::vector<uint8_t>();
    if (watcher_->drain(v) == 0) {
      delete v;
      return env.Null();
    }
    // JS owns the returned buffer; its memory is the drained vector (no second copy).
    return Napi::Buffer<uint8_t>::New(env, v->data(), v->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* p) { delete p; }, v);
  }

  Napi::Value SetDenySet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throwType(env, "setDenySet(entries): entries must be a Uint8Array of 16-byte verdict entries");
    auto a = info[0].As<Napi::Uint8Array>();
    if (a.ElementLength() % proto::kVerdictEntrySize != 0) throwRange(env, "setDenySet: length must be a multiple of 16");
    if (a.ElementLength() / proto::kVerdictEntrySize > 1000000) throwRange(env, "setDenySet: too many entries");
    DenyUpdate u = watcher_->setDenySet(a.Data(), a.ElementLength() / proto::kVerdictEntrySize);
    Napi::Object o = Napi::Object::New(env);
    o.Set("lockdown", Napi::Number::New(env, u.lockdown));
    Napi::Array nd = Napi::Array::New(env, u.newlyDenied.size());
    for (size_t i = 0; i < u.newlyDenied.size(); i++) nd.Set(uint32_t(i), Napi::Number::New(env, u.newlyDenied[i]));
    o.Set("newlyDenied", nd);
    o.Set("signalled", Napi::Number::New(env, u.signalled));
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    sentinel::fanotify::Stats s = watcher_->stats();
    Napi::Object o = Napi::Object::New(env);
    auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
    n("events", s.events);
    n("records", s.records);
    n("recordsQueued", s.recordsQueued);
    n("dropped", s.dropped);
    n("frames", s.frames);
    n("overflows", s.overflows);
    n("filtered", s.filtered);
    n("unresolved", s.unresolved);
    n("sampleFailures", s.sampleFailures);
    n("marks", s.marks);
    n("markFailures", s.markFailures);
    n("permAllowed", s.permAllowed);
    n("permDenied", s.permDenied);
    n("signalled", s.signalled);
    n("synthesized", s.synthesized);
    n("denyEntries", s.denyEntries);
    n("denyUpdates", s.denyUpdates);
    n("queuedBytes", s.queuedBytes);
    n("dirCache", s.dirCache);
    o.Set("renameEvents", Napi::Boolean::New(env, s.renameEvents));
    o.Set("filesystemMarks", Napi::Boolean::New(env, s.filesystemMarks));
    o.Set("running", Napi::Boolean::New(env, watcher_->running()));
    return o;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    wake_->shutdown();
    return info.Env().Undefined();
  }

  Napi::Value SetDaemonPid(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throwType(env, "setDaemonPid(pid): pid must be a number");
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 4194304.0) || d != double(uint32_t(d))) throwRange(env, "setDaemonPid: pid out of range");
    watcher_->setDaemonPid(uint32_t(d));
    return env.Undefined();
  }

  Napi::Value Roots(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& r = watcher_->roots();
    Napi::Array a = Napi::Array::New(env, r.size());
    for (size_t i = 0; i < r.size(); i++) a.Set(uint32_t(i), Napi::String::New(env, r[i]));
    return a;
  }

  std::unique_ptr<Watcher> watcher_;
  // Declared after watcher_, so destroyed first: it stops the watcher's threads.
  std::unique_ptr<sentinel::addon::JsWakeup> wake_;
};

}  // namespace

void RegisterFanotify(Napi::Env env, Napi::Object exports) {
  exports.Set("FanotifyWatcher", FanotifyWatcher::Define(env));
}

}  // namespace sentinel::fanotify

// AppWatcher and the app-model functions: argument checks and conversion only; the work is in
// native/x11/.
//
// Privacy: only 64-bit keyed-hash app ids, monotonic times and hours cross into JavaScript; the
// WM_CLASS string never leaves native/x11/app_watcher.cc. appIdForClass goes the other way
// (a class name from JavaScript to its id), for tests and for labelling by someone who already
// holds the key file.
//
// Threading: the watcher thread calls onReady through a ThreadSafeFunction (non-blocking, at
// most once until the next drain(), and once when the X connection is lost). drain/stats run on
// the JS thread. An environment cleanup hook stops the thread and releases the function when
// the environment goes away.
#include "app_binding.h"
#include "napi_args.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../biometrics/keystroke.h"
#include "../x11/app_model.h"
#include "../x11/app_watcher.h"
#include "js_wakeup.h"

namespace sentinel::x11 {
namespace {

using sentinel::addon::throwRange;
using sentinel::addon::throwType;
// An Error with a catalog code (src/errors.ts) the TypeScript wrapper maps without parsing text.
[[noreturn]] void throwCoded(Napi::Env env, const std::string& msg, const char* code) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

HashKey keyFromPath(Napi::Env env, Napi::Value v) {
  if (!v.IsString()) throwType(env, "keyPath must be a string");
  std::string p = v.As<Napi::String>().Utf8Value();
  if (p.empty() || p.size() > 4096 || p.find('\0') != std::string::npos) throwRange(env, "keyPath: bad path");
  bio::HashKey k;
  std::string err;
  if (!bio::load_or_create_key(p, &k, &err)) throwCoded(env, err, "SENTINEL_E_BIO_KEY");
  HashKey out;
  std::memcpy(out.data(), k.data(), out.size());
  std::memset(k.data(), 0, k.size());
  return out;
}

// Result arrays: fresh ArrayBuffers owned by JavaScript (copied; the native side keeps nothing).
Napi::Object visitsToJs(Napi::Env env, const std::vector<AppEvent>& ev) {
  size_t n = ev.size();
  Napi::Float64Array t = Napi::Float64Array::New(env, n);
  Napi::ArrayBuffer idBuf = Napi::ArrayBuffer::New(env, n * 8);
  auto ids = Napi::TypedArrayOf<uint64_t>::New(env, n, idBuf, 0, napi_biguint64_array);
  Napi::Uint8Array h = Napi::Uint8Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    t[i] = ev[i].t_us;
    ids[i] = ev[i].app;
    h[i] = ev[i].hour;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("t", t);
  o.Set("ids", ids);
  o.Set("hours", h);
  return o;
}

// Reads (times Float64Array, ids BigUint64Array, hours Uint8Array) at info[i..i+2]; the arrays
// are read during the call only.
std::vector<AppVisit> visitsArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  auto is = [&](size_t k, napi_typedarray_type ty) {
    return info.Length() > k && info[k].IsTypedArray() && info[k].As<Napi::TypedArray>().TypedArrayType() == ty;
  };
  if (!is(i, napi_float64_array) || !is(i + 1, napi_biguint64_array) || !is(i + 2, napi_uint8_array))
    throwType(env, "visits must be (t: Float64Array, ids: BigUint64Array, hours: Uint8Array)");
  auto t = info[i].As<Napi::Float64Array>();
  auto ids = info[i + 1].As<Napi::TypedArrayOf<uint64_t>>();
  auto h = info[i + 2].As<Napi::Uint8Array>();
  size_t n = t.ElementLength();
  if (ids.ElementLength() != n || h.ElementLength() != n) throwRange(env, "visits: t, ids and hours must have the same length");
  if (n > (1u << 26)) throwRange(env, "visits: too many");
  std::vector<AppVisit> v(n);
  for (size_t k = 0; k < n; k++) v[k] = AppVisit{t[k], ids[k], h[k]};
  return v;
}

AppModel modelArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throwType(env, "model must be a Uint8Array (from appModelEnroll)");
  auto b = info[i].As<Napi::Uint8Array>();
  AppModel m;
  std::string err;
  if (!AppModel::deserialize(b.Data(), b.ElementLength(), &m, &err)) throwCoded(env, err, "SENTINEL_E_BIO_PROFILE");
  return m;
}

class AppWatcherWrap : public Napi::ObjectWrap<AppWatcherWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AppWatcher",
                       {
                           InstanceMethod<&AppWatcherWrap::Start>("start"),
                           InstanceMethod<&AppWatcherWrap::Drain>("drain"),
                           InstanceMethod<&AppWatcherWrap::Stats>("stats"),
                           InstanceMethod<&AppWatcherWrap::Stop>("stop"),
                       });
  }

  explicit AppWatcherWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AppWatcherWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray()) throwType(env, "AppWatcher(options): options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    AppWatcherOptions opt;
    Napi::Value d = o.Get("display");
    if (!d.IsUndefined()) {
      if (!d.IsString()) throwType(env, "options.display must be a string");
      opt.display = d.As<Napi::String>().Utf8Value();
      if (opt.display.empty() || opt.display.size() > 256 || opt.display.find('\0') != std::string::npos)
        throwRange(env, "options.display: bad display string");
    }
    Napi::Value q = o.Get("maxQueue");
    if (!q.IsUndefined()) {
      if (!q.IsNumber()) throwType(env, "options.maxQueue must be a number");
      double v = q.As<Napi::Number>().DoubleValue();
      if (!(v >= 1 && v <= 1048576) || std::floor(v) != v) throwRange(env, "options.maxQueue must be an integer in 1..2^20");
      opt.maxQueue = size_t(v);
    }
    Napi::Value ns = o.Get("noneSettleMs");
    if (!ns.IsUndefined()) {
      if (!ns.IsNumber()) throwType(env, "options.noneSettleMs must be a number");
      double v = ns.As<Napi::Number>().DoubleValue();
      if (!(v >= 0 && v <= 10000) || std::floor(v) != v) throwRange(env, "options.noneSettleMs must be an integer in 0..10000");
      opt.noneSettleMs = uint32_t(v);
    }
    HashKey key = keyFromPath(env, o.Get("keyPath"));
    std::string err;
    watcher_ = AppWatcher::open(opt, key, &err);
    std::memset(key.data(), 0, key.size());
    if (!watcher_) throwCoded(env, err, "SENTINEL_E_APP_UNAVAILABLE");
    wake_ = std::make_unique<sentinel::addon::JsWakeup>(env, [this] { watcher_->stop(); });
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) throwType(env, "start(onReady): onReady must be a function");
    if (wake_->armed() || stopped_) throw Napi::Error::New(env, "AppWatcher: already started or stopped");
    auto notify = wake_->arm(env, info[0].As<Napi::Function>(), "sentinel-app-watcher");
    std::string err;
    if (!watcher_->start(notify, &err)) {
      wake_->disarm();
      throw Napi::Error::New(env, err);
    }
    return env.Undefined();
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<AppEvent> ev;
    if (watcher_->drain(&ev) == 0) return env.Null();
    return visitsToJs(env, ev);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    AppStats s = watcher_->stats();
    Napi::Object o = Napi::Object::New(env);
    auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
    n("propertyNotifies", s.propertyNotifies);
    n("emitted", s.emitted);
    n("duplicates", s.duplicates);
    n("dropped", s.dropped);
    n("noWindow", s.noWindow);
    n("noClass", s.noClass);
    n("transientNone", s.transientNone);
    n("connectionLost", s.connectionLost);
    n("queued", s.queued);
    o.Set("running", Napi::Boolean::New(env, s.running));
    o.Set("ended", Napi::Boolean::New(env, s.ended));
    o.Set("endReason", Napi::String::New(env, s.endReason));
    return o;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    wake_->shutdown();
    stopped_ = true;
    return info.Env().Undefined();
  }

  std::unique_ptr<AppWatcher> watcher_;
  // Declared after watcher_, so destroyed first: it stops the watcher's thread.
  std::unique_ptr<sentinel::addon::JsWakeup> wake_;
  bool stopped_ = false;
};

// appIdForClass(keyPath, wmClass) -> bigint
Napi::Value AppIdForClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsString()) throwType(env, "appIdForClass(keyPath, wmClass): wmClass must be a string");
  HashKey key = keyFromPath(env, info[0]);
  std::string cls = info[1].As<Napi::String>().Utf8Value();
  uint64_t id = app_id(key, cls);
  std::memset(key.data(), 0, key.size());
  return Napi::BigInt::New(env, id);
}

// appModelEnroll(t, ids, hours, options?) -> Uint8Array (serialized model, owned by JS)
Napi::Value AppModelEnroll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<AppVisit> v = visitsArg(info, 0);
  AppModelOptions opt;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    if (!info[3].IsObject()) throwType(env, "appModelEnroll: options must be an object");
    Napi::Object o = info[3].As<Napi::Object>();
    auto num = [&](const char* k, double* dst) {
      Napi::Value x = o.Get(k);
      if (x.IsUndefined()) return;
      if (!x.IsNumber()) throwType(env, std::string("options.") + k + " must be a number");
      *dst = x.As<Napi::Number>().DoubleValue();
    };
    double wt = opt.windowTransitions;
    num("maxGapS", &opt.maxGapS);
    num("beta", &opt.beta);
    num("frr", &opt.frr);
    num("windowTransitions", &wt);
    if (!(wt >= 2 && wt <= 1e6) || std::floor(wt) != wt) throwRange(env, "options.windowTransitions must be an integer in 2..10^6");
    opt.windowTransitions = uint32_t(wt);
  }
  AppModel m;
  std::string err;
  if (!AppModel::enroll(v, opt, &m, &err)) throwCoded(env, err, "SENTINEL_E_BIO_ENROLL");
  std::vector<uint8_t> b = m.serialize();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, b.size());
  std::memcpy(out.Data(), b.data(), b.size());
  return out;
}

// appModelScore(model, t, ids, hours) -> {score, transitions}
Napi::Value AppModelScore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AppModel m = modelArg(info, 0);
  std::vector<AppVisit> v = visitsArg(info, 1);
  AppScore s = m.score(v);
  Napi::Object o = Napi::Object::New(env);
  o.Set("score", Napi::Number::New(env, s.score));
  o.Set("transitions", Napi::Number::New(env, s.transitions));
  return o;
}

// appModelInfo(model) -> {version, vocabulary, transitions, threshold, calibrationWindows}
Napi::Value AppModelInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AppModel m = modelArg(info, 0);
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Napi::Number::New(env, AppModel::kVersion));
  o.Set("vocabulary", Napi::Number::New(env, m.vocabulary()));
  o.Set("transitions", Napi::Number::New(env, double(m.transitions())));
  o.Set("threshold", Napi::Number::New(env, m.threshold()));
  o.Set("calibrationWindows", Napi::Number::New(env, m.calibrationWindows()));
  return o;
}

}  // namespace

void RegisterApp(Napi::Env env, Napi::Object exports) {
  exports.Set("AppWatcher", AppWatcherWrap::Define(env));
  exports.Set("appIdForClass", Napi::Function::New<AppIdForClass>(env, "appIdForClass"));
  exports.Set("appModelEnroll", Napi::Function::New<AppModelEnroll>(env, "appModelEnroll"));
  exports.Set("appModelScore", Napi::Function::New<AppModelScore>(env, "appModelScore"));
  exports.Set("appModelInfo", Napi::Function::New<AppModelInfo>(env, "appModelInfo"));
}

}  // namespace sentinel::x11

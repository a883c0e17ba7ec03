// InputCollector, KeystrokeScorer and friends: argument checks and conversion only; the work is
// in native/evdev/ and native/biometrics/.
//
// Buffers
// - Key records cross as one Float64Array of kKeyStride numbers per keystroke:
//   [press_ms, flags, mono_bucket, digraph_bucket, hold_ms, pp_ms, rp_ms], flags bit 0 backspace,
//   bit 1 hold present, bit 2 digraph present. No key code is in it.
// - Mouse actions cross as a Float32Array of kActionFeatures per action plus a Float64Array of
//   kActionMetaStride per action: [type, t_start_s, t_end_s, device]. `device` is the
//   collector's number of the device the action came from (0 from decodeInputEvents); the
//   batch's `devices` events ("added", "removed") map the number to its `identity`, and the
//   "added" of a device comes in the same batch as its first action or an earlier one. The
//   scorer and enrollment read the device column only to check the layout (the JS side picks
//   which devices' actions it passes).
// - Arrays returned by drain()/decodeInputEvents() are new and owned by JavaScript: their
//   ArrayBuffer is external memory over the drained vector itself (no second copy), freed by its
//   finalizer when the array is collected; C++ keeps no pointer into it. Arrays passed in are
//   read during the call only and never retained.
//
// Threading: the collector's reader thread calls onReady through a ThreadSafeFunction
// (non-blocking), so JavaScript drains when there is output and never polls. enrollKeystrokes,
// enrollMouse and addMouseSitting run on the libuv pool (AsyncWorker) and resolve a Promise;
// everything else is synchronous and cheap (scoring a 100-keystroke window is a few microseconds
// to tens of microseconds). An environment cleanup hook stops the reader thread when the
// environment goes away.
#include "biometrics_binding.h"
#include "mouse_args.h"
#include "napi_args.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../biometrics/keystroke.h"
#include "../biometrics/metrics.h"
#include "../biometrics/mouse.h"
#include "../biometrics/mouse_oneclass.h"
#include "../evdev/collector.h"
#include "js_wakeup.h"

namespace sentinel::biobind {
namespace {

namespace bio = sentinel::bio;
namespace ev = sentinel::evdev;

constexpr uint32_t kKeyStride = 7;
constexpr size_t kMaxDecodeBytes = 256 * 1024;  // decodeInputEvents is synchronous: keep it short
constexpr size_t kMaxEnrollKeys = 1u << 20;

using sentinel::addon::throwRange;
using sentinel::addon::throwType;

std::string stringOpt(Napi::Env env, Napi::Object o, const char* key, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !required) return "";
  if (!v.IsString()) throwType(env, std::string("options.") + key + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() || s.size() > 4096 || s.find('\0') != std::string::npos)
    throwRange(env, std::string("options.") + key + ": bad path");
  return s;
}

double numberOpt(Napi::Env env, Napi::Object o, const char* key, double def, double lo, double hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throwType(env, std::string("options.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi)) throwRange(env, std::string("options.") + key + " out of range");
  return d;
}

bio::HashKey loadKey(Napi::Env env, const std::string& path) {
  bio::HashKey key{};
  std::string err;
  if (!bio::load_or_create_key(path, &key, &err)) {
    Napi::Error e = Napi::Error::New(env, err);
    e.Set("code", Napi::String::New(env, "SENTINEL_E_BIO_KEY"));
    throw e;
  }
  return key;
}

ev::DecoderConfig decoderConfig(Napi::Env env, Napi::Object o) {
  ev::DecoderConfig c;
  c.keys.backspace_code = uint32_t(numberOpt(env, o, "backspaceCode", 14, 0, 767));
  // px per ABS device unit where the device tells no resolution (FIFOs, recordings): positive
  // and finite (the upper bound refuses Infinity).
  c.abs_scale = numberOpt(env, o, "absScale", 1, 0, std::numeric_limits<double>::max());
  if (!(c.abs_scale > 0)) throwRange(env, "options.absScale must be > 0");
  return c;
}

// The key records of `keys` as a JS-owned Float64Array.
Napi::Float64Array keysArray(Napi::Env env, const std::vector<ev::KeyRecordOut>& keys) {
  auto* v = new std::vector<double>(keys.size() * kKeyStride);
  double* p = v->data();
  for (const ev::KeyRecordOut& k : keys) {
    const bio::KeystrokeRecord& r = k.rec;
    p[0] = k.press_ms;
    p[1] = double((r.backspace ? 1 : 0) | (r.has_hold ? 2 : 0) | (r.has_digraph ? 4 : 0));
    p[2] = r.mono_bucket;
    p[3] = r.digraph_bucket;
    p[4] = r.hold_ms;
    p[5] = r.pp_ms;
    p[6] = r.rp_ms;
    p += kKeyStride;
  }
  return ownedArray<double, Napi::Float64Array>(env, v);
}

// Key records from a caller's Float64Array (validated: a bad bucket or flag is a RangeError).
std::vector<bio::KeystrokeRecord> recordsFrom(Napi::Env env, Napi::Value val, const char* what) {
  if (!val.IsTypedArray() || val.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throwType(env, std::string(what) + " must be a Float64Array of key records");
  auto a = val.As<Napi::Float64Array>();
  if (a.ElementLength() % kKeyStride) throwRange(env, std::string(what) + ": length must be a multiple of 7");
  size_t n = a.ElementLength() / kKeyStride;
  if (n > kMaxEnrollKeys) throwRange(env, std::string(what) + ": too many key records");
  std::vector<bio::KeystrokeRecord> out(n);
  const double* p = a.Data();
  for (size_t i = 0; i < n; i++, p += kKeyStride) {
    bio::KeystrokeRecord& r = out[i];
    double flags = p[1];
    if (!(flags >= 0 && flags <= 7) || flags != std::floor(flags) || !(p[2] >= 0 && p[2] < bio::kMonoBuckets) ||
        !(p[3] >= 0 && p[3] < bio::kDigraphBuckets) || !std::isfinite(p[4]) || !std::isfinite(p[5]) ||
        !std::isfinite(p[6]))
      throwRange(env, std::string(what) + ": malformed key record at index " + std::to_string(i));
    int f = int(flags);
    r.backspace = f & 1;
    r.has_hold = f & 2;
    r.has_digraph = f & 4;
    r.mono_bucket = uint32_t(p[2]);
    r.digraph_bucket = uint32_t(p[3]);
    r.hold_ms = float(p[4]);
    r.pp_ms = float(p[5]);
    r.rp_ms = float(p[6]);
  }
  return out;
}

Napi::Object batchObject(Napi::Env env, ev::CollectorBatch& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", keysArray(env, b.keys));
  size_t na = b.actions.size();
  auto* feats = new std::vector<float>(na * bio::kActionFeatures);
  auto* meta = new std::vector<double>(na * kActionMetaStride);
  for (size_t i = 0; i < na; i++) {
    const bio::MouseAction& a = b.actions[i].action;
    std::copy(a.f.begin(), a.f.end(), feats->begin() + long(i * bio::kActionFeatures));
    double* m = meta->data() + i * kActionMetaStride;
    m[0] = double(a.type);
    m[1] = a.t_start;
    m[2] = a.t_end;
    m[3] = double(b.actions[i].device);
  }
  o.Set("actions", ownedArray<float, Napi::Float32Array>(env, feats));
  o.Set("actionMeta", ownedArray<double, Napi::Float64Array>(env, meta));
  Napi::Array devs = Napi::Array::New(env, b.devices.size());
  static const char* const kKinds[] = {"added", "removed", "error"};
  for (size_t i = 0; i < b.devices.size(); i++) {
    const ev::DeviceEvent& d = b.devices[i];
    Napi::Object e = Napi::Object::New(env);
    e.Set("kind", Napi::String::New(env, kKinds[d.kind]));
    e.Set("path", Napi::String::New(env, d.path));
    e.Set("errno", Napi::Number::New(env, d.err));
    e.Set("truncatedBytes", Napi::Number::New(env, d.truncatedBytes));
    e.Set("message", Napi::String::New(env, d.message));
    e.Set("device", Napi::Number::New(env, d.device));
    e.Set("identity", Napi::String::New(env, d.identity));
    devs.Set(uint32_t(i), e);
  }
  o.Set("devices", devs);
  return o;
}

Napi::Object decodeStatsObject(Napi::Env env, const ev::DecodeStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
  n("bytes", s.bytes);
  n("records", s.records);
  n("malformed", s.malformed);
  n("repeats", s.repeats);
  n("synDropped", s.synDropped);
  n("keystrokes", s.keystrokes);
  n("unreleased", s.unreleased);
  n("pointerEvents", s.pointerEvents);
  n("actions", s.actions);
  n("ignored", s.ignored);
  return o;
}

class InputCollector : public Napi::ObjectWrap<InputCollector> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "InputCollector",
                       {
                           InstanceMethod<&InputCollector::Start>("start"),
                           InstanceMethod<&InputCollector::Drain>("drain"),
                           InstanceMethod<&InputCollector::Stats>("stats"),
                           InstanceMethod<&InputCollector::Stop>("stop"),
                       });
  }

  explicit InputCollector(const Napi::CallbackInfo& info) : Napi::ObjectWrap<InputCollector>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray())
      throwType(env, "InputCollector(options): options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    ev::CollectorOptions opt;
    Napi::Value paths = o.Get("paths");
    if (!paths.IsUndefined()) opt.paths = sentinel::addon::pathListOpt(env, paths, "paths", 0, 256);
    opt.dir = stringOpt(env, o, "dir", false);
    Napi::Value w = o.Get("watch");
    if (!w.IsUndefined()) {
      if (!w.IsBoolean()) throwType(env, "options.watch must be a boolean");
      opt.watch = w.As<Napi::Boolean>().Value();
    }
    if (opt.paths.empty() && opt.dir.empty()) throwType(env, "options: give paths, dir or both");
    opt.key = loadKey(env, stringOpt(env, o, "keyPath", true));
    opt.decoder = decoderConfig(env, o);
    opt.maxQueued = size_t(numberOpt(env, o, "maxQueued", 65536, 16, 16777216));
    std::string err;
    int errnum = 0;
    collector_ = ev::Collector::open(opt, &err, &errnum);
    if (!collector_) {
      Napi::Error e = Napi::Error::New(env, err);
      e.Set("errno", Napi::Number::New(env, errnum));
      throw e;
    }
    wake_ = std::make_unique<sentinel::addon::JsWakeup>(env, [this] { collector_->stop(); });
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) throwType(env, "start(onReady): onReady must be a function");
    if (collector_->running() || wake_->armed() || stopped_)
      throw Napi::Error::New(env, "InputCollector: already started or stopped");
    auto notify = wake_->arm(env, info[0].As<Napi::Function>(), "sentinel-input");
    std::string err;
    if (!collector_->start(notify, &err)) {
      wake_->disarm();
      throw Napi::Error::New(env, err);
    }
    return env.Undefined();
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ev::CollectorBatch b;
    if (!collector_->drain(&b)) return env.Null();
    return batchObject(env, b);
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ev::CollectorStats s = collector_->stats();
    Napi::Object o = decodeStatsObject(env, s.decode);
    auto n = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
    n("dropped", s.dropped);
    n("devicesOpen", s.devicesOpen);
    n("devicesAdded", s.devicesAdded);
    n("devicesRemoved", s.devicesRemoved);
    n("deviceErrors", s.deviceErrors);
    n("readErrors", s.readErrors);
    n("truncatedRecords", s.truncatedRecords);
    n("queued", s.queued);
    o.Set("running", Napi::Boolean::New(env, s.running));
    return o;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    wake_->shutdown();
    stopped_ = true;
    return info.Env().Undefined();
  }

  std::unique_ptr<ev::Collector> collector_;
  // Declared after collector_, so destroyed first: it stops the collector's thread.
  std::unique_ptr<sentinel::addon::JsWakeup> wake_;
  bool stopped_ = false;
};

// decodeInputEvents(bytes, options): synchronous decode of a short buffer of input_event
// records (tests, benchmarks). Returns the batch plus its decode stats; what is still in
// progress at the end of the buffer is flushed.
Napi::Value DecodeInputEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throwType(env, "decodeInputEvents(bytes, options): bytes must be a Uint8Array");
  if (!info[1].IsObject()) throwType(env, "decodeInputEvents: options must be an object");
  auto bytes = info[0].As<Napi::Uint8Array>();
  if (bytes.ElementLength() > kMaxDecodeBytes) throwRange(env, "decodeInputEvents: at most 256 KiB per call");
  Napi::Object o = info[1].As<Napi::Object>();
  bio::HashKey key = loadKey(env, stringOpt(env, o, "keyPath", true));
  ev::InputAssembler as(key, decoderConfig(env, o));
  ev::DeviceDecoder dec(&as, 0);  // no collector: device number 0
  double chunk = numberOpt(env, o, "chunkBytes", 0, 0, 1 << 20);  // >0: feed in pieces (short reads)
  const uint8_t* p = bytes.Data();
  size_t len = bytes.ElementLength();
  if (chunk > 0) {
    for (size_t at = 0; at < len; at += size_t(chunk)) dec.feed(p + at, std::min(size_t(chunk), len - at));
  } else {
    dec.feed(p, len);
  }
  as.flush();
  dec.flush();
  ev::CollectorBatch b;
  b.keys = std::move(as.keys);
  b.actions = std::move(as.actions);
  Napi::Object out = batchObject(env, b);
  out.Set("stats", decodeStatsObject(env, as.stats));
  out.Set("partialBytes", Napi::Number::New(env, double(dec.partialBytes())));
  return out;
}

// The fused score's weights from an optional argument: absent (undefined), the compiled
// fused-v1 weights; else a Float64Array of kComponents finite numbers (copied). The daemon
// passes models/keystroke-classical's (src/models/keystroke-classical-model.ts validates them).
bio::FusionWeights fusionWeightsFrom(Napi::Env env, const Napi::Value& v, const char* what) {
  if (v.IsUndefined()) return bio::fused_v1();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throwType(env, std::string(what) + " must be a Float64Array of the fused score's weights");
  auto a = v.As<Napi::Float64Array>();
  if (a.ElementLength() != size_t(bio::kComponents))
    throwRange(env, std::string(what) + " must hold " + std::to_string(bio::kComponents) + " weights");
  bio::FusionWeights fw;
  for (int k = 0; k < bio::kComponents; ++k) {
    if (!std::isfinite(a[k])) throwRange(env, std::string(what) + " must be finite numbers");
    fw.w[k] = a[k];
  }
  return fw;
}

class EnrollWorker : public EnrollPromiseWorker {
 public:
  EnrollWorker(Napi::Env env, std::vector<bio::KeystrokeRecord> recs, size_t window, double frr, bio::FusionWeights fw)
      : EnrollPromiseWorker(env, "sentinel-enroll"), recs_(std::move(recs)), window_(window), frr_(frr), fw_(fw) {}

 protected:
  void Execute() override {
    bio::KeystrokeProfile p = bio::KeystrokeProfile::enroll(recs_, window_);
    if (p.enrollment_windows() < 4) {
      SetError("not enough keystrokes to enroll: need windows of the profile's length to calibrate");
      return;
    }
    p.calibrate(fw_, frr_);
    bytes_ = p.serialize();
  }
  Napi::Value Result(Napi::Env env) override {
    return ownedArray<uint8_t, Napi::Uint8Array>(env, new std::vector<uint8_t>(std::move(bytes_)));
  }

 private:
  std::vector<bio::KeystrokeRecord> recs_;
  size_t window_;
  double frr_;
  bio::FusionWeights fw_;
  std::vector<uint8_t> bytes_;
};

// enrollKeystrokes(keys, window, frr[, weights]) → Promise<Uint8Array> (a serialized profile,
// its threshold calibrated on the fused score with `weights`, default fused-v1).
Napi::Value EnrollKeystrokes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    throwType(env, "enrollKeystrokes(keys, window, frr[, weights])");
  std::vector<bio::KeystrokeRecord> recs = recordsFrom(env, info[0], "keys");
  double w = info[1].As<Napi::Number>().DoubleValue();
  double frr = info[2].As<Napi::Number>().DoubleValue();
  if (!(w >= 10 && w <= 10000) || w != std::floor(w)) throwRange(env, "window must be an integer in 10..10000");
  if (!(frr > 0 && frr < 1)) throwRange(env, "frr must be in (0, 1)");
  bio::FusionWeights fw = fusionWeightsFrom(env, info[3], "weights");
  return (new EnrollWorker(env, std::move(recs), size_t(w), frr, fw))->QueuePromise();
}

[[noreturn]] void throwBadKeystrokeProfile(Napi::Env env) {
  Napi::Error e = Napi::Error::New(env, "keystroke profile is malformed, truncated or of an unknown version");
  e.Set("code", Napi::String::New(env, "SENTINEL_E_BIO_PROFILE"));
  throw e;
}

// recalibrateKeystrokes(profile, frr[, weights]) → Uint8Array: the profile with its threshold
// calibrated again, under `weights` (default fused-v1), from the leave-one-window-out components
// it stores: the bytes an enrollment from the same keystrokes under those weights would give.
// Synchronous: a pass over the profile's enrollment windows (tens of them; microseconds).
// Throws SENTINEL_E_BIO_PROFILE for a bad profile, RangeError / TypeError for bad arguments.
Napi::Value RecalibrateKeystrokes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber())
    throwType(env, "recalibrateKeystrokes(profile: Uint8Array, frr: number[, weights: Float64Array])");
  double frr = info[1].As<Napi::Number>().DoubleValue();
  if (!(frr > 0 && frr < 1)) throwRange(env, "frr must be in (0, 1)");
  bio::FusionWeights fw = fusionWeightsFrom(env, info[2], "weights");
  auto b = info[0].As<Napi::Uint8Array>();
  bio::KeystrokeProfile p;
  if (!p.deserialize(b.Data(), b.ElementLength())) throwBadKeystrokeProfile(env);
  p.calibrate(fw, frr);
  return ownedArray<uint8_t, Napi::Uint8Array>(env, new std::vector<uint8_t>(p.serialize()));
}

// KeystrokeScorer(profile, stride[, weights]): keeps the last `window` records and scores a
// window every `stride` records, the fused score with `weights` (default fused-v1: they must be
// those the profile was calibrated with, which the TypeScript layer checks). push(keys) returns
// the fused scores (higher = more likely the enrolled user) of the windows completed by this
// batch, in order; pushWindows(keys) also says where each ends.
class KeystrokeScorer : public Napi::ObjectWrap<KeystrokeScorer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "KeystrokeScorer",
                       {
                           InstanceMethod<&KeystrokeScorer::Push>("push"),
                           InstanceMethod<&KeystrokeScorer::PushWindows>("pushWindows"),
                           InstanceMethod<&KeystrokeScorer::Info>("info"),
                           InstanceMethod<&KeystrokeScorer::Reset>("reset"),
                       });
  }

  explicit KeystrokeScorer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KeystrokeScorer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber())
      throwType(env, "KeystrokeScorer(profile: Uint8Array, stride: number[, weights: Float64Array])");
    auto b = info[0].As<Napi::Uint8Array>();
    if (!profile_.deserialize(b.Data(), b.ElementLength())) throwBadKeystrokeProfile(env);
    double s = info[1].As<Napi::Number>().DoubleValue();
    if (!(s >= 1 && s <= profile_.window) || s != std::floor(s)) throwRange(env, "stride must be an integer in 1..window");
    stride_ = size_t(s);
    fw_ = fusionWeightsFrom(env, info[2], "weights");
  }

 private:
  // Scores the windows the records complete; `ends` gets, per score, the index in `recs` of
  // the record that completed its window.
  std::vector<double> score(const std::vector<bio::KeystrokeRecord>& recs, std::vector<uint32_t>* ends) {
    std::vector<double> scores;
    const size_t W = profile_.window;
    for (size_t i = 0; i < recs.size(); ++i) {
      ring_.push_back(recs[i]);
      if (ring_.size() > W) ring_.erase(ring_.begin());
      if (ring_.size() == W && ++sinceScore_ >= stride_) {
        sinceScore_ = 0;
        scores.push_back(profile_.fused_score(bio::TimingStats::from_records(ring_.data(), W), fw_));
        if (ends) ends->push_back(uint32_t(i));
      }
    }
    return scores;
  }

  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<bio::KeystrokeRecord> recs = recordsFrom(env, info.Length() ? info[0] : env.Undefined(), "keys");
    std::vector<double> scores = score(recs, nullptr);
    Napi::Float64Array out = Napi::Float64Array::New(env, scores.size());
    std::copy(scores.begin(), scores.end(), out.Data());
    return out;
  }

  // pushWindows(keys) -> { scores: Float64Array, ends: Uint32Array }: as push, plus where in the
  // batch each scored window ends (the caller keeps the records to look at the same window).
  Napi::Value PushWindows(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<bio::KeystrokeRecord> recs = recordsFrom(env, info.Length() ? info[0] : env.Undefined(), "keys");
    std::vector<uint32_t> ends;
    std::vector<double> scores = score(recs, &ends);
    Napi::Float64Array s = Napi::Float64Array::New(env, scores.size());
    std::copy(scores.begin(), scores.end(), s.Data());
    Napi::Uint32Array e = Napi::Uint32Array::New(env, ends.size());
    std::copy(ends.begin(), ends.end(), e.Data());
    Napi::Object o = Napi::Object::New(env);
    o.Set("scores", s);
    o.Set("ends", e);
    return o;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("window", Napi::Number::New(env, profile_.window));
    o.Set("stride", Napi::Number::New(env, double(stride_)));
    o.Set("threshold", Napi::Number::New(env, profile_.threshold));
    o.Set("genuineSd", Napi::Number::New(env, profile_.genuine_sd(fw_)));
    o.Set("enrollmentWindows", Napi::Number::New(env, double(profile_.enrollment_windows())));
    o.Set("buffered", Napi::Number::New(env, double(ring_.size())));
    return o;
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    ring_.clear();
    sinceScore_ = 0;
    return info.Env().Undefined();
  }

  bio::KeystrokeProfile profile_;
  bio::FusionWeights fw_;
  std::vector<bio::KeystrokeRecord> ring_;
  size_t stride_ = 1;
  size_t sinceScore_ = 0;
};

}  // namespace

// Mouse action rows from a caller's Float32Array (kActionFeatures per action) and Float64Array
// meta (kActionMetaStride per action). Validated: lengths must agree, types be 0..2, device
// numbers non-negative integers, features finite.
std::vector<bio::MouseAction> actionsFrom(Napi::Env env, Napi::Value fv, Napi::Value mv) {
  if (!fv.IsTypedArray() || fv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throwType(env, "actions must be a Float32Array of action feature rows");
  if (!mv.IsTypedArray() || mv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throwType(env, "actionMeta must be a Float64Array");
  auto f = fv.As<Napi::Float32Array>();
  auto m = mv.As<Napi::Float64Array>();
  if (f.ElementLength() % bio::kActionFeatures) throwRange(env, "actions: length must be a multiple of the feature count");
  size_t n = f.ElementLength() / bio::kActionFeatures;
  if (m.ElementLength() != n * kActionMetaStride)
    throwRange(env, "actionMeta: length must be " + std::to_string(kActionMetaStride) + " per action");
  if (n > kMaxEnrollKeys) throwRange(env, "too many actions");
  std::vector<bio::MouseAction> out(n);
  for (size_t i = 0; i < n; i++) {
    const size_t at = i * kActionMetaStride;
    double type = m[at];
    if (!(type == 0 || type == 1 || type == 2)) throwRange(env, "actionMeta: bad action type at index " + std::to_string(i));
    double device = m[at + 3];
    if (!(device >= 0 && device <= 4294967295.0) || device != std::floor(device))
      throwRange(env, "actionMeta: bad device number at index " + std::to_string(i));
    out[i].type = bio::ActionType(uint8_t(type));
    out[i].t_start = m[at + 1];
    out[i].t_end = m[at + 2];
    for (int k = 0; k < bio::kActionFeatures; k++) {
      float v = f[i * bio::kActionFeatures + size_t(k)];
      if (!std::isfinite(v)) throwRange(env, "actions: non-finite feature at action " + std::to_string(i));
      out[i].f[size_t(k)] = v;
    }
  }
  return out;
}

bool populationFrom(Napi::Env env, Napi::Value v, bio::MousePopulation* pop) {
  if (v.IsNull() || v.IsUndefined()) return false;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throwType(env, "population must be a Uint8Array or null");
  auto b = v.As<Napi::Uint8Array>();
  if (!pop->deserialize(b.Data(), b.ElementLength())) {
    Napi::Error e = Napi::Error::New(env, "mouse population model is malformed, truncated or of an unknown version");
    e.Set("code", Napi::String::New(env, "SENTINEL_E_BIO_PROFILE"));
    throw e;
  }
  return true;
}

namespace {

// What enrollMouse and addMouseSitting resolve with: the serialized profile (handed to JavaScript,
// which owns it) and its calibration, taken on the worker thread and set on the JS thread.
struct MouseProfileResult {
  std::vector<uint8_t> bytes;
  double threshold = 0, genuineSd = 0;
  size_t blocks = 0;
  uint32_t sittings = 0;

  void take(const bio::MouseOneClass& m) {
    const std::vector<double>& c = m.calibration_scores();
    genuineSd = bio::sample_sd(c);
    threshold = m.threshold;
    blocks = c.size();
    sittings = m.sittings();
    bytes = m.serialize();
  }
  Napi::Value toJs(Napi::Env env) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("profile", ownedArray<uint8_t, Napi::Uint8Array>(env, new std::vector<uint8_t>(std::move(bytes))));
    o.Set("threshold", Napi::Number::New(env, threshold));
    o.Set("genuineSd", Napi::Number::New(env, genuineSd));
    o.Set("calibrationBlocks", Napi::Number::New(env, double(blocks)));
    o.Set("sittings", Napi::Number::New(env, double(sittings)));
    return o;
  }
};

class MouseEnrollWorker : public EnrollPromiseWorker {
 public:
  MouseEnrollWorker(Napi::Env env, std::vector<bio::MouseAction> acts, std::unique_ptr<bio::MousePopulation> pop,
                    bio::OneClassParams params, size_t block, double frr)
      : EnrollPromiseWorker(env, "sentinel-enroll-mouse"), acts_(std::move(acts)), pop_(std::move(pop)),
        params_(params), block_(block), frr_(frr) {}

 protected:
  void Execute() override {
    bio::MouseOneClass m = bio::MouseOneClass::enroll(acts_, pop_.get(), params_);
    if (!m.valid()) {
      SetError("mouse enrollment failed (too few actions, or the method needs the population model)");
      return;
    }
    m.calibrate(acts_, pop_.get(), block_, frr_);
    const std::vector<double>& c = m.calibration_scores();
    if (c.size() < 4) {
      SetError("not enough mouse actions to calibrate: need several blocks of the scoring length");
      return;
    }
    result_.take(m);
  }
  Napi::Value Result(Napi::Env env) override { return result_.toJs(env); }

 private:
  std::vector<bio::MouseAction> acts_;
  std::unique_ptr<bio::MousePopulation> pop_;
  bio::OneClassParams params_;
  size_t block_;
  double frr_;
  MouseProfileResult result_;
};

// enrollMouse(actions, actionMeta, population|null, {method, blockActions, frr}) →
// Promise<{profile, threshold, genuineSd, calibrationBlocks, sittings}> (sittings 1 for
// 'histLlr', 0 for the methods that cannot take more).
Napi::Value EnrollMouse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsObject()) throwType(env, "enrollMouse(actions, actionMeta, population, options)");
  std::vector<bio::MouseAction> acts = actionsFrom(env, info[0], info[1]);
  auto pop = std::make_unique<bio::MousePopulation>();
  bool havePop = populationFrom(env, info[2], pop.get());
  Napi::Object o = info[3].As<Napi::Object>();
  bio::OneClassParams p;
  Napi::Value mv = o.Get("method");
  std::string method = mv.IsString() ? mv.As<Napi::String>().Utf8Value() : "histLlr";
  if (method == "robustZ") p.method = bio::OneClassMethod::kRobustZ, p.self_norm = true;
  else if (method == "knn") p.method = bio::OneClassMethod::kKnn, p.self_norm = true;
  else if (method == "histLlr") p.method = bio::OneClassMethod::kHistLlr;
  else if (method == "gauss") p.method = bio::OneClassMethod::kGauss;
  else throwType(env, "options.method must be 'robustZ', 'knn', 'histLlr' or 'gauss'");
  if ((p.method == bio::OneClassMethod::kHistLlr || p.method == bio::OneClassMethod::kGauss) && !havePop)
    throwType(env, "options.method '" + method + "' needs the population model");
  double block = numberOpt(env, o, "blockActions", 20, 1, 1000);
  double frr = numberOpt(env, o, "frr", 0.05, 1e-4, 0.5);
  return (new MouseEnrollWorker(env, std::move(acts), havePop ? std::move(pop) : nullptr, p, size_t(block), frr))->QueuePromise();
}

// Adds one sitting to a deserialized profile on the libuv pool (MouseOneClass::add_sitting).
// Rejects SENTINEL_E_BIO_ENROLL for a sitting shorter than four blocks, SENTINEL_E_BIO_PROFILE
// with add_sitting's reason otherwise (population differs, profile without a quantised enrollment).
class MouseAddSittingWorker : public EnrollPromiseWorker {
 public:
  MouseAddSittingWorker(Napi::Env env, bio::MouseOneClass profile, std::vector<bio::MouseAction> acts,
                        std::unique_ptr<bio::MousePopulation> pop, size_t block, double frr, size_t maxActions)
      : EnrollPromiseWorker(env, "sentinel-enroll-mouse-add"), m_(std::move(profile)), acts_(std::move(acts)),
        pop_(std::move(pop)), block_(block), frr_(frr), maxActions_(maxActions) {}

 protected:
  void Execute() override {
    if (acts_.size() < 4 * block_) {
      SetError("not enough mouse actions in the sitting: need at least four blocks of the scoring length (" +
               std::to_string(4 * block_) + "), got " + std::to_string(acts_.size()));
      return;
    }
    const char* why = nullptr;
    if (!m_.add_sitting(acts_, pop_.get(), block_, frr_, &why, maxActions_)) {
      errorCode_ = "SENTINEL_E_BIO_PROFILE";
      SetError(std::string("cannot add the sitting to the mouse profile: ") + (why ? why : "refused"));
      return;
    }
    result_.take(m_);
  }
  Napi::Value Result(Napi::Env env) override { return result_.toJs(env); }

 private:
  bio::MouseOneClass m_;
  std::vector<bio::MouseAction> acts_;
  std::unique_ptr<bio::MousePopulation> pop_;
  size_t block_;
  double frr_;
  size_t maxActions_;
  MouseProfileResult result_;
};

}  // namespace

// A serialized one-class mouse profile, deserialized and validated (throws SENTINEL_E_BIO_PROFILE).
bio::MouseOneClass mouseProfileFrom(Napi::Env env, Napi::Value v, const char* usage) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) throwType(env, usage);
  auto b = v.As<Napi::Uint8Array>();
  bio::MouseOneClass profile;
  if (!profile.deserialize(b.Data(), b.ElementLength()) || !profile.valid()) {
    Napi::Error e = Napi::Error::New(env, "mouse profile is malformed, truncated or of an unknown version");
    e.Set("code", Napi::String::New(env, "SENTINEL_E_BIO_PROFILE"));
    throw e;
  }
  return profile;
}

bio::StridedBlockMean blockWindowFrom(Napi::Env env, double n, double s) {
  if (!(n >= 1 && n <= 1000) || n != std::floor(n)) throwRange(env, "blockActions must be an integer in 1..1000");
  if (!(s >= 1 && s <= n) || s != std::floor(s)) throwRange(env, "stride must be an integer in 1..blockActions");
  return bio::StridedBlockMean(size_t(n), size_t(s));
}

namespace {

// mouseProfileInfo(profile, population?) → {threshold, sittings, canAddSittings, enrolledActions,
// populationMatches}: what a caller checks before recording another sitting. populationMatches
// (null without a population) says whether addMouseSitting would accept that population.
// Synchronous; a malformed population throws SENTINEL_E_BIO_PROFILE.
Napi::Value MouseProfileInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bio::MouseOneClass m = mouseProfileFrom(env, info.Length() ? info[0] : env.Undefined(), "mouseProfileInfo(profile: Uint8Array, population?: Uint8Array)");
  Napi::Object o = Napi::Object::New(env);
  o.Set("threshold", Napi::Number::New(env, m.threshold));
  o.Set("sittings", Napi::Number::New(env, double(m.sittings())));
  o.Set("canAddSittings", Napi::Boolean::New(env, m.can_add_sittings()));
  o.Set("enrolledActions", Napi::Number::New(env, double(m.enrolled_actions())));
  bio::MousePopulation pop;
  if (info.Length() > 1 && populationFrom(env, info[1], &pop))
    o.Set("populationMatches", Napi::Boolean::New(env, m.enrolled_with(pop)));
  else
    o.Set("populationMatches", env.Null());
  return o;
}

// addMouseSitting(profile, actions, actionMeta, population, {blockActions, frr, maxActions}) →
// Promise<{profile, threshold, genuineSd, calibrationBlocks, sittings}>. The profile is checked
// here, on the JS thread: malformed, or one that cannot take sittings (version 2, another
// method), throws SENTINEL_E_BIO_PROFILE.
Napi::Value AddMouseSitting(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "addMouseSitting(profile: Uint8Array, actions, actionMeta, population: Uint8Array, options)";
  if (info.Length() < 5 || !info[4].IsObject()) throwType(env, usage);
  bio::MouseOneClass profile = mouseProfileFrom(env, info[0], usage);
  if (!profile.can_add_sittings()) {
    Napi::Error e = Napi::Error::New(env,
        "mouse profile was written before sittings could be added (version 2) or uses another method; enroll again without --add");
    e.Set("code", Napi::String::New(env, "SENTINEL_E_BIO_PROFILE"));
    throw e;
  }
  std::vector<bio::MouseAction> acts = actionsFrom(env, info[1], info[2]);
  auto pop = std::make_unique<bio::MousePopulation>();
  if (!populationFrom(env, info[3], pop.get())) throwType(env, "addMouseSitting: population must be a Uint8Array (the model the profile was enrolled with)");
  Napi::Object o = info[4].As<Napi::Object>();
  double block = numberOpt(env, o, "blockActions", 20, 1, 1000);
  double frr = numberOpt(env, o, "frr", 0.05, 1e-4, 0.5);
  double maxActions = numberOpt(env, o, "maxActions", 0, 0, 1e7);
  if (block != std::floor(block)) throwRange(env, "options.blockActions must be an integer");
  if (maxActions != std::floor(maxActions) || (maxActions > 0 && maxActions < 4 * block))
    throwRange(env, "options.maxActions must be 0 (keep every action) or an integer of at least four blocks");
  return (new MouseAddSittingWorker(env, std::move(profile), std::move(acts), std::move(pop), size_t(block), frr,
                                    size_t(maxActions)))->QueuePromise();
}

// MouseScorer(profile, blockActions, stride): keeps the last `blockActions` action scores and
// returns the block score (mean; higher = more likely the enrolled user) every `stride` actions.
class MouseScorer : public Napi::ObjectWrap<MouseScorer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MouseScorer",
                       {InstanceMethod<&MouseScorer::Push>("push"), InstanceMethod<&MouseScorer::Reset>("reset"),
                        InstanceMethod<&MouseScorer::Info>("info")});
  }

  explicit MouseScorer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MouseScorer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber() || !info[2].IsNumber())
      throwType(env, "MouseScorer(profile: Uint8Array, blockActions: number, stride: number)");
    auto b = info[0].As<Napi::Uint8Array>();
    if (!profile_.deserialize(b.Data(), b.ElementLength()) || !profile_.valid()) {
      Napi::Error e = Napi::Error::New(env, "mouse profile is malformed, truncated or of an unknown version");
      e.Set("code", Napi::String::New(env, "SENTINEL_E_BIO_PROFILE"));
      throw e;
    }
    win_ = blockWindowFrom(env, info[1].As<Napi::Number>().DoubleValue(), info[2].As<Napi::Number>().DoubleValue());
  }

 private:
  Napi::Value Push(const Napi::CallbackInfo& info) {
    return pushBlocks(info, win_, [this](const bio::MouseAction& a) { return profile_.action_score(a); });
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    win_.reset();
    return info.Env().Undefined();
  }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("threshold", Napi::Number::New(env, profile_.threshold));
    o.Set("blockActions", Napi::Number::New(env, double(win_.n())));
    o.Set("stride", Napi::Number::New(env, double(win_.stride())));
    o.Set("buffered", Napi::Number::New(env, double(win_.buffered())));
    return o;
  }

  bio::MouseOneClass profile_;
  bio::StridedBlockMean win_{20, 5};
};

Napi::Value BiometricsConstants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("keyRecordStride", Napi::Number::New(env, kKeyStride));
  o.Set("actionFeatures", Napi::Number::New(env, bio::kActionFeatures));
  o.Set("actionMetaStride", Napi::Number::New(env, kActionMetaStride));
  o.Set("mouseSchemaVersion", Napi::Number::New(env, bio::kMouseSchemaVersion));
  o.Set("inputEventSize", Napi::Number::New(env, double(ev::inputEventSize())));
  o.Set("monoBuckets", Napi::Number::New(env, bio::kMonoBuckets));
  o.Set("digraphBuckets", Napi::Number::New(env, bio::kDigraphBuckets));
  // The compiled fused-v1 weights (what the evaluation tools fit and use), so a test can hold
  // models/keystroke-classical to them.
  Napi::Float64Array fv1 = Napi::Float64Array::New(env, bio::kComponents);
  for (int k = 0; k < bio::kComponents; ++k) fv1[k] = bio::kFusedV1[k];
  o.Set("keystrokeFusedV1Weights", fv1);
  o.Set("keystrokeFusedV1GlobalThreshold", Napi::Number::New(env, bio::kFusedV1GlobalThreshold));
  Napi::Array names = Napi::Array::New(env, bio::kActionFeatures);
  for (uint32_t i = 0; i < uint32_t(bio::kActionFeatures); i++) names.Set(i, Napi::String::New(env, bio::kActionFeatureNames[i]));
  o.Set("actionFeatureNames", names);
  return o;
}

}  // namespace

void RegisterBiometrics(Napi::Env env, Napi::Object exports) {
  exports.Set("InputCollector", InputCollector::Define(env));
  exports.Set("KeystrokeScorer", KeystrokeScorer::Define(env));
  exports.Set("MouseScorer", MouseScorer::Define(env));
  exports.Set("enrollMouse", Napi::Function::New<EnrollMouse>(env, "enrollMouse"));
  exports.Set("addMouseSitting", Napi::Function::New<AddMouseSitting>(env, "addMouseSitting"));
  exports.Set("mouseProfileInfo", Napi::Function::New<MouseProfileInfo>(env, "mouseProfileInfo"));
  exports.Set("decodeInputEvents", Napi::Function::New<DecodeInputEvents>(env, "decodeInputEvents"));
  exports.Set("enrollKeystrokes", Napi::Function::New<EnrollKeystrokes>(env, "enrollKeystrokes"));
  exports.Set("recalibrateKeystrokes", Napi::Function::New<RecalibrateKeystrokes>(env, "recalibrateKeystrokes"));
  exports.Set("biometricsConstants", Napi::Function::New<BiometricsConstants>(env, "biometricsConstants"));
  RegisterMouseCohort(env, exports);
}

}  // namespace sentinel::biobind

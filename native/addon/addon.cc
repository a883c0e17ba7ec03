// Node-API layer of sentinel.node: argument checking and conversion only; all work is in
// native/core (pure C++). The raw API is specified by src/binding.ts (RawAddon / RawEngine).
//
// Per-environment state lives in Napi::Env instance data (worker threads each get their own);
// there is no static Napi::FunctionReference.
#include <napi.h>

#include "napi_args.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../core/engine.h"
#include "../core/features.h"
#include "../core/heuristic.h"
#include "../core/protocol.h"
#include "../core/sample.h"
#include "system.h"
#include "fanotify_binding.h"
#include "biometrics_binding.h"
#include "app_binding.h"

namespace {

using sentinel::core::EngineOptions;
namespace core = sentinel::core;
namespace proto = sentinel::proto;

struct AddonData {
  Napi::FunctionReference engineCtor;
};

using sentinel::addon::throwRange;
using sentinel::addon::throwType;

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throwType(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

uint32_t u32Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  double v = numberArg(info, i, what);
  if (!(v >= 0 && v <= 4294967295.0) || std::floor(v) != v)
    throwRange(info.Env(), std::string(what) + " must be an integer in 0..2^32-1");
  return static_cast<uint32_t>(v);
}

uint64_t u64Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() > i && info[i].IsBigInt()) {
    bool lossless = false;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throwRange(info.Env(), std::string(what) + " must fit in 64 bits");
    return v;
  }
  double v = numberArg(info, i, what);
  if (!(v >= 0 && v <= 18446744073709551615.0) || std::floor(v) != v)
    throwRange(info.Env(), std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(v);
}

template <typename T>
Napi::TypedArrayOf<T> typedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type)
    throwType(info.Env(), std::string(what));
  return info[i].As<Napi::TypedArrayOf<T>>();
}

Napi::Object errorCounts(Napi::Env env, const uint64_t* counts) {
  Napi::Object o = Napi::Object::New(env);
  for (int c = 0; c < core::kMaxErrorCode; c++)
    if (counts[c]) o.Set(Napi::Number::New(env, c).ToString(), Napi::Number::New(env, static_cast<double>(counts[c])));
  return o;
}

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&Engine::OpenConnection>("openConnection"),
                           InstanceMethod<&Engine::CloseConnection>("closeConnection"),
                           InstanceMethod<&Engine::Ingest>("ingest"),
                           InstanceMethod<&Engine::CollectDue>("collectDue"),
                           InstanceMethod<&Engine::SetStates>("setStates"),
                           InstanceMethod<&Engine::SetUidFloor>("setUidFloor"),
                           InstanceMethod<&Engine::Verdict>("verdict"),
                           InstanceMethod<&Engine::EncodeStatePush>("encodeStatePush"),
                           InstanceMethod<&Engine::SubjectInfo>("subjectInfo"),
                           InstanceMethod<&Engine::SetDecoys>("setDecoys"),
                           InstanceMethod<&Engine::SetHeuristicWeights>("setHeuristicWeights"),
                           InstanceMethod<&Engine::TakeEvicted>("takeEvicted"),
                           InstanceMethod<&Engine::Stats>("stats"),
                       });
  }

  explicit Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray())
      throwType(env, "Engine(options): options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    EngineOptions opts;
    auto num = [&](const char* key, double def, double lo, double hi, bool integer) {
      Napi::Value v = o.Get(key);
      if (v.IsUndefined()) return def;
      if (!v.IsNumber()) throwType(env, std::string("options.") + key + " must be a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= lo && d <= hi) || (integer && std::floor(d) != d))
        throwRange(env, std::string("options.") + key + " is out of range");
      return d;
    };
    opts.dueEveryEvents = static_cast<uint32_t>(num("dueEveryEvents", opts.dueEveryEvents, 1, 4294967295.0, true));
    opts.dueEveryMs = num("dueEveryMs", opts.dueEveryMs, 0, 1e15, false);
    opts.triggerScore = static_cast<float>(num("triggerScore", opts.triggerScore, 0, 1, false));
    opts.maxSubjects = static_cast<uint32_t>(num("maxSubjects", opts.maxSubjects, 2, 1e8, true));
    opts.idleEvictMs = num("idleEvictMs", opts.idleEvictMs, 0, 1e15, false);
    opts.ingestBudgetEvents = static_cast<uint32_t>(num("ingestBudgetEvents", opts.ingestBudgetEvents, 0, 4294967295.0, true));
    engine_ = std::make_unique<core::Engine>(opts);
  }

 private:
  Napi::Value OpenConnection(const Napi::CallbackInfo& info) {
    uint32_t uid = u32Arg(info, 0, "peerUid");
    return Napi::Number::New(info.Env(), engine_->openConnection(uid));
  }

  Napi::Value CloseConnection(const Napi::CallbackInfo& info) {
    uint32_t id = u32Arg(info, 0, "connId");
    int64_t dropped = engine_->closeConnection(id);
    if (dropped < 0) throwRange(info.Env(), "unknown connection " + std::to_string(id));
    return Napi::Number::New(info.Env(), static_cast<double>(dropped));
  }

  Napi::Value Ingest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = u32Arg(info, 0, "connId");
    auto chunk = typedArg<uint8_t>(info, 1, napi_uint8_array, "chunk must be a Uint8Array");
    if (!engine_->hasConnection(id)) throwRange(env, "unknown connection " + std::to_string(id));
    const core::IngestResult& r = engine_->ingest(id, chunk.Data(), chunk.ElementLength());
    Napi::Object o = Napi::Object::New(env);
    o.Set("frames", Napi::Number::New(env, r.frames));
    o.Set("accepted", Napi::Number::New(env, r.accepted));
    o.Set("rejected", Napi::Number::New(env, r.rejected));
    if (r.reply.empty()) o.Set("reply", env.Null());
    else o.Set("reply", Napi::Buffer<uint8_t>::Copy(env, r.reply.data(), r.reply.size()));
    if (r.hello.set) {
      Napi::Object h = Napi::Object::New(env);
      h.Set("version", Napi::Number::New(env, r.hello.version));
      h.Set("roles", Napi::Number::New(env, r.hello.roles));
      h.Set("pid", Napi::Number::New(env, r.hello.pid));
      h.Set("name", Napi::String::New(env, r.hello.name));
      o.Set("hello", h);
    } else {
      o.Set("hello", env.Null());
    }
    o.Set("fatal", Napi::Number::New(env, r.fatal));
    o.Set("pending", Napi::Boolean::New(env, r.pending));
    o.Set("urgent", Napi::Number::New(env, r.urgent));
    if (!r.barriers.empty()) {
      Napi::Array b = Napi::Array::New(env, r.barriers.size());
      for (size_t i = 0; i < r.barriers.size(); i++) b.Set(static_cast<uint32_t>(i), Napi::Number::New(env, r.barriers[i]));
      o.Set("barriers", b);
    }
    uint64_t counts[core::kMaxErrorCode];
    for (int c = 0; c < core::kMaxErrorCode; c++) counts[c] = r.errors[c];
    o.Set("errors", errorCounts(env, counts));
    return o;
  }

  Napi::Value CollectDue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ids = typedArg<uint32_t>(info, 0, napi_uint32_array, "ids must be a Uint32Array");
    auto rows = typedArg<float>(info, 1, napi_float32_array, "rows must be a Float32Array");
    auto contrib = typedArg<float>(info, 2, napi_float32_array, "contrib must be a Float32Array");
    auto meta = typedArg<double>(info, 3, napi_float64_array, "meta must be a Float64Array");
    size_t max = std::min(ids.ElementLength(), engine_->dueCount());
    if (rows.ElementLength() < max * core::kFeatureCount)
      throwRange(env, "rows holds fewer than " + std::to_string(max) + " rows of " + std::to_string(core::kFeatureCount));
    if (contrib.ElementLength() < max * core::kContributions)
      throwRange(env, "contrib holds fewer than " + std::to_string(max) + " rows of " + std::to_string(core::kContributions));
    if (meta.ElementLength() < max * core::kMetaStride) throwRange(env, "meta holds fewer than " + std::to_string(max) + " rows of " + std::to_string(core::kMetaStride));
    size_t n = engine_->collectDue(ids.Data(), rows.Data(), contrib.Data(), meta.Data(), max);
    return Napi::Number::New(env, static_cast<double>(n));
  }

  Napi::Value SetStates(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ids = typedArg<uint32_t>(info, 0, napi_uint32_array, "ids must be a Uint32Array");
    auto states = typedArg<uint8_t>(info, 1, napi_uint8_array, "states must be a Uint8Array");
    if (ids.ElementLength() != states.ElementLength()) throwRange(env, "ids and states differ in length");
    for (size_t i = 0; i < states.ElementLength(); i++)
      if (states[i] > proto::kLockdown) throwRange(env, "state " + std::to_string(states[i]) + " is not 0..3");
    return Napi::Boolean::New(env, engine_->setStates(ids.Data(), states.Data(), ids.ElementLength()));
  }

  Napi::Value SetUidFloor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t uid = u32Arg(info, 0, "uid");
    uint32_t state = u32Arg(info, 1, "state");
    if (state > proto::kLockdown) throwRange(env, "state " + std::to_string(state) + " is not 0..3");
    return Napi::Boolean::New(env, engine_->setUidFloor(uid, uint8_t(state)));
  }

  Napi::Value Verdict(const Napi::CallbackInfo& info) {
    uint32_t pid = u32Arg(info, 0, "pid");
    uint64_t start = u64Arg(info, 1, "startTime");
    return Napi::Number::New(info.Env(), engine_->verdict(pid, start));
  }

  Napi::Value EncodeStatePush(const Napi::CallbackInfo& info) {
    uint32_t seq = u32Arg(info, 0, "seq");
    std::vector<uint8_t> out;
    bool withHolds = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    engine_->encodeStatePush(seq, out, withHolds);
    return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
  }

  Napi::Value SubjectInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ids = typedArg<uint32_t>(info, 0, napi_uint32_array, "ids must be a Uint32Array");
    Napi::Array out = Napi::Array::New(env, ids.ElementLength());
    for (size_t i = 0; i < ids.ElementLength(); i++) {
      const core::Subject* s = engine_->subjectById(ids[i]);
      if (!s) {
        out.Set(static_cast<uint32_t>(i), env.Null());
        continue;
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", Napi::Number::New(env, s->id));
      o.Set("kind", Napi::String::New(env, s->kind == core::kProcess ? "process" : "tree"));
      o.Set("pid", Napi::Number::New(env, s->pid));
      o.Set("ppid", Napi::Number::New(env, s->ppid));
      o.Set("uid", Napi::Number::New(env, s->uid));
      o.Set("sid", Napi::Number::New(env, s->sid));
      o.Set("startTime", Napi::Number::New(env, static_cast<double>(s->startTime)));
      o.Set("comm", Napi::String::New(env, std::string(s->comm, s->commLen)));
      o.Set("treeId", Napi::Number::New(env, s->treeId));
      o.Set("events", Napi::Number::New(env, static_cast<double>(s->events)));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

  Napi::Value SetDecoys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throwType(env, "paths must be an array of strings");
    Napi::Array a = info[0].As<Napi::Array>();
    std::vector<std::string> paths;
    paths.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) throwType(env, "paths must be an array of strings");
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.empty() || s.size() > proto::kMaxPath) throwRange(env, "a decoy path must be 1..4096 bytes");
      paths.push_back(std::move(s));
    }
    engine_->setDecoys(paths);
    return env.Undefined();
  }

  Napi::Value SetHeuristicWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto w = typedArg<float>(info, 0, napi_float32_array, "weights must be a Float32Array");
    if (w.ElementLength() != core::kContributions)
      throwRange(env, "weights must hold " + std::to_string(core::kContributions) + " values");
    for (size_t i = 0; i < w.ElementLength(); i++)
      if (!std::isfinite(w[i]) || w[i] < 0) throwRange(env, "weights must be finite and >= 0");
    engine_->setWeights(w.Data());
    return env.Undefined();
  }

  Napi::Value TakeEvicted(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<uint32_t> ev = engine_->takeEvicted();
    Napi::Uint32Array out = Napi::Uint32Array::New(env, ev.size());
    for (size_t i = 0; i < ev.size(); i++) out[i] = ev[i];
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    core::EngineStats s = engine_->stats();
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    set("framesIn", s.framesIn);
    set("bytesIn", s.bytesIn);
    set("eventsAccepted", s.eventsAccepted);
    set("eventsRejected", s.eventsRejected);
    o.Set("errorsByCode", errorCounts(env, s.errorsByCode));
    set("connections", s.connections);
    set("subjectsLive", s.subjectsLive);
    set("subjectsCreated", s.subjectsCreated);
    set("subjectsEvicted", s.subjectsEvicted);
    set("eventsDroppedNoSubject", s.eventsDroppedNoSubject);
    set("dueSubjects", s.dueSubjects);
    set("verdictQueries", s.verdictQueries);
    set("denySetGeneration", s.denySetGeneration);
    set("tableBytes", s.tableBytes);
    return o;
  }

  std::unique_ptr<core::Engine> engine_;
};

Napi::Value FeatureNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names = core::featureNames();
  Napi::Array a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return a;
}

Napi::Value ContributionNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, core::kContributions);
  for (uint32_t i = 0; i < core::kContributions; i++) a.Set(i, Napi::String::New(env, core::kContributionNames[i]));
  return a;
}

Napi::Value ProtocolConstants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("magic", Napi::Number::New(env, proto::kMagic));
  o.Set("version", Napi::Number::New(env, proto::kVersion));
  o.Set("headerSize", Napi::Number::New(env, static_cast<double>(proto::kHeaderSize)));
  o.Set("maxPayload", Napi::Number::New(env, proto::kMaxPayload));
  o.Set("recordFixed", Napi::Number::New(env, static_cast<double>(proto::kRecordFixed)));
  return o;
}

Napi::Value SampleStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = typedArg<uint8_t>(info, 0, napi_uint8_array, "sample must be a Uint8Array");
  core::SampleStats st = core::sampleStats(s.Data(), s.ElementLength());
  Napi::Object o = Napi::Object::New(env);
  o.Set("entropy", Napi::Number::New(env, st.entropy));
  o.Set("chiSquare", Napi::Number::New(env, st.chiSquare));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function ctor = Engine::Define(env);
  data->engineCtor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  exports.Set("Engine", ctor);
  exports.Set("featureNames", Napi::Function::New<FeatureNames>(env, "featureNames"));
  exports.Set("contributionNames", Napi::Function::New<ContributionNames>(env, "contributionNames"));
  exports.Set("protocolConstants", Napi::Function::New<ProtocolConstants>(env, "protocolConstants"));
  exports.Set("sampleStats", Napi::Function::New<SampleStats>(env, "sampleStats"));
  sentinel::sys::RegisterSystemFunctions(env, exports);
  sentinel::fanotify::RegisterFanotify(env, exports);
  sentinel::biobind::RegisterBiometrics(env, exports);
  sentinel::x11::RegisterApp(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sentinel, Init)

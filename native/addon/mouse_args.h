// What the mouse bindings share (biometrics_binding.cc, mouse_cohort_binding.cc): checked
// conversion of action rows, populations and profiles from JavaScript, JS-owned byte arrays, and
// the Promise-settling AsyncWorker of enrollment-like work. Conversions throw a TypeError or
// RangeError (wrong type, bad value), or an Error coded SENTINEL_E_BIO_PROFILE (a malformed
// model); they run on the JS thread.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../biometrics/metrics.h"
#include "../biometrics/mouse.h"
#include "../biometrics/mouse_oneclass.h"

namespace sentinel::biobind {

constexpr uint32_t kActionMetaStride = 4;  // type, t_start_s, t_end_s, device

// Mouse action rows from a Float32Array (kActionFeatures per action) and a Float64Array meta
// (kActionMetaStride per action), read during the call only.
std::vector<bio::MouseAction> actionsFrom(Napi::Env env, Napi::Value features, Napi::Value meta);
// False for null/undefined; throws for anything else that is not a valid population.
bool populationFrom(Napi::Env env, Napi::Value v, bio::MousePopulation* pop);
// A serialized one-class mouse profile; `usage` is the TypeError's message for a non-Uint8Array.
bio::MouseOneClass mouseProfileFrom(Napi::Env env, Napi::Value v, const char* usage);
// A scorer's block window from its (blockActions, stride) arguments, numbers already checked:
// RangeError unless blockActions is an integer in 1..1000 and stride one in 1..blockActions.
bio::StridedBlockMean blockWindowFrom(Napi::Env env, double blockActions, double stride);
// push(actions, actionMeta) of the mouse scorers: each action scored by `score`, and the block
// means `win` completes, in order, as a new Float64Array.
template <typename ScoreFn>
Napi::Float64Array pushBlocks(const Napi::CallbackInfo& info, bio::StridedBlockMean& win, ScoreFn score) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw Napi::TypeError::New(env, "push(actions, actionMeta)");
  std::vector<bio::MouseAction> acts = actionsFrom(env, info[0], info[1]);
  std::vector<double> out;
  double mean = 0;
  for (const bio::MouseAction& a : acts)
    if (win.push(score(a), &mean)) out.push_back(mean);
  Napi::Float64Array r = Napi::Float64Array::New(env, out.size());
  std::copy(out.begin(), out.end(), r.Data());
  return r;
}
// An Error with a stable SENTINEL_E_* code.
[[noreturn]] inline void throwCoded(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

// A JS-owned typed array over `v`'s memory (no copy); empty vectors get a plain empty array,
// because an external ArrayBuffer without memory reads as detached.
template <typename T, typename ArrayT>
ArrayT ownedArray(Napi::Env env, std::vector<T>* v) {
  size_t n = v->size();
  if (n == 0) {
    delete v;
    return ArrayT::New(env, 0);
  }
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
      env, v->data(), n * sizeof(T), [](Napi::Env, void*, std::vector<T>* q) { delete q; }, v);
  return ArrayT::New(env, n, ab, 0);
}

// An AsyncWorker that settles a Promise: rejects with an Error coded SENTINEL_E_BIO_ENROLL (the
// message SetError gave; Execute may set errorCode_ to another static code first), resolves with
// what Result() builds on the JS thread. QueuePromise() returns the Promise; libuv owns and
// deletes the worker.
class EnrollPromiseWorker : public Napi::AsyncWorker {
 public:
  EnrollPromiseWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise QueuePromise() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual Napi::Value Result(Napi::Env env) = 0;
  void OnOK() override { deferred_.Resolve(Result(Env())); }
  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), errorCode_));
    deferred_.Reject(err.Value());
  }
  const char* errorCode_ = "SENTINEL_E_BIO_ENROLL";

 private:
  Napi::Promise::Deferred deferred_;
};

// Adds fitMouseCohort and MouseCohortScorer (mouse_cohort_binding.cc) to `exports`.
void RegisterMouseCohort(Napi::Env env, Napi::Object exports);

}  // namespace sentinel::biobind

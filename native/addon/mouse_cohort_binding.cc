// fitMouseCohort and MouseCohortScorer: the several-users mouse model (native/biometrics/
// mouse_cohort.h). Argument checks and conversion only.
//
// Buffers: profiles, populations and models passed in are read during the call only (the
// scorer keeps its own deserialized copy); the model bytes fitMouseCohort resolves with are a
// new Uint8Array owned by JavaScript.
//
// Threading: fitMouseCohort deserializes and checks its inputs on the JS thread, fits on the
// libuv pool (seconds: several GBT fits) and settles a Promise. MouseCohortScorer.push is
// synchronous: one walk of every tree per action (15 us for 2 members, 70 us for 5 at 200
// rounds; BENCHMARKS.md), at a person's few actions a second.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../biometrics/metrics.h"
#include "../biometrics/mouse_cohort.h"
#include "mouse_args.h"
#include "napi_args.h"

namespace sentinel::biobind {
namespace {

using sentinel::addon::throwRange;
using sentinel::addon::throwType;

double optNumber(Napi::Env env, Napi::Object o, const char* key, double def, double lo, double hi, bool integer) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throwType(env, std::string("options.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || (integer && d != std::floor(d)))
    throwRange(env, std::string("options.") + key + " must be " + (integer ? "an integer" : "a number") + " in " +
                        std::to_string(lo) + ".." + std::to_string(hi));
  return d;
}

class CohortFitWorker : public EnrollPromiseWorker {
 public:
  CohortFitWorker(Napi::Env env, std::vector<bio::MouseOneClass> members, std::unique_ptr<bio::MousePopulation> pop,
                  bio::CohortParams p)
      : EnrollPromiseWorker(env, "sentinel-fit-mouse-cohort"), members_(std::move(members)), pop_(std::move(pop)), p_(p) {}

 protected:
  void Execute() override {
    std::vector<const bio::MouseOneClass*> ptrs;
    for (const bio::MouseOneClass& m : members_) ptrs.push_back(&m);
    const char* why = nullptr;
    bio::MouseCohort c = bio::MouseCohort::fit(ptrs, *pop_, p_, &why);
    if (!c.valid()) {
      SetError(std::string("cannot fit the several-users mouse model: ") + (why ? why : "refused"));
      return;
    }
    for (size_t i = 0; i < c.members(); ++i) cal_.push_back(c.calibration(i));
    bytes_ = c.serialize();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("model", ownedArray<uint8_t, Napi::Uint8Array>(env, new std::vector<uint8_t>(std::move(bytes_))));
    Napi::Array members = Napi::Array::New(env, cal_.size());
    for (uint32_t i = 0; i < cal_.size(); ++i) {
      Napi::Object m = Napi::Object::New(env);
      m.Set("threshold", Napi::Number::New(env, cal_[i].threshold));
      m.Set("genuineSd", Napi::Number::New(env, cal_[i].genuine_sd));
      m.Set("calibrationBlocks", Napi::Number::New(env, double(cal_[i].blocks)));
      m.Set("enrolledFar", Napi::Number::New(env, cal_[i].enrolled_far));
      members.Set(i, m);
    }
    o.Set("members", members);
    return o;
  }

 private:
  std::vector<bio::MouseOneClass> members_;
  std::unique_ptr<bio::MousePopulation> pop_;
  bio::CohortParams p_;
  std::vector<bio::CohortCalibration> cal_;
  std::vector<uint8_t> bytes_;
};

// fitMouseCohort(profiles: Uint8Array[], population: Uint8Array, {blockActions, frr, maxActions,
// rounds, backgroundMembers}) → Promise<{model, members: [{threshold, genuineSd,
// calibrationBlocks, enrolledFar}]}>, members in the order of `profiles`; the last
// `backgroundMembers` (default 0) are background (CohortParams::background, fitted as one
// class: merge_background's default). A malformed profile or population throws
// SENTINEL_E_BIO_PROFILE here; a refusal of the fit (too few members, a profile without a
// quantised enrollment or of another population, an enrollment too short) rejects
// SENTINEL_E_BIO_ENROLL with the reason.
Napi::Value FitMouseCohort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "fitMouseCohort(profiles: Uint8Array[], population: Uint8Array, options)";
  if (info.Length() < 3 || !info[0].IsArray() || !info[2].IsObject()) throwType(env, usage);
  Napi::Array arr = info[0].As<Napi::Array>();
  if (arr.Length() < 2 || arr.Length() > bio::kMaxCohortMembers)
    throwRange(env, "profiles must hold 2.." + std::to_string(bio::kMaxCohortMembers) + " mouse profiles");
  std::vector<bio::MouseOneClass> members;
  for (uint32_t i = 0; i < arr.Length(); ++i) members.push_back(mouseProfileFrom(env, arr.Get(i), usage));
  auto pop = std::make_unique<bio::MousePopulation>();
  if (!populationFrom(env, info[1], pop.get())) throwType(env, "fitMouseCohort: population must be a Uint8Array (the model the profiles were enrolled with)");
  Napi::Object o = info[2].As<Napi::Object>();
  bio::CohortParams p;
  p.block = size_t(optNumber(env, o, "blockActions", 20, 1, 1000, true));
  p.frr = optNumber(env, o, "frr", 0.05, 1e-4, 0.5, false);
  p.max_rows = size_t(optNumber(env, o, "maxActions", double(p.max_rows), 0, 1e6, true));
  p.boost.rounds = int(optNumber(env, o, "rounds", double(p.boost.rounds), 1, 2000, true));
  p.background = size_t(optNumber(env, o, "backgroundMembers", 0, 0, double(arr.Length() - 1), true));
  return (new CohortFitWorker(env, std::move(members), std::move(pop), p))->QueuePromise();
}

// MouseCohortScorer(model, population, member, blockActions, stride): member `member`'s block
// scores (mean action score of the last `blockActions` actions; higher = more likely that
// member) every `stride` actions. Throws SENTINEL_E_BIO_PROFILE for a malformed model or
// population, or a population the model was not fitted under.
class MouseCohortScorer : public Napi::ObjectWrap<MouseCohortScorer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MouseCohortScorer",
                       {InstanceMethod<&MouseCohortScorer::Push>("push"), InstanceMethod<&MouseCohortScorer::Reset>("reset"),
                        InstanceMethod<&MouseCohortScorer::Info>("info")});
  }

  explicit MouseCohortScorer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MouseCohortScorer>(info) {
    Napi::Env env = info.Env();
    const char* usage = "MouseCohortScorer(model: Uint8Array, population: Uint8Array, member: number, blockActions: number, stride: number)";
    if (info.Length() < 5 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber())
      throwType(env, usage);
    auto b = info[0].As<Napi::Uint8Array>();
    if (!cohort_.deserialize(b.Data(), b.ElementLength()))
      throwCoded(env, "SENTINEL_E_BIO_PROFILE", "several-users mouse model is malformed, truncated or of an unknown version");
    if (!populationFrom(env, info[1], &pop_)) throwType(env, usage);
    if (!cohort_.scored_with(pop_))
      throwCoded(env, "SENTINEL_E_BIO_PROFILE", "several-users mouse model was fitted under another population model");
    const double m = info[2].As<Napi::Number>().DoubleValue();
    if (!(m >= 0 && m < double(cohort_.members())) || m != std::floor(m))
      throwRange(env, "member must be an integer in 0.." + std::to_string(cohort_.members() - 1));
    member_ = size_t(m);
    win_ = blockWindowFrom(env, info[3].As<Napi::Number>().DoubleValue(), info[4].As<Napi::Number>().DoubleValue());
  }

 private:
  Napi::Value Push(const Napi::CallbackInfo& info) {
    return pushBlocks(info, win_, [this](const bio::MouseAction& a) { return cohort_.action_score(member_, a, pop_); });
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    win_.reset();
    return info.Env().Undefined();
  }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("members", Napi::Number::New(env, double(cohort_.members())));
    o.Set("member", Napi::Number::New(env, double(member_)));
    o.Set("threshold", Napi::Number::New(env, cohort_.calibration(member_).threshold));
    o.Set("blockActions", Napi::Number::New(env, double(win_.n())));
    o.Set("stride", Napi::Number::New(env, double(win_.stride())));
    o.Set("buffered", Napi::Number::New(env, double(win_.buffered())));
    return o;
  }

  bio::MouseCohort cohort_;
  bio::MousePopulation pop_;
  bio::StridedBlockMean win_{20, 5};
  size_t member_ = 0;
};

}  // namespace

void RegisterMouseCohort(Napi::Env env, Napi::Object exports) {
  exports.Set("MouseCohortScorer", MouseCohortScorer::Define(env));
  exports.Set("fitMouseCohort", Napi::Function::New<FitMouseCohort>(env, "fitMouseCohort"));
}

}  // namespace sentinel::biobind

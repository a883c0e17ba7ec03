// Several users enrolled on one host, discriminative: one softmax GBT over the enrolled users'
// quantised mouse enrollments (what their MouseOneClass profiles already keep), so an action is
// scored by how much better it fits the session's user than the other enrolled users.
//
// Contract (no Node types here; the addon wraps it):
//  * Input: the members' MouseOneClass profiles, each with a quantised enrollment (profile
//    version >= 3) made under the same MousePopulation. A row of the model is one enrolled
//    action: its all-types population bin per feature plus its type (kCohortInputs numbers).
//    No feature value and no other person's action leaves the profiles.
//  * fit(): synchronous and CPU-bound (about 0.8 s for 2 members and 8 s for 5, of 4000 actions
//    each, and about 5 times that for members of 20000 actions, on one core of the development
//    machine): run it off the JS thread. Each member contributes its most recent `max_rows`
//    actions. Calibration is cross-fitted: the
//    rows of every member are cut into `folds` contiguous chunks, and chunk c of every member
//    is scored by a model fitted without any member's chunk c. Each member's
//    threshold is the `frr` quantile of its own held-out blocks of `block` actions (every
//    max(1, block/4) actions), genuine_sd their sample sd, and enrolled_far the fraction of the
//    other members' held-out blocks that pass it. The model kept is then fitted on every row.
//    With drop_prior (the default) every model's class prior is removed from its margins, so a
//    score compares the members' likelihoods of the action whatever their row counts.
//    Fails (valid() false, *why set) with fewer than 2 members, a member without a quantised
//    enrollment or enrolled under another population, or one with fewer than folds * 2 blocks.
//  * Background members (CohortParams::background): the last `background` members are other
//    people's profiles shipped to tell the users from (mouse-background.ts), never scored. With
//    merge_background (the default) their rows are one class of the model: members() still
//    counts every member, and each background member reports that class's calibration.
//  * two_models: an enrolled member's score is the lower of the enrolled-only model's (against
//    the other enrolled members) and the background model's against the background alone.
//  * background_margin: the score is min(against the enrolled, against the background + margin);
//    0 (the default) is the plain lower of the two. action_terms gives both parts.
//  * action_score(i, x): log p(i|x) - log mean_{j != i} p(j|x), clipped to +-kCohortClip; HIGHER
//    = more likely member i. With both other enrolled members and background members, the mean
//    is taken over each group apart and the lower of the two scores kept: an enrolled impostor
//    is then not averaged away among the background, nor an outsider among the enrolled users.
//    A block score is the mean over its actions (the same aggregation as
//    MouseOneClass::block_score), comparable with calibration(i).threshold.
//  * serialize()/deserialize(): versioned little-endian bytes (magic "SMC1"): the GBT, the
//    population hash, the background's count, flags and margin, and each member's calibration
//    (then the enrolled users' GBT with two_models). deserialize() validates everything and
//    returns false (object unchanged) on malformed input.
//  * Thread-compat: const methods may be called concurrently.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "boosting.h"
#include "mouse.h"
#include "mouse_oneclass.h"

namespace sentinel {
namespace bio {

constexpr int kCohortInputs = kActionFeatures + 1;  // all-types bin per feature, then the type
constexpr double kCohortClip = 6.0;
constexpr size_t kMaxCohortMembers = 64;
constexpr double kMaxCohortMargin = 2 * kCohortClip;  // beyond it the background term never counts

struct CohortParams {
  size_t block = 20;
  double frr = 0.05;
  // Per member, most recent; 0 = all. 20000 is every action a profile keeps
  // (MAX_ENROLLED_MOUSE_ACTIONS): measured, all of them beat the newest 4000 once the prior is
  // dropped (docs/biometrics.md).
  size_t max_rows = 20000;
  // Score likelihoods, not posteriors: the class prior (each member's share of the rows) is
  // removed from every model's margins, so members with more enrolled actions than others are
  // not favoured and every member's scores sit on one scale.
  bool drop_prior = true;
  int folds = 4;
  // The generic defaults (31 leaves). 63 leaves gained 0.2 points of block EER on both halves
  // of the users but nothing in the session replay, at 1.1 to 1.5 times the fit time and twice
  // the model (docs/biometrics.md, "Mouse: a sweep of the several-users model's boosting parameters").
  BoostParams boost{};
  // How many of the last members are background (never scored; see the contract above).
  size_t background = 0;
  // The background members' rows fitted as one class instead of one class each: a fit of
  // (enrolled + 1) classes instead of (enrolled + background). Measured (docs/biometrics.md,
  // "Mouse: the background on every host, as one class"): the same AUC / EER on a single-user
  // host at about a tenth of the fit time (bio_bench: 27.7 s -> 2.5 s for ten members of 2000).
  bool merge_background = true;
  // With a background and at least two enrolled users: a second model fitted on the enrolled
  // users' rows alone. An enrolled user's score is then the lower of that model's score (against
  // the other enrolled users) and the background model's score against the background only.
  // An evaluation option (balabit_eval --cohort-two-models), not used by the daemon: measured, it
  // wins back 0.14 of the 1.08 points of EER the background costs against an enrolled impostor,
  // so that cost is the lower-of-two rule's, not the background's trees (docs/biometrics.md,
  // "Mouse: the background in a model of its own").
  bool two_models = false;
  // With a background and at least two enrolled users: an enrolled user's score is
  // min(against the enrolled, against the background + background_margin), so the background
  // only lowers a score where it is that far below the enrolled users' (0: the plain lower of
  // the two). Finite, |margin| <= kMaxCohortMargin. An evaluation option
  // (balabit_eval --cohort-margin; the mcc-mD methods sweep it without a fit each).
  double background_margin = 0;
};

struct CohortCalibration {
  double threshold = 0;     // accept when block score >= threshold
  double genuine_sd = 1;    // sd of the held-out genuine block scores
  uint32_t blocks = 0;      // held-out genuine blocks the threshold came from
  double enrolled_far = 0;  // other members' held-out blocks accepted at the threshold
};

class MouseCohort {
 public:
  // 2: the background member count and whether it is one class. A version 1 model is read as
  // one without background (every other member one group), which is how version 1 scored.
  // 3: the two_models flag, and then the enrolled users' model after the background model.
  // 4: the background margin (f64) after the flags.
  static constexpr uint32_t kVersion = 4;
  static constexpr uint32_t kFlagMerged = 1, kFlagTwoModels = 2;
  static MouseCohort fit(const std::vector<const MouseOneClass*>& members, const MousePopulation& pop,
                         const CohortParams& p, const char** why);
  bool valid() const { return valid_; }
  size_t members() const { return cal_.size(); }
  const CohortCalibration& calibration(size_t member) const { return cal_[member]; }
  size_t block() const { return block_; }
  size_t background() const { return background_; }
  bool merged_background() const { return merged_; }
  bool two_models() const { return two_; }
  double background_margin() const { return margin_; }
  // Whether `pop` is the population the members were enrolled with (action_score needs it).
  bool scored_with(const MousePopulation& pop) const;
  double action_score(size_t member, const MouseAction& a, const MousePopulation& pop) const;
  // An enrolled member's action score in its two parts, each clipped to +-kCohortClip: against
  // the other enrolled members (the enrolled-only model's, with two_models) and against the
  // background; +infinity where that group is empty (no other enrolled member, no background).
  // action_score is combine(terms, background_margin()). A background member's score is all in
  // `enrolled`.
  // For evaluation: balabit_eval's margin sweep, min(enrolled, background + margin), scores
  // every margin from one fit.
  struct Terms {
    double enrolled, background;
  };
  Terms action_terms(size_t member, const MouseAction& a, const MousePopulation& pop) const;
  // min(t.enrolled, t.background + margin), clipped to +-kCohortClip (NaN: -kCohortClip).
  static double combine(const Terms& t, double margin);
  std::vector<uint8_t> serialize() const;
  bool deserialize(const uint8_t* data, size_t len);

 private:
  // Score of member `member` against every other class, from the margins of one row (a binary
  // model's one margin, or a softmax model's `classes`); class_terms splits the groups.
  static double member_score(const double* margins, size_t classes, size_t member);
  // Member `member`'s score against the background classes alone; a softmax model's margins
  // only (classes >= 3: class_terms calls it with the one model, or the background model of
  // two_models).
  static double against_background(const double* margins, size_t classes, size_t background, size_t member);
  // Class `cls`'s two terms (as action_terms) from the margins of one row: the model's, and the
  // enrolled users' own model's (enrolled_margins; null without two_models).
  static Terms class_terms(const double* margins, size_t classes, size_t background, const double* enrolled_margins,
                           size_t enrolled, size_t cls);
  bool valid_ = false;
  GradientBoosting gbt_;
  GradientBoosting enrolled_gbt_;  // two_ only: the enrolled users' rows alone
  bool two_ = false;
  double margin_ = 0;
  uint64_t pop_hash_ = 0;
  size_t block_ = 20;
  size_t background_ = 0;
  bool merged_ = false;
  std::vector<CohortCalibration> cal_;
};

}  // namespace bio
}  // namespace sentinel

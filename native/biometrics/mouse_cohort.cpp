#include "mouse_cohort.h"

#include <algorithm>
#include <cmath>

#include "le_bytes.h"
#include "metrics.h"

namespace sentinel {
namespace bio {

namespace {

constexpr int D = kActionFeatures;

// The model's inputs from one quantised enrollment record.
void row_from_code(const uint8_t* rec, float* out) {
  for (int f = 0; f < D; ++f) out[f] = float(rec[1 + D + f]);
  out[D] = float(rec[0]);
}

struct MemberRows {
  const uint8_t* codes;  // the member's most recent rows, kCodeBytes each
  size_t n;
};

// Rows [b, e) of a member: chunk c of `folds` contiguous chunks.
size_t chunk_begin(size_t n, int folds, int c) { return size_t(c) * n / size_t(folds); }

// label[k]: the class member k's rows are fitted as (members of the merged background share one).
GradientBoosting fit_rows(const std::vector<MemberRows>& m, const std::vector<uint16_t>& label, int classes, int folds,
                          int skip_chunk, const BoostParams& bp, bool drop_prior) {
  std::vector<float> X;
  std::vector<uint16_t> y;
  for (size_t k = 0; k < m.size(); ++k) {
    const size_t b = skip_chunk < 0 ? 0 : chunk_begin(m[k].n, folds, skip_chunk);
    const size_t e = skip_chunk < 0 ? 0 : chunk_begin(m[k].n, folds, skip_chunk + 1);
    for (size_t i = 0; i < m[k].n; ++i) {
      if (i >= b && i < e) continue;
      X.resize(X.size() + kCohortInputs);
      row_from_code(m[k].codes + i * MouseOneClass::kCodeBytes, &X[X.size() - kCohortInputs]);
      y.push_back(label[k]);
    }
  }
  GradientBoosting g;
  g.fit(X, kCohortInputs, y, classes, bp);
  if (drop_prior) g.drop_prior();
  return g;
}


}  // namespace

// A score clipped to +-kCohortClip (min / max, not std::clamp: a NaN comes out as -kCohortClip,
// as it always has).
static double clip_score(double d) { return std::min(kCohortClip, std::max(-kCohortClip, d)); }

// log mean_{j in [b, e), j != member} exp(mg[j]); -inf when the range holds no other member.
static double log_mean_exp_others(const double* mg, size_t b, size_t e, size_t member) {
  double mx = -1e300;
  size_t n = 0;
  for (size_t j = b; j < e; ++j)
    if (j != member) mx = std::max(mx, mg[j]), ++n;
  if (n == 0) return -INFINITY;
  double s = 0;
  for (size_t j = b; j < e; ++j)
    if (j != member) s += std::exp(mg[j] - mx);
  return mx + std::log(s / double(n));
}

double MouseCohort::against_background(const double* mg, size_t classes, size_t background, size_t member) {
  return clip_score(mg[member] - log_mean_exp_others(mg, classes - background, classes, member));
}

MouseCohort::Terms MouseCohort::class_terms(const double* mg, size_t classes, size_t background, const double* enrolled_mg,
                                            size_t enrolled, size_t cls) {
  if (cls >= enrolled || background == 0) return {member_score(mg, classes, cls), INFINITY};
  // One enrolled user: every other class is background (member_score's binary or softmax form).
  if (enrolled == 1) return {INFINITY, member_score(mg, classes, cls)};
  if (enrolled_mg) return {member_score(enrolled_mg, enrolled, cls), against_background(mg, classes, background, cls)};
  // One model (classes >= 3 here): the other enrolled members and the background apart.
  return {clip_score(mg[cls] - log_mean_exp_others(mg, 0, enrolled, cls)), against_background(mg, classes, background, cls)};
}

double MouseCohort::combine(const Terms& t, double margin) { return clip_score(std::min(t.enrolled, t.background + margin)); }

double MouseCohort::member_score(const double* mg, size_t classes, size_t member) {
  // Binary models keep one margin, the log-odds of class 1.
  if (classes == 2) {
    const double d = member == 1 ? mg[0] : -mg[0];
    return clip_score(d);
  }
  return clip_score(mg[member] - log_mean_exp_others(mg, 0, classes, member));
}

MouseCohort MouseCohort::fit(const std::vector<const MouseOneClass*>& members, const MousePopulation& pop,
                             const CohortParams& p, const char** why) {
  MouseCohort out;
  auto fail = [&](const char* w) {
    if (why) *why = w;
    return MouseCohort();
  };
  if (members.size() < 2) return fail("a cohort needs at least two enrolled users");
  if (members.size() > kMaxCohortMembers) return fail("too many enrolled users for one cohort (at most 64)");
  if (p.folds < 2 || p.block < 1 || !(p.frr > 0 && p.frr < 1) || !(std::fabs(p.background_margin) <= kMaxCohortMargin))
    return fail("bad cohort parameters");
  if (p.background >= members.size()) return fail("a cohort needs at least one enrolled user besides its background members");
  if (!pop.valid()) return fail("the population model is not valid");
  const uint64_t hash = pop.fingerprint();
  std::vector<MemberRows> rows;
  for (const MouseOneClass* m : members) {
    if (!m || !m->valid() || !m->can_add_sittings()) return fail("a member's mouse profile holds no quantised enrollment (version 2): enroll again");
    if (m->population_hash() != hash) return fail("a member's mouse profile was enrolled under another population model");
    const std::vector<uint8_t>& c = m->enrollment_codes();
    size_t n = c.size() / MouseOneClass::kCodeBytes;
    const size_t keep = p.max_rows ? std::min(n, p.max_rows) : n;
    if (keep < size_t(p.folds) * 2 * p.block) return fail("a member's mouse enrollment is too short for the cohort's calibration");
    rows.push_back(MemberRows{c.data() + (n - keep) * MouseOneClass::kCodeBytes, keep});
  }
  const size_t K = rows.size(), E = K - p.background;
  const bool merged = p.merge_background && p.background > 0;
  const size_t C = merged ? E + 1 : K;                        // classes of the model
  const size_t B = merged ? 1 : p.background;                 // background classes
  std::vector<uint16_t> label(K);
  for (size_t k = 0; k < K; ++k) label[k] = uint16_t(std::min(k, C - 1));
  // two_models: the enrolled users' own model, fitted on their rows alone (a binary model for two).
  const bool two = p.two_models && p.background > 0 && E >= 2;
  // The margin moves the background term against the enrolled one: moot without both.
  const double margin = p.background > 0 && E >= 2 ? p.background_margin : 0;
  const std::vector<MemberRows> enrolled_rows(rows.begin(), rows.begin() + std::ptrdiff_t(E));
  const std::vector<uint16_t> enrolled_label(label.begin(), label.begin() + std::ptrdiff_t(E));
  // held[c][j]: held-out block scores of class c's score on member j's rows.
  std::vector<std::vector<std::vector<double>>> held(C, std::vector<std::vector<double>>(K));
  std::vector<double> mg(C), mge(E);
  std::vector<float> x(kCohortInputs);
  for (int c = 0; c < p.folds; ++c) {
    GradientBoosting g = fit_rows(rows, label, int(C), p.folds, c, p.boost, p.drop_prior);
    GradientBoosting ge;
    if (two) ge = fit_rows(enrolled_rows, enrolled_label, int(E), p.folds, c, p.boost, p.drop_prior);
    for (size_t j = 0; j < K; ++j) {
      const size_t b = chunk_begin(rows[j].n, p.folds, c), e = chunk_begin(rows[j].n, p.folds, c + 1);
      std::vector<std::vector<double>> per(C);
      for (size_t r = b; r < e; ++r) {
        row_from_code(rows[j].codes + r * MouseOneClass::kCodeBytes, x.data());
        g.margins(x.data(), mg.data());
        if (two) ge.margins(x.data(), mge.data());
        for (size_t i = 0; i < C; ++i)
          per[i].push_back(combine(class_terms(mg.data(), C, B, two ? mge.data() : nullptr, E, i), margin));
      }
      for (size_t i = 0; i < C; ++i) append_block_means(per[i], p.block, &held[i][j]);
    }
  }
  // Per member: its class's held-out blocks on the rows of that class (genuine) and of the
  // other classes (the estimated FAR).
  out.cal_.resize(K);
  for (size_t i = 0; i < K; ++i) {
    CohortCalibration& cal = out.cal_[i];
    std::vector<double> gen;
    for (size_t j = 0; j < K; ++j)
      if (label[j] == label[i]) gen.insert(gen.end(), held[label[i]][j].begin(), held[label[i]][j].end());
    if (gen.size() < 4) return fail("a member's mouse enrollment is too short for the cohort's calibration");
    cal.threshold = threshold_for_frr(gen, p.frr);
    cal.genuine_sd = std::max(1e-6, sample_sd(gen));  // gen holds at least 4 blocks
    cal.blocks = uint32_t(gen.size());
    size_t im = 0, acc = 0;
    for (size_t j = 0; j < K; ++j)
      if (label[j] != label[i])
        for (double s : held[label[i]][j]) ++im, acc += s >= cal.threshold;
    cal.enrolled_far = im ? double(acc) / double(im) : 0;
  }
  out.gbt_ = fit_rows(rows, label, int(C), p.folds, -1, p.boost, p.drop_prior);
  if (two) out.enrolled_gbt_ = fit_rows(enrolled_rows, enrolled_label, int(E), p.folds, -1, p.boost, p.drop_prior);
  out.two_ = two;
  out.margin_ = margin;
  out.merged_ = merged;
  out.pop_hash_ = hash;
  out.block_ = p.block;
  out.background_ = p.background;
  out.valid_ = true;
  return out;
}

bool MouseCohort::scored_with(const MousePopulation& pop) const { return valid_ && pop.valid() && pop.fingerprint() == pop_hash_; }

double MouseCohort::action_score(size_t member, const MouseAction& a, const MousePopulation& pop) const {
  return combine(action_terms(member, a, pop), margin_);
}

MouseCohort::Terms MouseCohort::action_terms(size_t member, const MouseAction& a, const MousePopulation& pop) const {
  uint8_t rec[MouseOneClass::kCodeBytes];
  MouseOneClass::encode(a, pop, rec);
  float x[kCohortInputs];
  row_from_code(rec, x);
  double mg[kMaxCohortMembers], mge[kMaxCohortMembers];
  gbt_.margins(x, mg);
  // With the background one class, every background member is scored as that class.
  const size_t enrolled = cal_.size() - background_;
  const size_t cls = merged_ && member >= enrolled ? enrolled : member;
  const bool two = two_ && cls < enrolled;
  if (two) enrolled_gbt_.margins(x, mge);
  return class_terms(mg, size_t(gbt_.classes()), merged_ ? 1 : background_, two ? mge : nullptr, enrolled, cls);
}

std::vector<uint8_t> MouseCohort::serialize() const {
  std::vector<uint8_t> b{'S', 'M', 'C', '1'};
  put32(b, kVersion);
  put64(b, pop_hash_);
  put32(b, uint32_t(block_));
  put32(b, uint32_t(cal_.size()));
  put32(b, uint32_t(background_));
  put32(b, (merged_ ? kFlagMerged : 0u) | (two_ ? kFlagTwoModels : 0u));
  putd(b, margin_);
  for (const CohortCalibration& c : cal_) {
    putd(b, c.threshold);
    putd(b, c.genuine_sd);
    put32(b, c.blocks);
    putd(b, c.enrolled_far);
  }
  putblob(b, gbt_.serialize());
  if (two_) putblob(b, enrolled_gbt_.serialize());
  return b;
}

bool MouseCohort::deserialize(const uint8_t* data, size_t len) {
  LeReader r{data, len};
  if (!r.magic("SMC1")) return false;
  const uint32_t version = r.u32();
  if (!r.ok || version < 1 || version > kVersion) return false;
  const uint64_t hash = r.u64();
  const uint32_t block = r.u32(), k = r.u32();
  const uint32_t background = version >= 2 ? r.u32() : 0;
  const uint32_t flags = version >= 2 ? r.u32() : 0;
  const uint32_t known = version >= 3 ? (kFlagMerged | kFlagTwoModels) : kFlagMerged;
  const bool merged = (flags & kFlagMerged) != 0, two = (flags & kFlagTwoModels) != 0;
  const double margin = version >= 4 ? r.f64() : 0;
  // Merged or two models need a background; two models need two enrolled users besides it.
  if (!r.ok || block < 1 || block > 1000 || k < 2 || k > kMaxCohortMembers || background >= k || (flags & ~known) != 0 ||
      ((merged || two) && background == 0) || (two && k - background < 2) || !(std::fabs(margin) <= kMaxCohortMargin) ||
      (margin != 0 && (background == 0 || k - background < 2)))
    return false;
  std::vector<CohortCalibration> cal(k);
  for (CohortCalibration& c : cal) {
    c.threshold = r.f64();
    c.genuine_sd = r.f64();
    c.blocks = r.u32();
    c.enrolled_far = r.f64();
    if (!r.ok || !(c.genuine_sd > 0) || c.enrolled_far < 0 || c.enrolled_far > 1) return false;
  }
  size_t n = 0, ne = 0;
  const uint8_t* g = r.blob(&n);
  const uint8_t* ge = two ? r.blob(&ne) : nullptr;
  if (!r.ok || r.left() != 0) return false;
  GradientBoosting gbt, egbt;
  const size_t classes = merged ? k - background + 1 : k;
  if (!gbt.deserialize(g, n) || gbt.dims() != kCohortInputs || size_t(gbt.classes()) != classes) return false;
  if (two && (!egbt.deserialize(ge, ne) || egbt.dims() != kCohortInputs || size_t(egbt.classes()) != k - background)) return false;
  gbt_ = std::move(gbt);
  enrolled_gbt_ = std::move(egbt);
  two_ = two;
  margin_ = margin;
  pop_hash_ = hash;
  block_ = block;
  background_ = background;
  merged_ = merged;
  cal_ = std::move(cal);
  valid_ = true;
  return true;
}

}  // namespace bio
}  // namespace sentinel

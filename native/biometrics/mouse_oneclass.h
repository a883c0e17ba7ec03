// Host-deployable one-class mouse scorer: enrolled from the user's own
// actions only, optionally with a small shipped population model.
//
// Contract (to be wrapped by the Node-API addon; no Node types here):
//  * Input: MouseAction feature rows (mouse.h, schema kMouseSchemaVersion).
//    Enrollment needs ONLY the enrolled user's actions; no other person's
//    action rows are needed or stored on the host.
//  * MousePopulation: the optional shipped model, learned offline from public
//    data (Balabit training users). It holds per-action-type, per-feature
//    quantile tables (33 levels), the population bin probabilities of those
//    quantile bins (averaged over users, each user weighted equally), a
//    population mean and covariance in normal-score space, per-feature
//    weights learned on fitting users, and (version 3) for the feature pairs
//    with the highest mutual information the joint probabilities of their
//    coarse bins (kPairBins per feature; averaged over users) with one learned
//    weight per pair. These are aggregate parameters; no action vector of
//    any person is stored in it.
//  * Methods (OneClassMethod):
//      kRobustZ  per-type median/MAD z distance to the user's enrollment
//                (mean clipped |z|); needs no population.
//      kKnn      mean L1 distance (in the user's robust-z space) to the k
//                nearest enrollment actions of the same type; no population.
//      kHistLlr  naive-Bayes density ratio: sum over features of
//                w_f * log(p_user(bin) / p_pop(bin)), p_user smoothed towards
//                p_pop (Dirichlet strength alpha); needs a population. Where
//                the population has pairs, each pair (f, g) adds
//                w_fg * [log(p_user(cf,cg) / p_pop(cf,cg)) - log(p_user(cf) /
//                p_pop(cf)) - log(p_user(cg) / p_pop(cg))] over coarse bins:
//                what the joint says beyond its two marginals.
//      kGauss    full-covariance Gaussian density ratio in the population's
//                normal-score (copula) space: log N(z; user) - log N(z; pop),
//                clipped; needs a population.
//    Action types MM/PC/DD get separate models; a type with fewer than
//    min_type_actions enrollment actions uses the all-types model.
//  * Scores: HIGHER = more likely genuine. With self_norm (recommended for
//    kRobustZ / kKnn, whose raw distances have no common scale) each
//    action score is standardised by the user's own leave-out enrollment
//    score mean/sd (4 contiguous enrollment chunks, each scored by a model
//    built from the other three), so scores of different users share a scale.
//    The density ratios (kHistLlr, kGauss) are log-likelihood ratios already
//    and are used raw (measured: pooled AUC 0.903 raw vs 0.893 normalised).
//    block_score() = mean action_score over N actions (BlockScorer in
//    mouse_model.h does the streaming version).
//  * calibrate(enrollment, n, frr): leave-out (same 4 chunks) block scores of
//    n actions from the enrollment, threshold = the frr quantile of them;
//    accept when block_score >= threshold.
//  * Several sittings (kHistLlr only): the profile keeps the enrollment in
//    quantised form, one record per action (its type and, per feature, the
//    population quantile bin it fell in under its type's model and under the
//    all-types model; kHistLlr sees nothing else of an action), so
//    add_sitting() can add another sitting later and recalibrate over every
//    sitting without keeping any feature value. The result is exactly what
//    enroll() then calibrate() on all the sittings' actions together give
//    (same scores, same leave-out blocks, same threshold). Measured on
//    Balabit (docs/biometrics.md, "Several sittings"): calibration sets from
//    models of other sizes (each new sitting scored by the model before it,
//    or leave one sitting out with two sittings) land far from the target,
//    so the leave-out stays the 4 contiguous chunks over everything enrolled.
//  * serialize()/deserialize(): versioned little-endian byte format (magic
//    "SMO1" for a profile, "SMP1" for a population); deserialize() validates
//    every length and value and returns false (object unchanged) on
//    truncated, oversized, wrong-magic or wrong-version input. Profiles of
//    version 2 (no quantised enrollment) still load and score; add_sitting()
//    refuses them. Profiles of version 3 (no pair terms) and populations of
//    version 2 (no pairs) load and score as before.
//  * Thread-compat: const methods may be called concurrently; enroll(),
//    calibrate() and deserialize() need exclusive access.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mouse.h"

namespace sentinel {
namespace bio {

enum class OneClassMethod : uint8_t { kRobustZ = 0, kKnn = 1, kHistLlr = 2, kGauss = 3 };

// Model index: 0..2 = ActionType MM/PC/DD, 3 = all types together.
constexpr int kOneClassModels = 4;
constexpr int kPopQuantiles = 33;  // quantile levels 0, 1/32, ..., 1
// Coarse bins of the pair terms: cut at the quantile levels 4/32, 8/32, ..., 28/32, so every coarse
// edge is also a fine edge and a quantised enrollment record gives the coarse bins exactly.
constexpr int kPairBins = 8;
constexpr size_t kMaxPairs = 1024;  // per model; the deserializers refuse more

class MousePopulation {
 public:
  static constexpr uint32_t kVersion = 3;  // 2: per-model weights; 3: pair terms
  // Learns the density part (quantiles, bin probabilities, normal-score
  // mean/covariance) from actions grouped per user (offline, FIT users), and
  // per model the `pairs` feature pairs (type one-hots left out) with the
  // highest mutual information of their coarse bins in the pooled actions,
  // with their joint coarse-bin probabilities (mean of per-user histograms).
  // Weights are set to 1 for every feature that varies and 0 for every pair
  // (pairs count only once weights are learned).
  static MousePopulation fit(const std::vector<std::vector<MouseAction>>& per_user, size_t pairs = 0);
  // Synthetic background for the per-user forest (MouseProfile::enroll):
  // `n` actions drawn from the population's Gaussian copula of action type
  // `type_of[i]` (0..2; model 3 where that type has no model): z ~ N(mu, cov)
  // in normal-score space, mapped back through the quantile tables; features
  // with fewer than 12 distinct quantile values are snapped to the nearest
  // one. Deterministic for a seed. No real action of anyone is involved.
  std::vector<MouseAction> sample(const std::vector<uint8_t>& type_of, uint32_t seed) const;
  // Per-model (MM, PC, DD, all), per-feature weights for kHistLlr
  // (index-aligned with MouseAction::f); a zero weight leaves the feature out
  // of kRobustZ too.
  std::array<std::array<float, kActionFeatures>, kOneClassModels> weight{};
  // Per model, one weight per pair of model(m).pairs (same order).
  std::array<std::vector<float>, kOneClassModels> pair_weight;
  bool valid() const { return valid_; }
  // FNV-1a of serialize(): what a profile records as the population it was enrolled with.
  uint64_t fingerprint() const;

  // `version` 2 writes the layout without pairs (empty when the population has pairs); for
  // compatibility tests.
  std::vector<uint8_t> serialize(uint32_t version = kVersion) const;
  bool deserialize(const uint8_t* data, size_t len);

  // --- used by MouseOneClass (read-only views) ---
  struct Model {
    std::vector<float> q;      // kActionFeatures * kPopQuantiles quantile values
    std::vector<std::vector<float>> edges;  // per feature: interior bin edges (ascending, unique)
    std::vector<std::vector<float>> p;      // per feature: bin probabilities (edges+1)
    std::vector<float> mu;     // kActionFeatures, normal-score space
    std::vector<float> cov;    // kActionFeatures^2, normal-score space
    std::vector<std::vector<uint8_t>> coarse;  // per feature: coarse bin of each bin (derived from q)
    std::vector<std::array<uint8_t, 2>> pairs;  // feature pairs (f < g)
    std::vector<std::vector<float>> joint;     // per pair: kPairBins^2 coarse-bin probabilities
  };
  const Model& model(int m) const { return models_[m]; }
  // Normal score of value v of feature f under model m's quantile table.
  double normal_score(int m, int f, float v) const;
  // Bin of v for feature f in model m.
  int bin_of(int m, int f, float v) const;

 private:
  static void fit_pairs(Model& M, const std::vector<std::vector<const MouseAction*>>& sel, size_t n_pairs);
  bool valid_ = false;
  std::array<Model, kOneClassModels> models_;
};

struct OneClassParams {
  OneClassMethod method = OneClassMethod::kHistLlr;
  int knn_k = 5;
  size_t max_knn_rows = 1500;    // per type model, most recent kept
  size_t min_type_actions = 30;  // below: the all-types model scores that type
  double alpha = 1.0;            // kHistLlr: Dirichlet smoothing towards the population
  // kHistLlr pair terms: their own smoothing, in pseudo-actions: pair_alpha at pair_alpha_ref
  // enrolled actions of the model, falling as (pair_alpha_ref / n)^pair_alpha_power with its
  // actions n (pair_alpha_ref 0: pair_alpha at every n). A short enrollment's 64-cell tables then
  // stay close to the population's, and a long one's say where the user never goes (measured:
  // docs/biometrics.md, "Mouse: pair terms").
  double pair_alpha = 400.0;
  double pair_alpha_ref = 200.0;
  double pair_alpha_power = 2.0;
  double shrink = 0.2;           // kGauss: covariance shrinkage towards its diagonal
  double clip = 30.0;            // kGauss / kHistLlr: |raw action score| cap
  double zclip = 5.0;            // kRobustZ / kKnn: |z| cap per feature
  bool self_norm = false;        // on: standardise by leave-out enrollment scores (use for kRobustZ / kKnn)
};

class MouseOneClass {
 public:
  static constexpr uint32_t kVersion = 4;  // 2: per-model weights; 3: quantised enrollment, sittings; 4: pairs
  // `pop` may be null for kRobustZ / kKnn; kHistLlr and kGauss need it
  // (without it they return an empty profile: valid() false).
  static MouseOneClass enroll(const std::vector<MouseAction>& user, const MousePopulation* pop,
                              const OneClassParams& p = {});
  bool valid() const { return valid_; }
  double action_score(const MouseAction& a) const;
  // Which model (0..2 = MM/PC/DD, 3 = all types) scores this action.
  int model_index(const MouseAction& a) const { return model_for(a); }
  double block_score(const MouseAction* a, size_t n) const;
  // Terms of the raw kHistLlr score under model m (unweighted): one per
  // feature, then one per pair of that model; the raw score is their sum
  // weighted by weight[m] and pair_weight[m]. Empty when the profile has no
  // model m. For offline weight learning.
  void hist_terms(const MouseAction& a, int m, std::vector<float>* out) const;
  // Sets and returns `threshold` so that `frr` of the leave-out enrollment
  // blocks of n actions are rejected. `enrollment` must be the actions given
  // to enroll() (same order); `pop` the same population.
  double calibrate(const std::vector<MouseAction>& enrollment, const MousePopulation* pop,
                   size_t n, double frr);
  // The leave-out block scores the last calibrate() or add_sitting() used.
  const std::vector<double>& calibration_scores() const { return calib_; }
  // Adds one more sitting of the enrolled user (see the header comment) and
  // recalibrates to `frr` on blocks of n actions (stride max(1, n/4)), as
  // calibrate() on every sitting's actions would. `pop` must be the
  // population the profile was enrolled with (checked by a hash of its
  // bytes). max_actions > 0 keeps only the most recent max_actions actions
  // (oldest dropped first). Returns false with *why set, profile unchanged,
  // when the method is not kHistLlr (or self-normalised), the profile has no
  // quantised enrollment (version 2), the population differs, or the sitting
  // holds fewer than n actions.
  bool add_sitting(const std::vector<MouseAction>& sitting, const MousePopulation* pop, size_t n,
                   double frr, const char** why, size_t max_actions = 0);
  // Sittings the model was built from (1 after enroll()).
  uint32_t sittings() const { return sittings_; }
  // Actions of the quantised enrollment the model is built from.
  size_t enrolled_actions() const { return codes_.size() / kCodeBytes; }
  // False for version-2 profiles and methods other than kHistLlr.
  bool can_add_sittings() const { return has_codes_; }
  // The quantised enrollment (MouseCohort's rows): kCodeBytes per action, oldest first; empty
  // for version-2 profiles. A record is the type, then per feature its bin in the type's model
  // (kNoBin where the population lacks it), then per feature its bin in model 3.
  static constexpr size_t kCodeBytes = 1 + 2 * size_t(kActionFeatures);
  static constexpr uint8_t kNoBin = 255;
  const std::vector<uint8_t>& enrollment_codes() const { return codes_; }
  // FNV-1a of the serialized population the profile was enrolled with (0 for version 2).
  uint64_t population_hash() const { return pop_hash_; }
  // Quantises one action as the enrollment records hold it (rec: kCodeBytes).
  static void encode(const MouseAction& a, const MousePopulation& pop, uint8_t* rec);
  // Whether add_sitting() would accept `pop`: the profile keeps a quantised enrollment and was
  // enrolled with exactly this population (a hash of its bytes).
  bool enrolled_with(const MousePopulation& pop) const;
  double threshold = 0;  // accept when block_score >= threshold
  const OneClassParams& params() const { return p_; }

  // An older `version` (2 or 3) writes that layout, for compatibility tests; empty when the
  // profile holds what the layout cannot (pair terms before 4, a quantised enrollment before 3).
  std::vector<uint8_t> serialize(uint32_t version = kVersion) const;
  bool deserialize(const uint8_t* data, size_t len);

 private:
  struct Model {
    bool present = false;
    std::vector<float> med, scale;          // robust z (kRobustZ, kKnn)
    std::vector<float> rows;                // kKnn: enrollment rows in z space
    std::vector<std::vector<float>> edges;  // kHistLlr: per feature bin edges
    std::vector<std::vector<float>> llr;    // kHistLlr: per feature per bin log ratio
    std::vector<std::vector<uint8_t>> coarse;     // kHistLlr pairs: per feature, coarse bin of each bin
    std::vector<std::array<uint8_t, 2>> pairs;    // kHistLlr pairs: (f, g)
    std::vector<std::vector<float>> pair_llr;     // kHistLlr pairs: kPairBins^2 interaction terms each
    std::vector<float> q;                   // kGauss: quantile tables (copied from pop)
    std::vector<float> mu_u, L_u, mu_p, L_p;  // kGauss: means, Cholesky factors
    float ld_u = 0, ld_p = 0;               // kGauss: log-determinants
  };
  // Per model: the user's action count and per-feature bin counts under the
  // population's edges (kHistLlr; empty c when the population lacks the model).
  struct HistCounts {
    uint32_t n = 0;
    std::vector<std::vector<float>> c;
    std::vector<std::vector<float>> pc;  // per pair: kPairBins^2 coarse-bin counts
  };
  // counts_ from the records [0, N) of codes_ except [skip_b, skip_e).
  void counts_from_codes(const MousePopulation& pop, size_t skip_b, size_t skip_e);
  double code_raw_score(const uint8_t* rec) const;
  // kHistLlr score of one action given its bin per feature under model mi.
  double hist_score(int mi, const uint8_t* bins) const;
  // leave_out_scores() over codes_ (same chunks, same blocks).
  std::vector<double> code_leave_out_blocks(const MousePopulation& pop, size_t n) const;
  static MouseOneClass build(const std::vector<const MouseAction*>& user, const MousePopulation* pop,
                             const OneClassParams& p);
  // kHistLlr: models (presence, edges, log ratios) from counts_ and `pop`.
  void hist_from_counts(const MousePopulation& pop);
  double raw_score(const MouseAction& a) const;
  int model_for(const MouseAction& a) const;
  std::vector<double> leave_out_scores(const std::vector<MouseAction>& user, const MousePopulation* pop,
                                       size_t n) const;
  bool valid_ = false;
  OneClassParams p_;
  std::array<std::array<float, kActionFeatures>, kOneClassModels> w_{};
  std::array<std::vector<float>, kOneClassModels> pw_;  // pair weights (copied from the population)
  std::array<Model, kOneClassModels> m_;
  double norm_mean_ = 0, norm_sd_ = 1;
  std::vector<double> calib_;
  bool has_codes_ = false;
  std::vector<uint8_t> codes_;  // kCodeBytes per enrolled action, oldest first
  std::array<HistCounts, kOneClassModels> counts_;  // working state, derived from codes_
  uint64_t pop_hash_ = 0;  // FNV-1a of the population's serialized bytes
  uint32_t sittings_ = 0;
};

}  // namespace bio
}  // namespace sentinel

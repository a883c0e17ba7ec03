// Block-level two-sample mouse scorer (issue 5): scores a block of N actions
// by how well the block's empirical distribution of every feature matches the
// enrolled user's, instead of averaging independent per-action votes.
//
// Contract (no Node types here; meant to be wrapped like MouseOneClass):
//  * Input: MouseAction feature rows (mouse.h, schema kMouseSchemaVersion).
//  * Enrollment needs ONLY the enrolled user's own actions, plus
//      - optionally the shipped MousePopulation (mouse_oneclass.h): with it the
//        profile also holds a kHistLlr MouseOneClass, whose block mean is one
//        term of the score;
//      - MouseBlockWeights: one weight per term, learned OFFLINE by
//        class-balanced logistic regression on genuine vs impostor blocks of
//        fitting users (public data). No action of any other person is stored
//        in the weights or needed on the host.
//  * Reference: per action-type model (MM, PC, DD; a type with fewer than
//    min_type_actions enrollment actions uses the all-types model), per
//    feature, a ref_levels-level quantile table of the user's enrollment
//    values (the user's own empirical CDF, compressed).
//  * Terms of a block (terms(), index kBlockTerm*):
//      [f]   for f = 3..43: a one-sample goodness-of-fit statistic of the
//            block's probability-integral transforms u_i = F_user,type(x_i,f)
//            (mid-rank for ties; each action through its own type's CDF, so
//            under the genuine user the u_i are ~uniform): Cramer-von Mises
//            n*w^2 (kCvm, default), Anderson-Darling A^2 (kAd) or
//            sqrt(n)*Kolmogorov-Smirnov (kKs); optionally log(1 + T).
//            Terms 0..2 (type one-hots) are 0.
//      [kBlockTermPop + f]  the same statistic of the block against the
//            population's CDF of that type (the 33-level MousePopulation
//            quantile table, copied into the profile); 0 without a population.
//            Genuine blocks fit the user's CDF better than the population's.
//      [kBlockTermType]  chi-square of the block's MM/PC/DD counts against the
//            user's enrollment type shares (+1 smoothed).
//      [kBlockTermHist]  mean kHistLlr action score over the block (0 without
//            a population).
//  * score(a, n) = bias + sum_k w_k * term_k; HIGHER = more likely genuine.
//    A block needs n >= 2 actions.
//  * calibrate(enrollment, pop, n, frr): enrollment cut into 4 contiguous
//    chunks; blocks of n (stride n/4) of each chunk are scored by a profile
//    built from the other three; threshold = the frr quantile of those scores.
//    Accept when score >= threshold.
//  * serialize()/deserialize(): versioned little-endian formats, magic "SMB1"
//    (profile, embeds the weights and the SMO1 hist profile) and "SMW1"
//    (weights alone, models/mouse/block_weights.bin). deserialize() validates
//    every length and value and returns false, object unchanged, on truncated,
//    extended, wrong-magic, wrong-version or inconsistent input.
//  * Thread-compat: const methods may be called concurrently; enroll(),
//    calibrate() and deserialize() need exclusive access.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mouse.h"
#include "mouse_oneclass.h"

namespace sentinel {
namespace bio {

enum class BlockStat : uint8_t { kCvm = 0, kAd = 1, kKs = 2 };

constexpr int kBlockTermPop = kActionFeatures;           // + f: the same statistic against the population CDF
constexpr int kBlockTermType = 2 * kActionFeatures;      // type-composition chi-square
constexpr int kBlockTermHist = 2 * kActionFeatures + 1;  // kHistLlr block mean
constexpr int kBlockTerms = 2 * kActionFeatures + 2;

struct MouseBlockWeights {
  static constexpr uint32_t kVersion = 1;
  BlockStat stat = BlockStat::kCvm;
  bool log_terms = true;  // goodness-of-fit and type terms enter as log(1 + T)
  uint32_t fit_block = 20;  // block size the weights were fitted at (informational)
  double bias = 0;
  std::array<float, kBlockTerms> w{};
  bool valid() const { return valid_; }
  // Hand-set default: -1 on every goodness-of-fit term and the type term, +1
  // on the hist term (no learning).
  static MouseBlockWeights unit(BlockStat stat = BlockStat::kCvm, bool log_terms = true);
  // Offline: class-balanced L2 logistic regression on term rows (row-major,
  // kBlockTerms per row; label 1 = genuine). `use[k]` false leaves term k out.
  static MouseBlockWeights fit(const std::vector<double>& rows, const std::vector<uint8_t>& label,
                               BlockStat stat, bool log_terms, uint32_t fit_block, double l2,
                               const std::array<bool, kBlockTerms>& use);
  std::vector<uint8_t> serialize() const;
  bool deserialize(const uint8_t* data, size_t len);
  bool valid_ = false;
};

struct BlockParams {
  uint32_t ref_levels = 129;     // quantile levels of the user's per-feature CDF
  uint32_t min_type_actions = 30;
  OneClassParams hist;           // the embedded kHistLlr profile (method forced to kHistLlr)
};

class MouseBlock {
 public:
  static constexpr uint32_t kVersion = 1;
  // `pop` may be null (the hist term is then 0); `w` must be valid.
  static MouseBlock enroll(const std::vector<MouseAction>& user, const MousePopulation* pop,
                           const MouseBlockWeights& w, const BlockParams& p = {});
  bool valid() const { return valid_; }
  // Unweighted terms of a block of n actions (out: kBlockTerms values, already
  // log-transformed when the weights say so).
  void terms(const MouseAction* a, size_t n, double* out) const;
  double score(const MouseAction* a, size_t n) const;
  double calibrate(const std::vector<MouseAction>& enrollment, const MousePopulation* pop, size_t n,
                   double frr);
  const std::vector<double>& calibration_scores() const { return calib_; }
  double threshold = 0;  // accept when score >= threshold
  const MouseBlockWeights& weights() const { return w_; }
  void set_weights(const MouseBlockWeights& w) { if (w.valid()) w_ = w; }

  std::vector<uint8_t> serialize() const;
  bool deserialize(const uint8_t* data, size_t len);

 private:
  static MouseBlock build(const std::vector<const MouseAction*>& user, const MousePopulation* pop,
                          const MouseBlockWeights& w, const BlockParams& p);
  int model_for(const MouseAction& a) const;
  static double pit(const float* q, size_t L, float v);
  double gof(const std::vector<double>& u) const;
  bool valid_ = false;
  BlockParams p_;
  MouseBlockWeights w_;
  std::array<bool, kOneClassModels> present_{};
  std::array<std::vector<float>, kOneClassModels> q_;  // kActionFeatures * ref_levels, per model
  std::array<float, 3> type_share_{};
  bool has_pop_ = false;
  std::array<std::vector<float>, kOneClassModels> qp_;  // population: kActionFeatures * kPopQuantiles
  bool has_hist_ = false;
  MouseOneClass hist_;
  std::vector<double> calib_;
};

}  // namespace bio
}  // namespace sentinel

// Gradient-boosted decision trees (histogram splits, leaf-wise growth, Newton leaf values): the
// mouse evaluation (tools/bio-eval/balabit_eval --learner gbt | --multiclass 1) and the daemon's
// several-users model (MouseCohort, mouse_cohort.h).
//
// Contract: fit() on a dense row-major float matrix (n x d) with class labels 0..classes-1.
// classes == 2 is binary log-loss with one tree per round; classes > 2 is softmax with one tree
// per class per round. Features are quantised to at most 64 quantile bins learned at fit time
// (feature_bins.h). Deterministic: no sampling. Synchronous and single-threaded; the caller runs
// it off the JS thread if it ever crosses into the addon. margins() and predict() are const and
// safe to call concurrently. Throws only std::bad_alloc.
//
// serialize()/deserialize(): versioned little-endian bytes (magic "SGB1"). deserialize() checks
// every count, feature index, bin, child index (children come after their parent, so every walk
// ends at a leaf) and value, and returns false with the object unchanged on malformed input.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sentinel {
namespace bio {

struct BoostParams {
  int rounds = 200;
  double learning_rate = 0.1;
  int max_leaves = 31;
  int min_leaf = 20;   // rows per leaf, at least
  double l2 = 1.0;     // added to every hessian sum
  int bins = 64;
};

class GradientBoosting {
 public:
  void fit(const std::vector<float>& X, int d, const std::vector<uint16_t>& y, int classes,
           const BoostParams& p = {});
  // Raw margins: binary fills out[0] with the log-odds of class 1; softmax fills out[0..classes).
  void margins(const float* x, double* out) const;
  // Binary: P(class 1). Softmax: P(class k).
  double predict(const float* x, int k = 1) const;
  int classes() const { return classes_; }
  int dims() const { return d_; }
  // Margins per row: 1 (binary) or classes() (softmax).
  int outputs() const { return outputs_; }
  bool fitted() const { return !base_.empty(); }
  // Removes the class-frequency prior from the margins (every prior margin set to 0), so the
  // margins compare class likelihoods rather than posteriors: classes fitted on unequal row
  // counts then score on one scale. Kept by serialize().
  void drop_prior() { std::fill(base_.begin(), base_.end(), 0.0); }

  static constexpr uint32_t kVersion = 1;
  static constexpr int kMaxDims = 256;
  static constexpr int kMaxClasses = 256;
  std::vector<uint8_t> serialize() const;
  bool deserialize(const uint8_t* data, size_t len);

 private:
  struct Node {
    int32_t feature = -1;  // -1 = leaf
    uint8_t bin = 0;       // go left when bin(x[feature]) <= bin
    int32_t left = -1, right = -1;
    float value = 0;       // leaf: margin increment (learning rate applied)
  };
  int d_ = 0, classes_ = 2, outputs_ = 1;
  std::vector<double> base_;               // per output, the prior margin
  std::vector<std::vector<float>> edges_;  // per feature, ascending upper edges
  std::vector<std::vector<Node>> trees_;   // round-major: trees_[round * outputs_ + k]
};

}  // namespace bio
}  // namespace sentinel

// Small binary random forest (CART, Gini, histogram splits) in plain C++.
//
// Contract: fit() on a dense row-major float matrix with 0/1 labels;
// predict() returns the mean over trees of the leaf's fraction of label 1
// (for the per-user mouse model: 1 = the enrolled user). Deterministic for a
// given seed. Features are quantised to at most 64 quantile bins learned at
// fit time, so predict() needs only the stored bin edges. Not internally
// synchronised; predict() is const and safe to call concurrently.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sentinel {
namespace bio {

struct ForestParams {
  int trees = 60;
  int max_depth = 12;
  int min_leaf = 3;
  int mtry = 0;              // features tried per split; 0 = sqrt(d)
  double sample_frac = 0.7;  // rows drawn (with replacement) per tree
  int bins = 32;
  uint32_t seed = 1;
};

class RandomForest {
 public:
  void fit(const std::vector<float>& X, int d, const std::vector<uint8_t>& y,
           const ForestParams& p = {});
  double predict(const float* x) const;
  int dims() const { return d_; }
  // Portable little-endian serialisation (magic "SRF1"). deserialize()
  // validates sizes and node indices and returns false on any mismatch.
  std::vector<uint8_t> serialize() const;
  bool deserialize(const uint8_t* data, size_t len);
  size_t nodes() const;

 private:
  struct Node {
    int32_t feature = -1;  // -1 = leaf
    uint8_t bin = 0;       // go left when bin(x[feature]) <= bin
    int32_t left = -1, right = -1;
    float value = 0;       // leaf: fraction of label 1
  };
  uint8_t bin_of(int f, float v) const;
  int d_ = 0;
  std::vector<std::vector<float>> edges_;  // per feature, ascending upper edges
  std::vector<std::vector<Node>> trees_;
};

}  // namespace bio
}  // namespace sentinel

// Quantile binning of dense feature matrices, shared by the tree learners (RandomForest,
// GradientBoosting). Header-only, synchronous, no exceptions beyond std::bad_alloc.
//
// quantile_edges(): per feature, at most bins-1 ascending, distinct upper edges taken at the
// empirical quantiles of the n rows of the row-major matrix X (n x d). bin_index(): the bin of a
// value, 0..edges.size(), the number of edges strictly below it (values equal to an edge go to
// the lower bin). Both need n > 0.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sentinel {
namespace bio {

inline std::vector<std::vector<float>> quantile_edges(const std::vector<float>& X, size_t n, int d, int bins) {
  std::vector<std::vector<float>> edges(static_cast<size_t>(d));
  std::vector<float> col(n);
  for (int f = 0; f < d; ++f) {
    for (size_t i = 0; i < n; ++i) col[i] = X[i * size_t(d) + size_t(f)];
    std::sort(col.begin(), col.end());
    std::vector<float>& e = edges[size_t(f)];
    for (int b = 1; b < bins; ++b) {
      float v = col[std::min(n - 1, (n * size_t(b)) / size_t(bins))];
      if (e.empty() || v > e.back()) e.push_back(v);
    }
  }
  return edges;
}

inline uint8_t bin_index(const std::vector<float>& edges, float v) {
  return uint8_t(std::lower_bound(edges.begin(), edges.end(), v) - edges.begin());
}

}  // namespace bio
}  // namespace sentinel

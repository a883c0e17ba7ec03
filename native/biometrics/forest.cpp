#include "forest.h"

#include "feature_bins.h"
#include "le_bytes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace sentinel {
namespace bio {

uint8_t RandomForest::bin_of(int f, float v) const {
  return bin_index(edges_[f], v);
}

size_t RandomForest::nodes() const {
  size_t n = 0;
  for (const auto& t : trees_) n += t.size();
  return n;
}

void RandomForest::fit(const std::vector<float>& X, int d, const std::vector<uint8_t>& y,
                       const ForestParams& p) {
  d_ = d;
  const size_t n = y.size();
  trees_.clear();
  edges_.assign(d, {});
  if (n == 0) return;
  const int B = std::max(2, std::min(64, p.bins));
  edges_ = quantile_edges(X, n, d, B);
  std::vector<uint8_t> Xb(n * d);
  for (size_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) Xb[i * d + f] = bin_of(f, X[i * d + f]);

  const int mtry = p.mtry > 0 ? p.mtry : std::max(1, int(std::lround(std::sqrt(double(d)))));
  std::mt19937 rng(p.seed);
  std::vector<int> feats(d);
  for (int f = 0; f < d; ++f) feats[f] = f;
  std::vector<size_t> idx, tmp;
  for (int t = 0; t < p.trees; ++t) {
    std::vector<Node> tree;
    size_t m = std::max<size_t>(1, size_t(p.sample_frac * n));
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    idx.resize(m);
    for (size_t i = 0; i < m; ++i) idx[i] = pick(rng);
    struct Job { size_t lo, hi; int depth; int node; };
    std::vector<Job> stack;
    tree.push_back(Node{});
    stack.push_back({0, m, 0, 0});
    double cnt[64][2];
    while (!stack.empty()) {
      Job j = stack.back();
      stack.pop_back();
      size_t pos = 0, tot = j.hi - j.lo;
      for (size_t i = j.lo; i < j.hi; ++i) pos += y[idx[i]];
      Node& nd = tree[j.node];
      nd.value = float(double(pos) / double(tot));
      if (j.depth >= p.max_depth || tot < size_t(2 * p.min_leaf) || pos == 0 || pos == tot)
        continue;
      double best_gain = 1e-12;
      int best_f = -1, best_b = -1;
      const double parent = 1.0 - std::pow(double(pos) / tot, 2) - std::pow(1.0 - double(pos) / tot, 2);
      std::shuffle(feats.begin(), feats.end(), rng);
      for (int k = 0; k < mtry; ++k) {
        int f = feats[k];
        int nb = int(edges_[f].size()) + 1;
        if (nb < 2) continue;
        for (int b = 0; b < nb; ++b) cnt[b][0] = cnt[b][1] = 0;
        for (size_t i = j.lo; i < j.hi; ++i) cnt[Xb[idx[i] * d + f]][y[idx[i]]] += 1;
        double l0 = 0, l1 = 0;
        const double t0 = double(tot - pos), t1 = double(pos);
        for (int b = 0; b + 1 < nb; ++b) {
          l0 += cnt[b][0];
          l1 += cnt[b][1];
          double nl = l0 + l1, nr = tot - nl;
          if (nl < p.min_leaf || nr < p.min_leaf) continue;
          double r0 = t0 - l0, r1 = t1 - l1;
          double gl = 1 - (l0 * l0 + l1 * l1) / (nl * nl);
          double gr = 1 - (r0 * r0 + r1 * r1) / (nr * nr);
          double gain = parent - (nl * gl + nr * gr) / tot;
          if (gain > best_gain) {
            best_gain = gain;
            best_f = f;
            best_b = b;
          }
        }
      }
      if (best_f < 0) continue;
      // Partition idx[lo,hi) by the split.
      size_t mid = std::partition(idx.begin() + j.lo, idx.begin() + j.hi,
                                  [&](size_t r) { return Xb[r * d + best_f] <= best_b; }) -
                   idx.begin();
      int l = int(tree.size()), r = l + 1;
      tree[j.node].feature = best_f;
      tree[j.node].bin = uint8_t(best_b);
      tree[j.node].left = l;
      tree[j.node].right = r;
      tree.push_back(Node{});
      tree.push_back(Node{});
      stack.push_back({j.lo, mid, j.depth + 1, l});
      stack.push_back({mid, j.hi, j.depth + 1, r});
    }
    trees_.push_back(std::move(tree));
  }
}

double RandomForest::predict(const float* x) const {
  if (trees_.empty()) return 0.5;
  double s = 0;
  for (const auto& t : trees_) {
    int k = 0;
    while (t[k].feature >= 0) k = bin_of(t[k].feature, x[t[k].feature]) <= t[k].bin ? t[k].left : t[k].right;
    s += t[k].value;
  }
  return s / trees_.size();
}


std::vector<uint8_t> RandomForest::serialize() const {
  std::vector<uint8_t> b = {'S', 'R', 'F', '1'};
  put32(b, uint32_t(d_));
  for (const auto& e : edges_) {
    put32(b, uint32_t(e.size()));
    for (float v : e) putf(b, v);
  }
  put32(b, uint32_t(trees_.size()));
  for (const auto& t : trees_) {
    put32(b, uint32_t(t.size()));
    for (const Node& nd : t) {
      put32(b, uint32_t(nd.feature));
      put32(b, nd.bin);
      put32(b, uint32_t(nd.left));
      put32(b, uint32_t(nd.right));
      putf(b, nd.value);
    }
  }
  return b;
}

bool RandomForest::deserialize(const uint8_t* data, size_t len) {
  if (len < 8 || std::memcmp(data, "SRF1", 4) != 0) return false;
  LeReader r{data, len, 4};
  int d = int(r.u32());
  if (!r.ok || d <= 0 || d > 4096) return false;
  std::vector<std::vector<float>> edges(d);
  for (auto& e : edges) {
    uint32_t m = r.u32();
    if (!r.ok || m > 63) return false;
    for (uint32_t i = 0; i < m; ++i) e.push_back(r.f32_any());
  }
  uint32_t nt = r.u32();
  if (!r.ok || nt > 100000) return false;
  std::vector<std::vector<Node>> trees(nt);
  for (auto& t : trees) {
    uint32_t m = r.u32();
    if (!r.ok || m == 0 || m > (len - r.off) / 20) return false;
    t.resize(m);
    for (Node& nd : t) {
      nd.feature = int32_t(r.u32());
      uint32_t bin = r.u32();
      nd.left = int32_t(r.u32());
      nd.right = int32_t(r.u32());
      nd.value = r.f32_any();
      if (!r.ok || bin > 63) return false;
      nd.bin = uint8_t(bin);
    }
    for (size_t i = 0; i < t.size(); ++i) {
      const Node& nd = t[i];
      if (nd.feature < 0) continue;
      // children must exist and come after the parent (no cycles)
      if (nd.feature >= d || nd.left <= int32_t(i) || nd.right <= int32_t(i) ||
          nd.left >= int32_t(m) || nd.right >= int32_t(m))
        return false;
    }
  }
  if (r.off != len) return false;
  d_ = d;
  edges_ = std::move(edges);
  trees_ = std::move(trees);
  return true;
}

}  // namespace bio
}  // namespace sentinel

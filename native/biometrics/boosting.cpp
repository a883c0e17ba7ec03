#include "boosting.h"

#include "feature_bins.h"
#include "le_bytes.h"

#include <algorithm>
#include <cmath>

namespace sentinel {
namespace bio {

namespace {

struct Hist {
  double g = 0, h = 0;
  uint32_t n = 0;
};

struct Split {
  double gain = 0;
  int feature = -1, bin = -1;
};

struct Leaf {
  size_t lo, hi;  // rows idx[lo, hi)
  int node;
  double g, h;
  Split best;
  int slot;  // its histogram's slot while it may still split; -1 otherwise
};

double score(double g, double h, double l2) { return g * g / (h + l2); }

}  // namespace

void GradientBoosting::fit(const std::vector<float>& X, int d, const std::vector<uint16_t>& y, int classes,
                           const BoostParams& p) {
  d_ = d;
  classes_ = std::max(2, classes);
  outputs_ = classes_ == 2 ? 1 : classes_;
  trees_.clear();
  const size_t n = y.size();
  edges_.assign(size_t(d), {});
  base_.assign(size_t(outputs_), 0.0);
  if (n == 0) return;
  edges_ = quantile_edges(X, n, d, std::max(2, std::min(64, p.bins)));
  std::vector<uint8_t> Xb(n * size_t(d));
  for (size_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) Xb[i * d + f] = bin_index(edges_[f], X[i * d + f]);

  // Prior margins from the class frequencies (smoothed so no class is at +-infinity).
  std::vector<double> freq(size_t(classes_), 1.0);
  for (uint16_t c : y) freq[std::min<size_t>(c, size_t(classes_ - 1))] += 1;
  if (outputs_ == 1) base_[0] = std::log(freq[1] / freq[0]);
  else
    for (int k = 0; k < classes_; ++k) base_[k] = std::log(freq[k] / double(n + classes_));

  std::vector<double> F(n * size_t(outputs_));
  for (size_t i = 0; i < n; ++i)
    for (int k = 0; k < outputs_; ++k) F[i * outputs_ + k] = base_[k];
  std::vector<double> g(n), h(n), prob(n * size_t(outputs_));
  std::vector<size_t> idx(n);
  // Histograms per leaf, in reusable slots: a split scans the rows of its smaller child only and
  // takes the larger child's histogram as the parent's minus the smaller's (the parent's slot).
  const size_t HB = size_t(d) * 64;
  std::vector<std::vector<Hist>> pool;
  std::vector<int> free_slots;
  auto take_slot = [&]() -> int {
    if (free_slots.empty()) {
      pool.emplace_back(HB);
      return int(pool.size() - 1);
    }
    const int sl = free_slots.back();
    free_slots.pop_back();
    return sl;
  };
  auto release = [&](Leaf& lf) {
    if (lf.slot >= 0) free_slots.push_back(lf.slot);
    lf.slot = -1;
  };
  const double min_h = 1e-6;

  auto build_hist = [&](const Leaf& lf) {
    Hist* H = pool[size_t(lf.slot)].data();
    std::fill(H, H + HB, Hist{});
    for (size_t i = lf.lo; i < lf.hi; ++i) {
      const size_t r = idx[i];
      const uint8_t* xb = &Xb[r * d];
      for (int f = 0; f < d; ++f) {
        Hist& c = H[size_t(f) * 64 + xb[f]];
        c.g += g[r];
        c.h += h[r];
        c.n += 1;
      }
    }
  };
  // The leaf's best split from its histogram; a leaf that cannot split gives its slot back.
  auto find_split = [&](Leaf& lf) {
    lf.best = Split{};
    if (lf.hi - lf.lo < size_t(2 * p.min_leaf)) return release(lf);
    const Hist* H = pool[size_t(lf.slot)].data();
    const double parent = score(lf.g, lf.h, p.l2);
    const uint32_t tot = uint32_t(lf.hi - lf.lo);
    for (int f = 0; f < d; ++f) {
      const int nb = int(edges_[f].size()) + 1;
      double gl = 0, hl = 0;
      uint32_t nl = 0;
      for (int b = 0; b + 1 < nb; ++b) {
        const Hist& c = H[size_t(f) * 64 + b];
        gl += c.g;
        hl += c.h;
        nl += c.n;
        if (nl < uint32_t(p.min_leaf)) continue;
        if (tot - nl < uint32_t(p.min_leaf)) break;
        const double gain = score(gl, hl, p.l2) + score(lf.g - gl, lf.h - hl, p.l2) - parent;
        if (gain > lf.best.gain + 1e-12) lf.best = Split{gain, f, b};
      }
    }
    if (lf.best.feature < 0) release(lf);
  };

  for (int round = 0; round < p.rounds; ++round) {
    // Current probabilities.
    for (size_t i = 0; i < n; ++i) {
      if (outputs_ == 1) {
        prob[i] = 1.0 / (1.0 + std::exp(-F[i]));
      } else {
        double m = F[i * outputs_];
        for (int k = 1; k < outputs_; ++k) m = std::max(m, F[i * outputs_ + k]);
        double s = 0;
        for (int k = 0; k < outputs_; ++k) s += (prob[i * outputs_ + k] = std::exp(F[i * outputs_ + k] - m));
        for (int k = 0; k < outputs_; ++k) prob[i * outputs_ + k] /= s;
      }
    }
    for (int k = 0; k < outputs_; ++k) {
      double G = 0, H = 0;
      for (size_t i = 0; i < n; ++i) {
        const double q = prob[i * outputs_ + k];
        const double target = outputs_ == 1 ? double(y[i] == 1) : double(y[i] == k);
        g[i] = q - target;
        h[i] = std::max(min_h, q * (1 - q));
        G += g[i];
        H += h[i];
        idx[i] = i;
      }
      std::vector<Node> tree(1);
      std::vector<Leaf> leaves{Leaf{0, n, 0, G, H, {}, take_slot()}};
      build_hist(leaves[0]);
      find_split(leaves[0]);
      while (int(leaves.size()) < p.max_leaves) {
        size_t pick = leaves.size();
        for (size_t l = 0; l < leaves.size(); ++l)
          if (leaves[l].best.feature >= 0 && (pick == leaves.size() || leaves[l].best.gain > leaves[pick].best.gain))
            pick = l;
        if (pick == leaves.size()) break;
        Leaf lf = leaves[pick];
        const int f = lf.best.feature, b = lf.best.bin;
        const size_t mid = size_t(std::partition(idx.begin() + lf.lo, idx.begin() + lf.hi,
                                                 [&](size_t r) { return Xb[r * d + f] <= b; }) -
                                  idx.begin());
        Leaf L{lf.lo, mid, int(tree.size()), 0, 0, {}, -1}, R{mid, lf.hi, int(tree.size()) + 1, 0, 0, {}, -1};
        for (size_t i = L.lo; i < L.hi; ++i) { L.g += g[idx[i]]; L.h += h[idx[i]]; }
        R.g = lf.g - L.g;
        R.h = lf.h - L.h;
        tree[lf.node].feature = f;
        tree[lf.node].bin = uint8_t(b);
        tree[lf.node].left = L.node;
        tree[lf.node].right = R.node;
        tree.emplace_back();
        tree.emplace_back();
        Leaf& small = (L.hi - L.lo <= R.hi - R.lo) ? L : R;
        Leaf& large = (&small == &L) ? R : L;
        small.slot = take_slot();
        build_hist(small);
        large.slot = lf.slot;  // parent minus the smaller child
        {
          Hist* P = pool[size_t(large.slot)].data();
          const Hist* S = pool[size_t(small.slot)].data();
          for (size_t i = 0; i < HB; ++i) {
            P[i].g -= S[i].g;
            P[i].h -= S[i].h;
            P[i].n -= S[i].n;
          }
        }
        find_split(L);
        find_split(R);
        leaves[pick] = L;
        leaves.push_back(R);
      }
      for (Leaf& lf : leaves) release(lf);
      for (const Leaf& lf : leaves) {
        const double v = -p.learning_rate * lf.g / (lf.h + p.l2);
        tree[lf.node].value = float(v);
        for (size_t i = lf.lo; i < lf.hi; ++i) F[idx[i] * outputs_ + k] += v;
      }
      trees_.push_back(std::move(tree));
    }
  }
}

void GradientBoosting::margins(const float* x, double* out) const {
  uint8_t xb[256];
  std::vector<uint8_t> big;
  uint8_t* bins = xb;
  if (d_ > 256) {
    big.resize(size_t(d_));
    bins = big.data();
  }
  for (int f = 0; f < d_; ++f) bins[f] = edges_.empty() ? 0 : bin_index(edges_[f], x[f]);
  for (int k = 0; k < outputs_; ++k) out[k] = base_.empty() ? 0.0 : base_[k];
  for (size_t t = 0; t < trees_.size(); ++t) {
    const std::vector<Node>& tr = trees_[t];
    int j = 0;
    while (tr[j].feature >= 0) j = bins[tr[j].feature] <= tr[j].bin ? tr[j].left : tr[j].right;
    out[t % size_t(outputs_)] += tr[j].value;
  }
}

double GradientBoosting::predict(const float* x, int k) const {
  if (outputs_ == 1) {  // the evaluation's hot path: no allocation
    double m = 0;
    margins(x, &m);
    return 1.0 / (1.0 + std::exp(-m));
  }
  std::vector<double> m(static_cast<size_t>(outputs_));
  margins(x, m.data());
  const double mx = *std::max_element(m.begin(), m.end());
  double s = 0;
  for (double v : m) s += std::exp(v - mx);
  return std::exp(m[size_t(k)] - mx) / s;
}

std::vector<uint8_t> GradientBoosting::serialize() const {
  std::vector<uint8_t> b{'S', 'G', 'B', '1'};
  put32(b, kVersion);
  put32(b, uint32_t(d_));
  put32(b, uint32_t(classes_));
  put32(b, uint32_t(base_.size()));
  for (double v : base_) putd(b, v);
  put32(b, uint32_t(edges_.size()));
  for (const auto& e : edges_) putvec(b, e);
  put32(b, uint32_t(trees_.size()));
  for (const auto& t : trees_) {
    put32(b, uint32_t(t.size()));
    for (const Node& nd : t) {
      put32(b, uint32_t(nd.feature));
      put8(b, nd.bin);
      put32(b, uint32_t(nd.left));
      put32(b, uint32_t(nd.right));
      putf(b, nd.value);
    }
  }
  return b;
}

bool GradientBoosting::deserialize(const uint8_t* data, size_t len) {
  LeReader r{data, len};
  if (!r.magic("SGB1") || r.u32() != kVersion) return false;
  const uint32_t d = r.u32(), classes = r.u32();
  if (!r.ok || d < 1 || d > uint32_t(kMaxDims) || classes < 2 || classes > uint32_t(kMaxClasses)) return false;
  const uint32_t outputs = classes == 2 ? 1 : classes;
  if (r.u32() != outputs || !r.ok) return false;
  std::vector<double> base(outputs);
  for (double& v : base) v = r.f64();
  if (r.u32() != d || !r.ok) return false;
  std::vector<std::vector<float>> edges(d);
  for (auto& e : edges) {
    if (!r.vec(&e, 63)) return false;
    for (size_t i = 1; i < e.size(); ++i)
      if (!(e[i] > e[i - 1])) return false;
  }
  const uint32_t ntrees = r.u32();
  if (!r.ok || ntrees % outputs != 0 || ntrees > r.left() / 21) return false;  // a tree is at least 4 + 17 bytes
  std::vector<std::vector<Node>> trees(ntrees);
  for (auto& t : trees) {
    const uint32_t nn = r.u32();
    if (!r.ok || nn < 1 || nn > r.left() / 17) return false;
    t.resize(nn);
    for (uint32_t j = 0; j < nn; ++j) {
      Node& nd = t[j];
      nd.feature = int32_t(r.u32());
      nd.bin = r.u8();
      nd.left = int32_t(r.u32());
      nd.right = int32_t(r.u32());
      nd.value = r.f32();
      if (!r.ok) return false;
      if (nd.feature == -1) continue;
      if (nd.feature < 0 || uint32_t(nd.feature) >= d || nd.bin > 63) return false;
      if (nd.left <= int32_t(j) || nd.right <= int32_t(j) || uint32_t(nd.left) >= nn || uint32_t(nd.right) >= nn) return false;
    }
  }
  if (!r.ok || r.left() != 0) return false;
  d_ = int(d);
  classes_ = int(classes);
  outputs_ = int(outputs);
  base_ = std::move(base);
  edges_ = std::move(edges);
  trees_ = std::move(trees);
  return true;
}

}  // namespace bio
}  // namespace sentinel

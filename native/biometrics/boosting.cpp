#include "boosting.h"

#include "feature_bins.h"
#include "le_bytes.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sentinel {
namespace bio {

namespace {

// A histogram cell's sums; the row counts live in a parallel array so a cell is 16 bytes and the
// compiler can add the pair in one vector instruction (the same two IEEE additions).
struct alignas(16) GradHess {
  double g = 0, h = 0;
};

struct Split {
  double gain = 0;
  int feature = -1, bin = -1;
};

struct Leaf {
  size_t lo, hi;  // positions [lo, hi) of the tree's row order
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
  std::vector<double> prob(n * size_t(outputs_));
  // A tree keeps its rows in one order, the "positions": each leaf is a contiguous range of them,
  // and a split partitions its parent's range. idx[pos] is the row there; gh[pos] and the bins in
  // xb[pos * d ...] are that row's gradient pair and bins, moved along with it, so the histogram
  // and partition loops read memory in sequence rather than at random rows.
  std::vector<size_t> idx(n);
  std::vector<GradHess> gh(n);
  std::vector<uint8_t> xb(n * size_t(d));
  std::vector<uint8_t> swap_row(static_cast<size_t>(d));
  // Histogram cells of feature f are [off[f], off[f+1]): one per bin it has, so features with few
  // bins take little room.
  std::vector<size_t> off(size_t(d) + 1, 0);
  for (int f = 0; f < d; ++f) off[f + 1] = off[f] + edges_[f].size() + 1;
  const size_t HB = off[size_t(d)];
  // Histograms per leaf, in reusable slots: a split scans the rows of its smaller child only and
  // takes the larger child's histogram as the parent's minus the smaller's (the parent's slot).
  struct Slot {
    std::vector<GradHess> gh;
    std::vector<uint32_t> n;
  };
  std::vector<Slot> pool;
  std::vector<int> free_slots;
  auto take_slot = [&]() -> int {
    if (free_slots.empty()) {
      pool.push_back(Slot{std::vector<GradHess>(HB), std::vector<uint32_t>(HB)});
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

  // Every cell sums its rows in position order, as the partitions left them.
  auto build_hist = [&](const Leaf& lf) {
    GradHess* H = pool[size_t(lf.slot)].gh.data();
    uint32_t* N = pool[size_t(lf.slot)].n.data();
    std::fill(H, H + HB, GradHess{});
    std::fill(N, N + HB, 0u);
    const size_t* o = off.data();
    for (size_t i = lf.lo; i < lf.hi; ++i) {
      const GradHess v = gh[i];
      const uint8_t* b = &xb[i * d];
      for (int f = 0; f < d; ++f) {
        const size_t c = o[f] + b[f];
        H[c].g += v.g;
        H[c].h += v.h;
        N[c] += 1;
      }
    }
  };
  // The leaf's best split from its histogram; a leaf that cannot split gives its slot back.
  auto find_split = [&](Leaf& lf) {
    lf.best = Split{};
    if (lf.hi - lf.lo < size_t(2 * p.min_leaf)) return release(lf);
    const GradHess* H = pool[size_t(lf.slot)].gh.data();
    const uint32_t* N = pool[size_t(lf.slot)].n.data();
    const double parent = score(lf.g, lf.h, p.l2);
    const uint32_t tot = uint32_t(lf.hi - lf.lo);
    for (int f = 0; f < d; ++f) {
      const int nb = int(edges_[f].size()) + 1;
      double gl = 0, hl = 0;
      uint32_t nl = 0;
      for (int b = 0; b + 1 < nb; ++b) {
        const size_t c = off[f] + size_t(b);
        gl += H[c].g;
        hl += H[c].h;
        nl += N[c];
        if (nl < uint32_t(p.min_leaf)) continue;
        if (tot - nl < uint32_t(p.min_leaf)) break;
        const double gain = score(gl, hl, p.l2) + score(lf.g - gl, lf.h - hl, p.l2) - parent;
        if (gain > lf.best.gain + 1e-12) lf.best = Split{gain, f, b};
      }
    }
    if (lf.best.feature < 0) release(lf);
  };
  // Positions [lo, hi) with bin(f) <= b first; returns where the rest begin. The same swaps as
  // std::partition (libstdc++ and libc++ alike: from the left, the first row that belongs right
  // trades places with the last from the right that belongs left), so the rows end in the order
  // that the sums above have always seen.
  auto partition = [&](size_t lo, size_t hi, int f, int b) -> size_t {
    auto left = [&](size_t i) { return xb[i * d + f] <= b; };
    size_t first = lo, last = hi;
    while (true) {
      while (true) {
        if (first == last) return first;
        if (!left(first)) break;
        ++first;
      }
      --last;
      while (true) {
        if (first == last) return first;
        if (left(last)) break;
        --last;
      }
      std::swap(idx[first], idx[last]);
      std::swap(gh[first], gh[last]);
      uint8_t* a = &xb[first * d];
      uint8_t* z = &xb[last * d];
      std::memcpy(swap_row.data(), a, size_t(d));
      std::memcpy(a, z, size_t(d));
      std::memcpy(z, swap_row.data(), size_t(d));
      ++first;
    }
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
      // Each tree starts from the rows in their own order.
      double G = 0, H = 0;
      for (size_t i = 0; i < n; ++i) {
        const double q = prob[i * outputs_ + k];
        const double target = outputs_ == 1 ? double(y[i] == 1) : double(y[i] == k);
        gh[i].g = q - target;
        gh[i].h = std::max(min_h, q * (1 - q));
        G += gh[i].g;
        H += gh[i].h;
        idx[i] = i;
      }
      std::memcpy(xb.data(), Xb.data(), Xb.size());
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
        const size_t mid = partition(lf.lo, lf.hi, f, b);
        Leaf L{lf.lo, mid, int(tree.size()), 0, 0, {}, -1}, R{mid, lf.hi, int(tree.size()) + 1, 0, 0, {}, -1};
        for (size_t i = L.lo; i < L.hi; ++i) { L.g += gh[i].g; L.h += gh[i].h; }
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
          Slot& P = pool[size_t(large.slot)];
          const Slot& S = pool[size_t(small.slot)];
          for (size_t i = 0; i < HB; ++i) {
            P.gh[i].g -= S.gh[i].g;
            P.gh[i].h -= S.gh[i].h;
            P.n[i] -= S.n[i];
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

#include "mouse_block.h"

#include "le_bytes.h"
#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sentinel {
namespace bio {

namespace {
using Reader = LeReader;
constexpr int D = kActionFeatures;

bool stat_ok(uint8_t s) { return s <= uint8_t(BlockStat::kKs); }
}  // namespace

// ---------------------------------------------------------------- weights

MouseBlockWeights MouseBlockWeights::unit(BlockStat stat, bool log_terms) {
  MouseBlockWeights w;
  w.stat = stat;
  w.log_terms = log_terms;
  for (int f = 3; f < D; ++f) {
    w.w[f] = -1.f;
    w.w[kBlockTermPop + f] = 1.f;
  }
  w.w[kBlockTermType] = -1.f;
  w.w[kBlockTermHist] = 1.f;
  w.valid_ = true;
  return w;
}

MouseBlockWeights MouseBlockWeights::fit(const std::vector<double>& X, const std::vector<uint8_t>& y, BlockStat stat,
                                         bool log_terms, uint32_t fit_block, double l2,
                                         const std::array<bool, kBlockTerms>& use_in) {
  const int d = kBlockTerms;
  const size_t n = y.size();
  MouseBlockWeights out;
  out.stat = stat;
  out.log_terms = log_terms;
  out.fit_block = fit_block;
  if (n == 0 || X.size() != n * size_t(d)) return out;
  std::vector<double> mu(d, 0), sd(d, 0), w(d, 0), g(d);
  std::array<bool, kBlockTerms> use = use_in;
  for (size_t i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) mu[k] += X[i * d + k];
  for (int k = 0; k < d; ++k) mu[k] /= double(n);
  for (size_t i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) sd[k] += (X[i * d + k] - mu[k]) * (X[i * d + k] - mu[k]);
  for (int k = 0; k < d; ++k) {
    sd[k] = std::sqrt(sd[k] / double(n));
    if (sd[k] < 1e-9) use[k] = false;
    if (!use[k]) sd[k] = 1;
  }
  size_t npos = 0;
  for (uint8_t v : y) npos += v != 0;
  if (npos == 0 || npos == n) return out;
  const double wp = 0.5 / double(npos), wn = 0.5 / double(n - npos);
  double b = 0;
  for (int it = 0; it < 500; ++it) {
    std::fill(g.begin(), g.end(), 0.0);
    double gb = 0;
    for (size_t i = 0; i < n; ++i) {
      double z = b;
      for (int k = 0; k < d; ++k)
        if (use[k]) z += w[k] * (X[i * d + k] - mu[k]) / sd[k];
      double pr = 1 / (1 + std::exp(-z)), e = (pr - (y[i] ? 1.0 : 0.0)) * (y[i] ? wp : wn);
      gb += e;
      for (int k = 0; k < d; ++k)
        if (use[k]) g[k] += e * (X[i * d + k] - mu[k]) / sd[k];
    }
    for (int k = 0; k < d; ++k) w[k] -= 1.0 * (g[k] + l2 * w[k]);
    b -= 1.0 * gb;
  }
  double bias = b;
  for (int k = 0; k < d; ++k) {
    double wr = use[k] ? w[k] / sd[k] : 0.0;
    out.w[k] = float(wr);
    bias -= double(out.w[k]) * mu[k];
  }
  out.bias = bias;
  out.valid_ = true;
  return out;
}

std::vector<uint8_t> MouseBlockWeights::serialize() const {
  std::vector<uint8_t> b = {'S', 'M', 'W', '1'};
  put32(b, kVersion);
  put32(b, uint32_t(kMouseSchemaVersion));
  put32(b, uint32_t(kBlockTerms));
  put8(b, uint8_t(stat));
  put8(b, log_terms ? 1 : 0);
  put32(b, fit_block);
  putd(b, bias);
  for (float x : w) putf(b, x);
  return b;
}

bool MouseBlockWeights::deserialize(const uint8_t* data, size_t len) {
  if (!data) return false;
  Reader r{data, len};
  if (!r.magic("SMW1")) return false;
  if (r.u32() != kVersion || !r.ok) return false;
  if (r.u32() != uint32_t(kMouseSchemaVersion) || !r.ok) return false;
  if (r.u32() != uint32_t(kBlockTerms) || !r.ok) return false;
  MouseBlockWeights t;
  uint8_t s = r.u8();
  uint8_t lg = r.u8();
  if (!r.ok || !stat_ok(s) || lg > 1) return false;
  t.stat = BlockStat(s);
  t.log_terms = lg != 0;
  t.fit_block = r.u32();
  t.bias = r.f64();
  for (float& x : t.w) x = r.f32();
  if (!r.ok || r.off != len || t.fit_block == 0 || std::abs(t.bias) > 1e6) return false;
  for (float x : t.w)
    if (std::abs(x) > 1e6f) return false;
  t.valid_ = true;
  *this = t;
  return true;
}

// ---------------------------------------------------------------- profile

int MouseBlock::model_for(const MouseAction& a) const {
  int t = int(a.type);
  return (t >= 0 && t < 3 && present_[t]) ? t : 3;
}

// Mid-rank probability integral transform of v under the user's quantile
// table (levels j/(L-1)), clipped to [1/(2L), 1 - 1/(2L)].
double MouseBlock::pit(const float* q, size_t L, float v) {
  const float* lo = std::lower_bound(q, q + L, v);
  const float* hi = std::upper_bound(q, q + L, v);
  double F;
  size_t il = size_t(lo - q), ih = size_t(hi - q);
  if (ih > il) {
    F = 0.5 * double(il + ih - 1) / double(L - 1);
  } else if (il == 0) {
    F = 0;
  } else if (il == L) {
    F = 1;
  } else {
    double a = q[il - 1], b = q[il];
    F = (double(il - 1) + (b > a ? (v - a) / (b - a) : 0.5)) / double(L - 1);
  }
  const double eps = 0.5 / double(L);
  return std::min(1 - eps, std::max(eps, F));
}

MouseBlock MouseBlock::build(const std::vector<const MouseAction*>& user, const MousePopulation* pop,
                             const MouseBlockWeights& w, const BlockParams& p) {
  MouseBlock o;
  o.p_ = p;
  o.p_.hist.method = OneClassMethod::kHistLlr;
  o.w_ = w;
  if (!w.valid() || p.ref_levels < 3 || p.ref_levels > 4096 || user.size() < 2) return o;
  const size_t L = p.ref_levels;
  std::array<size_t, 3> cnt{};
  for (const MouseAction* a : user)
    if (int(a->type) < 3) ++cnt[int(a->type)];
  for (int t = 0; t < 3; ++t) o.type_share_[t] = float((cnt[t] + 1.0) / (user.size() + 3.0));
  for (int m = 0; m < kOneClassModels; ++m) {
    std::vector<const MouseAction*> rows;
    for (const MouseAction* a : user)
      if (m == 3 || int(a->type) == m) rows.push_back(a);
    if (rows.size() < (m == 3 ? size_t(2) : std::max<size_t>(2, p.min_type_actions))) continue;
    o.present_[m] = true;
    o.q_[m].assign(size_t(D) * L, 0.f);
    std::vector<float> col(rows.size());
    for (int f = 0; f < D; ++f) {
      for (size_t i = 0; i < rows.size(); ++i) col[i] = rows[i]->f[f];
      std::sort(col.begin(), col.end());
      for (size_t j = 0; j < L; ++j) {
        double pos = double(j) * double(col.size() - 1) / double(L - 1);
        size_t i0 = size_t(pos);
        size_t i1 = std::min(col.size() - 1, i0 + 1);
        double fr = pos - double(i0);
        float v = float(col[i0] + fr * (double(col[i1]) - double(col[i0])));
        if (j > 0) v = std::max(v, o.q_[m][size_t(f) * L + j - 1]);
        o.q_[m][size_t(f) * L + j] = v;
      }
    }
  }
  if (!o.present_[3]) return o;
  if (pop && pop->valid()) {
    o.has_pop_ = true;
    for (int m = 0; m < kOneClassModels; ++m) {
      const auto& M = pop->model(pop->model(m).q.empty() ? 3 : m);
      o.qp_[m] = M.q;
      if (o.qp_[m].size() != size_t(D) * kPopQuantiles) { o.has_pop_ = false; break; }
    }
    std::vector<MouseAction> ua;
    ua.reserve(user.size());
    for (const MouseAction* a : user) ua.push_back(*a);
    o.hist_ = MouseOneClass::enroll(ua, pop, o.p_.hist);
    o.has_hist_ = o.hist_.valid();
  }
  o.valid_ = true;
  return o;
}

MouseBlock MouseBlock::enroll(const std::vector<MouseAction>& user, const MousePopulation* pop,
                              const MouseBlockWeights& w, const BlockParams& p) {
  std::vector<const MouseAction*> all;
  for (const MouseAction& a : user) all.push_back(&a);
  return build(all, pop, w, p);
}

// Goodness-of-fit statistic of PIT values u against the uniform (u is sorted here).
double MouseBlock::gof(const std::vector<double>& uin) const {
  std::vector<double> u = uin;
  std::sort(u.begin(), u.end());
  const size_t n = u.size();
  const double nn = double(n);
  double T = 0;
  if (w_.stat == BlockStat::kCvm) {
    T = 1.0 / (12 * nn);
    for (size_t i = 0; i < n; ++i) {
      double d = (2.0 * double(i) + 1) / (2 * nn) - u[i];
      T += d * d;
    }
  } else if (w_.stat == BlockStat::kAd) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += (2.0 * double(i) + 1) * (std::log(u[i]) + std::log(1 - u[n - 1 - i]));
    T = std::max(0.0, -nn - s / nn);
  } else {
    double Dm = 0;
    for (size_t i = 0; i < n; ++i) Dm = std::max(Dm, std::max((double(i) + 1) / nn - u[i], u[i] - double(i) / nn));
    T = std::sqrt(nn) * Dm;
  }
  return w_.log_terms ? std::log1p(T) : T;
}

void MouseBlock::terms(const MouseAction* a, size_t n, double* out) const {
  for (int k = 0; k < kBlockTerms; ++k) out[k] = 0;
  if (!valid_ || !a || n < 2) return;
  std::vector<int> mi(n);
  for (size_t i = 0; i < n; ++i) mi[i] = model_for(a[i]);
  std::vector<double> u(n);
  const double nn = double(n);
  const size_t L = p_.ref_levels;
  for (int f = 3; f < D; ++f) {
    for (size_t i = 0; i < n; ++i) u[i] = pit(q_[mi[i]].data() + size_t(f) * L, L, a[i].f[f]);
    out[f] = gof(u);
    if (has_pop_) {
      for (size_t i = 0; i < n; ++i)
        u[i] = pit(qp_[mi[i]].data() + size_t(f) * kPopQuantiles, kPopQuantiles, a[i].f[f]);
      out[kBlockTermPop + f] = gof(u);
    }
  }
  std::array<double, 3> c{};
  for (size_t i = 0; i < n; ++i)
    if (int(a[i].type) < 3) c[int(a[i].type)] += 1;
  double chi = 0;
  for (int t = 0; t < 3; ++t) {
    double e = nn * type_share_[t];
    chi += (c[t] - e) * (c[t] - e) / e;
  }
  out[kBlockTermType] = w_.log_terms ? std::log1p(chi) : chi;
  out[kBlockTermHist] = has_hist_ ? hist_.block_score(a, n) : 0.0;
}

double MouseBlock::score(const MouseAction* a, size_t n) const {
  double t[kBlockTerms];
  terms(a, n, t);
  double s = w_.bias;
  for (int k = 0; k < kBlockTerms; ++k) s += double(w_.w[k]) * t[k];
  return s;
}

double MouseBlock::calibrate(const std::vector<MouseAction>& user, const MousePopulation* pop, size_t n,
                             double frr) {
  calib_.clear();
  if (!valid_ || n < 2) return threshold;
  const size_t N = user.size(), K = 4;
  for (size_t c = 0; c < K; ++c) {
    size_t b = c * N / K, e = (c + 1) * N / K;
    std::vector<const MouseAction*> rest;
    for (size_t i = 0; i < N; ++i)
      if (i < b || i >= e) rest.push_back(&user[i]);
    MouseBlock m = build(rest, pop, w_, p_);
    if (!m.valid_) continue;
    for (size_t s = b; s + n <= e; s += std::max<size_t>(1, n / 4)) calib_.push_back(m.score(&user[s], n));
  }
  if (!calib_.empty()) threshold = threshold_for_frr(calib_, frr);
  return threshold;
}

std::vector<uint8_t> MouseBlock::serialize() const {
  std::vector<uint8_t> b = {'S', 'M', 'B', '1'};
  put32(b, kVersion);
  put32(b, uint32_t(kMouseSchemaVersion));
  put8(b, valid_ ? 1 : 0);
  put32(b, p_.ref_levels);
  put32(b, p_.min_type_actions);
  putd(b, threshold);
  for (float s : type_share_) putf(b, s);
  for (int m = 0; m < kOneClassModels; ++m) {
    put8(b, present_[m] ? 1 : 0);
    if (present_[m])
      for (float v : q_[m]) putf(b, v);
  }
  put8(b, has_pop_ ? 1 : 0);
  if (has_pop_)
    for (int m = 0; m < kOneClassModels; ++m)
      for (float v : qp_[m]) putf(b, v);
  putblob(b, w_.serialize());
  put8(b, has_hist_ ? 1 : 0);
  if (has_hist_) putblob(b, hist_.serialize());
  return b;
}

bool MouseBlock::deserialize(const uint8_t* data, size_t len) {
  if (!data) return false;
  Reader r{data, len};
  if (!r.magic("SMB1")) return false;
  if (r.u32() != kVersion || !r.ok) return false;
  if (r.u32() != uint32_t(kMouseSchemaVersion) || !r.ok) return false;
  MouseBlock t;
  uint8_t v = r.u8();
  if (!r.ok || v != 1) return false;
  t.p_.ref_levels = r.u32();
  t.p_.min_type_actions = r.u32();
  if (!r.ok || t.p_.ref_levels < 3 || t.p_.ref_levels > 4096 || t.p_.min_type_actions > (1u << 30)) return false;
  t.threshold = r.f64();
  double share = 0;
  for (float& s : t.type_share_) {
    s = r.f32();
    if (!r.ok || !(s > 0.f && s < 1.f)) return false;
    share += s;
  }
  if (std::abs(share - 1.0) > 1e-3) return false;
  const size_t L = t.p_.ref_levels;
  for (int m = 0; m < kOneClassModels; ++m) {
    uint8_t pr = r.u8();
    if (!r.ok || pr > 1) return false;
    t.present_[m] = pr != 0;
    if (!t.present_[m]) continue;
    if ((len - r.off) / 4 < size_t(D) * L) return false;
    t.q_[m].resize(size_t(D) * L);
    for (int f = 0; f < D; ++f)
      for (size_t j = 0; j < L; ++j) {
        float x = r.f32();
        if (!r.ok) return false;
        if (j > 0 && x < t.q_[m][size_t(f) * L + j - 1]) return false;  // tables ascend
        t.q_[m][size_t(f) * L + j] = x;
      }
  }
  if (!t.present_[3]) return false;
  uint8_t hp = r.u8();
  if (!r.ok || hp > 1) return false;
  t.has_pop_ = hp != 0;
  if (t.has_pop_)
    for (int m = 0; m < kOneClassModels; ++m) {
      if ((len - r.off) / 4 < size_t(D) * kPopQuantiles) return false;
      t.qp_[m].resize(size_t(D) * kPopQuantiles);
      for (int f = 0; f < D; ++f)
        for (int j = 0; j < kPopQuantiles; ++j) {
          float x = r.f32();
          if (!r.ok) return false;
          if (j > 0 && x < t.qp_[m][size_t(f) * kPopQuantiles + j - 1]) return false;
          t.qp_[m][size_t(f) * kPopQuantiles + j] = x;
        }
    }
  size_t wn = 0;
  const uint8_t* wb = r.blob(&wn);
  if (!r.ok || !t.w_.deserialize(wb, wn)) return false;
  uint8_t hh = r.u8();
  if (!r.ok || hh > 1) return false;
  if (hh) {
    size_t hn = 0;
    const uint8_t* hb = r.blob(&hn);
    if (!r.ok || !t.hist_.deserialize(hb, hn) || !t.hist_.valid()) return false;
    t.has_hist_ = true;
    t.p_.hist = t.hist_.params();
  }
  if (r.off != len) return false;
  t.valid_ = true;
  *this = std::move(t);
  return true;
}

}  // namespace bio
}  // namespace sentinel

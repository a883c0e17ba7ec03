#include "mouse_oneclass.h"

#include "le_bytes.h"
#include "metrics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace sentinel {
namespace bio {

namespace {
using Reader = LeReader;
constexpr int D = kActionFeatures;
constexpr int Q = kPopQuantiles;

bool strictly_ascending(const std::vector<float>& v) {
  for (size_t i = 1; i < v.size(); ++i)
    if (!(v[i] > v[i - 1])) return false;
  return true;
}

// Acklam's rational approximation of the standard normal quantile.
double inv_norm(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double pl = 0.02425;
  if (p < pl) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pl) {
    double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Lower Cholesky factor of a symmetric positive definite d x d matrix; false if not SPD.
bool cholesky(const std::vector<double>& A, int d, std::vector<float>* L, float* logdet) {
  std::vector<double> l(size_t(d) * d, 0.0);
  double ld = 0;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j <= i; ++j) {
      double s = A[size_t(i) * d + j];
      for (int k = 0; k < j; ++k) s -= l[size_t(i) * d + k] * l[size_t(j) * d + k];
      if (i == j) {
        if (!(s > 0)) return false;
        l[size_t(i) * d + i] = std::sqrt(s);
        ld += std::log(s);
      } else {
        l[size_t(i) * d + j] = s / l[size_t(j) * d + j];
      }
    }
  L->assign(l.begin(), l.end());
  *logdet = float(ld);
  return true;
}

// |L^{-1} (z - mu)|^2 by forward substitution.
double mahal2(const std::vector<float>& L, const std::vector<float>& mu, const double* z) {
  double y[D], s = 0;
  for (int i = 0; i < D; ++i) {
    double v = z[i] - mu[i];
    for (int k = 0; k < i; ++k) v -= double(L[size_t(i) * D + k]) * y[k];
    y[i] = v / L[size_t(i) * D + i];
    s += y[i] * y[i];
  }
  return s;
}

bool is_type(const MouseAction& a, int m) { return m == 3 || int(a.type) == m; }

// Mean and shrunk, floored covariance of rows (each D doubles).
void mean_cov(const std::vector<double>& Z, size_t n, double shrink, std::vector<float>* mu,
              std::vector<double>* cov) {
  std::vector<double> m(D, 0.0), c(size_t(D) * D, 0.0);
  for (size_t r = 0; r < n; ++r)
    for (int i = 0; i < D; ++i) m[i] += Z[r * D + i];
  for (int i = 0; i < D; ++i) m[i] /= double(std::max<size_t>(n, 1));
  for (size_t r = 0; r < n; ++r)
    for (int i = 0; i < D; ++i) {
      double di = Z[r * D + i] - m[i];
      for (int j = 0; j <= i; ++j) c[size_t(i) * D + j] += di * (Z[r * D + j] - m[j]);
    }
  for (int i = 0; i < D; ++i)
    for (int j = 0; j <= i; ++j) {
      double v = c[size_t(i) * D + j] / double(std::max<size_t>(n, 2) - 1);
      if (i != j) v *= (1 - shrink);
      c[size_t(i) * D + j] = c[size_t(j) * D + i] = v;
    }
  for (int i = 0; i < D; ++i) c[size_t(i) * D + i] += 0.02;  // floor (constant features)
  mu->assign(m.begin(), m.end());
  *cov = c;
}

uint64_t fnv1a(const std::vector<uint8_t>& b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

double quantile_sorted(const std::vector<float>& s, double q) {
  if (s.empty()) return 0;
  double pos = q * double(s.size() - 1);
  size_t i = size_t(std::floor(pos));
  if (i + 1 >= s.size()) return s.back();
  double a = pos - double(i);
  return s[i] * (1 - a) + s[i + 1] * a;
}

// Coarse bin of every bin of feature f: the coarse edges are the quantile levels 4k/32 (k = 1..7),
// which are also bin edges, so the coarse bin of a value follows from its bin alone.
std::vector<uint8_t> coarse_of_bins(const std::vector<float>& q, const std::vector<float>& edges, int f) {
  std::vector<float> ce;
  const int step = (Q - 1) / kPairBins;
  for (int k = 1; k < kPairBins; ++k) {
    float v = q[size_t(f) * Q + size_t(k * step)];
    if (ce.empty() || v > ce.back()) ce.push_back(v);
  }
  std::vector<uint8_t> out(edges.size() + 1, 0);
  for (size_t b = 1; b < out.size(); ++b)
    out[b] = uint8_t(std::upper_bound(ce.begin(), ce.end(), edges[b - 1]) - ce.begin());
  return out;
}

// A coarse map as coarse_of_bins writes it: starts at 0, steps of 0 or 1, below kPairBins.
bool valid_coarse(const uint8_t* c, size_t n, size_t bins) {
  if (n != bins || n == 0 || c[0] != 0) return false;
  for (size_t b = 1; b < n; ++b)
    if (c[b] < c[b - 1] || c[b] - c[b - 1] > 1 || c[b] >= kPairBins) return false;
  return true;
}

// Pairs as fit() writes them: f < g < D, no duplicates.
bool valid_pairs(const std::vector<std::array<uint8_t, 2>>& pairs) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i][0] >= pairs[i][1] || pairs[i][1] >= D) return false;
    for (size_t j = 0; j < i; ++j)
      if (pairs[j] == pairs[i]) return false;
  }
  return true;
}

constexpr int kPairCells = kPairBins * kPairBins;

// Bin of each feature of `a` under `edges` (per feature, the interior bin edges).
void bins_of(const std::vector<std::vector<float>>& edges, const MouseAction& a, uint8_t* bins) {
  for (int f = 0; f < D; ++f) {
    const auto& e = edges[f];
    bins[f] = uint8_t(std::upper_bound(e.begin(), e.end(), a.f[f]) - e.begin());
  }
}

// Cell of `pair` in its kPairBins^2 table, from the action's bins and the coarse map of each bin.
int pair_cell(const std::vector<std::vector<uint8_t>>& coarse, const std::array<uint8_t, 2>& pair, const uint8_t* bins) {
  return coarse[pair[0]][bins[pair[0]]] * kPairBins + coarse[pair[1]][bins[pair[1]]];
}

// A pair-table section (population joints, profile pair terms): a u32 count, then per pair its
// two features and a vector of kPairCells floats.
void put_pair_tables(std::vector<uint8_t>& b, const std::vector<std::array<uint8_t, 2>>& pairs,
                     const std::vector<std::vector<float>>& tables) {
  put32(b, uint32_t(pairs.size()));
  for (size_t k = 0; k < pairs.size(); ++k) {
    b.push_back(pairs[k][0]);
    b.push_back(pairs[k][1]);
    putvec(b, tables[k]);
  }
}

// Reads what put_pair_tables wrote; false on a count over kMaxPairs or the input, a table of
// another size, or pairs that are not f < g < D without duplicates.
bool read_pair_tables(Reader& r, std::vector<std::array<uint8_t, 2>>* pairs, std::vector<std::vector<float>>* tables) {
  const uint32_t np = r.u32();
  if (!r.ok || np > kMaxPairs || np > r.left() / 6) return false;
  pairs->resize(np);
  tables->resize(np);
  for (uint32_t k = 0; k < np; ++k) {
    (*pairs)[k][0] = r.u8();
    (*pairs)[k][1] = r.u8();
    if (!r.vec(&(*tables)[k], kPairCells) || (*tables)[k].size() != size_t(kPairCells)) return false;
  }
  return valid_pairs(*pairs);
}
}  // namespace

// ---------------------------------------------------------------- population

int MousePopulation::bin_of(int m, int f, float v) const {
  const auto& e = models_[m].edges[f];
  return int(std::upper_bound(e.begin(), e.end(), v) - e.begin());
}

double MousePopulation::normal_score(int m, int f, float v) const {
  const float* q = &models_[m].q[size_t(f) * Q];
  const double lo_u = 0.25 / (Q - 1), hi_u = 1 - lo_u;
  double u;
  if (v < q[0]) u = lo_u;
  else if (v > q[Q - 1]) u = hi_u;
  else {
    int lo = int(std::lower_bound(q, q + Q, v) - q);      // first >= v
    int hi = int(std::upper_bound(q, q + Q, v) - q) - 1;  // last <= v
    if (lo <= hi) u = 0.5 * (lo + hi) / (Q - 1);        // tie: middle of its levels
    else u = (hi + (v - q[hi]) / (q[lo] - q[hi])) / (Q - 1);  // hi = lo - 1
  }
  u = std::min(hi_u, std::max(lo_u, u));
  return inv_norm(u);
}

// Model m's coarse maps, its n_pairs feature pairs of highest mutual information (pooled coarse
// bins of `sel`; the type one-hots and constant features left out) and their joint coarse-bin
// probabilities (mean of per-user histograms, floored at 1e-4).
void MousePopulation::fit_pairs(Model& M, const std::vector<std::vector<const MouseAction*>>& sel, size_t n_pairs) {
  M.coarse.assign(D, {});
  for (int f = 0; f < D; ++f) M.coarse[f] = coarse_of_bins(M.q, M.edges[f], f);
  M.pairs.clear();
  M.joint.clear();
  if (n_pairs == 0) return;
  std::vector<std::vector<std::array<uint8_t, D>>> codes(sel.size());
  for (size_t u = 0; u < sel.size(); ++u)
    for (const MouseAction* a : sel[u]) {
      std::array<uint8_t, D> c;
      bins_of(M.edges, *a, c.data());
      for (int f = 0; f < D; ++f) c[f] = M.coarse[f][c[f]];
      codes[u].push_back(c);
    }
  std::vector<std::pair<double, std::array<uint8_t, 2>>> mi;
  for (int f = 3; f < D; ++f)
    for (int g = f + 1; g < D; ++g) {
      if (M.edges[f].empty() || M.edges[g].empty()) continue;
      double j[kPairCells] = {}, mf[kPairBins] = {}, mg[kPairBins] = {}, n = 0;
      for (const auto& cu : codes)
        for (const auto& c : cu) {
          j[c[f] * kPairBins + c[g]] += 1;
          mf[c[f]] += 1;
          mg[c[g]] += 1;
          n += 1;
        }
      double v = 0;
      for (int a = 0; a < kPairBins; ++a)
        for (int b = 0; b < kPairBins; ++b)
          if (j[a * kPairBins + b] > 0) v += j[a * kPairBins + b] / n * std::log(j[a * kPairBins + b] * n / (mf[a] * mg[b]));
      mi.push_back({v, {uint8_t(f), uint8_t(g)}});
    }
  // highest first; ties broken by the pair so the choice does not depend on the sort
  std::sort(mi.begin(), mi.end(), [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  for (size_t i = 0; i < n_pairs && i < mi.size(); ++i) M.pairs.push_back(mi[i].second);
  M.joint.assign(M.pairs.size(), std::vector<float>(kPairCells, 0.f));
  for (size_t k = 0; k < M.pairs.size(); ++k) {
    std::vector<double> acc(kPairCells, 0.0);
    const int f = M.pairs[k][0], g = M.pairs[k][1];
    for (const auto& cu : codes) {
      if (cu.empty()) continue;
      const double w = 1.0 / double(cu.size()) / double(codes.size());
      for (const auto& c : cu) acc[c[f] * kPairBins + c[g]] += w;
    }
    double z = 0;
    for (double& v : acc) z += (v = std::max(v, 1e-4));
    for (int c = 0; c < kPairCells; ++c) M.joint[k][c] = float(acc[c] / z);
  }
}

MousePopulation MousePopulation::fit(const std::vector<std::vector<MouseAction>>& per_user, size_t pairs) {
  MousePopulation P;
  std::mt19937 rng(12345);
  const size_t cap = 3000;  // at most this many actions per user and model: users weigh about equally
  for (int m = 0; m < kOneClassModels; ++m) {
    Model& M = P.models_[m];
    std::vector<std::vector<const MouseAction*>> sel;
    for (const auto& u : per_user) {
      std::vector<const MouseAction*> s;
      for (const MouseAction& a : u)
        if (is_type(a, m)) s.push_back(&a);
      std::shuffle(s.begin(), s.end(), rng);
      if (s.size() > cap) s.resize(cap);
      if (s.size() >= 10) sel.push_back(std::move(s));
    }
    size_t total = 0;
    for (const auto& s : sel) total += s.size();
    if (total < 50) continue;
    M.q.assign(size_t(D) * Q, 0.f);
    M.edges.assign(D, {});
    M.p.assign(D, {});
    std::vector<float> col;
    for (int f = 0; f < D; ++f) {
      col.clear();
      for (const auto& s : sel)
        for (const MouseAction* a : s) col.push_back(a->f[f]);
      std::sort(col.begin(), col.end());
      for (int i = 0; i < Q; ++i) M.q[size_t(f) * Q + i] = float(quantile_sorted(col, double(i) / (Q - 1)));
      auto& e = M.edges[f];
      for (int i = 1; i < Q - 1; ++i) {
        float v = M.q[size_t(f) * Q + i];
        if (e.empty() || v > e.back()) e.push_back(v);
      }
    }
    // bin probabilities: mean over users of each user's histogram
    for (int f = 0; f < D; ++f) {
      std::vector<double> acc(M.edges[f].size() + 1, 0.0);
      for (const auto& s : sel) {
        std::vector<double> h(acc.size(), 0.0);
        for (const MouseAction* a : s) {
          const auto& e = M.edges[f];
          h[std::upper_bound(e.begin(), e.end(), a->f[f]) - e.begin()] += 1;
        }
        for (size_t b = 0; b < h.size(); ++b) acc[b] += h[b] / double(s.size()) / double(sel.size());
      }
      double z = 0;
      for (double& v : acc) z += (v = std::max(v, 1e-4));
      M.p[f].resize(acc.size());
      for (size_t b = 0; b < acc.size(); ++b) M.p[f][b] = float(acc[b] / z);
    }
    fit_pairs(M, sel, std::min(pairs, kMaxPairs));
    P.valid_ = true;  // provisional: normal_score() needs models_[m].q
    std::vector<double> Z;
    for (const auto& s : sel)
      for (const MouseAction* a : s)
        for (int f = 0; f < D; ++f) Z.push_back(P.normal_score(m, f, a->f[f]));
    std::vector<double> cov;
    mean_cov(Z, Z.size() / D, 0.0, &M.mu, &cov);
    M.cov.assign(cov.begin(), cov.end());
  }
  P.valid_ = !P.models_[3].q.empty();
  for (int m = 0; m < kOneClassModels; ++m) {
    const auto& e = P.models_[P.models_[m].q.empty() ? 3 : m].edges;
    for (int f = 0; f < D; ++f) P.weight[m][f] = (P.valid_ && !e[f].empty()) ? 1.f : 0.f;
    P.pair_weight[m].assign(P.models_[m].pairs.size(), 0.f);
  }
  return P;
}

std::vector<MouseAction> MousePopulation::sample(const std::vector<uint8_t>& type_of, uint32_t seed) const {
  std::vector<MouseAction> out;
  if (!valid_) return out;
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  std::array<std::vector<float>, kOneClassModels> L;
  std::array<bool, kOneClassModels> ok{};
  for (int m = 0; m < kOneClassModels; ++m) {
    if (models_[m].q.empty()) continue;
    std::vector<double> c(models_[m].cov.begin(), models_[m].cov.end());
    float ld;
    ok[m] = cholesky(c, D, &L[m], &ld);
  }
  if (!ok[3]) return out;
  for (uint8_t t : type_of) {
    int m = (t < 3 && ok[t]) ? t : 3;
    const Model& M = models_[m];
    double e[D], z[D];
    for (int i = 0; i < D; ++i) e[i] = nd(rng);
    for (int i = 0; i < D; ++i) {
      z[i] = M.mu[i];
      for (int k = 0; k <= i; ++k) z[i] += double(L[m][size_t(i) * D + k]) * e[k];
    }
    MouseAction a;
    a.type = ActionType(m < 3 ? m : (t < 3 ? t : 0));
    for (int f = 0; f < D; ++f) {
      const float* q = &M.q[size_t(f) * Q];
      double u = 0.5 * std::erfc(-z[f] / std::sqrt(2.0)) * (Q - 1);
      u = std::min(double(Q - 1), std::max(0.0, u));
      int i = std::min(Q - 2, int(u));
      double v = q[i] + (u - i) * (q[i + 1] - q[i]);
      int uniq = 1;
      for (int j = 1; j < Q; ++j) uniq += q[j] > q[j - 1];
      if (uniq < 12) {
        double best = q[0];
        for (int j = 1; j < Q; ++j)
          if (std::abs(q[j] - v) < std::abs(best - v)) best = q[j];
        v = best;
      }
      a.f[f] = float(v);
    }
    out.push_back(a);
  }
  return out;
}

std::vector<uint8_t> MousePopulation::serialize(uint32_t version) const {
  bool pairs = false;
  for (const Model& M : models_) pairs = pairs || !M.pairs.empty();
  if ((version != 2 && version != kVersion) || (version < 3 && pairs)) return {};
  std::vector<uint8_t> b = {'S', 'M', 'P', '1'};
  put32(b, version);
  put32(b, uint32_t(kMouseSchemaVersion));
  put32(b, uint32_t(D));
  for (const auto& wm : weight)
    for (float w : wm) putf(b, w);
  if (version >= 3)
    for (const auto& pw : pair_weight) putvec(b, pw);
  for (const Model& M : models_) {
    bool present = !M.q.empty();
    b.push_back(present ? 1 : 0);
    if (!present) continue;
    putvec(b, M.q);
    for (int f = 0; f < D; ++f) {
      putvec(b, M.edges[f]);
      putvec(b, M.p[f]);
    }
    putvec(b, M.mu);
    putvec(b, M.cov);
    if (version >= 3) put_pair_tables(b, M.pairs, M.joint);
  }
  return b;
}

bool MousePopulation::deserialize(const uint8_t* data, size_t len) {
  if (!data || len < 16 || std::memcmp(data, "SMP1", 4) != 0) return false;
  Reader r{data, len, 4};
  const uint32_t version = r.u32();
  if ((version != 2 && version != kVersion) || r.u32() != uint32_t(kMouseSchemaVersion) || r.u32() != uint32_t(D))
    return false;
  MousePopulation P;
  for (auto& wm : P.weight)
    for (float& w : wm) {
      w = r.f32();
      if (!r.ok || w < 0 || w > 1e3) return false;
    }
  if (version >= 3)
    for (auto& pw : P.pair_weight) {
      if (!r.vec(&pw, kMaxPairs)) return false;
      for (float w : pw)
        if (w < 0 || w > 1e3) return false;
    }
  for (Model& M : P.models_) {
    uint8_t present = r.u8();
    if (!r.ok || present > 1) return false;
    if (!present) continue;
    if (!r.vec(&M.q, size_t(D) * Q) || M.q.size() != size_t(D) * Q) return false;
    for (int f = 0; f < D; ++f)
      for (int i = 1; i < Q; ++i)
        if (M.q[size_t(f) * Q + i] < M.q[size_t(f) * Q + i - 1]) return false;
    M.edges.assign(D, {});
    M.p.assign(D, {});
    for (int f = 0; f < D; ++f) {
      if (!r.vec(&M.edges[f], Q) || !strictly_ascending(M.edges[f])) return false;
      if (!r.vec(&M.p[f], Q + 1) || M.p[f].size() != M.edges[f].size() + 1) return false;
      for (float v : M.p[f])
        if (!(v > 0 && v <= 1)) return false;
    }
    if (!r.vec(&M.mu, D) || M.mu.size() != size_t(D)) return false;
    if (!r.vec(&M.cov, size_t(D) * D) || M.cov.size() != size_t(D) * D) return false;
    std::vector<double> c(M.cov.begin(), M.cov.end());
    std::vector<float> L;
    float ld;
    if (!cholesky(c, D, &L, &ld)) return false;
    M.coarse.assign(D, {});
    for (int f = 0; f < D; ++f) M.coarse[f] = coarse_of_bins(M.q, M.edges[f], f);
    if (version >= 3) {
      if (!read_pair_tables(r, &M.pairs, &M.joint)) return false;
      for (const auto& j : M.joint)
        for (float v : j)
          if (!(v > 0 && v <= 1)) return false;
    }
  }
  if (!r.ok || r.off != len || P.models_[3].q.empty()) return false;
  for (int m = 0; m < kOneClassModels; ++m) {
    if (version < 3) P.pair_weight[m].assign(P.models_[m].pairs.size(), 0.f);
    if (P.pair_weight[m].size() != P.models_[m].pairs.size()) return false;
  }
  P.valid_ = true;
  *this = std::move(P);
  return true;
}

// ---------------------------------------------------------------- profile

int MouseOneClass::model_for(const MouseAction& a) const {
  int t = int(a.type);
  return (t >= 0 && t < 3 && m_[t].present) ? t : 3;
}

MouseOneClass MouseOneClass::build(const std::vector<const MouseAction*>& user, const MousePopulation* pop,
                                   const OneClassParams& p) {
  MouseOneClass o;
  o.p_ = p;
  const bool need_pop = p.method == OneClassMethod::kHistLlr || p.method == OneClassMethod::kGauss;
  if (need_pop && (!pop || !pop->valid())) return o;
  if (user.size() < 10) return o;
  for (int m = 0; m < kOneClassModels; ++m) {
    for (int f = 0; f < D; ++f) o.w_[m][f] = pop ? pop->weight[m][f] : 1.f;
    if (pop && p.method == OneClassMethod::kHistLlr) o.pw_[m] = pop->pair_weight[m];
  }
  if (p.method == OneClassMethod::kHistLlr) {
    // The quantised enrollment first (what add_sitting extends), then counts and models from it.
    o.codes_.resize(user.size() * kCodeBytes);
    for (size_t i = 0; i < user.size(); ++i) encode(*user[i], *pop, &o.codes_[i * kCodeBytes]);
    o.has_codes_ = true;
    o.counts_from_codes(*pop, 0, 0);
    o.hist_from_counts(*pop);
    return o;
  }
  std::vector<float> col;
  for (int m = 0; m < kOneClassModels; ++m) {
    std::vector<const MouseAction*> s;
    for (const MouseAction* a : user)
      if (is_type(*a, m)) s.push_back(a);
    size_t need = p.min_type_actions;
    if (p.method == OneClassMethod::kGauss) need = std::max<size_t>(need, 2 * D);
    if (m < 3 && s.size() < need) continue;
    if (m == 3 && s.size() < 10) return o;
    if (need_pop && pop->model(m).q.empty()) continue;  // (model 3 always exists)
    Model& M = o.m_[m];
    M.present = true;
    switch (p.method) {
      case OneClassMethod::kRobustZ:
      case OneClassMethod::kKnn: {
        M.med.assign(D, 0.f);
        M.scale.assign(D, 0.f);
        for (int f = 0; f < D; ++f) {
          col.clear();
          for (const MouseAction* a : s) col.push_back(a->f[f]);
          std::sort(col.begin(), col.end());
          double med = quantile_sorted(col, 0.5);
          std::vector<float> dev;
          for (float v : col) dev.push_back(float(std::abs(v - med)));
          std::sort(dev.begin(), dev.end());
          double sc = 1.4826 * quantile_sorted(dev, 0.5);
          if (!(sc > 0)) sc = (quantile_sorted(col, 0.9) - quantile_sorted(col, 0.1)) / 2.563;
          if (!(sc > 1e-9)) sc = 0;
          M.med[f] = float(med);
          M.scale[f] = float(sc);
        }
        if (p.method == OneClassMethod::kKnn) {
          size_t first = s.size() > p.max_knn_rows ? s.size() - p.max_knn_rows : 0;
          for (size_t i = first; i < s.size(); ++i)
            for (int f = 0; f < D; ++f) {
              double z = M.scale[f] > 0 ? (s[i]->f[f] - M.med[f]) / M.scale[f] : 0;
              M.rows.push_back(float(std::max(-p.zclip, std::min(p.zclip, z))));
            }
        }
        break;
      }
      case OneClassMethod::kHistLlr:
        break;  // not reached: built from the quantised enrollment above
      case OneClassMethod::kGauss: {
        const auto& PM = pop->model(m);
        M.q = PM.q;
        std::vector<double> Z;
        for (const MouseAction* a : s)
          for (int f = 0; f < D; ++f) Z.push_back(pop->normal_score(m, f, a->f[f]));
        std::vector<double> cov;
        mean_cov(Z, s.size(), p.shrink, &M.mu_u, &cov);
        if (!cholesky(cov, D, &M.L_u, &M.ld_u)) { M = Model(); continue; }
        M.mu_p = PM.mu;
        std::vector<double> pc(PM.cov.begin(), PM.cov.end());
        if (!cholesky(pc, D, &M.L_p, &M.ld_p)) { M = Model(); continue; }
        break;
      }
    }
  }
  o.valid_ = o.m_[3].present;
  return o;
}

void MouseOneClass::encode(const MouseAction& a, const MousePopulation& pop, uint8_t* rec) {
  const int t = int(a.type);
  rec[0] = uint8_t(t);
  for (int f = 0; f < D; ++f) {
    rec[1 + f] = (t < 3 && !pop.model(t).q.empty()) ? uint8_t(pop.bin_of(t, f, a.f[f])) : kNoBin;
    rec[1 + D + f] = uint8_t(pop.bin_of(3, f, a.f[f]));
  }
}

void MouseOneClass::counts_from_codes(const MousePopulation& pop, size_t skip_b, size_t skip_e) {
  for (int m = 0; m < kOneClassModels; ++m) {
    HistCounts& C = counts_[m];
    C = HistCounts();
    if (pop.model(m).q.empty()) continue;
    C.c.assign(D, {});
    for (int f = 0; f < D; ++f) C.c[f].assign(pop.model(m).p[f].size(), 0.f);
    C.pc.assign(pop.model(m).pairs.size(), std::vector<float>(kPairCells, 0.f));
  }
  const size_t N = codes_.size() / kCodeBytes;
  for (size_t i = 0; i < N; ++i) {
    if (i >= skip_b && i < skip_e) continue;
    const uint8_t* rec = &codes_[i * kCodeBytes];
    for (int m : {int(rec[0]), 3}) {
      HistCounts& C = counts_[m];
      if (C.c.empty()) continue;
      const uint8_t* bins = rec + (m == 3 ? 1 + D : 1);
      ++C.n;
      for (int f = 0; f < D; ++f) C.c[f][bins[f]] += 1.f;
      const auto& PM = pop.model(m);
      for (size_t k = 0; k < PM.pairs.size(); ++k) C.pc[k][pair_cell(PM.coarse, PM.pairs[k], bins)] += 1.f;
    }
  }
}

double MouseOneClass::hist_score(int mi, const uint8_t* bins) const {
  const Model& M = m_[mi];
  double s = 0;
  for (int f = 0; f < D; ++f)
    if (w_[mi][f] != 0) s += w_[mi][f] * M.llr[f][bins[f]];
  for (size_t k = 0; k < M.pairs.size(); ++k)
    if (pw_[mi][k] != 0) s += pw_[mi][k] * M.pair_llr[k][pair_cell(M.coarse, M.pairs[k], bins)];
  return std::max(-p_.clip, std::min(p_.clip, s));
}

double MouseOneClass::code_raw_score(const uint8_t* rec) const {
  const int t = rec[0];
  const int mi = m_[t].present ? t : 3;
  return hist_score(mi, rec + (mi == 3 ? 1 + D : 1));
}

std::vector<double> MouseOneClass::code_leave_out_blocks(const MousePopulation& pop, size_t n) const {
  std::vector<double> out;
  const size_t N = codes_.size() / kCodeBytes, K = 4;
  MouseOneClass m = *this;
  for (size_t c = 0; c < K; ++c) {
    size_t b = c * N / K, e = (c + 1) * N / K;
    m.counts_from_codes(pop, b, e);
    m.hist_from_counts(pop);
    if (!m.valid_) continue;
    std::vector<double> r;
    for (size_t i = b; i < e; ++i) r.push_back(m.code_raw_score(&codes_[i * kCodeBytes]));
    append_block_means(r, n, &out);
  }
  return out;
}

void MouseOneClass::hist_from_counts(const MousePopulation& pop) {
  for (Model& M : m_) M = Model();
  valid_ = false;
  if (counts_[3].n < 10) return;
  for (int m = 0; m < kOneClassModels; ++m) {
    const HistCounts& C = counts_[m];
    if (C.c.empty() || (m < 3 && C.n < p_.min_type_actions)) continue;
    const auto& PM = pop.model(m);
    Model& M = m_[m];
    M.present = true;
    M.edges = PM.edges;
    M.llr.assign(D, {});
    const double n = double(C.n), al = p_.alpha;
    for (int f = 0; f < D; ++f) {
      M.llr[f].resize(C.c[f].size());
      for (size_t b = 0; b < C.c[f].size(); ++b) {
        double pu = (C.c[f][b] + al * PM.p[f][b]) / (n + al);
        M.llr[f][b] = float(std::log(pu / PM.p[f][b]));
      }
    }
    // Pair terms: the joint's log ratio minus its two coarse marginals' (both from the joint
    // tables, smoothed the same way), so a pair adds only what the marginals do not say.
    M.coarse = PM.coarse;
    M.pairs = PM.pairs;
    M.pair_llr.assign(PM.pairs.size(), std::vector<float>(kPairCells, 0.f));
    const double pal =
        p_.pair_alpha_ref > 0 ? p_.pair_alpha * std::pow(p_.pair_alpha_ref / n, p_.pair_alpha_power) : p_.pair_alpha;
    for (size_t k = 0; k < PM.pairs.size(); ++k) {
      const auto& pj = PM.joint[k];
      const auto& cj = C.pc[k];
      double pf[kPairBins] = {}, pg[kPairBins] = {}, cf[kPairBins] = {}, cg[kPairBins] = {};
      for (int a = 0; a < kPairBins; ++a)
        for (int b = 0; b < kPairBins; ++b) {
          pf[a] += pj[a * kPairBins + b];
          pg[b] += pj[a * kPairBins + b];
          cf[a] += cj[a * kPairBins + b];
          cg[b] += cj[a * kPairBins + b];
        }
      for (int a = 0; a < kPairBins; ++a)
        for (int b = 0; b < kPairBins; ++b) {
          const int c = a * kPairBins + b;
          double lj = std::log((cj[c] + pal * pj[c]) / (n + pal) / pj[c]);
          double lf = std::log((cf[a] + pal * pf[a]) / (n + pal) / pf[a]);
          double lg = std::log((cg[b] + pal * pg[b]) / (n + pal) / pg[b]);
          M.pair_llr[k][c] = float(lj - lf - lg);
        }
    }
  }
  valid_ = m_[3].present;
}

double MouseOneClass::raw_score(const MouseAction& a) const {
  const int mi = model_for(a);
  const Model& M = m_[mi];
  const auto& w_ = this->w_[mi];
  switch (p_.method) {
    case OneClassMethod::kRobustZ: {
      double s = 0;
      int n = 0;
      for (int f = 0; f < D; ++f) {
        if (!(M.scale[f] > 0) || w_[f] <= 0) continue;
        s += std::min(p_.zclip, std::abs(a.f[f] - M.med[f]) / double(M.scale[f]));
        ++n;
      }
      return n ? -s / n : 0;
    }
    case OneClassMethod::kKnn: {
      float z[D];
      int used = 0;
      for (int f = 0; f < D; ++f) {
        double v = M.scale[f] > 0 ? (a.f[f] - M.med[f]) / M.scale[f] : 0;
        z[f] = float(std::max(-p_.zclip, std::min(p_.zclip, v)));
        used += M.scale[f] > 0;
      }
      const size_t rows = M.rows.size() / D;
      const size_t k = std::min<size_t>(size_t(std::max(1, p_.knn_k)), rows);
      std::vector<float> best(k, 1e30f);  // ascending
      for (size_t r = 0; r < rows; ++r) {
        const float* x = &M.rows[r * D];
        float d = 0;
        for (int f = 0; f < D; ++f) d += std::abs(z[f] - x[f]);
        if (d < best[k - 1]) {
          size_t j = k - 1;
          while (j > 0 && best[j - 1] > d) { best[j] = best[j - 1]; --j; }
          best[j] = d;
        }
      }
      double s = 0;
      for (float d : best) s += d;
      return k ? -s / double(k) / std::max(used, 1) : 0;
    }
    case OneClassMethod::kHistLlr: {
      uint8_t bins[D];
      bins_of(M.edges, a, bins);
      return hist_score(mi, bins);
    }
    case OneClassMethod::kGauss: {
      double z[D];
      const double lo_u = 0.25 / (Q - 1), hi_u = 1 - lo_u;
      for (int f = 0; f < D; ++f) {
        const float* q = &M.q[size_t(f) * Q];
        float v = a.f[f];
        double u;
        if (v < q[0]) u = lo_u;
        else if (v > q[Q - 1]) u = hi_u;
        else {
          int lo = int(std::lower_bound(q, q + Q, v) - q);
          int hi = int(std::upper_bound(q, q + Q, v) - q) - 1;
          if (lo <= hi) u = 0.5 * (lo + hi) / (Q - 1);
          else u = (hi + (v - q[hi]) / (q[lo] - q[hi])) / (Q - 1);
        }
        z[f] = inv_norm(std::min(hi_u, std::max(lo_u, u)));
      }
      double s = -0.5 * (mahal2(M.L_u, M.mu_u, z) - mahal2(M.L_p, M.mu_p, z)) - 0.5 * (M.ld_u - M.ld_p);
      return std::max(-p_.clip, std::min(p_.clip, s));
    }
  }
  return 0;
}

void MouseOneClass::hist_terms(const MouseAction& a, int m, std::vector<float>* out) const {
  out->clear();
  if (!valid_ || p_.method != OneClassMethod::kHistLlr || m < 0 || m >= kOneClassModels || !m_[m].present) return;
  const Model& M = m_[m];
  uint8_t bins[D];
  bins_of(M.edges, a, bins);
  for (int f = 0; f < D; ++f) out->push_back(M.llr[f][bins[f]]);
  for (size_t k = 0; k < M.pairs.size(); ++k) out->push_back(M.pair_llr[k][pair_cell(M.coarse, M.pairs[k], bins)]);
}

double MouseOneClass::action_score(const MouseAction& a) const {
  if (!valid_) return 0;
  return (raw_score(a) - norm_mean_) / norm_sd_;
}

double MouseOneClass::block_score(const MouseAction* a, size_t n) const {
  if (n == 0) return 0;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += action_score(a[i]);
  return s / double(n);
}

// Raw leave-out scores: 4 contiguous chunks, each scored by a model from the
// other three. n == 0: per action; n > 0: block means (stride max(1, n/4)).
std::vector<double> MouseOneClass::leave_out_scores(const std::vector<MouseAction>& user,
                                                    const MousePopulation* pop, size_t n) const {
  std::vector<double> out;
  OneClassParams p = p_;
  p.self_norm = false;
  const size_t N = user.size(), K = 4;
  for (size_t c = 0; c < K; ++c) {
    size_t b = c * N / K, e = (c + 1) * N / K;
    std::vector<const MouseAction*> rest;
    for (size_t i = 0; i < N; ++i)
      if (i < b || i >= e) rest.push_back(&user[i]);
    MouseOneClass m = build(rest, pop, p);
    if (!m.valid_) continue;
    if (n == 0) {
      for (size_t i = b; i < e; ++i) out.push_back(m.raw_score(user[i]));
    } else {
      std::vector<double> r;
      for (size_t i = b; i < e; ++i) r.push_back(m.raw_score(user[i]));
      append_block_means(r, n, &out);
    }
  }
  return out;
}

MouseOneClass MouseOneClass::enroll(const std::vector<MouseAction>& user, const MousePopulation* pop,
                                    const OneClassParams& p) {
  std::vector<const MouseAction*> all;
  for (const MouseAction& a : user) all.push_back(&a);
  MouseOneClass o = build(all, pop, p);
  if (o.has_codes_) {
    o.pop_hash_ = pop->fingerprint();
    o.sittings_ = 1;
  }
  if (o.valid_ && p.self_norm) {
    std::vector<double> s = o.leave_out_scores(user, pop, 0);
    if (s.size() >= 2) {
      double m = 0, v = 0;
      for (double x : s) m += x;
      m /= double(s.size());
      for (double x : s) v += (x - m) * (x - m);
      v /= double(s.size() - 1);
      o.norm_mean_ = m;
      o.norm_sd_ = std::max(1e-6, std::sqrt(v));
    }
  }
  return o;
}

double MouseOneClass::calibrate(const std::vector<MouseAction>& enrollment, const MousePopulation* pop,
                                size_t n, double frr) {
  calib_.clear();
  if (!valid_ || n == 0) return threshold;
  for (double s : leave_out_scores(enrollment, pop, n)) calib_.push_back((s - norm_mean_) / norm_sd_);
  if (!calib_.empty()) threshold = threshold_for_frr(calib_, frr);
  return threshold;
}

uint64_t MousePopulation::fingerprint() const { return fnv1a(serialize()); }

bool MouseOneClass::enrolled_with(const MousePopulation& pop) const {
  return has_codes_ && pop.valid() && pop.fingerprint() == pop_hash_;
}

bool MouseOneClass::add_sitting(const std::vector<MouseAction>& sitting, const MousePopulation* pop, size_t n,
                                double frr, const char** why, size_t max_actions) {
  const char* dummy;
  if (!why) why = &dummy;
  if (!valid_ || !has_codes_ || p_.method != OneClassMethod::kHistLlr || p_.self_norm) {
    *why = "the profile keeps no quantised enrollment (written before sittings could be added, or not the histogram method)";
    return false;
  }
  if (!pop || !enrolled_with(*pop)) {
    *why = "the population model differs from the one the profile was enrolled with";
    return false;
  }
  if (n == 0 || sitting.size() < n) {
    *why = "the sitting holds fewer actions than one scoring block";
    return false;
  }
  MouseOneClass o = *this;
  const size_t old = o.codes_.size();
  o.codes_.resize(old + sitting.size() * kCodeBytes);
  for (size_t i = 0; i < sitting.size(); ++i) encode(sitting[i], *pop, &o.codes_[old + i * kCodeBytes]);
  if (max_actions > 0 && o.codes_.size() > max_actions * kCodeBytes)
    o.codes_.erase(o.codes_.begin(), o.codes_.end() - long(max_actions * kCodeBytes));
  o.counts_from_codes(*pop, 0, 0);
  o.hist_from_counts(*pop);
  if (!o.valid_) {
    *why = "the model could not be rebuilt from the added sitting";
    return false;
  }
  o.calib_ = o.code_leave_out_blocks(*pop, n);
  if (o.calib_.empty()) {
    *why = "too few actions to calibrate";
    return false;
  }
  o.threshold = threshold_for_frr(o.calib_, frr);
  o.sittings_ = sittings_ + 1;
  *this = std::move(o);
  return true;
}

std::vector<uint8_t> MouseOneClass::serialize(uint32_t version) const {
  bool pairs = false;
  for (const Model& M : m_) pairs = pairs || !M.pairs.empty();
  if (version < 2 || version > kVersion || (version < 4 && pairs) || (version < 3 && has_codes_)) return {};
  std::vector<uint8_t> b = {'S', 'M', 'O', '1'};
  put32(b, version);
  put32(b, uint32_t(kMouseSchemaVersion));
  b.push_back(valid_ ? 1 : 0);
  b.push_back(uint8_t(p_.method));
  put32(b, uint32_t(p_.knn_k));
  put32(b, uint32_t(p_.max_knn_rows));
  put32(b, uint32_t(p_.min_type_actions));
  putd(b, p_.alpha);
  putd(b, p_.shrink);
  putd(b, p_.clip);
  putd(b, p_.zclip);
  b.push_back(p_.self_norm ? 1 : 0);
  for (const auto& wm : w_)
    for (float w : wm) putf(b, w);
  if (version >= 4) {
    putd(b, p_.pair_alpha);
    putd(b, p_.pair_alpha_ref);
    putd(b, p_.pair_alpha_power);
    for (const auto& pw : pw_) putvec(b, pw);
  }
  putd(b, norm_mean_);
  putd(b, norm_sd_);
  putd(b, threshold);
  for (const Model& M : m_) {
    b.push_back(M.present ? 1 : 0);
    if (!M.present) continue;
    putvec(b, M.med);
    putvec(b, M.scale);
    putvec(b, M.rows);
    put32(b, uint32_t(M.edges.size()));
    for (size_t f = 0; f < M.edges.size(); ++f) {
      putvec(b, M.edges[f]);
      putvec(b, M.llr[f]);
    }
    putvec(b, M.q);
    putvec(b, M.mu_u);
    putvec(b, M.L_u);
    putvec(b, M.mu_p);
    putvec(b, M.L_p);
    putf(b, M.ld_u);
    putf(b, M.ld_p);
    if (version < 4) continue;
    // version 4: the pair terms (kHistLlr; empty otherwise)
    put32(b, uint32_t(M.coarse.size()));
    for (const auto& c : M.coarse) putblob(b, c);
    put_pair_tables(b, M.pairs, M.pair_llr);
  }
  if (version < 3) return b;
  // version 3: the quantised enrollment (kHistLlr)
  b.push_back(has_codes_ ? 1 : 0);
  if (has_codes_) {
    put32(b, sittings_);
    put64(b, pop_hash_);
    put32(b, uint32_t(codes_.size() / kCodeBytes));
    b.insert(b.end(), codes_.begin(), codes_.end());
  }
  return b;
}

bool MouseOneClass::deserialize(const uint8_t* data, size_t len) {
  if (!data || len < 16 || std::memcmp(data, "SMO1", 4) != 0) return false;
  Reader r{data, len, 4};
  const uint32_t version = r.u32();
  if ((version < 2 || version > kVersion) || r.u32() != uint32_t(kMouseSchemaVersion)) return false;
  MouseOneClass o;
  uint8_t valid = r.u8(), method = r.u8();
  if (!r.ok || valid > 1 || method > uint8_t(OneClassMethod::kGauss)) return false;
  o.p_.method = OneClassMethod(method);
  o.p_.knn_k = int(r.u32());
  o.p_.max_knn_rows = r.u32();
  o.p_.min_type_actions = r.u32();
  o.p_.alpha = r.f64();
  o.p_.shrink = r.f64();
  o.p_.clip = r.f64();
  o.p_.zclip = r.f64();
  uint8_t sn = r.u8();
  if (!r.ok || sn > 1 || o.p_.knn_k < 1 || o.p_.knn_k > 1000 || !(o.p_.clip > 0) || !(o.p_.zclip > 0) ||
      o.p_.alpha < 0 || o.p_.shrink < 0 || o.p_.shrink > 1)
    return false;
  o.p_.self_norm = sn;
  for (auto& wm : o.w_)
    for (float& w : wm) w = r.f32();
  if (version >= 4) {
    o.p_.pair_alpha = r.f64();
    o.p_.pair_alpha_ref = r.f64();
    o.p_.pair_alpha_power = r.f64();
    if (!r.ok || o.p_.pair_alpha < 0 || o.p_.pair_alpha_ref < 0 || o.p_.pair_alpha_power < 0 || o.p_.pair_alpha_power > 8)
      return false;
    for (auto& pw : o.pw_) {
      if (!r.vec(&pw, kMaxPairs)) return false;
      for (float w : pw)
        if (w < 0) return false;
    }
  }
  o.norm_mean_ = r.f64();
  o.norm_sd_ = r.f64();
  o.threshold = r.f64();
  if (!r.ok || !(o.norm_sd_ > 0)) return false;
  const size_t big = len;  // no vector can be longer than the input
  for (Model& M : o.m_) {
    uint8_t present = r.u8();
    if (!r.ok || present > 1) return false;
    M.present = present;
    if (!present) continue;
    uint32_t nf = 0;
    if (!r.vec(&M.med, D) || !r.vec(&M.scale, D) || !r.vec(&M.rows, big)) return false;
    nf = r.u32();
    if (!r.ok || (nf != 0 && nf != uint32_t(D))) return false;
    M.edges.assign(nf, {});
    M.llr.assign(nf, {});
    for (uint32_t f = 0; f < nf; ++f) {
      if (!r.vec(&M.edges[f], Q) || !strictly_ascending(M.edges[f])) return false;
      if (!r.vec(&M.llr[f], Q + 1) || M.llr[f].size() != M.edges[f].size() + 1) return false;
    }
    if (!r.vec(&M.q, size_t(D) * Q) || !r.vec(&M.mu_u, D) || !r.vec(&M.L_u, size_t(D) * D) ||
        !r.vec(&M.mu_p, D) || !r.vec(&M.L_p, size_t(D) * D))
      return false;
    M.ld_u = r.f32();
    M.ld_p = r.f32();
    if (!r.ok) return false;
    if (version >= 4) {
      const uint32_t nc = r.u32();
      if (!r.ok || nc != (o.p_.method == OneClassMethod::kHistLlr ? nf : 0)) return false;
      M.coarse.assign(nc, {});
      for (uint32_t f = 0; f < nc; ++f) {
        size_t n = 0;
        const uint8_t* c = r.blob(&n);
        if (!c || !valid_coarse(c, n, M.llr[f].size())) return false;
        M.coarse[f].assign(c, c + n);
      }
      if (!read_pair_tables(r, &M.pairs, &M.pair_llr) || (!M.pairs.empty() && nc == 0)) return false;
    }
    switch (o.p_.method) {
      case OneClassMethod::kRobustZ:
      case OneClassMethod::kKnn:
        if (M.med.size() != size_t(D) || M.scale.size() != size_t(D)) return false;
        for (float s : M.scale)
          if (s < 0) return false;
        if (o.p_.method == OneClassMethod::kKnn && (M.rows.empty() || M.rows.size() % D != 0)) return false;
        break;
      case OneClassMethod::kHistLlr:
        if (nf != uint32_t(D)) return false;
        break;
      case OneClassMethod::kGauss:
        if (M.q.size() != size_t(D) * Q || M.mu_u.size() != size_t(D) || M.mu_p.size() != size_t(D) ||
            M.L_u.size() != size_t(D) * D || M.L_p.size() != size_t(D) * D)
          return false;
        for (int f = 0; f < D; ++f) {
          for (int i = 1; i < Q; ++i)
            if (M.q[size_t(f) * Q + i] < M.q[size_t(f) * Q + i - 1]) return false;
          if (!(M.L_u[size_t(f) * D + f] > 0) || !(M.L_p[size_t(f) * D + f] > 0)) return false;
        }
        break;
    }
  }
  for (int m = 0; m < kOneClassModels; ++m)  // (an absent model keeps the population's weights)
    if (o.m_[m].present && o.pw_[m].size() != o.m_[m].pairs.size()) return false;
  if (version >= 3) {
    uint8_t hc = r.u8();
    if (!r.ok || hc > 1 || (hc && (o.p_.method != OneClassMethod::kHistLlr || !valid))) return false;
    if (hc) {
      o.has_codes_ = true;
      o.sittings_ = r.u32();
      o.pop_hash_ = r.u64();
      const uint32_t N = r.u32();
      if (!r.ok || o.sittings_ == 0 || N < 10 || r.left() / kCodeBytes < N) return false;
      o.codes_.assign(data + r.off, data + r.off + size_t(N) * kCodeBytes);
      r.off += size_t(N) * kCodeBytes;
      // Every bin must exist in the model that would read it.
      for (size_t i = 0; i < N; ++i) {
        const uint8_t* rec = &o.codes_[i * kCodeBytes];
        if (rec[0] > 2) return false;
        const Model& T = o.m_[rec[0]];
        for (int f = 0; f < D; ++f) {
          if (rec[1 + D + f] >= o.m_[3].llr[f].size()) return false;
          if (T.present ? rec[1 + f] >= T.llr[f].size() : (rec[1 + f] != kNoBin && rec[1 + f] > Q)) return false;
        }
      }
    }
  }
  if (r.off != len) return false;
  if (valid && !o.m_[3].present) return false;
  o.valid_ = valid;
  *this = std::move(o);
  return true;
}

}  // namespace bio
}  // namespace sentinel

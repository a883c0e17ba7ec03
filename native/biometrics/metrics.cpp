#include "metrics.h"

#include <algorithm>
#include <cmath>

namespace sentinel {
namespace bio {

RocSummary roc_summary(std::vector<double> g, std::vector<double> im) {
  RocSummary r;
  r.n_genuine = g.size();
  r.n_impostor = im.size();
  if (g.empty() || im.empty()) return r;
  std::sort(g.begin(), g.end());
  std::sort(im.begin(), im.end());
  // AUC by merge (Mann-Whitney with ties = 1/2).
  double wins = 0;
  size_t lo = 0, hi = 0;
  for (double s : g) {
    while (lo < im.size() && im[lo] < s) ++lo;
    hi = std::max(hi, lo);
    while (hi < im.size() && im[hi] <= s) ++hi;
    wins += double(lo) + 0.5 * double(hi - lo);
  }
  r.auc = wins / (double(g.size()) * double(im.size()));
  // EER: sweep candidate thresholds (all distinct scores), accept if s >= t.
  std::vector<double> th(g);
  th.insert(th.end(), im.begin(), im.end());
  std::sort(th.begin(), th.end());
  th.erase(std::unique(th.begin(), th.end()), th.end());
  th.push_back(th.back() + 1.0);
  double prev_far = 1, prev_frr = 0, prev_t = th.front();
  bool found = false;
  for (double t : th) {
    double frr = double(std::lower_bound(g.begin(), g.end(), t) - g.begin()) / g.size();
    double far = double(im.end() - std::lower_bound(im.begin(), im.end(), t)) / im.size();
    if (frr >= far) {
      // interpolate between previous point (far>frr) and this one
      double d0 = prev_far - prev_frr, d1 = frr - far;
      double a = (d0 + d1) > 0 ? d0 / (d0 + d1) : 0.0;
      r.eer = prev_far + a * (far - prev_far);
      double e2 = prev_frr + a * (frr - prev_frr);
      r.eer = 0.5 * (r.eer + e2);
      r.eer_threshold = prev_t + a * (t - prev_t);
      found = true;
      break;
    }
    prev_far = far; prev_frr = frr; prev_t = t;
  }
  if (!found) { r.eer = 0.5; }
  return r;
}

OperatingPoint at_threshold(const std::vector<double>& g, const std::vector<double>& im,
                            double t) {
  OperatingPoint op;
  size_t rej = 0, acc = 0;
  for (double s : g) rej += s < t;
  for (double s : im) acc += s >= t;
  op.frr = g.empty() ? 0 : double(rej) / g.size();
  op.far = im.empty() ? 0 : double(acc) / im.size();
  return op;
}

double threshold_for_frr(std::vector<double> g, double frr) {
  if (g.empty()) return 0;
  std::sort(g.begin(), g.end());
  double pos = frr * (g.size() - 1);
  size_t i = size_t(std::floor(pos));
  if (i + 1 >= g.size()) return g.back();
  double a = pos - i;
  return g[i] * (1 - a) + g[i + 1] * a;
}

double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

void append_block_means(const std::vector<double>& r, size_t n, std::vector<double>* out) {
  for (size_t s = 0; s + n <= r.size(); s += std::max<size_t>(1, n / 4)) {
    double t = 0;
    for (size_t i = s; i < s + n; ++i) t += r[i];
    out->push_back(t / double(n));
  }
}

bool StridedBlockMean::push(double x, double* mean) {
  win_.push_back(x);
  if (win_.size() > n_) win_.erase(win_.begin());
  if (win_.size() < n_ || ++since_ < stride_) return false;
  since_ = 0;
  double sum = 0;
  for (double v : win_) sum += v;
  *mean = sum / double(n_);
  return true;
}

}  // namespace bio
}  // namespace sentinel

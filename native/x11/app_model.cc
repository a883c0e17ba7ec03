// Per-user active-application model; the contract is in app_model.h.
#include "app_model.h"

#include "../biometrics/le_bytes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace sentinel::x11 {

using bio::put32;
using bio::put64;
using bio::put8;
using bio::putd;
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMinVar = 0.05;       // floor of the ln-dwell variance (about ±22% in seconds)
constexpr double kMinDwellS = 0.05;    // dwell floor before the log (sub-frame focus flicker)
constexpr char kMagic[4] = {'S', 'A', 'P', 'M'};

double logNormal(double x, double mu, double var) { return -0.5 * (std::log(2 * kPi * var) + (x - mu) * (x - mu) / var); }

}  // namespace

std::vector<AppModel::Transition> AppModel::transitionsOf(const std::vector<AppVisit>& v, double maxGapS) {
  std::vector<Transition> out;
  if (v.empty()) return out;
  size_t cur = 0;  // start of the visit in progress
  for (size_t i = 1; i < v.size(); i++) {
    double dt = (v[i].t_us - v[i - 1].t_us) / 1e6;
    if (!(dt >= 0) || !std::isfinite(v[i].t_us) || v[i].hour > 23 || dt > maxGapS) {
      cur = i;  // a gap or a bad record: the chain restarts here
      continue;
    }
    if (v[i].app == v[cur].app) continue;  // same app again: the visit goes on
    double dwell = (v[i].t_us - v[cur].t_us) / 1e6;
    if (dwell <= maxGapS) out.push_back(Transition{v[cur].app, v[i].app, v[i].hour, dwell});
    cur = i;
  }
  return out;
}

void AppModel::derive() {
  fromAll_.clear();
  fromHour_.clear();
  for (const auto& [k, c] : pairAll_) fromAll_[k.first] += c;
  for (const auto& [k, c] : pairHour_) fromHour_[{std::get<0>(k), std::get<1>(k)}] += c;
}

void AppModel::build(const std::vector<Transition>& ts) {
  pairAll_.clear();
  pairHour_.clear();
  dwell_.clear();
  dwellAll_ = Dwell();
  std::set<uint64_t> apps;
  for (const Transition& t : ts) {
    pairAll_[{t.from, t.to}]++;
    pairHour_[{t.hour, t.from, t.to}]++;
    double x = std::log(std::max(t.dwellS, kMinDwellS));
    dwell_[t.from].add(x);
    dwellAll_.add(x);
    apps.insert(t.from);
    apps.insert(t.to);
  }
  vocab_ = uint32_t(apps.size() + 1);  // + 1: every app never seen at enrollment
  total_ = ts.size();
  derive();
}

void AppModel::adjust(const Transition& t, int sign) {
  auto bump = [sign](auto& map, const auto& key) {
    auto it = map.find(key);
    if (sign > 0) {
      if (it == map.end()) map.emplace(key, 1);
      else it->second++;
    } else if (it != map.end() && --it->second == 0) {
      map.erase(it);
    }
  };
  bump(pairAll_, std::make_pair(t.from, t.to));
  bump(pairHour_, std::make_tuple(t.hour, t.from, t.to));
  bump(fromAll_, t.from);
  bump(fromHour_, std::make_pair(t.hour, t.from));
  double x = std::log(std::max(t.dwellS, kMinDwellS));
  if (sign > 0) {
    dwell_[t.from].add(x);
    dwellAll_.add(x);
  } else {
    auto d = dwell_.find(t.from);
    if (d != dwell_.end()) {
      if (d->second.n <= 1) dwell_.erase(d);
      else d->second.remove(x);
    }
    if (dwellAll_.n > 1) dwellAll_.remove(x);
    else dwellAll_ = Dwell();
  }
  total_ = uint64_t(int64_t(total_) + sign);
}

double AppModel::llr(const Transition& t) const {
  const double V = double(vocab_);
  auto pa = pairAll_.find({t.from, t.to});
  auto fa = fromAll_.find(t.from);
  double cab = pa == pairAll_.end() ? 0 : pa->second;
  double ca = fa == fromAll_.end() ? 0 : double(fa->second);
  double pAll = (cab + 1) / (ca + V);
  auto ph = pairHour_.find({t.hour, t.from, t.to});
  auto fh = fromHour_.find({t.hour, t.from});
  double chab = ph == pairHour_.end() ? 0 : ph->second;
  double cha = fh == fromHour_.end() ? 0 : double(fh->second);
  double p = (chab + beta_ * pAll) / (cha + beta_);
  double trans = std::log(p * V);

  // Dwell: app-specific ln-dwell Gaussian shrunk towards the pooled one.
  double x = std::log(std::max(t.dwellS, kMinDwellS));
  double gVar = dwellAll_.n > 1 ? std::max(dwellAll_.m2 / double(dwellAll_.n - 1), kMinVar) : 1.0;
  double gMu = dwellAll_.n ? dwellAll_.mean : x;
  double mu = gMu, var = gVar;
  auto d = dwell_.find(t.from);
  if (d != dwell_.end()) {
    double n = double(d->second.n), k = kDwellPrior;
    mu = (n * d->second.mean + k * gMu) / (n + k);
    var = std::max((d->second.m2 + k * gVar) / (n + k), kMinVar);
  }
  return trans + logNormal(x, mu, var) - logNormal(x, gMu, gVar);
}

AppScore AppModel::score(const std::vector<AppVisit>& visits) const {
  AppScore s;
  double sum = 0;
  for (const Transition& t : transitionsOf(visits, maxGapS_)) {
    sum += llr(t);
    s.transitions++;
  }
  s.score = s.transitions ? sum / s.transitions : std::numeric_limits<double>::quiet_NaN();
  return s;
}

bool AppModel::enroll(const std::vector<AppVisit>& visits, const AppModelOptions& opt, AppModel* out, std::string* err) {
  if (!(opt.maxGapS > 0 && std::isfinite(opt.maxGapS)) || !(opt.beta > 0 && std::isfinite(opt.beta)) ||
      opt.windowTransitions < 2 || !(opt.frr > 0 && opt.frr < 1)) {
    *err = "app model options out of range (maxGapS > 0, beta > 0, windowTransitions >= 2, 0 < frr < 1)";
    return false;
  }
  for (size_t i = 0; i < visits.size(); i++) {
    if (visits[i].hour > 23) {
      *err = "visit " + std::to_string(i) + ": hour must be 0..23";
      return false;
    }
    if (!std::isfinite(visits[i].t_us) || (i && visits[i].t_us < visits[i - 1].t_us)) {
      *err = "visit " + std::to_string(i) + ": times must be finite and non-decreasing";
      return false;
    }
  }
  std::vector<Transition> ts = transitionsOf(visits, opt.maxGapS);
  if (ts.empty()) {
    *err = "enrollment holds no app transition";
    return false;
  }
  AppModel m;
  m.beta_ = opt.beta;
  m.maxGapS_ = opt.maxGapS;
  m.threshold_ = std::numeric_limits<double>::quiet_NaN();

  m.build(ts);
  // Leave-one-window-out genuine scores for the threshold: each window is taken out of the
  // counts, scored against the rest (with the vocabulary of the rest), and put back.
  const size_t W = opt.windowTransitions, K = ts.size() / W;
  if (K >= 5) {
    std::map<uint64_t, uint64_t> refs;  // transitions each app takes part in
    for (const Transition& t : ts) refs[t.from]++, refs[t.to]++;
    const uint32_t fullVocab = m.vocab_;
    std::vector<double> scores;
    scores.reserve(K);
    for (size_t k = 0; k < K; k++) {
      uint32_t gone = 0;
      for (size_t i = k * W; i < (k + 1) * W; i++) {
        m.adjust(ts[i], -1);
        gone += (--refs[ts[i].from] == 0) + (--refs[ts[i].to] == 0);
      }
      m.vocab_ = fullVocab - gone;
      double sum = 0;
      for (size_t i = k * W; i < (k + 1) * W; i++) sum += m.llr(ts[i]);
      scores.push_back(sum / double(W));
      for (size_t i = k * W; i < (k + 1) * W; i++) {
        m.adjust(ts[i], +1);
        refs[ts[i].from]++, refs[ts[i].to]++;
      }
      m.vocab_ = fullVocab;
    }
    std::sort(scores.begin(), scores.end());
    // The frr-quantile (lower interpolation): about frr of genuine windows fall below it.
    size_t idx = size_t(std::floor(opt.frr * double(K)));
    m.threshold_ = scores[std::min(idx, K - 1)];
    m.calWindows_ = uint32_t(K);
    m.build(ts);  // exact tables again (the downdates leave rounding in the dwell moments)
  }
  *out = std::move(m);
  return true;
}

std::vector<uint8_t> AppModel::serialize() const {
  std::vector<uint8_t> b;
  for (char c : kMagic) put8(b, uint8_t(c));
  put32(b, kVersion);
  put32(b, vocab_);
  putd(b, beta_);
  putd(b, maxGapS_);
  putd(b, threshold_);
  put32(b, calWindows_);
  put64(b, total_);
  put64(b, dwellAll_.n);
  putd(b, dwellAll_.mean);
  putd(b, dwellAll_.m2);
  put32(b, uint32_t(pairAll_.size()));
  for (const auto& [k, c] : pairAll_) {
    put64(b, k.first);
    put64(b, k.second);
    put32(b, c);
  }
  put32(b, uint32_t(pairHour_.size()));
  for (const auto& [k, c] : pairHour_) {
    put8(b, std::get<0>(k));
    put64(b, std::get<1>(k));
    put64(b, std::get<2>(k));
    put32(b, c);
  }
  put32(b, uint32_t(dwell_.size()));
  for (const auto& [app, d] : dwell_) {
    put64(b, app);
    put64(b, d.n);
    putd(b, d.mean);
    putd(b, d.m2);
  }
  return b;
}

bool AppModel::deserialize(const uint8_t* data, size_t len, AppModel* out, std::string* err) {
  // Unchecked reads: every field's range is checked below, with its own message.
  bio::LeReader r{data, len};
  auto fail = [&](const char* why) {
    *err = std::string("app model: ") + why;
    return false;
  };
  if (r.left() < 4) return fail("truncated (header)");
  if (std::memcmp(data, kMagic, 4) != 0) return fail("bad magic (not an app model)");
  r.off = 4;
  uint32_t version = r.u32();
  if (!r.ok) return fail("truncated (header)");
  if (version != kVersion) return fail("unsupported version");
  AppModel x;
  x.vocab_ = r.u32();
  x.beta_ = r.f64_any();
  x.maxGapS_ = r.f64_any();
  x.threshold_ = r.f64_any();
  x.calWindows_ = r.u32();
  x.total_ = r.u64();
  x.dwellAll_.n = r.u64();
  x.dwellAll_.mean = r.f64_any();
  x.dwellAll_.m2 = r.f64_any();
  if (!r.ok) return fail("truncated (header)");
  if (x.vocab_ < 2 || x.vocab_ > (1u << 30)) return fail("vocabulary out of range");
  if (!(x.beta_ > 0) || !std::isfinite(x.beta_) || !(x.maxGapS_ > 0) || !std::isfinite(x.maxGapS_))
    return fail("options out of range");
  if (std::isinf(x.threshold_)) return fail("threshold is infinite");
  if (!std::isfinite(x.dwellAll_.mean) || !(x.dwellAll_.m2 >= 0) || !std::isfinite(x.dwellAll_.m2))
    return fail("dwell statistics are not finite");
  uint64_t sumAll = 0, sumHour = 0, sumDwell = 0;
  uint32_t n = r.u32();
  if (!r.ok || size_t(n) * 20 > r.left()) return fail("truncated (pairs)");
  std::set<uint64_t> apps;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t a = r.u64(), b = r.u64();
    uint32_t c = r.u32();
    if (c == 0 || a == b) return fail("bad pair entry");
    auto key = std::make_pair(a, b);
    if (!x.pairAll_.empty() && !(x.pairAll_.rbegin()->first < key)) return fail("pairs not strictly sorted");
    x.pairAll_.emplace_hint(x.pairAll_.end(), key, c);
    sumAll += c;
    apps.insert(a);
    apps.insert(b);
  }
  n = r.u32();
  if (!r.ok || size_t(n) * 21 > r.left()) return fail("truncated (hourly pairs)");
  for (uint32_t i = 0; i < n; i++) {
    uint8_t h = r.u8();
    uint64_t a = r.u64(), b = r.u64();
    uint32_t c = r.u32();
    if (h > 23 || c == 0 || a == b) return fail("bad hourly pair entry");
    auto key = std::make_tuple(h, a, b);
    if (!x.pairHour_.empty() && !(x.pairHour_.rbegin()->first < key)) return fail("hourly pairs not strictly sorted");
    x.pairHour_.emplace_hint(x.pairHour_.end(), key, c);
    sumHour += c;
  }
  n = r.u32();
  if (!r.ok || size_t(n) * 32 > r.left()) return fail("truncated (dwell)");
  for (uint32_t i = 0; i < n; i++) {
    uint64_t app = r.u64();
    Dwell d;
    d.n = r.u64();
    d.mean = r.f64_any();
    d.m2 = r.f64_any();
    if (d.n == 0 || !std::isfinite(d.mean) || !(d.m2 >= 0) || !std::isfinite(d.m2)) return fail("bad dwell entry");
    if (!x.dwell_.empty() && !(x.dwell_.rbegin()->first < app)) return fail("dwell entries not strictly sorted");
    x.dwell_.emplace_hint(x.dwell_.end(), app, d);
    sumDwell += d.n;
  }
  if (r.left() != 0) return fail("trailing bytes");
  // The three tables describe the same transitions: their totals must agree.
  if (sumAll != x.total_ || sumHour != x.total_ || sumDwell != x.total_ || x.dwellAll_.n != x.total_ || x.total_ == 0)
    return fail("inconsistent counts");
  if (x.vocab_ != apps.size() + 1) return fail("vocabulary does not match the pairs");
  x.derive();
  *out = std::move(x);
  return true;
}

}  // namespace sentinel::x11

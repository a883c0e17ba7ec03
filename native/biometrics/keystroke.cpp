#include "keystroke.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "le_bytes.h"
#include "metrics.h"
#include "siphash.h"

namespace sentinel {
namespace bio {

bool load_or_create_key(const std::string& path, HashKey* key, std::string* err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      *err = "key file is not a regular file: " + path;
      return false;
    }
    if (st.st_mode & 077) {
      ::close(fd);
      *err = "key file must be mode 0600 (group/other access found): " + path;
      return false;
    }
    if (st.st_size != 16) {
      ::close(fd);
      *err = "key file must hold exactly 16 bytes: " + path;
      return false;
    }
    ssize_t n = ::read(fd, key->data(), 16);
    ::close(fd);
    if (n != 16) {
      *err = "short read on key file: " + path;
      return false;
    }
    return true;
  }
  if (errno != ENOENT) {
    *err = "cannot open key file " + path + ": " + std::strerror(errno);
    return false;
  }
  size_t got = 0;
  while (got < 16) {
    ssize_t n = ::getrandom(key->data() + got, 16 - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = std::string("getrandom: ") + std::strerror(errno);
      return false;
    }
    got += size_t(n);
  }
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    *err = "cannot create key file " + path + ": " + std::strerror(errno);
    return false;
  }
  ::fchmod(fd, 0600);  // independent of umask
  bool ok = ::write(fd, key->data(), 16) == 16 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    *err = "cannot write key file: " + path;
    return false;
  }
  return true;
}

uint32_t KeyHasher::mono(uint32_t code) const {
  uint8_t buf[5] = {'M', uint8_t(code), uint8_t(code >> 8), uint8_t(code >> 16),
                    uint8_t(code >> 24)};
  return uint32_t(siphash24(key_.data(), buf, sizeof buf) % kMonoBuckets);
}

uint32_t KeyHasher::digraph(uint32_t a, uint32_t b) const {
  uint8_t buf[9] = {'D',
                    uint8_t(a), uint8_t(a >> 8), uint8_t(a >> 16), uint8_t(a >> 24),
                    uint8_t(b), uint8_t(b >> 8), uint8_t(b >> 16), uint8_t(b >> 24)};
  return uint32_t(siphash24(key_.data(), buf, sizeof buf) % kDigraphBuckets);
}

KeystrokeRecord KeystrokeExtractor::push(const Keystroke& k) {
  KeystrokeRecord r;
  r.backspace = k.code == cfg_.backspace_code;
  r.mono_bucket = h_.mono(k.code);
  if (k.release_us > k.press_us) {
    float hold = float(k.release_us - k.press_us) / 1000.f;
    if (hold <= cfg_.max_hold_ms) {
      r.has_hold = true;
      r.hold_ms = hold;
    }
  }
  if (have_prev_) {
    float pp = float(k.press_us - prev_press_) / 1000.f;
    if (pp >= 0.f && pp <= cfg_.max_latency_ms) {
      r.has_digraph = true;
      r.digraph_bucket = h_.digraph(prev_code_, k.code);
      r.pp_ms = pp;
      // release-press is negative under rollover typing; kept as is.
      r.rp_ms = prev_release_ > prev_press_ ? float(k.press_us - prev_release_) / 1000.f : pp;
    }
  }
  have_prev_ = true;
  prev_code_ = k.code;
  prev_press_ = k.press_us;
  prev_release_ = k.release_us;
  return r;
}

namespace {

struct Acc {
  uint32_t n = 0;
  double mean = 0, m2 = 0;
  void add(double x) {
    ++n;
    double d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
};

std::vector<BucketStat> flatten(const std::unordered_map<uint32_t, Acc>& m) {
  std::vector<BucketStat> v;
  v.reserve(m.size());
  for (const auto& kv : m)
    v.push_back({kv.first, kv.second.n, float(kv.second.mean), float(kv.second.m2)});
  std::sort(v.begin(), v.end(),
            [](const BucketStat& a, const BucketStat& b) { return a.bucket < b.bucket; });
  return v;
}

template <typename F>
void for_shared(const std::vector<BucketStat>& a, const std::vector<BucketStat>& b, F f) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].bucket < b[j].bucket) ++i;
    else if (b[j].bucket < a[i].bucket) ++j;
    else f(a[i++], b[j++]);
  }
}

double a_measure(const std::vector<BucketStat>& ref, const std::vector<BucketStat>& s,
                 double t, uint32_t min_shared, uint32_t* shared) {
  uint32_t n = 0, similar = 0;
  for_shared(ref, s, [&](const BucketStat& x, const BucketStat& y) {
    double a = std::max<double>(x.mean, 1.0), b = std::max<double>(y.mean, 1.0);
    ++n;
    if (std::max(a, b) / std::min(a, b) <= t) ++similar;
  });
  if (shared) *shared = n;
  if (n < min_shared) return 1.0;
  return 1.0 - double(similar) / n;
}

// GP "R" measure: normalised disorder between the orderings of the shared
// buckets by mean latency in the two samples.
double r_measure(const std::vector<BucketStat>& ref, const std::vector<BucketStat>& s,
                 uint32_t min_shared) {
  std::vector<std::pair<float, float>> sh;  // (ref mean, sample mean)
  for_shared(ref, s, [&](const BucketStat& x, const BucketStat& y) {
    sh.emplace_back(x.mean, y.mean);
  });
  const size_t n = sh.size();
  if (n < min_shared || n < 2) return 1.0;
  std::vector<size_t> by_ref(n), by_s(n);
  std::iota(by_ref.begin(), by_ref.end(), 0);
  std::iota(by_s.begin(), by_s.end(), 0);
  std::stable_sort(by_ref.begin(), by_ref.end(),
                   [&](size_t a, size_t b) { return sh[a].first < sh[b].first; });
  std::stable_sort(by_s.begin(), by_s.end(),
                   [&](size_t a, size_t b) { return sh[a].second < sh[b].second; });
  std::vector<size_t> rank_s(n);
  for (size_t i = 0; i < n; ++i) rank_s[by_s[i]] = i;
  double dis = 0;
  for (size_t i = 0; i < n; ++i) dis += std::abs(double(i) - double(rank_s[by_ref[i]]));
  double maxdis = (n % 2 == 0) ? double(n) * n / 2.0 : (double(n) * n - 1) / 2.0;
  return dis / maxdis;
}

}  // namespace

TimingStats TimingStats::from_records(const KeystrokeRecord* r, size_t n) {
  std::unordered_map<uint32_t, Acc> hold, pp, rp;
  Acc gh, gpp, grp;
  std::vector<float> pps;
  uint32_t bs = 0;
  for (size_t i = 0; i < n; ++i) {
    const KeystrokeRecord& k = r[i];
    bs += k.backspace;
    if (k.has_hold) {
      hold[k.mono_bucket].add(k.hold_ms);
      gh.add(k.hold_ms);
    }
    if (k.has_digraph) {
      pp[k.digraph_bucket].add(k.pp_ms);
      rp[k.digraph_bucket].add(k.rp_ms);
      gpp.add(k.pp_ms);
      grp.add(k.rp_ms);
      pps.push_back(k.pp_ms);
    }
  }
  TimingStats s;
  s.n_keys = uint32_t(n);
  s.hold = flatten(hold);
  s.pp = flatten(pp);
  s.rp = flatten(rp);
  auto sd = [](const Acc& a) { return a.n > 1 ? float(std::sqrt(a.m2 / (a.n - 1))) : 0.f; };
  s.global = {float(gh.mean), sd(gh), float(gpp.mean), sd(gpp), float(grp.mean), sd(grp),
              n ? float(bs) / float(n) : 0.f, 0.f};
  if (!pps.empty()) {
    std::nth_element(pps.begin(), pps.begin() + pps.size() / 2, pps.end());
    s.global[7] = pps[pps.size() / 2];
  }
  return s;
}

GPDistance gp_distance(const TimingStats& ref, const TimingStats& s, double t,
                       uint32_t min_shared) {
  GPDistance d;
  d.r_pp = r_measure(ref.pp, s.pp, min_shared);
  d.a_pp = a_measure(ref.pp, s.pp, t, min_shared, &d.shared_pp);
  d.a_hold = a_measure(ref.hold, s.hold, t, min_shared, &d.shared_hold);
  d.a_rp = a_measure(ref.rp, s.rp, t, min_shared, nullptr);
  return d;
}

double scaled_manhattan(const TimingStats& ref, const TimingStats& s) {
  double sum = 0;
  size_t n = 0;
  // Global features, scaled by a fixed fraction of the reference value (the
  // enrollment spread of a global mean over a window is not observable per
  // feature with few windows; 10% of the value, floored, is used instead).
  for (int i = 0; i < kGlobalFeatures; ++i) {
    double scale = std::max(0.1 * std::abs(ref.global[i]), i == 6 ? 0.02 : 5.0);
    sum += std::abs(s.global[i] - ref.global[i]) / scale;
    ++n;
  }
  auto per_bucket = [&](const std::vector<BucketStat>& a, const std::vector<BucketStat>& b) {
    for_shared(a, b, [&](const BucketStat& x, const BucketStat& y) {
      if (x.n < 2) return;
      double scale = std::max(double(x.sd()), 10.0);
      sum += std::abs(double(y.mean) - x.mean) / scale;
      ++n;
    });
  };
  per_bucket(ref.hold, s.hold);
  per_bucket(ref.pp, s.pp);
  return n ? sum / n : 1e9;
}

Components KeystrokeProfile::raw(const TimingStats& s) const {
  GPDistance d = gp_distance(ref_, s);
  return {{d.r_pp, d.a_pp, d.a_hold, d.a_rp, scaled_manhattan(ref_, s)}};
}

Components KeystrokeProfile::z(const TimingStats& s) const {
  Components c = raw(s);
  for (int k = 0; k < kComponents; ++k) c[k] = (c[k] - mu_[k]) / sd_[k];
  return c;
}

double KeystrokeProfile::fused_score(const TimingStats& s, const FusionWeights& fw) const {
  Components c = z(s);
  double v = 0;
  for (int k = 0; k < kComponents; ++k) v += fw.w[k] * c[k];
  return -v;
}

double KeystrokeProfile::calibrate(const FusionWeights& fw, double frr) {
  std::vector<double> g;
  for (const Components& c : loo_) {
    double v = 0;
    for (int k = 0; k < kComponents; ++k) v += fw.w[k] * (c[k] - mu_[k]) / sd_[k];
    g.push_back(-v);
  }
  threshold = g.empty() ? 0 : threshold_for_frr(g, frr);
  return threshold;
}

KeystrokeProfile KeystrokeProfile::enroll(const std::vector<KeystrokeRecord>& recs,
                                          size_t window) {
  KeystrokeProfile p;
  p.window = uint32_t(window);
  p.ref_ = TimingStats::from_records(recs.data(), recs.size());
  size_t W = std::min(window, recs.size() / 2);
  std::vector<Components> loo;
  if (W >= 10) {
    size_t stride = std::max<size_t>(1, W / 4);
    std::vector<KeystrokeRecord> rest;
    for (size_t s = 0; s + W <= recs.size(); s += stride) {
      rest.clear();
      rest.insert(rest.end(), recs.begin(), recs.begin() + s);
      rest.insert(rest.end(), recs.begin() + s + W, recs.end());
      KeystrokeProfile q;
      q.ref_ = TimingStats::from_records(rest.data(), rest.size());
      loo.push_back(q.raw(TimingStats::from_records(recs.data() + s, W)));
    }
  }
  p.loo_ = loo;
  for (int k = 0; k < kComponents; ++k) {
    if (loo.empty()) break;
    double a = 0, b = 0;
    for (const Components& c : loo) a += c[k];
    a /= loo.size();
    for (const Components& c : loo) b += (c[k] - a) * (c[k] - a);
    double sd = loo.size() > 1 ? std::sqrt(b / (loo.size() - 1)) : 0;
    p.mu_[k] = a;
    p.sd_[k] = std::max({sd, 0.1 * std::abs(a), 1e-3});
  }
  return p;
}

double KeystrokeProfile::genuine_sd(const FusionWeights& fw) const {
  if (loo_.size() < 2) return 0;
  std::vector<double> g;
  for (const Components& c : loo_) {
    double v = 0;
    for (int k = 0; k < kComponents; ++k) v += fw.w[k] * (c[k] - mu_[k]) / sd_[k];
    g.push_back(-v);
  }
  double m = std::accumulate(g.begin(), g.end(), 0.0) / double(g.size());
  double ss = 0;
  for (double x : g) ss += (x - m) * (x - m);
  return std::sqrt(ss / double(g.size() - 1));
}

namespace {

constexpr uint32_t kProfileMagic = 0x31504B53;  // "SKP1" little-endian
constexpr uint32_t kProfileVersion = 1;
constexpr uint32_t kMaxLooWindows = 1u << 20;

void write_stats(std::vector<uint8_t>& b, const std::vector<BucketStat>& v) {
  put32(b, uint32_t(v.size()));
  for (const BucketStat& s : v) {
    put32(b, s.bucket);
    put32(b, s.n);
    putf(b, s.mean);
    putf(b, s.m2);
  }
}

bool read_stats(LeReader& r, std::vector<BucketStat>* v, uint32_t buckets) {
  uint32_t n = r.u32();
  if (!r.ok || n > buckets || size_t(n) * 16 > r.left()) return false;
  v->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    BucketStat& b = (*v)[i];
    b.bucket = r.u32();
    b.n = r.u32();
    b.mean = r.f32();
    b.m2 = r.f32();
    if (!r.ok || b.bucket >= buckets || b.n == 0 || b.m2 < 0) return false;
    if (i > 0 && b.bucket <= (*v)[i - 1].bucket) return false;  // sorted, unique
  }
  return true;
}

}  // namespace

std::vector<uint8_t> KeystrokeProfile::serialize() const {
  std::vector<uint8_t> b;
  put32(b, kProfileMagic);
  put32(b, kProfileVersion);
  put32(b, window);
  putd(b, threshold);
  for (int k = 0; k < kComponents; ++k) putd(b, mu_[k]);
  for (int k = 0; k < kComponents; ++k) putd(b, sd_[k]);
  put32(b, ref_.n_keys);
  for (float g : ref_.global) putf(b, g);
  write_stats(b, ref_.hold);
  write_stats(b, ref_.pp);
  write_stats(b, ref_.rp);
  put32(b, uint32_t(loo_.size()));
  for (const Components& c : loo_)
    for (double x : c) putd(b, x);
  return b;
}

bool KeystrokeProfile::deserialize(const uint8_t* data, size_t len) {
  LeReader r{data, len};
  KeystrokeProfile p;
  if (r.u32() != kProfileMagic || r.u32() != kProfileVersion || !r.ok) return false;
  p.window = r.u32();
  p.threshold = r.f64();
  if (!r.ok || p.window == 0) return false;
  for (int k = 0; k < kComponents; ++k) p.mu_[k] = r.f64();
  for (int k = 0; k < kComponents; ++k) {
    p.sd_[k] = r.f64();
    if (!(p.sd_[k] > 0)) return false;
  }
  p.ref_.n_keys = r.u32();
  for (float& g : p.ref_.global) g = r.f32();
  if (!r.ok) return false;
  if (!read_stats(r, &p.ref_.hold, kMonoBuckets) || !read_stats(r, &p.ref_.pp, kDigraphBuckets) ||
      !read_stats(r, &p.ref_.rp, kDigraphBuckets))
    return false;
  uint32_t nloo = r.u32();
  if (!r.ok || nloo > kMaxLooWindows || size_t(nloo) * 8 * kComponents != r.left()) return false;
  p.loo_.resize(nloo);
  for (Components& c : p.loo_)
    for (double& x : c) x = r.f64();
  if (!r.ok || r.left() != 0) return false;
  *this = std::move(p);
  return true;
}

}  // namespace bio
}  // namespace sentinel

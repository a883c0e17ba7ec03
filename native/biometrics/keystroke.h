// Keystroke-dynamics features and classical one-class scorers.
//
// Contract (to be wrapped by the Node-API addon later; no Node types here):
//  * Input is a stream of completed keystrokes (press and release time of one
//    key, in microseconds on one monotonic clock, e.g. the evdev timestamps),
//    in press order. Auto-repeat must already be filtered by the collector.
//  * The key code is used ONLY inside KeystrokeExtractor::push(), where it is
//    mapped through a keyed hash (SipHash-2-4, host-local 128-bit key) to a
//    bucket: kMonoBuckets buckets for single keys, kDigraphBuckets for ordered
//    key pairs. Nothing downstream (windows, profiles, scores, files) holds a
//    key code. The extractor keeps the previous key's code in memory only
//    to form the next digraph.
//  * Backspace is recognised by the configured code (evdev KEY_BACKSPACE = 14
//    by default; the Aalto data uses the browser code 8) and only counted.
//  * A window of W keystrokes (W = 50/100/200 typical) yields a TimingStats:
//    per-bucket count/mean/M2 for hold times, press-press (PP) and
//    release-press (RP) digraph latencies, plus global rhythm features.
//  * A KeystrokeProfile is built from enrollment keystrokes and scores a
//    window: HIGHER score = MORE LIKELY the enrolled user. Thread-compatible
//    (no shared mutable state); not internally synchronised.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace sentinel {
namespace bio {

constexpr uint32_t kMonoBuckets = 1024;
constexpr uint32_t kDigraphBuckets = 65536;

using HashKey = std::array<uint8_t, 16>;

// Reads a 16-byte key from `path`, or creates it (O_EXCL, mode 0600, from
// getrandom) when absent. Refuses a key file readable or writable by group or
// others, or of the wrong size. Returns false with `err` set on failure.
bool load_or_create_key(const std::string& path, HashKey* key, std::string* err);

class KeyHasher {
 public:
  explicit KeyHasher(const HashKey& key) : key_(key) {}
  uint32_t mono(uint32_t code) const;
  uint32_t digraph(uint32_t first, uint32_t second) const;

 private:
  HashKey key_;
};

struct Keystroke {
  uint32_t code = 0;       // raw key code: consumed by the extractor only
  int64_t press_us = 0;
  int64_t release_us = 0;  // <= press_us means "release unknown"
};

// One timing observation with the key identity already replaced by a bucket.
enum class TimingKind : uint8_t { kHold = 0, kPressPress = 1, kReleasePress = 2 };
struct TimingObs {
  TimingKind kind;
  uint32_t bucket;
  float ms;
};

// What the extractor emits per keystroke (no key code inside).
struct KeystrokeRecord {
  bool backspace = false;
  bool has_hold = false, has_digraph = false;
  uint32_t mono_bucket = 0, digraph_bucket = 0;
  float hold_ms = 0, pp_ms = 0, rp_ms = 0;
};

struct ExtractorConfig {
  uint32_t backspace_code = 14;     // evdev KEY_BACKSPACE
  float max_hold_ms = 1500.f;       // longer holds are dropped (held modifiers)
  float max_latency_ms = 1500.f;    // longer PP gaps break the digraph chain
};

class KeystrokeExtractor {
 public:
  KeystrokeExtractor(const HashKey& key, ExtractorConfig cfg = {}) : h_(key), cfg_(cfg) {}
  // Feed one keystroke in press order. Returns the bucketed record.
  KeystrokeRecord push(const Keystroke& k);
  // Forget the previous key (call at a focus change or long idle).
  void break_chain() { have_prev_ = false; }

 private:
  KeyHasher h_;
  ExtractorConfig cfg_;
  bool have_prev_ = false;
  uint32_t prev_code_ = 0;
  int64_t prev_press_ = 0, prev_release_ = 0;
};

struct BucketStat {
  uint32_t bucket;
  uint32_t n;
  float mean;
  float m2;  // sum of squared deviations (Welford)
  float sd() const { return n > 1 ? std::sqrt(m2 / float(n - 1)) : 0.f; }
};

// Global rhythm features of a window (fixed schema, version 1).
constexpr int kGlobalFeatures = 8;
// 0 mean hold, 1 sd hold, 2 mean PP, 3 sd PP, 4 mean RP, 5 sd RP,
// 6 backspace rate, 7 median PP
struct TimingStats {
  std::vector<BucketStat> hold, pp, rp;  // sorted by bucket
  std::array<float, kGlobalFeatures> global{};
  uint32_t n_keys = 0;
  static TimingStats from_records(const KeystrokeRecord* r, size_t n);
};

// Gunetti–Picardi measures between two samples on their shared buckets.
struct GPDistance {
  double r_pp = 1, a_pp = 1, a_hold = 1, a_rp = 1;  // each in [0,1], 1 = far
  uint32_t shared_pp = 0, shared_hold = 0;
};
GPDistance gp_distance(const TimingStats& ref, const TimingStats& sample, double t = 1.25,
                       uint32_t min_shared = 3);

// Scaled Manhattan (Killourhy–Maxion style) over the same features: global
// features plus per-bucket mean hold and PP latency, each deviation scaled by
// the enrollment spread of that feature; mean over features present in both.
double scaled_manhattan(const TimingStats& ref, const TimingStats& sample);

// Distance components a profile computes for a window (all: lower = closer).
enum Component : int { kRpp = 0, kApp = 1, kAhold = 2, kArp = 3, kSM = 4, kComponents = 5 };
using Components = std::array<double, kComponents>;

// Weights of the fused score over z-normalised components (fit offline on
// typists disjoint from any test typist: tools/bio-eval/aalto_eval.cpp
// --fit). score = -(sum_k w[k] * z[k]); the defaults give GP R+A.
struct FusionWeights {
  Components w{{1.0, 1.0, 0.0, 0.0, 0.0}};
};
// Fused weights v1: logistic regression on the FIT half of the Aalto
// development typists at 100-keystroke windows (aalto_eval, default split),
// and the global accept threshold on fused_score at the FIT half's EER.
// The daemon takes its weights from models/keystroke-classical (the same
// numbers; test/native/keystroke-classical.test.ts holds the file to these);
// the evaluation tools and the addon's default use these.
constexpr double kFusedV1[kComponents] = {0.386, 0.466, 0.875, 0.639, 0.182};
constexpr double kFusedV1GlobalThreshold = -3.12;  // at 100-keystroke windows
inline FusionWeights fused_v1() {
  FusionWeights f;
  for (int k = 0; k < kComponents; ++k) f.w[k] = kFusedV1[k];
  return f;
}

class KeystrokeProfile {
 public:
  // Enroll from the user's bucketed records. `window` is the scoring window
  // length; the enrollment is also cut into windows of that length (stride
  // window/4) scored against the rest of the enrollment (leave-one-window-
  // out) to estimate the user's own genuine distance distribution per
  // component. z-normalising by it lets one global threshold serve all users.
  static KeystrokeProfile enroll(const std::vector<KeystrokeRecord>& recs, size_t window);
  Components raw(const TimingStats& s) const;  // distances, lower = closer
  Components z(const TimingStats& s) const;    // (raw - mu) / sd per component
  // Classical scores, HIGHER = more likely genuine.
  double gp_raw_score(const TimingStats& s) const {  // -(R + A), GP R+A
    Components c = raw(s);
    return -(c[kRpp] + c[kApp]);
  }
  double sm_raw_score(const TimingStats& s) const { return -raw(s)[kSM]; }
  double fused_score(const TimingStats& s, const FusionWeights& fw) const;
  const TimingStats& reference() const { return ref_; }
  const Components& mu() const { return mu_; }
  const Components& sd() const { return sd_; }
  // Per-user threshold: accept when fused_score >= threshold. calibrate()
  // sets it so that `frr` of the enrollment's own leave-one-window-out
  // scores would be rejected (no impostor data needed).
  double calibrate(const FusionWeights& fw, double frr);
  double threshold = 0;
  // Window length (keystrokes) the profile was enrolled and calibrated for.
  uint32_t window = 0;
  // Sample sd of the fused leave-one-window-out enrollment scores (0 with fewer than 2): the
  // genuine spread the daemon uses to map a score to an impostor probability.
  double genuine_sd(const FusionWeights& fw) const;
  size_t enrollment_windows() const { return loo_.size(); }
  // Portable little-endian serialisation (magic "SKP1", format version 1): window, threshold,
  // mu, sd, the reference stats (buckets only, never key codes) and the leave-one-window-out
  // components (kept so the profile can be re-calibrated). deserialize() validates every size,
  // bucket range and number and returns false (profile untouched) on any mismatch.
  std::vector<uint8_t> serialize() const;
  bool deserialize(const uint8_t* data, size_t len);

 private:
  TimingStats ref_;
  std::vector<Components> loo_;  // enrollment leave-one-window-out distances
  Components mu_{}, sd_{{1, 1, 1, 1, 1}};
};

}  // namespace bio
}  // namespace sentinel

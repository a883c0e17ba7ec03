// Per-user active-application model (issue 5, "App: transition statistics per user and hour").
// Pure C++17, no Node-API, no I/O. docs/biometrics.md ("Active application (X11)") describes it.
//
// Input: a sequence of visits {t_us, app id, hour} in time order, as AppWatcher emits them
// (app ids are keyed hashes; this model never sees a class name). Consecutive visits of the
// same app merge; a change a -> b is a transition with dwell = time spent in a. A gap longer
// than maxGapS (idle, suspend) ends the chain: no transition across it.
//
// Model, per user:
//   P_all(b | a)    = (c(a,b) + 1) / (c(a) + V)                  add-one smoothing, V = apps + 1
//   P(b | a, h)     = (c_h(a,b) + beta * P_all(b|a)) / (c_h(a) + beta)    hour h backs off to P_all
//   dwell of a      : Gaussian on ln(seconds), mean/var shrunk to the user's pooled dwell with
//                     weight kDwellPrior pseudo-visits.
// Score of a window = mean over its transitions of
//   ln(P(b|a,h) / (1/V)) + ln N(ln d; mu_a, var_a) - ln N(ln d; mu_all, var_all),
// a log-likelihood ratio against a background of uniform transitions and the user's pooled
// dwell. HIGHER = MORE LIKE THE USER; 0 = no evidence either way.
//
// Threshold: enroll() cuts the enrollment transitions into contiguous windows of
// windowTransitions, scores each against a model built from the other windows (leave one window
// out) and sets threshold() to the frr-quantile of those scores (NaN when fewer than 5 windows).
//
// Thread-compatible: const methods may run concurrently; nothing is internally synchronised.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sentinel::x11 {

struct AppVisit {
  double t_us = 0;
  uint64_t app = 0;
  uint8_t hour = 0;  // 0..23
};

struct AppModelOptions {
  double maxGapS = 1800;            // a longer gap between visits breaks the transition chain
  double beta = 2.0;                // hour-to-all backoff strength (pseudo-counts)
  uint32_t windowTransitions = 20;  // calibration window length
  double frr = 0.05;                // target false-reject rate of the calibrated threshold
};

struct AppScore {
  double score = 0;          // mean LLR per transition; NaN when transitions == 0
  uint32_t transitions = 0;  // transitions scored
};

class AppModel {
 public:
  static constexpr uint32_t kVersion = 1;
  static constexpr double kDwellPrior = 5.0;

  // Builds the model and calibrates the threshold. False with `err` set for an invalid input
  // (hour > 23, non-finite or decreasing time, options out of range) or no transition at all.
  static bool enroll(const std::vector<AppVisit>& visits, const AppModelOptions& opt, AppModel* out, std::string* err);

  // Scores a window of visits (its own transitions only). Never fails: invalid visits (hour >
  // 23, time going backwards) are skipped like gaps.
  AppScore score(const std::vector<AppVisit>& visits) const;

  // Versioned little-endian encoding. deserialize() validates everything (magic, version,
  // lengths, hours, counts, finiteness, strictly sorted keys, no trailing bytes) and returns
  // false with `err` otherwise; *out is untouched on failure.
  std::vector<uint8_t> serialize() const;
  static bool deserialize(const uint8_t* data, size_t len, AppModel* out, std::string* err);

  double threshold() const { return threshold_; }
  uint32_t vocabulary() const { return vocab_; }   // V = distinct enrolled apps + 1
  uint64_t transitions() const { return total_; }  // enrolled transitions
  uint32_t calibrationWindows() const { return calWindows_; }

  struct Transition {
    uint64_t from, to;
    uint8_t hour;
    double dwellS;
  };
  // The transitions of a visit sequence (exposed for tests and the evaluation).
  static std::vector<Transition> transitionsOf(const std::vector<AppVisit>& visits, double maxGapS);

 private:
  struct Dwell {
    uint64_t n = 0;
    double mean = 0, m2 = 0;
    void add(double x) {
      n++;
      double d = x - mean;
      mean += d / double(n);
      m2 += d * (x - mean);
    }
    // Inverse of add(x) (Welford downdate); n must be > 1.
    void remove(double x) {
      double m = (double(n) * mean - x) / double(n - 1);
      m2 = std::max(0.0, m2 - (x - m) * (x - mean));
      mean = m;
      n--;
    }
  };
  void build(const std::vector<Transition>& ts);
  void derive();  // recomputes the per-from totals from the pair counts
  // Adds (sign +1) or removes (sign -1) one transition from every table, erasing emptied
  // entries: leave-one-window-out calibration in O(window) instead of a rebuild per window.
  void adjust(const Transition& t, int sign);
  double llr(const Transition& t) const;

  double beta_ = 2.0;
  double maxGapS_ = 1800;
  double threshold_ = 0;  // NaN when not calibrated
  uint32_t vocab_ = 1;
  uint64_t total_ = 0;
  uint32_t calWindows_ = 0;
  Dwell dwellAll_;
  std::map<std::pair<uint64_t, uint64_t>, uint32_t> pairAll_;
  std::map<std::tuple<uint8_t, uint64_t, uint64_t>, uint32_t> pairHour_;
  std::map<uint64_t, Dwell> dwell_;
  // derived
  std::map<uint64_t, uint64_t> fromAll_;
  std::map<std::pair<uint8_t, uint64_t>, uint64_t> fromHour_;
};

}  // namespace sentinel::x11

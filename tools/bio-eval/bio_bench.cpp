// Micro-benchmark of the native biometrics core (single thread):
// keystroke extraction per event, window stats + scoring per window, mouse
// segmentation per event, forest scoring per action.
//   make -C tools/bio-eval OUT=/tmp/bio-build && /tmp/bio-build/bio_bench
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "../../native/biometrics/forest.h"
#include "../../native/biometrics/keystroke.h"
#include "../../native/biometrics/mouse.h"
#include "../../native/biometrics/mouse_cohort.h"
#include "../../native/biometrics/mouse_oneclass.h"

using namespace sentinel::bio;
using Clock = std::chrono::steady_clock;

static double ns_since(Clock::time_point t0, size_t n) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / double(n);
}

int main() {
  std::mt19937 r(1);
  HashKey key{};
  KeystrokeExtractor ex(key);
  const size_t N = 200000;
  std::vector<Keystroke> ks(N);
  int64_t t = 0;
  for (auto& k : ks) {
    t += 80000 + r() % 200000;
    k = {uint32_t(r() % 60), t, t + 60000 + int64_t(r() % 80000)};
  }
  std::vector<KeystrokeRecord> recs(N);
  auto t0 = Clock::now();
  for (size_t i = 0; i < N; ++i) recs[i] = ex.push(ks[i]);
  std::printf("keystroke extract: %.0f ns/keystroke\n", ns_since(t0, N));
  std::vector<KeystrokeRecord> enr(recs.begin(), recs.begin() + 500);
  t0 = Clock::now();
  KeystrokeProfile p = KeystrokeProfile::enroll(enr, 100);
  std::printf("keystroke enroll (500 keys, W=100): %.2f ms\n", ns_since(t0, 1) / 1e6);
  FusionWeights fw = fused_v1();
  const size_t M = 2000;
  double sink = 0;
  t0 = Clock::now();
  for (size_t i = 0; i < M; ++i) {
    TimingStats s = TimingStats::from_records(recs.data() + 1000 + (i * 37) % 100000, 100);
    sink += p.fused_score(s, fw);
  }
  std::printf("keystroke window stats + fused score (W=100): %.1f us/window\n", ns_since(t0, M) / 1e3);

  // Mouse: 100 events/s, moves with periodic clicks.
  std::vector<MouseEvent> ev;
  double tt = 0, x = 500, y = 500;
  for (size_t i = 0; i < 300000; ++i) {
    tt += 0.01;
    x += double(int(r() % 21) - 10);
    y += double(int(r() % 21) - 10);
    MouseEvent e;
    e.t = tt; e.x = x; e.y = y;
    if (i % 97 == 0) { e.state = MouseState::kPressed; e.button = MouseButton::kLeft; }
    else if (i % 97 == 3) { e.state = MouseState::kReleased; e.button = MouseButton::kLeft; }
    if (i % 450 == 0) tt += 1.5;  // pauses
    ev.push_back(e);
  }
  ActionSegmenter seg;
  std::vector<MouseAction> acts;
  t0 = Clock::now();
  for (const MouseEvent& e : ev) seg.push(e, &acts);
  seg.flush(&acts);
  double per_ev = ns_since(t0, ev.size());
  std::printf("mouse segment + features: %.0f ns/event (%zu actions); at 100 events/s = %.4f%% of one core\n",
              per_ev, acts.size(), per_ev * 100 / 1e9 * 100);
  std::vector<float> X;
  std::vector<uint8_t> yv;
  for (size_t i = 0; i < acts.size() && i < 8000; ++i) {
    X.insert(X.end(), acts[i].f.begin(), acts[i].f.end());
    yv.push_back(uint8_t(r() % 2));
  }
  RandomForest rf;
  ForestParams fp;
  fp.trees = 100;
  fp.max_depth = 20;
  t0 = Clock::now();
  rf.fit(X, kActionFeatures, yv, fp);
  std::printf("forest fit (%zu rows, 100 trees, depth 20): %.0f ms, %zu nodes\n", yv.size(),
              ns_since(t0, 1) / 1e6, rf.nodes());
  t0 = Clock::now();
  for (size_t i = 0; i < acts.size(); ++i) sink += rf.predict(acts[i].f.data());
  std::printf("forest score: %.1f us/action\n", ns_since(t0, acts.size()) / 1e3);
  // One-class mouse profile with several sittings: what the daemon's learning by use costs on
  // the libuv pool (enroll + calibrate, then add one 500-action sitting to a profile that holds
  // N actions: the 4-chunk leave-out over all of them), and the profile's size.
  {
    std::vector<std::vector<MouseAction>> per(3);
    for (size_t i = 0; i < acts.size(); ++i) per[i % 3].push_back(acts[i]);
    // 300 pairs per model, as shipped (weights 1: every pair term is computed)
    MousePopulation pop = MousePopulation::fit(per, 300), pop0 = MousePopulation::fit(per);
    for (auto& pw : pop.pair_weight) std::fill(pw.begin(), pw.end(), 1.f);
    for (const MousePopulation* pp : {&pop0, &pop}) {
      MouseOneClass oc = MouseOneClass::enroll(acts, pp);
      t0 = Clock::now();
      for (int rep = 0; rep < 20; ++rep)
        for (const MouseAction& a : acts) sink += oc.action_score(a);
      std::printf("mouse one-class score (%s): %.2f us/action\n", pp == &pop ? "300 pair terms per model, as shipped" : "no pair terms",
                  ns_since(t0, 20 * acts.size()) / 1e3);
    }
    std::vector<MouseAction> pool;
    while (pool.size() < 20500) pool.insert(pool.end(), acts.begin(), acts.end());
    for (size_t n : {1000, 5000, 20000}) {
      std::vector<MouseAction> enr(pool.begin(), pool.begin() + long(n));
      std::vector<MouseAction> sit(pool.begin() + long(n), pool.begin() + long(n) + 500);
      t0 = Clock::now();
      MouseOneClass oc = MouseOneClass::enroll(enr, &pop);
      oc.calibrate(enr, &pop, 20, 0.05);
      double enroll_ms = ns_since(t0, 1) / 1e6;
      t0 = Clock::now();
      const char* why = nullptr;
      bool ok = oc.add_sitting(sit, &pop, 20, 0.05, &why, 20000);
      double add_ms = ns_since(t0, 1) / 1e6;
      std::printf("mouse one-class, %zu enrolled actions: enroll + calibrate %.0f ms; add a 500-action sitting %.0f ms%s; profile %zu bytes\n",
                  n, enroll_ms, add_ms, ok ? "" : " (refused)", oc.serialize().size());
      sink += oc.threshold;
    }
  }
  // The several-users model (MouseCohort): one fit over K members of N enrolled actions each (N
  // 20000 is every action a profile keeps, all of which the daemon fits on), what the daemon fits
  // on the libuv pool at start and on every profile change (4 cross-fitted GBTs for the
  // calibration and the final one), and scoring one action, against the one-class score of the
  // same actions in the same run.
  {
    std::vector<std::vector<MouseAction>> per(3);
    for (size_t i = 0; i < acts.size(); ++i) per[i % 3].push_back(acts[i]);
    MousePopulation pop = MousePopulation::fit(per, 300);
    for (auto& pw : pop.pair_weight) std::fill(pw.begin(), pw.end(), 1.f);
    // Member k: `n` of the synthetic actions, each a little faster and straighter than member
    // k - 1's (features 0, 3, 6, ... times 1 + step * k).
    auto member = [&](size_t n, size_t k, double step) {
      std::vector<MouseAction> mine;
      while (mine.size() < n) mine.insert(mine.end(), acts.begin(), acts.end());
      mine.resize(n);
      for (MouseAction& a : mine)
        for (int f = 0; f < kActionFeatures; f += 3) a.f[f] *= float(1 + step * double(k));
      return MouseOneClass::enroll(mine, &pop);
    };
    // One MouseCohort fit over `prof`, its time in *ms.
    auto timed_fit = [&](const std::vector<MouseOneClass>& prof, const CohortParams& cp, double* ms, const char** why) {
      std::vector<const MouseOneClass*> ptrs;
      for (const MouseOneClass& m : prof) ptrs.push_back(&m);
      const Clock::time_point t = Clock::now();
      MouseCohort c = MouseCohort::fit(ptrs, pop, cp, why);
      *ms = ns_since(t, 1) / 1e6;
      return c;
    };
    for (size_t N : {4000, 20000}) {
      for (size_t K : {2, 5}) {
        std::vector<MouseAction> pool;
        while (pool.size() < N) pool.insert(pool.end(), acts.begin(), acts.end());
        pool.resize(N);
        MouseOneClass base = MouseOneClass::enroll(pool, &pop);
        t0 = Clock::now();
        for (const MouseAction& a : pool) sink += base.action_score(a);
        const double oc_us = ns_since(t0, pool.size()) / 1e3;
        std::vector<MouseOneClass> prof;
        for (size_t k = 0; k < K; ++k) prof.push_back(member(N, k, 0.08));
        const char* why = nullptr;
        double fit_ms = 0, fit63_ms = 0;
        MouseCohort c = timed_fit(prof, CohortParams{}, &fit_ms, &why);
        if (!c.valid()) {
          std::printf("mouse several-users model, %zu members: refused (%s)\n", K, why ? why : "?");
          continue;
        }
        // The alternative measured and not adopted, in the same run: trees of 63 leaves
        // (docs/biometrics.md, "Mouse: a sweep of the several-users model's boosting parameters").
        CohortParams p63;
        p63.boost.max_leaves = 63;
        MouseCohort c63 = timed_fit(prof, p63, &fit63_ms, &why);
        sink += double(c63.members());
        t0 = Clock::now();
        for (const MouseAction& a : pool) sink += c.action_score(0, a, pop);
        const double c_us = ns_since(t0, pool.size()) / 1e3;
        std::printf("mouse several-users model, %zu members x %zu actions, 200 rounds of %d leaves: fit %.0f ms (63 leaves %.0f ms, "
                    "%.2fx); score %.2f us/action (one-class %.2f us/action, same run: %.1fx); model %zu bytes (63 leaves %zu)\n",
                    K, N, CohortParams{}.boost.max_leaves, fit_ms, fit63_ms, fit63_ms / fit_ms, c_us, oc_us, c_us / oc_us,
                    c.serialize().size(), c63.serialize().size());
      }
    }
    // With the background (scripts/bio/mouse_background.sh: ten people of 2000 actions each,
    // members that are never scored), a class each or one class for all ten
    // (CohortParams::merge_background), in the same run: a single-user host (its profile of 2000
    // or 20 000 actions) and a host of five users of 4000 (against two models and the five alone).
    auto bg_fits = [&](size_t users, size_t N) {
      std::vector<MouseOneClass> prof;
      for (size_t k = 0; k < users + 10; ++k) prof.push_back(member(k < users ? N : 2000, k, 0.05));
      const char* why = nullptr;
      double each_ms = 0, one_ms = 0, none_ms = 0;
      CohortParams each;
      each.background = 10;
      each.merge_background = false;
      CohortParams one = each;
      one.merge_background = true;
      MouseCohort c = timed_fit(prof, each, &each_ms, &why);
      MouseCohort m = timed_fit(prof, one, &one_ms, &why);
      std::printf("mouse several-users model, %zu user(s) of %zu actions + 10 background members of 2000: a class each %s %.0f ms (model %zu bytes), "
                  "one class %s %.0f ms (model %zu bytes, %.2fx faster)",
                  users, N, c.valid() ? "fit" : "refused after", each_ms, c.valid() ? c.serialize().size() : size_t(0), m.valid() ? "fit" : "refused after",
                  one_ms, m.valid() ? m.serialize().size() : size_t(0), each_ms / one_ms);
      if (users > 1) {
        // CohortParams::two_models (an evaluation option): the enrolled users' own model beside.
        CohortParams two = one;
        two.two_models = true;
        double two_ms = 0;
        MouseCohort t = timed_fit(prof, two, &two_ms, &why);
        std::printf("; two models %s %.0f ms (%.2fx one class)", t.valid() && t.two_models() ? "fit" : "refused after", two_ms, two_ms / one_ms);
        prof.resize(users);
        MouseCohort alone = timed_fit(prof, CohortParams{}, &none_ms, &why);
        sink += double(alone.members());
        std::printf("; without the background %.0f ms", none_ms);
      }
      std::printf("\n");
    };
    bg_fits(1, 2000);
    bg_fits(1, 20000);
    bg_fits(5, 4000);
  }
  std::printf("(checksum %.3f)\n", sink);
  return 0;
}

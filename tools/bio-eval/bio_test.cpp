// Native unit tests for native/biometrics (issue 5): hand-computed fixtures
// for keystroke and mouse features, scorer fixtures, and two synthetic
// typists separated by enrollment + scoring.   make -C tools/bio-eval test
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../native/biometrics/boosting.h"
#include "../../native/biometrics/forest.h"
#include "../../native/biometrics/keystroke.h"
#include "../../native/biometrics/metrics.h"
#include "../../native/biometrics/mouse.h"
#include "../../native/biometrics/mouse_model.h"
#include "../../native/biometrics/mouse_block.h"
#include "../../native/biometrics/le_bytes.h"
#include "../../native/biometrics/mouse_cohort.h"
#include "../../native/biometrics/mouse_oneclass.h"
#include "../../native/biometrics/siphash.h"

using namespace sentinel::bio;

static int failures = 0, checks = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    ++checks;                                                         \
    if (!(cond)) {                                                    \
      ++failures;                                                     \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
    }                                                                 \
  } while (0)
#define NEAR(a, b, tol)                                                               \
  do {                                                                                \
    ++checks;                                                                         \
    double _a = (a), _b = (b);                                                        \
    if (!(std::abs(_a - _b) <= (tol))) {                                              \
      ++failures;                                                                     \
      std::printf("FAIL %s:%d: %s = %.6g, expected %.6g\n", __FILE__, __LINE__, #a, _a, _b); \
    }                                                                                 \
  } while (0)

static HashKey test_key(uint8_t seed) {
  HashKey k;
  for (int i = 0; i < 16; ++i) k[i] = uint8_t(seed + i);
  return k;
}

static void test_siphash() {
  // Reference vectors from the SipHash paper / reference implementation.
  uint8_t key[16], msg[15];
  for (int i = 0; i < 16; ++i) key[i] = uint8_t(i);
  for (int i = 0; i < 15; ++i) msg[i] = uint8_t(i);
  CHECK(siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
  CHECK(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
}

static void test_keystroke_fixture() {
  KeystrokeExtractor ex(test_key(0));
  // A: press 0 ms, release 100; B: 150..230; backspace(14): 400..450;
  // C: 3000..3060 (PP 2600 ms > 1500: chain broken, no digraph).
  std::vector<Keystroke> ks = {{30, 0, 100000}, {48, 150000, 230000}, {14, 400000, 450000},
                               {46, 3000000, 3060000}};
  std::vector<KeystrokeRecord> r;
  for (const Keystroke& k : ks) r.push_back(ex.push(k));
  CHECK(r[0].has_hold && !r[0].has_digraph);
  NEAR(r[0].hold_ms, 100, 1e-4);
  NEAR(r[1].hold_ms, 80, 1e-4);
  CHECK(r[1].has_digraph);
  NEAR(r[1].pp_ms, 150, 1e-4);
  NEAR(r[1].rp_ms, 50, 1e-4);
  NEAR(r[2].pp_ms, 250, 1e-4);
  NEAR(r[2].rp_ms, 170, 1e-4);
  CHECK(r[2].backspace && !r[1].backspace);
  CHECK(!r[3].has_digraph);
  TimingStats s = TimingStats::from_records(r.data(), r.size());
  NEAR(s.global[0], (100 + 80 + 50 + 60) / 4.0, 1e-3);    // mean hold
  NEAR(s.global[2], 200, 1e-3);                          // mean PP
  NEAR(s.global[3], std::sqrt(5000.0), 1e-2);            // sd PP (150, 250)
  NEAR(s.global[4], 110, 1e-3);                          // mean RP
  NEAR(s.global[6], 0.25, 1e-6);                         // backspace rate
  CHECK(s.pp.size() == 2 && s.hold.size() <= 4 && s.n_keys == 4);
  // Buckets depend on the host key; same key => same buckets.
  KeyHasher h1(test_key(0)), h2(test_key(0)), h3(test_key(99));
  CHECK(h1.digraph(30, 48) == h2.digraph(30, 48));
  CHECK(h1.digraph(30, 48) != h1.digraph(48, 30) || h1.digraph(1, 2) != h1.digraph(2, 1));
  int differ = 0;
  for (uint32_t c = 0; c < 50; ++c) differ += h1.mono(c) != h3.mono(c);
  CHECK(differ > 40);
  for (uint32_t c = 0; c < 300; ++c) CHECK(h1.mono(c) < kMonoBuckets && h1.digraph(c, c + 1) < kDigraphBuckets);
}

static TimingStats stats_pp(std::vector<std::pair<uint32_t, float>> v) {
  TimingStats s;
  for (auto& p : v) s.pp.push_back({p.first, 1, p.second, 0});
  for (auto& p : v) s.rp.push_back({p.first, 1, p.second, 0});
  return s;
}

static void test_gp_fixture() {
  // Orders fully reversed on 3 shared digraphs: disorder 4, max (9-1)/2 = 4.
  TimingStats a = stats_pp({{1, 100}, {2, 200}, {3, 300}, {9, 50}});
  TimingStats b = stats_pp({{1, 300}, {2, 200}, {3, 100}, {7, 80}});
  GPDistance d = gp_distance(a, b, 1.25, 3);
  NEAR(d.r_pp, 1.0, 1e-9);
  NEAR(d.a_pp, 2.0 / 3.0, 1e-9);  // only bucket 2 within ratio 1.25
  CHECK(d.shared_pp == 3);
  // One adjacent swap in 4 shared: disorder 2, max 16/2 = 8 -> 0.25.
  TimingStats c = stats_pp({{1, 100}, {2, 200}, {3, 300}, {4, 400}});
  TimingStats e = stats_pp({{1, 110}, {2, 330}, {3, 320}, {4, 410}});
  d = gp_distance(c, e, 1.25, 3);
  NEAR(d.r_pp, 0.25, 1e-9);
  NEAR(d.a_pp, 0.25, 1e-9);  // 200 vs 330 exceeds 1.25
  // Too few shared digraphs: maximal distance.
  d = gp_distance(c, stats_pp({{1, 100}, {2, 200}}), 1.25, 3);
  NEAR(d.r_pp, 1.0, 1e-9);
  NEAR(d.a_pp, 1.0, 1e-9);
}

static void test_metrics() {
  RocSummary r = roc_summary({0.9, 0.8, 0.7}, {0.1, 0.2, 0.75});
  NEAR(r.auc, 8.0 / 9.0, 1e-9);
  r = roc_summary({1, 2, 3}, {4, 5, 6});
  NEAR(r.auc, 0, 1e-9);
  r = roc_summary({4, 5, 6}, {1, 2, 3});
  NEAR(r.auc, 1, 1e-9);
  NEAR(r.eer, 0, 1e-9);
  r = roc_summary({1, 2, 3, 4}, {1, 2, 3, 4});
  NEAR(r.auc, 0.5, 1e-9);
  NEAR(r.eer, 0.5, 0.13);
  OperatingPoint op = at_threshold({1, 2, 3, 4}, {0, 1, 2, 5}, 2.5);
  NEAR(op.frr, 0.5, 1e-9);
  NEAR(op.far, 0.25, 1e-9);
}

static void test_key_file() {
  char tmpl[] = "/tmp/biokeyXXXXXX";
  char* dir = mkdtemp(tmpl);
  CHECK(dir != nullptr);
  std::string path = std::string(dir) + "/bio.key", err;
  HashKey k1{}, k2{};
  CHECK(load_or_create_key(path, &k1, &err));
  struct stat st;
  CHECK(stat(path.c_str(), &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 16);
  CHECK(load_or_create_key(path, &k2, &err) && k1 == k2);
  chmod(path.c_str(), 0644);
  CHECK(!load_or_create_key(path, &k2, &err) && err.find("0600") != std::string::npos);
  unlink(path.c_str());
  rmdir(dir);
}

// Straight and right-angle trajectories at constant speed, sampled at two
// cadences: features must match the hand-computed values at both.
static std::vector<TrajPoint> polyline(double step, bool corner) {
  std::vector<TrajPoint> p;
  double T = corner ? 2.0 : 1.0;
  for (double t = 0; t <= T + 1e-9; t += step) {
    double s = 100 * t;  // 100 px/s along the path
    if (corner && s > 100 && p.back().x < 100) p.push_back({1.0, 100, 0});  // the corner itself
    if (!corner || s <= 100) p.push_back({t, s, 0});
    else p.push_back({t, 100, s - 100});
  }
  if (p.back().t < T - 1e-9) p.push_back({T, corner ? 100.0 : 100.0, corner ? 100.0 : 0.0});
  return p;
}

static void test_mouse_fixture() {
  SegmenterConfig cfg;
  for (double step : {0.016, 0.11, 0.1}) {
    MouseAction a;
    action_features(ActionType::kMM, polyline(step, false), 0, 0, cfg, &a);
    NEAR(a.f[3], 1.0, 1e-6);    // duration
    NEAR(a.f[4], 100, 1e-3);    // chord
    NEAR(a.f[5], 100, 1e-3);    // path
    NEAR(a.f[6], 1.0, 1e-6);    // straightness
    NEAR(a.f[7], 100, 1e-3);    // mean speed
    NEAR(a.f[10], 100, 1e-2);   // mean grid velocity
    NEAR(a.f[11], 0, 1e-2);     // velocity sd
    NEAR(a.f[14], 0, 1e-1);     // |accel|
    NEAR(a.f[20], 0, 1e-6);     // no turning
    NEAR(a.f[9], 1.0, 1e-6);    // direction +x
    NEAR(a.f[0], 1, 0);
    MouseAction c;
    action_features(ActionType::kPC, polyline(step, true), 0.12, 0, cfg, &c);
    NEAR(c.f[5], 200, 1.0);              // path (corner cut by < 1 px)
    NEAR(c.f[4], std::sqrt(2.0) * 100, 1e-3);
    NEAR(c.f[6], std::sqrt(0.5), 5e-3);  // straightness
    NEAR(c.f[22], M_PI / 2, 1e-3);        // total turning
    NEAR(c.f[25], 0.5, 1e-2);            // max deviation / chord = 70.7/141.4
    NEAR(c.f[27], 0.12, 1e-6);           // click hold
    NEAR(c.f[1], 1, 0);
  }
}

static void test_segmenter() {
  ActionSegmenter seg;
  std::vector<MouseAction> out;
  double t = 0;
  auto mv = [&](double x, double y, MouseState st = MouseState::kMove,
                MouseButton b = MouseButton::kNone) {
    MouseEvent e;
    e.t = t; e.x = x; e.y = y; e.state = st; e.button = b;
    seg.push(e, &out);
  };
  for (int i = 0; i <= 10; ++i, t += 0.05) mv(10 * i, 0);          // move 100 px
  t += 2.0;                                                           // pause -> MM
  for (int i = 0; i <= 10; ++i, t += 0.05) mv(100, 10 * i);        // approach
  mv(100, 100, MouseState::kPressed, MouseButton::kLeft);
  t += 0.1;
  mv(100, 100, MouseState::kReleased, MouseButton::kLeft);         // -> PC
  t += 0.3;
  mv(100, 100, MouseState::kPressed, MouseButton::kLeft);
  for (int i = 1; i <= 10; ++i) { t += 0.05; mv(100 + 10 * i, 100, MouseState::kDrag); }
  t += 0.05;
  mv(200, 100, MouseState::kReleased, MouseButton::kLeft);         // -> DD
  seg.flush(&out);
  CHECK(out.size() == 3);
  if (out.size() == 3) {
    CHECK(out[0].type == ActionType::kMM);
    CHECK(out[1].type == ActionType::kPC);
    CHECK(out[2].type == ActionType::kDD);
    NEAR(out[0].f[5], 100, 1e-3);
    NEAR(out[1].f[27], 0.1, 1e-6);
    NEAR(out[2].f[27], 0.55, 1e-6);
    NEAR(out[2].f[4], 100, 1e-3);
  }
  // Common cadence: steps become multiples of the grid.
  std::vector<MouseEvent> ev;
  for (int i = 0; i < 100; ++i) ev.push_back({0.016 * i, double(i), 0, MouseButton::kNone, MouseState::kMove});
  std::vector<MouseEvent> cc = to_common_cadence(ev, 0.11);
  CHECK(cc.size() >= 14 && cc.size() <= 16);
  for (size_t i = 1; i < cc.size(); ++i) {
    double k = (cc[i].t - cc[i - 1].t) / 0.11;
    NEAR(k, std::round(k), 1e-6);
  }
}

static void test_common_grid() {
  // A 60 Hz and a jittery ~9 Hz recording of one motion give the same grid.
  auto rec = [](double step, double jitter) {
    std::vector<MouseEvent> ev;
    std::mt19937 r(1);
    std::uniform_real_distribution<double> j(-jitter, jitter);
    for (double t = 1.0; t <= 2.0 + 1e-9; t += step) {
      double tt = std::min(2.0, std::max(1.0, t + j(r)));
      ev.push_back({tt, 300 * (tt - 1.0), 0, MouseButton::kNone, MouseState::kMove});
    }
    return ev;
  };
  std::vector<MouseEvent> a = to_common_grid(rec(0.016, 0), 0.11), b = to_common_grid(rec(0.11, 0.015), 0.11);
  CHECK(std::abs(int(a.size()) - int(b.size())) <= 1);
  for (size_t i = 1; i < a.size(); ++i) NEAR(a[i].t - a[i - 1].t, 0.11, 1e-9);
  for (size_t i = 1; i < b.size(); ++i) NEAR(b[i].t - b[i - 1].t, 0.11, 1e-9);
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (std::abs(a[i].t - b[i].t) < 1e-9) NEAR(a[i].x, b[i].x, 1e-6);
}

// Two synthetic classes in 3 features (for the tree learners): class 1 is shifted on the first
// feature and narrower on the third.
static void two_class_row(std::mt19937& rng, int c, float x[3]) {
  std::normal_distribution<float> n(0, 1);
  x[0] = n(rng) + (c ? 2.5f : 0.f);
  x[1] = n(rng);
  x[2] = n(rng) * (c ? 1.f : 3.f);
}

static void two_class_rows(std::mt19937& rng, int rows, std::vector<float>* X, std::vector<uint8_t>* y) {
  for (int i = 0; i < rows; ++i) {
    float x[3];
    two_class_row(rng, i % 2, x);
    X->insert(X->end(), x, x + 3);
    y->push_back(uint8_t(i % 2));
  }
}

static void test_forest() {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> X;
  std::vector<uint8_t> y;
  two_class_rows(rng, 600, &X, &y);
  RandomForest rf;
  rf.fit(X, 3, y);
  std::vector<double> g, im;
  for (int i = 0; i < 400; ++i) {
    float x[3];
    two_class_row(rng, i % 2, x);
    (i % 2 ? g : im).push_back(rf.predict(x));
  }
  CHECK(roc_summary(g, im).auc > 0.93);
  // Serialisation round trip gives identical predictions; corruption is refused.
  std::vector<uint8_t> blob = rf.serialize();
  RandomForest back;
  CHECK(back.deserialize(blob.data(), blob.size()));
  bool same = true;
  for (int i = 0; i < 50; ++i) {
    float x[3] = {n(rng), n(rng), n(rng)};
    same = same && back.predict(x) == rf.predict(x);
  }
  CHECK(same);
  RandomForest bad;
  CHECK(!bad.deserialize(blob.data(), blob.size() - 1));
  std::vector<uint8_t> evil = blob;
  evil[0] = 'X';
  CHECK(!bad.deserialize(evil.data(), evil.size()));
  // A child index pointing backwards (a cycle) must be refused: the first
  // tree's root left index sits after magic, d, edges and the tree size.
  size_t off = 8;
  for (int f = 0; f < 3; ++f) {
    uint32_t m = blob[off] | (blob[off + 1] << 8);
    off += 4 + 4 * m;
  }
  off += 4 /*tree count*/ + 4 /*node count*/ + 4 /*feature*/ + 4 /*bin*/;
  evil = blob;
  evil[off] = 0; evil[off + 1] = 0; evil[off + 2] = 0; evil[off + 3] = 0;
  CHECK(!bad.deserialize(evil.data(), evil.size()));
  // Random byte mutations: never crash; whatever is accepted predicts safely.
  std::uniform_int_distribution<size_t> at(0, blob.size() - 1);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    evil = blob;
    for (int j = 0; j < 1 + i % 4; ++j) evil[at(rng)] = uint8_t(rng());
    RandomForest m;
    if (m.deserialize(evil.data(), evil.size())) {
      ++accepted;
      float x[3] = {n(rng), n(rng), n(rng)};
      double v = m.predict(x);
      (void)v;
    }
  }
  CHECK(accepted < 3000);
}

// Two synthetic mouse users: different speed profiles and curvature.
static std::vector<MouseAction> synth_actions(std::mt19937& r, double speed, double bend, size_t n) {
  std::vector<MouseAction> out;
  std::normal_distribution<double> noise(1.0, 0.15);
  std::uniform_real_distribution<double> ang(-M_PI, M_PI);
  SegmenterConfig cfg;
  for (size_t i = 0; i < n; ++i) {
    double L = 100 + 400 * std::abs(noise(r) - 0.5), th = ang(r), v = speed * noise(r);
    double T = L / v, b = bend * noise(r);
    std::vector<TrajPoint> pts;
    for (double t = 0; t <= T + 1e-9; t += 0.016) {
      double u = t / T, s = L * (3 * u * u - 2 * u * u * u);  // bell-shaped speed
      double off = b * L * std::sin(M_PI * u);
      pts.push_back({t, s * std::cos(th) - off * std::sin(th), s * std::sin(th) + off * std::cos(th)});
    }
    MouseAction a;
    action_features(i % 3 ? ActionType::kMM : ActionType::kPC, pts, 0.1 * noise(r), 0, cfg, &a);
    out.push_back(a);
  }
  return out;
}

// GradientBoosting: one hand-computed Newton step, the class prior with no rounds, binary and
// softmax separation of synthetic classes, and determinism.
static void test_boosting() {
  {
    // 40 rows at x=0 (class 0), 40 at x=1 (class 1). Prior margin log(41/41) = 0, so p = 0.5,
    // g = p - y = +-0.5, h = 0.25. With lr 1 and l2 0 the one split gives leaf values
    // -G/H = -(40 * 0.5)/(40 * 0.25) = -2 (x=0) and +2 (x=1): p(x=1) = 1/(1+e^-2).
    std::vector<float> X;
    std::vector<uint16_t> y;
    for (int i = 0; i < 80; ++i) {
      X.push_back(i < 40 ? 0.f : 1.f);
      y.push_back(i < 40 ? 0 : 1);
    }
    BoostParams p;
    p.rounds = 1;
    p.learning_rate = 1.0;
    p.l2 = 0.0;
    p.min_leaf = 20;
    GradientBoosting m;
    m.fit(X, 1, y, 2, p);
    float one = 1.f, zero = 0.f;
    NEAR(m.predict(&one), 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
    NEAR(m.predict(&zero), 1.0 / (1.0 + std::exp(2.0)), 1e-6);
    p.rounds = 0;  // no trees: the smoothed prior, (30+1)/(50+1) of class 1 against class 0
    std::vector<uint16_t> y2(y);
    for (int i = 0; i < 10; ++i) y2[size_t(i) + 40] = 0;
    m.fit(X, 1, y2, 2, p);
    NEAR(m.predict(&one), 31.0 / 82.0, 1e-9);
  }
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0, 1);
  {
    std::vector<float> X;
    std::vector<uint8_t> y8;
    two_class_rows(rng, 600, &X, &y8);
    const std::vector<uint16_t> y(y8.begin(), y8.end());
    GradientBoosting m, again;
    m.fit(X, 3, y, 2);
    again.fit(X, 3, y, 2);
    std::vector<double> g, im;
    bool same = true;
    for (int i = 0; i < 400; ++i) {
      float x[3];
      two_class_row(rng, i % 2, x);
      (i % 2 ? g : im).push_back(m.predict(x));
      same = same && m.predict(x) == again.predict(x);
    }
    CHECK(roc_summary(g, im).auc > 0.93);
    CHECK(same);
  }
  {
    // Three classes around three centres: most held-out points go to their own class, and the
    // softmax probabilities sum to one.
    const float cx[3] = {0.f, 3.f, 0.f}, cy[3] = {0.f, 0.f, 3.f};
    std::vector<float> X;
    std::vector<uint16_t> y;
    for (int i = 0; i < 900; ++i) {
      int c = i % 3;
      X.push_back(cx[c] + n(rng));
      X.push_back(cy[c] + n(rng));
      y.push_back(uint16_t(c));
    }
    BoostParams p;
    p.rounds = 50;
    GradientBoosting m;
    m.fit(X, 2, y, 3, p);
    CHECK(m.classes() == 3);
    int right = 0;
    double worst_sum = 0;
    for (int i = 0; i < 300; ++i) {
      int c = i % 3;
      float x[2] = {cx[c] + n(rng), cy[c] + n(rng)};
      double best = -1, sum = 0;
      int arg = -1;
      for (int k = 0; k < 3; ++k) {
        double q = m.predict(x, k);
        sum += q;
        if (q > best) best = q, arg = k;
      }
      worst_sum = std::max(worst_sum, std::fabs(sum - 1.0));
      right += arg == c;
    }
    CHECK(right > 240);  // the Bayes rate here is about 90%
    CHECK(worst_sum < 1e-9);
    // Serialization: the same margins after a round trip; every truncation, a wrong magic or
    // version, and a child pointing back up (a cycle) are refused with the object unchanged.
    const std::vector<uint8_t> b = m.serialize();
    GradientBoosting back;
    CHECK(back.deserialize(b.data(), b.size()) && back.classes() == 3 && back.dims() == 2);
    bool same = true;
    for (int i = 0; i < 50; ++i) {
      float x[2] = {n(rng), n(rng)};
      for (int k = 0; k < 3; ++k) same = same && back.predict(x, k) == m.predict(x, k);
    }
    CHECK(same);
    CHECK(back.serialize() == b);
    bool refused = true;
    for (size_t len = 0; len < b.size(); len += 1 + len / 64) refused = refused && !back.deserialize(b.data(), len);
    CHECK(refused);
    std::vector<uint8_t> bad = b;
    bad[0] = 'X';
    CHECK(!back.deserialize(bad.data(), bad.size()));
    bad = b;
    bad[4] = 9;
    CHECK(!back.deserialize(bad.data(), bad.size()));
    // A node is feature(4) bin(1) left(4) right(4) value(4): turn the final node of the final
    // tree (a leaf) into a split whose left child is the tree's root, above it.
    bad = b;
    const size_t last_node = bad.size() - 17;  // the final node of the final tree (a leaf)
    for (int i = 0; i < 4; ++i) bad[last_node + i] = 0;      // feature 0: now a split
    for (int i = 0; i < 4; ++i) bad[last_node + 5 + i] = 0;  // left child: node 0
    CHECK(!back.deserialize(bad.data(), bad.size()));
    CHECK(back.serialize() == b);  // unchanged by the refusals
  }
}

// GradientBoosting: the exact model of two fixed fits (binary and softmax over small integer
// features with ties), pinned by the SipHash of serialize(). The values were recorded from the
// fit() before its speed-ups (rows kept in partition order, boosting.cpp), so any later change
// to the learner's arithmetic or its row order shows here. They hold for glibc's exp() and
// libstdc++'s std::sort on x86-64: on another libm the fit may differ in the last bit.
static void test_boosting_pinned() {
  std::mt19937 r(11);  // its output is fixed by the standard; no distributions used
  const int d = 6;
  std::vector<float> X;
  std::vector<uint16_t> y2, y4;
  for (int i = 0; i < 1500; ++i) {
    const int c = int(r() % 4);
    y4.push_back(uint16_t(c));
    y2.push_back(uint16_t(c % 2));
    for (int f = 0; f < d; ++f) X.push_back(float(int(r() % 16) + int(r() % 16) + ((c + f) % 3) * 4));
  }
  BoostParams p;
  p.rounds = 12;
  p.max_leaves = 15;
  p.min_leaf = 10;
  const HashKey key = test_key(3);
  GradientBoosting b, s;
  b.fit(X, d, y2, 2, p);
  s.fit(X, d, y4, 4, p);
  const std::vector<uint8_t> bb = b.serialize(), sb = s.serialize();
  CHECK(bb.size() == 6728 && siphash24(key.data(), bb.data(), bb.size()) == 0xc68104e01876a817ULL);
  CHECK(sb.size() == 24644 && siphash24(key.data(), sb.data(), sb.size()) == 0x7b802e66f49e6779ULL);
}

static void test_mouse_profile() {
  std::mt19937 r(5);
  std::vector<MouseAction> a_enr = synth_actions(r, 800, 0.05, 600), b_bg = synth_actions(r, 1100, 0.12, 600);
  MouseProfile p = MouseProfile::enroll(a_enr, b_bg);
  std::vector<MouseAction> a_test = synth_actions(r, 800, 0.05, 200), b_test = synth_actions(r, 1100, 0.12, 200);
  std::vector<double> g, im;
  for (size_t i = 0; i + 20 <= 200; i += 20) {
    g.push_back(p.block_score(&a_test[i], 20));
    im.push_back(p.block_score(&b_test[i], 20));
  }
  RocSummary rs = roc_summary(g, im);
  std::printf("  synthetic mouse users: block-20 AUC %.3f\n", rs.auc);
  CHECK(rs.auc > 0.99);
  BlockScorer bs(3);
  CHECK(!bs.push(1.0));
  CHECK(!bs.push(2.0));
  CHECK(bs.push(3.0));
  NEAR(bs.score(), 2.0, 1e-12);
  CHECK(bs.push(6.0));
  NEAR(bs.score(), 11.0 / 3.0, 1e-12);
}


// A population with `pairs` feature pairs per model whose pair terms count (weight 0.5 each;
// fit() leaves them at 0 until weights are learned).
static MousePopulation population_with_pairs(const std::vector<std::vector<MouseAction>>& per_user, size_t pairs) {
  MousePopulation pop = MousePopulation::fit(per_user, pairs);
  for (int m = 0; m < kOneClassModels; ++m) std::fill(pop.pair_weight[m].begin(), pop.pair_weight[m].end(), 0.5f);
  return pop;
}

// One-class mouse scorer: enrolled on user A's actions only (plus a population
// model fitted on three OTHER synthetic users), it must separate A from B.
static void test_mouse_oneclass() {
  std::mt19937 r(9);
  std::vector<std::vector<MouseAction>> popu = {synth_actions(r, 600, 0.03, 400), synth_actions(r, 950, 0.09, 400),
                                                synth_actions(r, 1300, 0.15, 400)};
  MousePopulation pop = population_with_pairs(popu, 40);
  CHECK(pop.valid());
  CHECK(pop.model(3).pairs.size() == 40 && pop.pair_weight[3].size() == 40);
  for (const auto& pr : pop.model(3).pairs) CHECK(pr[0] >= 3 && pr[0] < pr[1] && pr[1] < kActionFeatures);
  std::vector<MouseAction> a_enr = synth_actions(r, 800, 0.05, 600);
  std::vector<MouseAction> a_test = synth_actions(r, 800, 0.05, 200), b_test = synth_actions(r, 1100, 0.12, 200);
  for (OneClassMethod m : {OneClassMethod::kHistLlr, OneClassMethod::kGauss, OneClassMethod::kRobustZ,
                           OneClassMethod::kKnn}) {
    OneClassParams p;
    p.method = m;
    p.self_norm = m == OneClassMethod::kRobustZ || m == OneClassMethod::kKnn;
    const bool needs_pop = m == OneClassMethod::kHistLlr || m == OneClassMethod::kGauss;
    MouseOneClass oc = MouseOneClass::enroll(a_enr, needs_pop ? &pop : nullptr, p);
    CHECK(oc.valid());
    std::vector<double> g, im;
    for (size_t i = 0; i + 20 <= 200; i += 20) {
      g.push_back(oc.block_score(&a_test[i], 20));
      im.push_back(oc.block_score(&b_test[i], 20));
    }
    RocSummary rs = roc_summary(g, im);
    std::printf("  one-class method %d, synthetic mouse users: block-20 AUC %.3f\n", int(m), rs.auc);
    CHECK(rs.auc > 0.95);
    if (m == OneClassMethod::kHistLlr) {
      // The raw score is the weighted sum of the feature terms and the pair terms, and the pair
      // terms move it: the same profile with zero pair weights scores differently.
      bool sums = true, moved = false;
      MousePopulation no_pair_weights = pop;
      for (auto& pw : no_pair_weights.pair_weight) std::fill(pw.begin(), pw.end(), 0.f);
      MouseOneClass flat = MouseOneClass::enroll(a_enr, &no_pair_weights, p);
      std::vector<float> t;
      for (const MouseAction& a : b_test) {
        const int mi = oc.model_index(a);
        oc.hist_terms(a, mi, &t);
        sums = sums && t.size() == size_t(kActionFeatures) + pop.model(mi).pairs.size();
        double sum = 0;
        for (int f = 0; f < kActionFeatures; ++f) sum += double(pop.weight[mi][f]) * t[f];
        for (size_t k = 0; k < pop.model(mi).pairs.size(); ++k) sum += double(pop.pair_weight[mi][k]) * t[kActionFeatures + k];
        sum = std::max(-p.clip, std::min(p.clip, sum));
        sums = sums && std::abs(sum - oc.action_score(a)) < 1e-4 * (1 + std::abs(sum));
        moved = moved || std::abs(flat.action_score(a) - oc.action_score(a)) > 1e-3;
      }
      CHECK(sums);
      CHECK(moved);
    }
    // Calibration: the requested share of leave-out enrollment blocks is rejected.
    for (double frr : {0.05, 0.10, 0.20}) {
      double thr = oc.calibrate(a_enr, needs_pop ? &pop : nullptr, 20, frr);
      const auto& cs = oc.calibration_scores();
      CHECK(cs.size() >= 20);
      size_t rej = 0;
      for (double v : cs) rej += v < thr;
      NEAR(double(rej) / double(cs.size()), frr, 1.0 / double(cs.size()) + 1e-9);
      CHECK(oc.threshold == thr);
    }
    // Serialisation round trip: identical scores and threshold.
    std::vector<uint8_t> blob = oc.serialize();
    MouseOneClass back;
    CHECK(back.deserialize(blob.data(), blob.size()));
    CHECK(back.valid() && back.threshold == oc.threshold);
    bool same = true;
    for (const MouseAction& a : b_test) same = same && back.action_score(a) == oc.action_score(a);
    CHECK(same);
    // Truncated, extended, wrong-magic and wrong-version inputs are rejected, object unchanged.
    bool all_rejected = true;
    for (size_t n = 0; n < blob.size(); n += (n < 64 ? 1 : 13)) {
      MouseOneClass t = back;
      if (t.deserialize(blob.data(), n)) all_rejected = false;
      if (t.action_score(b_test[0]) != oc.action_score(b_test[0])) all_rejected = false;
    }
    CHECK(all_rejected);
    CHECK(!back.deserialize(blob.data(), blob.size() - 1));
    std::vector<uint8_t> evil = blob;
    evil.push_back(0);
    CHECK(!back.deserialize(evil.data(), evil.size()));
    evil = blob;
    evil[4] = uint8_t(MouseOneClass::kVersion + 1);
    CHECK(!back.deserialize(evil.data(), evil.size()));
    evil = blob;
    evil[0] = 'X';
    CHECK(!back.deserialize(evil.data(), evil.size()));
    CHECK(!back.deserialize(nullptr, 0));
    // Random mutations never crash; whatever is accepted scores without crashing.
    std::uniform_int_distribution<size_t> at(0, blob.size() - 1);
    for (int i = 0; i < 300; ++i) {
      evil = blob;
      for (int j = 0; j < 1 + i % 4; ++j) evil[at(r)] = uint8_t(r());
      MouseOneClass t;
      if (t.deserialize(evil.data(), evil.size())) (void)t.block_score(b_test.data(), 20);
    }
  }
  // A method that needs a population refuses to enroll without one.
  CHECK(!MouseOneClass::enroll(a_enr, nullptr, OneClassParams{}).valid());
  // Population round trip, truncation and version checks.
  std::vector<uint8_t> pb = pop.serialize();
  MousePopulation pop2;
  CHECK(pop2.deserialize(pb.data(), pb.size()));
  CHECK(pop2.serialize() == pb);
  bool prefix_rejected = true;
  for (size_t n = 0; n < pb.size(); n += (n < 64 ? 1 : 29)) {
    MousePopulation t;
    if (t.deserialize(pb.data(), n)) prefix_rejected = false;
  }
  CHECK(prefix_rejected);
  std::vector<uint8_t> ev = pb;
  ev[4] = uint8_t(MousePopulation::kVersion + 1);
  CHECK(!pop2.deserialize(ev.data(), ev.size()));
  // A pair out of order, a joint probability of 0, or a pair-weight count that does not match
  // the model's pairs are refused.
  CHECK(pop.serialize(2).empty());  // version 2 cannot hold pairs
  {
    MousePopulation t = pop;
    t.pair_weight[3].push_back(1.f);
    std::vector<uint8_t> tb = t.serialize();
    CHECK(!pop2.deserialize(tb.data(), tb.size()));
  }
  bool mutants_rejected = true;
  size_t found = 0;
  for (size_t k = 0; k < pop.model(3).pairs.size(); ++k) {
    // model 3's pair record k: f, g, the u32 count 64, then the first joint probability
    uint8_t rec[10] = {pop.model(3).pairs[k][0], pop.model(3).pairs[k][1], 64, 0, 0, 0};
    std::memcpy(rec + 6, &pop.model(3).joint[k][0], 4);
    for (size_t at = 0; at + 10 <= pb.size(); ++at) {
      if (std::memcmp(&pb[at], rec, 10) != 0) continue;
      ++found;
      ev = pb;
      std::swap(ev[at], ev[at + 1]);  // g < f
      if (pop2.deserialize(ev.data(), ev.size())) mutants_rejected = false;
      ev = pb;
      std::memset(&ev[at + 6], 0, 4);  // a joint probability of 0
      if (pop2.deserialize(ev.data(), ev.size())) mutants_rejected = false;
    }
  }
  CHECK(found >= pop.model(3).pairs.size());
  CHECK(mutants_rejected);
  std::uniform_int_distribution<size_t> pat(0, pb.size() - 1);
  for (int i = 0; i < 300; ++i) {  // random mutations never crash; what is accepted enrolls
    ev = pb;
    for (int j = 0; j < 1 + i % 4; ++j) ev[pat(r)] = uint8_t(r());
    MousePopulation t;
    if (t.deserialize(ev.data(), ev.size())) (void)MouseOneClass::enroll(a_enr, &t).block_score(b_test.data(), 20);
  }
  // A population without pairs written as version 2 (the layout before pairs) loads, and
  // profiles enrolled with it score as with the version-3 bytes.
  {
    MousePopulation flat = MousePopulation::fit(popu);
    std::vector<uint8_t> v2 = flat.serialize(2), v3 = flat.serialize();
    CHECK(!v2.empty() && v2.size() < v3.size() && v2[4] == 2);
    MousePopulation a, b;
    CHECK(a.deserialize(v2.data(), v2.size()) && b.deserialize(v3.data(), v3.size()));
    CHECK(a.serialize() == v3);
    MouseOneClass pa = MouseOneClass::enroll(a_enr, &a), pb3 = MouseOneClass::enroll(a_enr, &b);
    bool same = true;
    for (const MouseAction& x : b_test) same = same && pa.action_score(x) == pb3.action_score(x);
    CHECK(same);
  }
  ev = pb;
  ev[8] = uint8_t(kMouseSchemaVersion + 1);  // feature schema
  CHECK(!pop2.deserialize(ev.data(), ev.size()));
  // The shipped model (models/mouse/population.bin) parses, if it can be found from here.
  for (const char* path : {"models/mouse/population.bin", "../../models/mouse/population.bin"}) {
    FILE* fp = std::fopen(path, "rb");
    if (!fp) continue;
    std::vector<uint8_t> b;
    int c;
    while ((c = std::fgetc(fp)) != EOF) b.push_back(uint8_t(c));
    std::fclose(fp);
    MousePopulation shipped;
    CHECK(shipped.deserialize(b.data(), b.size()));
    CHECK(shipped.valid());
    size_t weighted = 0;  // the pair terms are shipped with learned weights
    for (float w : shipped.pair_weight[3]) weighted += w > 0;
    CHECK(!shipped.model(3).pairs.empty() && weighted > 0);
    std::printf("  shipped mouse population model: %zu bytes, parsed, %zu pairs in the all-types model (%zu weighted)\n",
                b.size(), shipped.model(3).pairs.size(), weighted);
    break;
  }
  // Synthetic background from the population: the requested types, finite features.
  std::vector<uint8_t> types = {0, 1, 2, 0, 1};
  std::vector<MouseAction> bg = pop.sample(types, 3);
  CHECK(bg.size() == types.size());
  bool finite = true;
  for (const MouseAction& a : bg)
    for (float v : a.f) finite = finite && std::isfinite(v);
  CHECK(finite);
}

// Several sittings (MouseOneClass::add_sitting): enroll(A1) then add(A2) gives exactly what
// enroll(A1 + A2) then calibrate(A1 + A2) give (scores, leave-out blocks, threshold); the
// quantised enrollment survives serialisation; max_actions keeps the most recent actions; a
// version-2 profile, another population, a short sitting and a method without a quantised
// enrollment are refused with the profile unchanged.
static void test_mouse_sittings() {
  std::mt19937 r(21);
  std::vector<std::vector<MouseAction>> popu = {synth_actions(r, 600, 0.03, 400), synth_actions(r, 950, 0.09, 400),
                                                synth_actions(r, 1300, 0.15, 400)};
  MousePopulation pop = population_with_pairs(popu, 40);
  std::vector<MouseAction> a1 = synth_actions(r, 800, 0.05, 300), a2 = synth_actions(r, 800, 0.05, 300),
                           a3 = synth_actions(r, 800, 0.05, 120), probe = synth_actions(r, 1100, 0.12, 200);
  std::vector<MouseAction> a12 = a1, a123;
  a12.insert(a12.end(), a2.begin(), a2.end());
  a123 = a12;
  a123.insert(a123.end(), a3.begin(), a3.end());
  MouseOneClass one = MouseOneClass::enroll(a1, &pop);
  one.calibrate(a1, &pop, 20, 0.05);
  CHECK(one.valid() && one.can_add_sittings() && one.sittings() == 1 && one.enrolled_actions() == 300);
  MouseOneClass added = one;
  const char* why = nullptr;
  CHECK(added.add_sitting(a2, &pop, 20, 0.10, &why));
  CHECK(added.sittings() == 2 && added.enrolled_actions() == 600);
  MouseOneClass both = MouseOneClass::enroll(a12, &pop);
  both.calibrate(a12, &pop, 20, 0.10);
  bool same = true;
  for (const auto* v : {&probe, &a1, &a2})
    for (const MouseAction& a : *v) same = same && added.action_score(a) == both.action_score(a);
  CHECK(same);
  CHECK(!both.calibration_scores().empty() && added.calibration_scores() == both.calibration_scores());
  CHECK(added.threshold == both.threshold);
  size_t rej = 0;
  for (double v : added.calibration_scores()) rej += v < added.threshold;
  NEAR(double(rej) / double(added.calibration_scores().size()), 0.10, 1.0 / double(added.calibration_scores().size()) + 1e-9);
  // Round trip keeps the quantised enrollment and sittings; a third sitting still matches.
  std::vector<uint8_t> blob = added.serialize();
  MouseOneClass back;
  CHECK(back.deserialize(blob.data(), blob.size()));
  CHECK(back.sittings() == 2 && back.can_add_sittings() && back.threshold == added.threshold);
  CHECK(back.serialize() == blob);
  MouseOneClass capped = back;
  CHECK(back.add_sitting(a3, &pop, 20, 0.05, &why));
  CHECK(back.sittings() == 3 && back.enrolled_actions() == 720);
  MouseOneClass all3 = MouseOneClass::enroll(a123, &pop);
  all3.calibrate(a123, &pop, 20, 0.05);
  same = back.threshold == all3.threshold && back.calibration_scores() == all3.calibration_scores();
  for (const MouseAction& a : probe) same = same && back.action_score(a) == all3.action_score(a);
  CHECK(same);
  // max_actions: only the most recent 400 actions stay (the end of A2, then A3).
  CHECK(capped.add_sitting(a3, &pop, 20, 0.05, &why, 400));
  CHECK(capped.enrolled_actions() == 400 && capped.sittings() == 3);
  std::vector<MouseAction> tail(a123.end() - 400, a123.end());
  MouseOneClass last = MouseOneClass::enroll(tail, &pop);
  last.calibrate(tail, &pop, 20, 0.05);
  same = capped.threshold == last.threshold;
  for (const MouseAction& a : probe) same = same && capped.action_score(a) == last.action_score(a);
  CHECK(same);
  bool prefix_rejected = true;
  for (size_t n = 0; n < blob.size(); n += (n < 64 ? 1 : 17)) {
    MouseOneClass t;
    if (t.deserialize(blob.data(), n)) prefix_rejected = false;
  }
  CHECK(prefix_rejected);
  // A bin past its model's bins, or an unknown type, is refused.
  const size_t codes_at = blob.size() - 600 * (1 + 2 * size_t(kActionFeatures));
  std::vector<uint8_t> bad = blob;
  bad[codes_at] = 3;
  CHECK(!MouseOneClass().deserialize(bad.data(), bad.size()));
  bad = blob;
  bad[codes_at + 1 + kActionFeatures] = 200;
  CHECK(!MouseOneClass().deserialize(bad.data(), bad.size()));
  // Refusals leave the profile as it was.
  const double before = added.action_score(probe[0]);
  std::vector<std::vector<MouseAction>> other = {synth_actions(r, 700, 0.04, 400), synth_actions(r, 1000, 0.1, 400)};
  MousePopulation pop_other = MousePopulation::fit(other);
  why = nullptr;
  CHECK(!added.add_sitting(a3, &pop_other, 20, 0.05, &why) && why != nullptr);
  CHECK(!added.add_sitting(std::vector<MouseAction>(a3.begin(), a3.begin() + 19), &pop, 20, 0.05, &why));
  CHECK(!added.add_sitting(a3, nullptr, 20, 0.05, &why));
  CHECK(added.sittings() == 2 && added.action_score(probe[0]) == before);
  OneClassParams zp;
  zp.method = OneClassMethod::kRobustZ;
  zp.self_norm = true;
  MouseOneClass z = MouseOneClass::enroll(a1, nullptr, zp);
  CHECK(z.valid() && !z.can_add_sittings() && !z.add_sitting(a2, &pop, 20, 0.05, &why));
  // Older profiles, enrolled with a population without pairs (the one shipped before pairs):
  // version 3 loads, scores the same and takes sittings; version 2 (version 3 without the
  // quantised enrollment) loads and scores the same but cannot take another sitting. A profile
  // with pair terms cannot be written in either layout.
  CHECK(one.serialize(3).empty() && one.serialize(2).empty());
  MousePopulation pop0 = MousePopulation::fit(popu);
  MouseOneClass one0 = MouseOneClass::enroll(a1, &pop0);
  one0.calibrate(a1, &pop0, 20, 0.05);
  std::vector<uint8_t> b1 = one0.serialize(3);
  CHECK(!b1.empty() && b1[4] == 3);
  MouseOneClass old3;
  CHECK(old3.deserialize(b1.data(), b1.size()));
  CHECK(old3.sittings() == 1 && old3.can_add_sittings() && old3.action_score(probe[0]) == one0.action_score(probe[0]));
  MouseOneClass grown = one0;
  CHECK(old3.add_sitting(a2, &pop0, 20, 0.10, &why) && grown.add_sitting(a2, &pop0, 20, 0.10, &why));
  CHECK(old3.threshold == grown.threshold && old3.action_score(probe[1]) == grown.action_score(probe[1]));
  CHECK(!old3.add_sitting(a3, &pop, 20, 0.05, &why));  // the population with pairs is another one
  const size_t section = 1 + 4 + 8 + 4 + 300 * (1 + 2 * size_t(kActionFeatures));
  std::vector<uint8_t> v2(b1.begin(), b1.end() - long(section));
  v2[4] = 2;
  MouseOneClass old;
  CHECK(old.deserialize(v2.data(), v2.size()));
  CHECK(old.valid() && !old.can_add_sittings() && old.action_score(probe[0]) == one0.action_score(probe[0]));
  CHECK(!old.add_sitting(a2, &pop0, 20, 0.05, &why));
  // A version-3 profile with that section cut off is refused.
  std::vector<uint8_t> cut(b1.begin(), b1.end() - long(section));
  CHECK(!old.deserialize(cut.data(), cut.size()));
}

// Block-level two-sample scorer (MouseBlock): enrolled on user A's actions
// (population from three other synthetic users), it must separate A from B;
// calibration, serialisation round trip and rejection of bad input.
static void test_mouse_block() {
  std::mt19937 r(13);
  std::vector<std::vector<MouseAction>> popu = {synth_actions(r, 600, 0.03, 400), synth_actions(r, 950, 0.09, 400),
                                                synth_actions(r, 1300, 0.15, 400)};
  MousePopulation pop = MousePopulation::fit(popu);
  std::vector<MouseAction> a_enr = synth_actions(r, 800, 0.05, 600);
  std::vector<MouseAction> a_test = synth_actions(r, 800, 0.05, 200), b_test = synth_actions(r, 1100, 0.12, 200);
  for (int with_pop = 0; with_pop < 2; ++with_pop) {
    MouseBlockWeights w = MouseBlockWeights::unit();
    MouseBlock mb = MouseBlock::enroll(a_enr, with_pop ? &pop : nullptr, w);
    CHECK(mb.valid());
    std::vector<double> g, im;
    for (size_t i = 0; i + 20 <= 200; i += 10) {
      g.push_back(mb.score(&a_test[i], 20));
      im.push_back(mb.score(&b_test[i], 20));
    }
    RocSummary rs = roc_summary(g, im);
    std::printf("  block scorer (population %d), synthetic mouse users: block-20 AUC %.3f\n", with_pop, rs.auc);
    CHECK(rs.auc > 0.95);
    for (double frr : {0.05, 0.10, 0.20}) {
      double thr = mb.calibrate(a_enr, with_pop ? &pop : nullptr, 20, frr);
      const auto& cs = mb.calibration_scores();
      CHECK(cs.size() >= 20);
      size_t rej = 0;
      for (double v : cs) rej += v < thr;
      NEAR(double(rej) / double(cs.size()), frr, 1.0 / double(cs.size()) + 1e-9);
      CHECK(mb.threshold == thr);
    }
    std::vector<uint8_t> blob = mb.serialize();
    MouseBlock back;
    CHECK(back.deserialize(blob.data(), blob.size()));
    CHECK(back.valid() && back.threshold == mb.threshold);
    bool same = true;
    for (size_t i = 0; i + 20 <= 200; i += 20) same = same && back.score(&b_test[i], 20) == mb.score(&b_test[i], 20);
    CHECK(same);
    CHECK(back.serialize() == blob);
    bool all_rejected = true;
    const double ref = mb.score(b_test.data(), 20);
    for (size_t n = 0; n < blob.size(); n += (n < 64 ? 1 : 97)) {
      MouseBlock t = back;
      if (t.deserialize(blob.data(), n)) all_rejected = false;
      if (t.score(b_test.data(), 20) != ref) all_rejected = false;
    }
    CHECK(all_rejected);
    CHECK(!back.deserialize(blob.data(), blob.size() - 1));
    std::vector<uint8_t> evil = blob;
    evil.push_back(0);
    CHECK(!back.deserialize(evil.data(), evil.size()));
    evil = blob;
    evil[4] = uint8_t(MouseBlock::kVersion + 1);
    CHECK(!back.deserialize(evil.data(), evil.size()));
    evil = blob;
    evil[0] = 'X';
    CHECK(!back.deserialize(evil.data(), evil.size()));
    CHECK(!back.deserialize(nullptr, 0));
    CHECK(back.score(b_test.data(), 20) == ref);
    std::uniform_int_distribution<size_t> at(0, blob.size() - 1);
    for (int i = 0; i < 300; ++i) {
      evil = blob;
      for (int j = 0; j < 1 + i % 4; ++j) evil[at(r)] = uint8_t(r());
      MouseBlock t;
      if (t.deserialize(evil.data(), evil.size())) (void)t.score(b_test.data(), 20);
    }
  }
  // An invalid weight set refuses to enroll; a block needs two actions.
  CHECK(!MouseBlock::enroll(a_enr, &pop, MouseBlockWeights{}).valid());
  MouseBlock mb = MouseBlock::enroll(a_enr, &pop, MouseBlockWeights::unit());
  double t1[kBlockTerms];
  mb.terms(a_test.data(), 1, t1);
  bool zero = true;
  for (double v : t1) zero = zero && v == 0;
  CHECK(zero);
  // Weights: fit() on separable term rows, round trip, truncation, bad version.
  std::vector<double> X;
  std::vector<uint8_t> y;
  std::array<bool, kBlockTerms> use{};
  for (int k = 3; k < kBlockTerms; ++k) use[k] = true;
  for (size_t i = 0; i + 20 <= 200; i += 5) {
    double t[kBlockTerms];
    mb.terms(&a_test[i], 20, t);
    X.insert(X.end(), t, t + kBlockTerms);
    y.push_back(1);
    mb.terms(&b_test[i], 20, t);
    X.insert(X.end(), t, t + kBlockTerms);
    y.push_back(0);
  }
  MouseBlockWeights fw = MouseBlockWeights::fit(X, y, BlockStat::kCvm, true, 20, 1e-2, use);
  CHECK(fw.valid());
  mb.set_weights(fw);
  std::vector<double> g, im;
  for (size_t i = 0; i + 20 <= 200; i += 10) {
    g.push_back(mb.score(&a_test[i], 20));
    im.push_back(mb.score(&b_test[i], 20));
  }
  CHECK(roc_summary(g, im).auc > 0.95);
  std::vector<uint8_t> wb = fw.serialize();
  MouseBlockWeights fw2;
  CHECK(fw2.deserialize(wb.data(), wb.size()));
  CHECK(fw2.serialize() == wb);
  bool wrej = true;
  for (size_t n = 0; n < wb.size(); ++n) {
    MouseBlockWeights t;
    if (t.deserialize(wb.data(), n)) wrej = false;
  }
  CHECK(wrej);
  std::vector<uint8_t> we = wb;
  we[4] = uint8_t(MouseBlockWeights::kVersion + 1);
  CHECK(!fw2.deserialize(we.data(), we.size()));
  we = wb;
  we.push_back(1);
  CHECK(!fw2.deserialize(we.data(), we.size()));
  // The shipped weights (models/mouse/block_weights.bin), if present, parse.
  for (const char* path : {"models/mouse/block_weights.bin", "../../models/mouse/block_weights.bin"}) {
    FILE* fp = std::fopen(path, "rb");
    if (!fp) continue;
    std::vector<uint8_t> b;
    int c;
    while ((c = std::fgetc(fp)) != EOF) b.push_back(uint8_t(c));
    std::fclose(fp);
    MouseBlockWeights shipped;
    CHECK(shipped.deserialize(b.data(), b.size()));
    std::printf("  shipped mouse block weights: %zu bytes, parsed\n", b.size());
    break;
  }
}

// MouseCohort: three synthetic users enrolled under one population. Each one's own fresh actions
// score above the others' under their own column; the cross-fitted calibration rejects about
// the target share of held-out genuine blocks; the bytes round-trip; bad input is refused.
static void test_mouse_cohort() {
  std::mt19937 r(33);
  std::vector<std::vector<MouseAction>> popu = {synth_actions(r, 600, 0.03, 400), synth_actions(r, 950, 0.09, 400),
                                                synth_actions(r, 1300, 0.15, 400)};
  MousePopulation pop = population_with_pairs(popu, 40);
  const double speed[3] = {800, 1100, 950}, bend[3] = {0.05, 0.12, 0.09};
  std::vector<MouseOneClass> prof;
  for (int u = 0; u < 3; ++u) prof.push_back(MouseOneClass::enroll(synth_actions(r, speed[u], bend[u], 480), &pop));
  std::vector<const MouseOneClass*> members = {&prof[0], &prof[1], &prof[2]};
  CohortParams cp;
  cp.boost.rounds = 40;
  const char* why = nullptr;
  MouseCohort c = MouseCohort::fit(members, pop, cp, &why);
  CHECK(c.valid() && c.members() == 3 && c.block() == 20 && c.scored_with(pop));
  for (size_t i = 0; i < c.members(); ++i) {
    CHECK(c.calibration(i).blocks > 40);
    CHECK(c.calibration(i).genuine_sd > 0);
    CHECK(c.calibration(i).enrolled_far < 0.5);
  }
  for (int u = 0; u < 3; ++u) {
    std::vector<double> g, im;
    for (int v = 0; v < 3; ++v) {
      std::vector<MouseAction> fresh = synth_actions(r, speed[v], bend[v], 200);
      for (size_t b = 0; b + 20 <= fresh.size(); b += 20) {
        double s = 0;
        for (size_t i = b; i < b + 20; ++i) s += c.action_score(size_t(u), fresh[i], pop);
        (v == u ? g : im).push_back(s / 20);
      }
    }
    CHECK(roc_summary(g, im).auc > 0.9);
  }
  MouseCohort again = MouseCohort::fit(members, pop, cp, &why);
  CHECK(again.serialize() == c.serialize());  // deterministic
  const std::vector<uint8_t> b = c.serialize();
  MouseCohort back;
  CHECK(back.deserialize(b.data(), b.size()) && back.members() == 3);
  CHECK(back.serialize() == b);
  bool refused = true;
  for (size_t len = 0; len < b.size(); len += 1 + len / 64) refused = refused && !back.deserialize(b.data(), len);
  CHECK(refused);
  std::vector<uint8_t> bad = b;
  bad[3] = '9';
  CHECK(!back.deserialize(bad.data(), bad.size()));
  CHECK(back.serialize() == b);
  // Refusals: one member; a member enrolled under another population; an enrollment too short.
  why = nullptr;
  CHECK(!MouseCohort::fit({&prof[0]}, pop, cp, &why).valid() && why != nullptr);
  MousePopulation other = population_with_pairs({popu[1], popu[2], popu[0]}, 20);
  MouseOneClass foreign = MouseOneClass::enroll(synth_actions(r, 800, 0.05, 480), &other);
  why = nullptr;
  CHECK(!MouseCohort::fit({&prof[0], &foreign}, pop, cp, &why).valid() && why != nullptr);
  MouseOneClass short_one = MouseOneClass::enroll(synth_actions(r, 800, 0.05, 100), &pop);
  why = nullptr;
  CHECK(short_one.valid() && !MouseCohort::fit({&prof[0], &short_one}, pop, cp, &why).valid() && why != nullptr);
  MousePopulation scramble = other;
  CHECK(!c.scored_with(scramble));
  // Members of one distribution with 4x unequal rows: with the class prior kept, the larger one
  // is favoured on every action (about log 4 = 1.39 per action); dropped (the default), neither is.
  MouseOneClass big = MouseOneClass::enroll(synth_actions(r, 900, 0.08, 1600), &pop);
  MouseOneClass small = MouseOneClass::enroll(synth_actions(r, 900, 0.08, 400), &pop);
  CHECK(big.valid() && small.valid());
  std::vector<MouseAction> same = synth_actions(r, 900, 0.08, 400);
  double mean_score[2] = {0, 0};
  for (int keep_prior = 0; keep_prior < 2; ++keep_prior) {
    CohortParams pp = cp;
    pp.drop_prior = keep_prior == 0;
    MouseCohort pc = MouseCohort::fit({&big, &small}, pop, pp, &why);
    CHECK(pc.valid());
    if (!pc.valid()) continue;
    for (const MouseAction& a : same) mean_score[keep_prior] += pc.action_score(0, a, pop) / double(same.size());
  }
  CHECK(CohortParams{}.drop_prior);
  CHECK(mean_score[1] > 0.8);
  CHECK(std::fabs(mean_score[0]) < 0.4);
  std::printf("   cohort, one distribution, 1600 vs 400 rows: mean score of the larger %.3f with the prior, %.3f without\n",
              mean_score[1], mean_score[0]);
}

// Background members (CohortParams::background): the same rows with the last two members marked
// background give the same trees, and every enrolled member's score is then at most the pooled
// one (the pooled mean of the others lies between the two groups' means), lower on average on
// the other enrolled user's actions, which the pooled mean dilutes among the background; a
// background member is scored as before. The count survives the bytes, a version 1 model (no
// count) reads as one without background, and a cohort of background alone is refused.
static void test_mouse_cohort_background() {
  std::mt19937 r(35);
  std::vector<std::vector<MouseAction>> popu = {synth_actions(r, 600, 0.03, 400), synth_actions(r, 950, 0.09, 400),
                                                synth_actions(r, 1300, 0.15, 400)};
  MousePopulation pop = population_with_pairs(popu, 40);
  const double speed[4] = {800, 1000, 1250, 650}, bend[4] = {0.05, 0.10, 0.14, 0.03};
  std::vector<MouseOneClass> prof;
  for (int u = 0; u < 4; ++u) prof.push_back(MouseOneClass::enroll(synth_actions(r, speed[u], bend[u], 480), &pop));
  std::vector<const MouseOneClass*> members = {&prof[0], &prof[1], &prof[2], &prof[3]};
  CohortParams cp;
  cp.boost.rounds = 40;
  const char* why = nullptr;
  const MouseCohort pooled = MouseCohort::fit(members, pop, cp, &why);
  CohortParams sp = cp;
  sp.background = 2;
  sp.merge_background = false;  // a class each: the same trees as the pooled fit
  const MouseCohort split = MouseCohort::fit(members, pop, sp, &why);
  CHECK(pooled.valid() && split.valid() && pooled.background() == 0 && split.background() == 2 && !split.merged_background());
  if (!pooled.valid() || !split.valid()) return;
  bool never_higher = true, background_same = true;
  double mean_gap = 0;  // member 0's pooled minus split score on member 1's actions
  const std::vector<MouseAction> other = synth_actions(r, speed[1], bend[1], 200), own = synth_actions(r, speed[0], bend[0], 200);
  for (const std::vector<MouseAction>* set : {&own, &other})
    for (const MouseAction& a : *set) {
      for (size_t m = 0; m < 2; ++m) never_higher = never_higher && split.action_score(m, a, pop) <= pooled.action_score(m, a, pop) + 1e-9;
      background_same = background_same && std::fabs(split.action_score(2, a, pop) - pooled.action_score(2, a, pop)) < 1e-9;
      if (set == &other) mean_gap += (pooled.action_score(0, a, pop) - split.action_score(0, a, pop)) / double(other.size());
    }
  CHECK(never_higher);
  CHECK(background_same);
  CHECK(mean_gap > 0.1);
  std::printf("   cohort, 2 users + 2 background: member 0 on member 1's actions %.3f lower with the groups apart\n", mean_gap);
  const std::vector<uint8_t> b = split.serialize();
  MouseCohort back;
  CHECK(back.deserialize(b.data(), b.size()) && back.background() == 2 && back.serialize() == b);
  // Version 1: the same bytes without the count, flags and margin (after magic, version, population hash, block, members).
  std::vector<uint8_t> v1 = pooled.serialize();
  v1.erase(v1.begin() + 24, v1.begin() + 40);  // and version 4's margin
  v1[4] = 1;
  MouseCohort old;
  CHECK(old.deserialize(v1.data(), v1.size()) && old.background() == 0);
  CHECK(old.action_score(0, other[0], pop) == pooled.action_score(0, other[0], pop));
  std::vector<uint8_t> v3 = b;
  v3[4] = uint8_t(MouseCohort::kVersion + 1);
  CHECK(!old.deserialize(v3.data(), v3.size()));
  std::vector<uint8_t> all_bg = b;
  all_bg[24] = 4;  // as many background members as members
  CHECK(!old.deserialize(all_bg.data(), all_bg.size()));
  CohortParams none = cp;
  none.background = 2;
  why = nullptr;
  CHECK(!MouseCohort::fit({&prof[2], &prof[3]}, pop, none, &why).valid() && why != nullptr);
  // The background as one class: both background members share its calibration, the enrolled
  // users still separate, and the flag survives the bytes (a flag without background does not).
  CohortParams mp = sp;
  mp.merge_background = true;
  CHECK(CohortParams{}.merge_background);  // the default
  const MouseCohort merged = MouseCohort::fit(members, pop, mp, &why);
  CHECK(merged.valid() && merged.merged_background() && merged.members() == 4 && merged.background() == 2);
  if (!merged.valid()) return;
  CHECK(merged.calibration(2).threshold == merged.calibration(3).threshold && merged.calibration(2).blocks == merged.calibration(3).blocks);
  CHECK(merged.calibration(2).blocks > merged.calibration(0).blocks);
  double own_mean = 0, other_mean = 0;
  for (const MouseAction& a : own) own_mean += merged.action_score(0, a, pop) / double(own.size());
  for (const MouseAction& a : other) other_mean += merged.action_score(0, a, pop) / double(other.size());
  CHECK(own_mean > other_mean + 1);
  CHECK(merged.action_score(3, other[0], pop) == merged.action_score(2, other[0], pop));
  const std::vector<uint8_t> mb = merged.serialize();
  CHECK(back.deserialize(mb.data(), mb.size()) && back.merged_background() && back.serialize() == mb);
  std::vector<uint8_t> flag_only = pooled.serialize();
  flag_only[28] = 1;  // merged, but no background member
  CHECK(!old.deserialize(flag_only.data(), flag_only.size()));
  std::vector<uint8_t> unmerged = mb;
  unmerged[28] = 0;  // per-member classes, but the trees have one background class
  CHECK(!old.deserialize(unmerged.data(), unmerged.size()));
  std::printf("   cohort, background as one class: member 0 own %.3f, other user %.3f\n", own_mean, other_mean);
}

// Two models (CohortParams::two_models): an enrolled user's score is the lower of the enrolled
// users' own model's and the background model's against the background. The fits are
// deterministic, so the enrolled-only cohort and the one-model cohort give both halves.
static void test_mouse_cohort_two_models() {
  std::mt19937 r(36);
  std::vector<std::vector<MouseAction>> popu = {synth_actions(r, 600, 0.03, 400), synth_actions(r, 950, 0.09, 400),
                                                synth_actions(r, 1300, 0.15, 400)};
  MousePopulation pop = population_with_pairs(popu, 40);
  const double speed[5] = {800, 1000, 1250, 650, 1500}, bend[5] = {0.05, 0.10, 0.14, 0.03, 0.2};
  std::vector<MouseOneClass> prof;
  for (int u = 0; u < 5; ++u) prof.push_back(MouseOneClass::enroll(synth_actions(r, speed[u], bend[u], 480), &pop));
  const std::vector<const MouseOneClass*> members = {&prof[0], &prof[1], &prof[2], &prof[3], &prof[4]};
  CohortParams cp;
  cp.boost.rounds = 40;
  const char* why = nullptr;
  const MouseCohort alone = MouseCohort::fit({&prof[0], &prof[1], &prof[2]}, pop, cp, &why);
  CohortParams bp = cp;
  bp.background = 2;
  const MouseCohort one = MouseCohort::fit(members, pop, bp, &why);
  CohortParams tp = bp;
  tp.two_models = true;
  CHECK(!CohortParams{}.two_models);  // the default: one model
  const MouseCohort two = MouseCohort::fit(members, pop, tp, &why);
  CHECK(alone.valid() && one.valid() && two.valid() && two.two_models() && !one.two_models() && two.members() == 5);
  if (!alone.valid() || !one.valid() || !two.valid()) return;
  // An outsider near background member 4 and, among the enrolled users, nearest member 2: the
  // enrolled model alone takes them for member 2.
  const std::vector<MouseAction> outsider = synth_actions(r, 1450, 0.19, 200), own = synth_actions(r, speed[0], bend[0], 200);
  bool bounded = true, equal_when_background_higher = true, background_same = true;
  size_t lower = 0;
  for (const std::vector<MouseAction>* set : {&own, &outsider})
    for (const MouseAction& a : *set) {
      for (size_t m = 0; m < 3; ++m) {
        const double t = two.action_score(m, a, pop), e = alone.action_score(m, a, pop), o = one.action_score(m, a, pop);
        bounded = bounded && t <= e + 1e-12 && t >= std::min(e, o) - 1e-12;
        // one's score is the lower of its two groups, so o >= e means its background term is too.
        if (o >= e) equal_when_background_higher = equal_when_background_higher && t == e;
        if (m == 2 && set == &outsider) lower += t < e - 0.5;
      }
      background_same = background_same && two.action_score(3, a, pop) == one.action_score(3, a, pop);
    }
  CHECK(bounded);
  CHECK(equal_when_background_higher);
  CHECK(background_same);
  CHECK(lower > outsider.size() / 2);
  double own_mean = 0;
  for (const MouseAction& a : own) own_mean += two.action_score(0, a, pop) / double(own.size());
  CHECK(own_mean > two.calibration(0).threshold);
  std::printf("   cohort, two models: member 2 on an outsider near the background below the enrolled model on %zu / %zu actions\n",
              lower, outsider.size());
  // The bytes: round trip; the two-models flag needs version 3, a background and two enrolled
  // users; a model cut short of its second blob is refused.
  const std::vector<uint8_t> b = two.serialize();
  MouseCohort back;
  CHECK(back.deserialize(b.data(), b.size()) && back.two_models() && back.serialize() == b);
  CHECK(back.action_score(1, outsider[0], pop) == two.action_score(1, outsider[0], pop));
  // Versions 2 and 3: the same bytes without version 4's margin (after the flags).
  const auto before_v4 = [](std::vector<uint8_t> bytes, uint8_t version) {
    bytes.erase(bytes.begin() + 32, bytes.begin() + 40);
    bytes[4] = version;
    return bytes;
  };
  std::vector<uint8_t> v2 = before_v4(one.serialize(), 2);
  CHECK(back.deserialize(v2.data(), v2.size()) && !back.two_models() && back.merged_background() && back.background_margin() == 0);
  std::vector<uint8_t> v3_two = before_v4(b, 3);
  CHECK(back.deserialize(v3_two.data(), v3_two.size()) && back.two_models() && back.background_margin() == 0);
  CHECK(back.action_score(1, outsider[0], pop) == two.action_score(1, outsider[0], pop));
  std::vector<uint8_t> v2_two = before_v4(b, 2);
  CHECK(!back.deserialize(v2_two.data(), v2_two.size()));
  std::vector<uint8_t> cut = one.serialize();
  cut[28] |= MouseCohort::kFlagTwoModels;  // the flag, without the second model
  CHECK(!back.deserialize(cut.data(), cut.size()));
  std::vector<uint8_t> one_user = b;
  one_user[24] = 4;  // four background members: one enrolled user, no enrolled model possible
  CHECK(!back.deserialize(one_user.data(), one_user.size()));
  // One enrolled user: nothing to tell apart, so one model (the flag is ignored).
  CohortParams solo = tp;
  solo.background = 4;
  const MouseCohort single = MouseCohort::fit(members, pop, solo, &why);
  CHECK(single.valid() && !single.two_models());
  if (!single.valid()) return;
  // action_terms: the score in its two parts, the lower of which is action_score, in every shape
  // (two models, one model with a background, no background, one enrolled user).
  bool min_is_score = true, two_halves = true, one_halves = true, absent_infinite = true;
  for (const std::vector<MouseAction>* set : {&own, &outsider})
    for (const MouseAction& a : *set) {
      for (size_t m = 0; m < 5; ++m)
        for (const MouseCohort* c : {&alone, &one, &two, &single}) {
          if (m >= c->members()) continue;
          const MouseCohort::Terms t = c->action_terms(m, a, pop);
          min_is_score = min_is_score && std::min(t.enrolled, t.background) == c->action_score(m, a, pop);
        }
      for (size_t m = 0; m < 3; ++m) {
        const MouseCohort::Terms t = two.action_terms(m, a, pop), o = one.action_terms(m, a, pop);
        // two models: the enrolled part is the enrolled-only cohort's score; the background part
        // bounds the score from above. One model: both parts finite and clipped.
        two_halves = two_halves && t.enrolled == alone.action_score(m, a, pop) && t.background >= two.action_score(m, a, pop);
        one_halves = one_halves && std::isfinite(o.enrolled) && std::isfinite(o.background) &&
                     std::fabs(o.enrolled) <= kCohortClip && std::fabs(o.background) <= kCohortClip;
      }
      absent_infinite = absent_infinite && std::isinf(alone.action_terms(0, a, pop).background) &&
                        std::isinf(single.action_terms(0, a, pop).enrolled) && std::isinf(one.action_terms(3, a, pop).background);
    }
  CHECK(min_is_score);
  CHECK(two_halves);
  CHECK(one_halves);
  CHECK(absent_infinite);
  // A background margin: the same trees (so the same terms), the score min(enrolled,
  // background + margin), its own calibration, kept in the bytes; moot (0) with one enrolled
  // user; refused out of range, and in bytes without a background.
  CohortParams mp = bp;
  mp.background_margin = 1.5;
  CHECK(CohortParams{}.background_margin == 0);  // the default: the plain lower of the two
  const MouseCohort margined = MouseCohort::fit(members, pop, mp, &why);
  CHECK(margined.valid() && margined.background_margin() == 1.5 && !margined.two_models());
  if (!margined.valid()) return;
  bool same_terms = true, margin_score = true, never_lower = true;
  size_t raised = 0;
  for (const std::vector<MouseAction>* set : {&own, &outsider})
    for (const MouseAction& a : *set)
      for (size_t m = 0; m < 3; ++m) {
        const MouseCohort::Terms t = margined.action_terms(m, a, pop), o = one.action_terms(m, a, pop);
        same_terms = same_terms && t.enrolled == o.enrolled && t.background == o.background;
        const double sm = margined.action_score(m, a, pop), so = one.action_score(m, a, pop);
        margin_score = margin_score && sm == std::min(kCohortClip, std::min(t.enrolled, t.background + 1.5));
        never_lower = never_lower && sm >= so;
        raised += sm > so;
      }
  CHECK(same_terms);
  CHECK(margin_score);
  CHECK(never_lower);
  CHECK(raised > 0);
  CHECK(margined.calibration(0).threshold >= one.calibration(0).threshold);
  const std::vector<uint8_t> mb = margined.serialize();
  CHECK(back.deserialize(mb.data(), mb.size()) && back.background_margin() == 1.5 && back.serialize() == mb);
  CHECK(back.action_score(2, outsider[0], pop) == margined.action_score(2, outsider[0], pop));
  CohortParams ms = solo;
  ms.two_models = false;
  ms.background_margin = 1.5;
  const MouseCohort single_margin = MouseCohort::fit(members, pop, ms, &why);
  CHECK(single_margin.valid() && single_margin.background_margin() == 0 &&
        single_margin.action_score(0, own[0], pop) == single.action_score(0, own[0], pop));
  for (double bad : {kMaxCohortMargin + 0.5, -kMaxCohortMargin - 0.5, double(NAN)}) {
    CohortParams b2 = bp;
    b2.background_margin = bad;
    why = nullptr;
    CHECK(!MouseCohort::fit(members, pop, b2, &why).valid() && why != nullptr);
  }
  // Version 4's margin field (8 bytes after the flags) overwritten.
  const auto with_margin = [](std::vector<uint8_t> bytes, double margin) {
    std::vector<uint8_t> d;
    putd(d, margin);
    std::copy(d.begin(), d.end(), bytes.begin() + 32);
    return bytes;
  };
  const std::vector<uint8_t> no_bg = with_margin(alone.serialize(), 1.5), far = with_margin(mb, 13), nan = with_margin(mb, NAN);
  CHECK(!back.deserialize(no_bg.data(), no_bg.size()));
  CHECK(!back.deserialize(far.data(), far.size()));
  CHECK(!back.deserialize(nan.data(), nan.size()));
}

// Two synthetic typists over the same 26-key text: different per-digraph
// rhythm and hold times. Enroll each on 500 keystrokes, score fresh windows.
struct Typist {
  std::vector<float> lat, hold;
  double speed;
};
static Typist make_typist(unsigned seed, double speed) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> u(0.6f, 1.6f);
  Typist t;
  t.speed = speed;
  for (int i = 0; i < 26 * 26; ++i) t.lat.push_back(u(r));
  for (int i = 0; i < 26; ++i) t.hold.push_back(60 + 60 * (u(r) - 0.6f));
  return t;
}
static std::vector<KeystrokeRecord> type_text(const Typist& t, KeystrokeExtractor& ex,
                                              std::mt19937& r, size_t n) {
  std::vector<KeystrokeRecord> out;
  std::normal_distribution<float> noise(1.f, 0.12f);
  // Zipf-ish letter frequencies shared by both typists (same language).
  std::discrete_distribution<int> letter({8, 2, 3, 4, 12, 2, 2, 6, 7, 1, 1, 4, 2, 7, 8, 2, 1, 6, 6, 9, 3, 1, 2, 1, 2, 1});
  double now = 0;
  int prev = letter(r);
  for (size_t i = 0; i < n; ++i) {
    int c = letter(r);
    now += 1000 * t.speed * t.lat[prev * 26 + c] * std::max(0.3f, noise(r));
    double hold = t.hold[c] * std::max(0.3f, noise(r));
    out.push_back(ex.push({uint32_t(30 + c), int64_t(now), int64_t(now + 1000 * hold)}));
    prev = c;
  }
  return out;
}
static void test_two_typists() {
  KeystrokeExtractor ex(test_key(7));
  std::mt19937 r(11);
  Typist A = make_typist(1, 0.18), B = make_typist(2, 0.19);
  const size_t W = 100;
  for (int who = 0; who < 2; ++who) {
    const Typist& me = who ? B : A;
    const Typist& other = who ? A : B;
    std::vector<KeystrokeRecord> enr = type_text(me, ex, r, 500);
    KeystrokeProfile p = KeystrokeProfile::enroll(enr, W);
    FusionWeights fw;  // GP R+A
    FusionWeights all;
    all = fused_v1();
    std::vector<double> g, im, g2, im2;
    for (int k = 0; k < 30; ++k) {
      ex.break_chain();
      std::vector<KeystrokeRecord> mine = type_text(me, ex, r, W);
      ex.break_chain();
      std::vector<KeystrokeRecord> theirs = type_text(other, ex, r, W);
      TimingStats sm = TimingStats::from_records(mine.data(), W);
      TimingStats st = TimingStats::from_records(theirs.data(), W);
      g.push_back(p.fused_score(sm, fw));
      im.push_back(p.fused_score(st, fw));
      g2.push_back(p.fused_score(sm, all));
      im2.push_back(p.fused_score(st, all));
    }
    RocSummary r1 = roc_summary(g, im), r2 = roc_summary(g2, im2);
    std::printf("  typist %c: GP R+A AUC %.3f EER %.3f; fused AUC %.3f EER %.3f\n", who ? 'B' : 'A',
                r1.auc, r1.eer, r2.auc, r2.eer);
    CHECK(r1.auc > 0.95);
    CHECK(r2.auc > 0.98);
    // Calibrate a per-user threshold to 10% FRR on enrollment-like windows.
    double thr = threshold_for_frr(g2, 0.10);
    OperatingPoint op = at_threshold(g2, im2, thr);
    CHECK(op.frr <= 0.15 && op.far <= 0.10);
  }
}

int main() {
  test_siphash();
  test_keystroke_fixture();
  test_gp_fixture();
  test_metrics();
  test_key_file();
  test_mouse_fixture();
  test_segmenter();
  test_common_grid();
  test_forest();
  test_boosting();
  test_boosting_pinned();
  test_mouse_profile();
  test_mouse_oneclass();
  test_mouse_sittings();
  test_mouse_block();
  test_mouse_cohort();
  test_mouse_cohort_background();
  test_mouse_cohort_two_models();
  test_two_typists();
  std::printf("%d checks, %d failures\n", checks, failures);
  if (failures == 0) std::printf("bio_test: all passed\n");
  return failures ? 1 : 0;
}

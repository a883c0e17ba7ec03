// Balabit mouse-dynamics evaluation (issue 5).
//
// Per-user models by session: a session is never split between training and
// test. For target user u and fold k (u's session k held out), a random forest
// is trained on u's other sessions (label 1) against other users' actions
// (label 0), and scores blocks of N consecutive actions (mean P(u)) from the
// held-out genuine session and from impostor sessions.
//   closed-set: negatives come from every other user, minus the sessions
//               tested in this fold (the challenge's setting: impostors are
//               known users, their test sessions unseen);
//   open-set:   for each impostor user v, a model whose negatives exclude v
//               entirely (the impostor was never seen).
// Feature sets: "ours" (cadence-invariant per-action features) and
// "cadence-only" (median/p10/p90 raw inter-event step of each action, no
// movement at all). Data: raw sessions, and every session resampled to one
// common cadence (to_common_cadence).
//
// usage: balabit_eval --data DIR/training_files [--actions 1,5,10,20]
//        [--common-step 0.11] [--data-mode raw|common|both|grid] [--open 0|1]
//        [--trees 100] [--depth 20] [--max-pos 10000] [--resample 0.1]
//        [--pause 1.0] [--min-path 20] [--agg logit|mean] [--neg-ratio 1]
//        [--open-trees 50] [--open-max-pos 4000] [--pair 0|1] [--mtry 0]
//        [--per-user 0|1] [--block N]   (block model instead of per-action votes)
//        [--drop-feature K]... [--min-leaf 3] [--sample-frac 0.7]
//        [--oneclass 1 [--oc-methods z,knn,hist,hist-w,gauss,synth,rf,cad]
//         [--alpha 1] [--shrink 0.2] [--knn-k 5] [--self-norm -1|0|1] [--user-salt S]
//         [--pairs 300] [--pair-alpha 400] [--pair-alpha-ref 200] [--pair-alpha-power 2]]  (feature
//         pairs per population model with learned pair terms, 0: none; the pair tables' smoothing
//         in pseudo-actions, A at R enrolled actions and A (R/n)^E at n; R 0: A at every n)
//        [--write-model FILE]   (population + weights from all users; models/mouse)
//        [--write-background FILE --population FILE [--background-actions N]]  (every user's
//         one-class profile under that population, N random actions each (default 4000), in one
//         "SMBG" file: the several-users model's background members; scripts/bio/mouse_background.sh)
//        --oc-methods block,block-2s,block-unit: block-level two-sample scorer (MouseBlock)
//        --oc-methods cohort,cohort-open,cohort-floor,cohort-floor-open: several users enrolled on one
//          host, each user's hist-w model against the other TEST users' (closed set, or the impostor
//          not enrolled: -open)
//        --oc-methods mc,mc-sum,mc-min[,-open]: several users enrolled on one host, one softmax GBT
//          over their enrollment actions as population-bin codes (what their profiles keep)
//        --oc-methods gbt-bg,gbt-bg-mc,gbt-bg-sum: a host with a shipped background, per-user GBT over
//          population-bin codes against the FIT users' actions (binary; softmax per FIT user; binary + hist-w)
//        [--cohort-background N] [--cohort-solo 1]  (mcc*, --dump-cohort: the FIT users as background
//         members of every MouseCohort, N actions each; the target user alone, a single-user host)
//        [--cohort-split 1]  (the background marked as such: scored apart from the enrolled, the lower kept)
//        [--cohort-merge 0|1]  (with --cohort-split 1: the background one class, or a class each)
//        [--cohort-two-models 1]  (with --cohort-split 1: the enrolled users' own model beside it)
//        [--cohort-margin D]  (with --cohort-split 1: min(against the enrolled, against the background + D),
//         calibrated so; CohortParams::background_margin)
//        [--jobs N]  (mcc*, --dump-cohort: the several-users models fitted on N threads up front)
//        --oc-methods mcc,mcc-fused[,-open]: the same with the daemon's own class (MouseCohort over
//          the TEST users' hist-w profiles, its cross-fitted calibration reported); mcc-fused: per
//          action the two calibrated modalities' sum (hist-w and mcc, each (s - threshold) / sd,
//          the cohort's term times --fuse-cohort-weight W, default 1 as biometrics.weights)
//        --oc-methods mcc-mD[-open]: MouseCohort's score with a margin D before the lower of its two
//          parts, min(against the enrolled, against the background + D) (MouseCohort::action_terms;
//          D = inf: the enrolled part alone); the same fits as mcc, so every D from one run; AUC and
//          EER only (the cohort's calibration is of its own --cohort-margin); mcc-sW[-open]: the two parts summed,
//          against the enrolled + W x against the background
//         [--block-stat cvm|ad|ks] [--block-log 0|1] [--block-fit-n 20] [--block-l2 0.01]
//        [--write-block-weights FILE]  (MouseBlock weights from all users; models/mouse)
//        [--enroll-sessions K] [--sitting-actions A]  (enroll on K sessions, each cut to its first A
//         actions: K sittings of `sentinel enroll`; the one-class hist methods then also report the
//         several-sittings calibration of MouseOneClass::add_sitting)
//        [--dump-blocks FILE [--dump-cohort 1]]  (one-class hist-w: the daemon's blocks, for
//         scripts/bio/session_replay.mjs; --dump-cohort adds the several-users model's blocks, closed
//         and open, for session_replay.mjs --cohort) [--cohort-frr 0.05] (MouseCohort's threshold target)
//        --data-mode all = raw, common and grid
// Block score = mean logit of the per-action P(u) (--agg logit, default).
// The open-set protocol is run for our features only.
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <array>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../../native/biometrics/forest.h"
#include "../../native/biometrics/metrics.h"
#include "../../native/biometrics/mouse.h"
#include "../../native/biometrics/mouse_block.h"
#include "../../native/biometrics/mouse_cohort.h"
#include "../../native/biometrics/mouse_model.h"
#include "../../native/biometrics/mouse_oneclass.h"
#include "../../native/biometrics/boosting.h"

using namespace sentinel::bio;

struct Session {
  int user;
  std::string name;
  std::vector<MouseEvent> events;
  std::vector<MouseAction> actions;
};

static std::vector<std::string> list_dir(const std::string& d) {
  std::vector<std::string> v;
  if (DIR* p = opendir(d.c_str())) {
    while (dirent* e = readdir(p))
      if (e->d_name[0] != '.') v.push_back(e->d_name);
    closedir(p);
  }
  std::sort(v.begin(), v.end());
  return v;
}

static bool load_session(const std::string& path, std::vector<MouseEvent>* ev) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string rec, cli, button, state, xs, ys;
    if (!std::getline(ss, rec, ',') || !std::getline(ss, cli, ',') ||
        !std::getline(ss, button, ',') || !std::getline(ss, state, ',') ||
        !std::getline(ss, xs, ',') || !std::getline(ss, ys, ','))
      continue;
    MouseEvent e;
    e.t = std::atof(cli.c_str());
    e.x = std::atof(xs.c_str());
    e.y = std::atof(ys.c_str());
    if (e.x < 0 || e.y < 0 || e.x > 10000 || e.y > 10000) continue;  // sensor junk
    if (button == "Left") e.button = MouseButton::kLeft;
    else if (button == "Right") e.button = MouseButton::kRight;
    else if (button == "Middle") e.button = MouseButton::kMiddle;
    else if (button == "Scroll") e.button = MouseButton::kScroll;
    if (state == "Move") e.state = MouseState::kMove;
    else if (state == "Drag") e.state = MouseState::kDrag;
    else if (state == "Pressed") e.state = MouseState::kPressed;
    else if (state == "Released") e.state = MouseState::kReleased;
    else if (state == "Up") e.state = MouseState::kScrollUp;
    else if (state == "Down") e.state = MouseState::kScrollDown;
    else continue;
    ev->push_back(e);
  }
  std::stable_sort(ev->begin(), ev->end(),
                   [](const MouseEvent& a, const MouseEvent& b) { return a.t < b.t; });
  return true;
}

enum class FeatSet { kOurs, kCadence };

// With --pair 1 a row is the action's features followed by the previous
// action's (same session; zeros for a session's first action).
static bool g_pair = false;
static std::set<const MouseAction*> g_first;
static void row_of(const MouseAction& a, FeatSet fs, std::vector<float>* X) {
  if (fs == FeatSet::kOurs) {
    X->insert(X->end(), a.f.begin(), a.f.end());
    if (g_pair) {
      if (g_first.count(&a)) X->insert(X->end(), a.f.size(), 0.f);
      else X->insert(X->end(), (&a - 1)->f.begin(), (&a - 1)->f.end());
    }
  }
  else X->insert(X->end(), a.cadence.begin(), a.cadence.end());
}

// The sessions a user enrolls on when session k of `mine` is held out: every other one in index
// order, or with --enroll-sessions K > 0 only the K that follow k cyclically (a learning curve
// over the number of enrollment sessions).
static std::vector<int> enrollment_sessions(const std::vector<int>& mine, size_t k, int K) {
  std::vector<int> out;
  if (K <= 0) {
    for (size_t j = 0; j < mine.size(); ++j)
      if (j != k) out.push_back(mine[j]);
  } else {
    for (size_t step = 1; step < mine.size() && step <= size_t(K); ++step) out.push_back(mine[(k + step) % mine.size()]);
  }
  return out;
}

// --sitting-actions A > 0: in the one-class protocol each TEST user's enrollment session
// contributes only its first A actions, as one `sentinel enroll` sitting would (200 by default);
// 0 keeps whole sessions. The FIT users' weight learning always uses whole sessions, as the
// shipped population model does (scripts/bio/mouse_model.sh).
static size_t g_sitting_actions = 0;
// --dump-blocks FILE (one-class, method hist-w): every block the daemon's MouseStream would score
// (20 actions, stride 5) of each scored session, with the profile's 5% threshold and genuine sd,
// for scripts/bio/session_replay.mjs (the daemon's session monitor over these blocks).
static FILE* g_dump_blocks = nullptr;
static bool g_dump_cohort = false;  // --dump-cohort 1: the several-users model's blocks too (MouseCohort)
// --fuse-cohort-weight W (mcc-fused*): the cohort's weight against hist-w's 1 in the per-action
// sum, as the daemon's biometrics.weights.mouseCohort (default 1; 3 measured, not adopted).
static double g_fuse_cohort_weight = 1;
static double g_cohort_frr = 0.05;  // --cohort-frr F: the false-reject target of MouseCohort's thresholds (mcc*, --dump-cohort)
// --cohort-rounds/-lr/-leaves/-min-leaf/-l2/-rows and --cohort-prior 1 (keep the class prior,
// the previous default): MouseCohort's fit parameters (mcc*, --dump-cohort; CohortParams defaults
// otherwise). --cohort-cal10 0 skips the second fit that only gives the 10% thresholds (halves
// the time of a sweep; the 10% rows are then not printed).
static CohortParams g_cohort_params;
static bool g_cohort_cal10 = true;
// --cohort-background N (mcc*, --dump-cohort): every MouseCohort also gets the half's FIT users as
// background members, each enrolled (hist-w) on N of their actions drawn at random once per half
// (0: none, the default): what a host would hold with a shipped set of other people's quantised
// profiles. They are never scored; they only give the enrolled users someone to be told from.
// --cohort-solo 1: the cohort holds only the target user (plus the background): a single-user
// host. Closed and open are then the same model (the impostor is never a member).
static size_t g_cohort_background = 0;
static bool g_cohort_solo = false;
// --cohort-split 1 (with --cohort-background): the background members marked as such
// (CohortParams::background), so an enrolled member is scored against the other enrolled
// members and against the background apart, the lower kept; 0: every other member one group.
static bool g_cohort_split = false;
// --cohort-merge 0|1 (with --cohort-split 1): the background members fitted a class each, or as
// one class (CohortParams::merge_background; unset: its default, one class).
static int g_cohort_merge = -1;
// --cohort-two-models 1 (with --cohort-split 1, several enrolled users): the enrolled users' own
// model beside the background model (CohortParams::two_models).
static bool g_cohort_two = false;
// --jobs N (mcc*, --dump-cohort): the several-users models fitted on N threads up front.
static int g_jobs = 1;
// A method named "...-open": the impostor is left out of the model while their session is scored.
static bool open_set_method(const std::string& m) { return m.size() > 5 && m.compare(m.size() - 5, 5, "-open") == 0; }
// "mcc-mD[-open]": MouseCohort with margin D before the lower of its two parts (D after "mcc-m");
// "mcc-sW[-open]": the two parts summed instead, the background's part weighted W.
static bool margin_method(const std::string& m) { return m.rfind("mcc-m", 0) == 0; }
static bool sum_method(const std::string& m) { return m.rfind("mcc-s", 0) == 0; }
// Folds where add_sitting over the sittings reproduced enroll + calibrate on all of them exactly.
static size_t g_sitting_folds = 0, g_sitting_same = 0;

// The enrollment sittings: the first `cap` actions (0: all) of each enrollment session.
static std::vector<std::vector<MouseAction>> enrollment_sittings(const std::vector<Session>& S,
                                                                 const std::vector<int>& mine, size_t k, int K,
                                                                 size_t cap) {
  std::vector<std::vector<MouseAction>> out;
  for (int es : enrollment_sessions(mine, k, K)) {
    const auto& A = S[es].actions;
    size_t n = cap ? std::min(A.size(), cap) : A.size();
    out.emplace_back(A.begin(), A.begin() + long(n));
  }
  return out;
}

// The enrollment actions of those sittings, concatenated in session order.
static std::vector<MouseAction> enrollment_actions(const std::vector<Session>& S, const std::vector<int>& mine,
                                                   size_t k, int K, size_t cap = 0) {
  std::vector<MouseAction> enr;
  for (const auto& s : enrollment_sittings(S, mine, k, K, cap)) enr.insert(enr.end(), s.begin(), s.end());
  return enr;
}

struct Scores {
  // per target user: genuine and impostor block scores, per N
  std::map<int, std::vector<std::vector<double>>> g, im;
};

// Block model (--block N): one row per block of N consecutive actions of a
// session: mean and sd of every per-action feature plus the MM/PC/DD shares.
// Training blocks overlap (stride N/4); test blocks do not. Closed-set only.
static void block_row(const std::vector<MouseAction>& a, size_t b, size_t N, std::vector<float>* X) {
  for (int f = 0; f < kActionFeatures; ++f) {
    double m = 0, ss = 0;
    for (size_t i = b; i < b + N; ++i) m += a[i].f[f];
    m /= N;
    for (size_t i = b; i < b + N; ++i) ss += (a[i].f[f] - m) * (a[i].f[f] - m);
    X->push_back(float(m));
    X->push_back(float(std::sqrt(ss / N)));
  }
}
static const int kBlockDims = 2 * kActionFeatures;

static void run_block_eval(const std::vector<Session>& S, const std::vector<std::vector<int>>& sess_of,
                           const std::vector<std::string>& users, size_t N, ForestParams fp,
                           size_t max_pos, const char* mode) {
  std::mt19937 rng(11);
  std::vector<double> G, I;
  double sa = 0, se = 0;
  int nu = 0;
  std::printf("\n[%s] block model: %zu actions per row (mean+sd of %d features), closed-set\n", mode, N,
              kActionFeatures);
  std::printf("   per-user AUC:");
  for (size_t u = 0; u < users.size(); ++u) {
    std::vector<double> g, im;
    const auto& mine = sess_of[u];
    for (size_t k = 0; k < mine.size(); ++k) {
      std::vector<float> X;
      std::vector<uint8_t> y;
      std::vector<std::vector<float>> posrows;
      size_t stride = std::max<size_t>(1, N / 4);
      std::vector<std::pair<int, size_t>> pb;
      for (size_t j = 0; j < mine.size(); ++j)
        if (j != k)
          for (size_t b = 0; b + N <= S[mine[j]].actions.size(); b += stride) pb.push_back({mine[j], b});
      std::shuffle(pb.begin(), pb.end(), rng);
      if (pb.size() > max_pos) pb.resize(max_pos);
      for (auto& q : pb) { block_row(S[q.first].actions, q.second, N, &X); y.push_back(1); }
      size_t per = pb.size() / (users.size() - 1) + 1;
      std::vector<int> test_imp;
      for (size_t v = 0; v < users.size(); ++v) {
        if (v == u) continue;
        const auto& theirs = sess_of[v];
        int held = theirs[k % theirs.size()];
        test_imp.push_back(held);
        std::vector<std::pair<int, size_t>> nb;
        for (int s2 : theirs)
          if (s2 != held)
            for (size_t b = 0; b + N <= S[s2].actions.size(); b += stride) nb.push_back({s2, b});
        std::shuffle(nb.begin(), nb.end(), rng);
        if (nb.size() > per) nb.resize(per);
        for (auto& q : nb) { block_row(S[q.first].actions, q.second, N, &X); y.push_back(0); }
      }
      RandomForest rf;
      fp.seed = uint32_t(77 + 1000 * u + k);
      rf.fit(X, kBlockDims, y, fp);
      auto score = [&](int s2, std::vector<double>* dst) {
        std::vector<float> row;
        for (size_t b = 0; b + N <= S[s2].actions.size(); b += N) {
          row.clear();
          block_row(S[s2].actions, b, N, &row);
          dst->push_back(rf.predict(row.data()));
        }
      };
      score(mine[k], &g);
      for (int s2 : test_imp) score(s2, &im);
    }
    if (g.empty() || im.empty()) continue;
    RocSummary r = roc_summary(g, im);
    std::printf(" %s=%.3f", users[u].c_str(), r.auc);
    sa += r.auc; se += r.eer; ++nu;
    G.insert(G.end(), g.begin(), g.end());
    I.insert(I.end(), im.begin(), im.end());
  }
  RocSummary pr = roc_summary(G, I);
  std::printf("\n%8s %10s %10s %10s %10s %9s %9s\n", "actions", "userAUC", "userEER%", "pooledAUC",
              "pooledEER%", "#genuine", "#impost");
  std::printf("%8zu %10.4f %10.2f %10.4f %10.2f %9zu %9zu\n", N, sa / std::max(nu, 1),
              100 * se / std::max(nu, 1), pr.auc, 100 * pr.eer, G.size(), I.size());
  std::fflush(stdout);
}


// ---------------------------------------------------------------- one-class (--oneclass 1)
// Host-deployable protocol: users are split into two halves by a hash of
// their name (--user-salt); each half is TEST once while the other half is
// FIT. Everything learned offline (population model, feature weights, the
// RF background) comes from FIT users only; every score is of a TEST user's
// profile against that user's held-out session (genuine) and the other TEST
// users' sessions theirs[k % n] (impostors, never seen by any model).
struct OneClassOpts {
  std::vector<std::string> methods = {"z", "knn", "hist", "hist-w", "gauss", "rf", "cad"};
  int knn_k = 5;
  double alpha = 1.0, shrink = 0.2, l2 = 1e-3;
  int self_norm = -1;  // -1: on for z and knn only
  double clip = 30.0;
  int verifier_trees = 50, verifier_depth = 12;
  bool type_weights = true;
  int weight_block = 1;  // >1: learn the weights on block means of this many actions
  std::string user_salt;
  int pairs = 300;  // --pairs N: feature pairs per population model (0: the naive-Bayes ratio alone)
  double pair_alpha = OneClassParams{}.pair_alpha;  // --pair-alpha A: smoothing of the pair tables
  double pair_alpha_ref = OneClassParams{}.pair_alpha_ref;  // --pair-alpha-ref R (0: A at every size)
  double pair_alpha_power = OneClassParams{}.pair_alpha_power;  // --pair-alpha-power E
  std::string write_model;  // --write-model FILE: population + weights from ALL users, then exit
  // block-level two-sample scorer (methods block, block-2s, block-unit; MouseBlock)
  BlockStat block_stat = BlockStat::kCvm;
  bool block_log = true;
  int enroll_sessions = 0;  // --enroll-sessions K (see enrollment_sessions)
  int block_fit_n = 20;  // block size of the FIT-user rows the block weights are learned on
  double block_l2 = 1e-2;
  std::string write_block;  // --write-block-weights FILE: block weights from ALL users, then exit
  std::string write_background;  // --write-background FILE: every user's profile under --population, then exit
  std::string population;        // --population FILE: a serialized MousePopulation (models/mouse/population.bin)
  size_t background_actions = 4000;  // --background-actions N
};

static uint64_t fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Class-balanced L2 logistic regression (plain gradient descent on
// standardised columns) over rows of d terms; returns weights in the original
// scale, clipped at 0. Columns 0..2 (the type one-hots: the per-type models
// already use the type) and near-constant columns get weight 0; the nonzero
// weights are scaled to a mean of 1.
static std::vector<float> fit_weights(const std::vector<float>& X, size_t d, const std::vector<uint8_t>& y,
                                      double l2) {
  const size_t n = y.size();
  std::vector<double> mu(d, 0), sd(d, 0), w(d, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t f = 0; f < d; ++f) mu[f] += X[i * d + f];
  for (size_t f = 0; f < d; ++f) mu[f] /= double(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t f = 0; f < d; ++f) sd[f] += (X[i * d + f] - mu[f]) * (X[i * d + f] - mu[f]);
  std::vector<bool> use(d);
  for (size_t f = 0; f < d; ++f) {
    sd[f] = std::sqrt(sd[f] / double(n));
    use[f] = f >= 3 && sd[f] > 1e-3;
    if (!use[f]) sd[f] = 1;
  }
  size_t npos = 0;
  for (uint8_t v : y) npos += v;
  const double wp = 0.5 / std::max<size_t>(npos, 1), wn = 0.5 / std::max<size_t>(n - npos, 1);
  double b = 0;
  std::vector<double> g(d);
  for (int it = 0; it < 300; ++it) {
    std::fill(g.begin(), g.end(), 0.0);
    double gb = 0;
    for (size_t i = 0; i < n; ++i) {
      double z = b;
      for (size_t f = 0; f < d; ++f)
        if (use[f]) z += w[f] * (X[i * d + f] - mu[f]) / sd[f];
      double pr = 1 / (1 + std::exp(-z)), e = (pr - y[i]) * (y[i] ? wp : wn);
      gb += e;
      for (size_t f = 0; f < d; ++f)
        if (use[f]) g[f] += e * (X[i * d + f] - mu[f]) / sd[f];
    }
    for (size_t f = 0; f < d; ++f) w[f] -= 2.0 * (g[f] + l2 * w[f]);
    b -= 2.0 * gb;
  }
  std::vector<float> out(d, 0.f);
  double sum = 0;
  int nz = 0;
  for (size_t f = 3; f < d; ++f) {
    out[f] = use[f] ? float(std::max(0.0, w[f] / sd[f])) : 0.f;
    sum += out[f];
    nz += out[f] > 0;
  }
  for (size_t f = 3; f < d; ++f) out[f] = float(out[f] * nz / std::max(sum, 1e-12));
  return out;
}

static void session_blocks(const std::vector<double>& p, const std::vector<int>& Ns,
                           std::vector<std::vector<double>>* dst) {
  dst->resize(Ns.size());
  for (size_t ni = 0; ni < Ns.size(); ++ni) {
    size_t N = size_t(Ns[ni]);
    for (size_t b = 0; b + N <= p.size(); b += N) {
      double m = 0;
      for (size_t i = b; i < b + N; ++i) m += p[i];
      (*dst)[ni].push_back(m / double(N));
    }
  }
}

static void print_scores(const Scores& sc_, const std::vector<int>& Ns, const std::vector<std::string>& users,
                         bool per_user) {
  std::printf("%8s %10s %10s %10s %10s %9s %9s\n", "actions", "userAUC", "userEER%", "pooledAUC", "pooledEER%",
              "#genuine", "#impost");
  for (size_t ni = 0; ni < Ns.size(); ++ni) {
    std::vector<double> G, I;
    double sa = 0, se = 0;
    int nu = 0;
    std::string pu;
    for (size_t u = 0; u < users.size(); ++u) {
      auto gi = sc_.g.find(int(u));
      auto ii = sc_.im.find(int(u));
      if (gi == sc_.g.end() || ii == sc_.im.end()) continue;
      const auto& g = gi->second[ni];
      const auto& im = ii->second[ni];
      if (g.empty() || im.empty()) continue;
      RocSummary r = roc_summary(g, im);
      sa += r.auc;
      se += r.eer;
      ++nu;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %s=%.3f", users[u].c_str(), r.auc);
      pu += buf;
      G.insert(G.end(), g.begin(), g.end());
      I.insert(I.end(), im.begin(), im.end());
    }
    RocSummary pr = roc_summary(G, I);
    if (Ns[ni] == 20 && per_user) std::printf("   per-user AUC at 20:%s\n", pu.c_str());
    std::printf("%8d %10.4f %10.2f %10.4f %10.2f %9zu %9zu\n", Ns[ni], sa / std::max(nu, 1),
                100 * se / std::max(nu, 1), pr.auc, 100 * pr.eer, G.size(), I.size());
  }
}

static OneClassParams oc_params(const std::string& m, const OneClassOpts& o) {
  OneClassParams p;
  p.knn_k = o.knn_k;
  p.alpha = o.alpha;
  p.pair_alpha = o.pair_alpha;
  p.pair_alpha_ref = o.pair_alpha_ref;
  p.pair_alpha_power = o.pair_alpha_power;
  p.shrink = o.shrink;
  p.clip = o.clip;
  p.self_norm = o.self_norm < 0 ? (m == "z" || m == "knn") : o.self_norm != 0;
  if (m == "z") p.method = OneClassMethod::kRobustZ;
  else if (m == "knn") p.method = OneClassMethod::kKnn;
  else if (m == "gauss") p.method = OneClassMethod::kGauss;
  else p.method = OneClassMethod::kHistLlr;
  return p;
}

// Population + hist feature and pair weights from the given users (FIT users;
// or all users for the shipped file). Weights: one logistic regression per
// model on its per-feature and per-pair log-ratio terms (profiles built with
// the options' smoothing), by-session cross-validation inside these users. A
// type model with too few rows of its own keeps the all-types model's feature
// weights and gives its pairs (not model 3's) weight 0.
static MousePopulation learn_population(const std::vector<Session>& S, const std::vector<std::vector<int>>& sess_of,
                                        const std::vector<int>& fit_users, const OneClassOpts& o, bool verbose,
                                        RandomForest* verifier = nullptr) {
  std::vector<std::vector<MouseAction>> per;
  for (int u : fit_users) {
    per.emplace_back();
    for (int s : sess_of[u]) per.back().insert(per.back().end(), S[s].actions.begin(), S[s].actions.end());
  }
  MousePopulation pop = MousePopulation::fit(per, size_t(std::max(0, o.pairs)));
  OneClassParams p = oc_params("hist", o);
  p.self_norm = false;
  // Rows per model: every action's terms under its own type's model (when the profile has it) and
  // under the all-types model, so model 3's weights see every action.
  std::array<std::vector<float>, kOneClassModels> X;
  std::array<std::vector<uint8_t>, kOneClassModels> y;
  std::array<size_t, kOneClassModels> dim{};
  for (int mi = 0; mi < kOneClassModels; ++mi) dim[mi] = kActionFeatures + pop.model(mi).pairs.size();
  std::vector<float> row;
  for (int u : fit_users) {
    const auto& mine = sess_of[u];
    for (size_t k = 0; k < mine.size(); ++k) {
      const std::vector<MouseAction> enr = enrollment_actions(S, mine, k, 0);
      MouseOneClass m = MouseOneClass::enroll(enr, &pop, p);
      if (!m.valid()) continue;
      auto add = [&](int s, uint8_t lab) {
        const auto& A = S[s].actions;
        if (o.weight_block > 1) {  // rows = mean model-3 terms over blocks of weight_block actions (stride half a block)
          const size_t B = size_t(o.weight_block), d = dim[3];
          for (size_t b = 0; b + B <= A.size(); b += B / 2) {
            std::vector<float> acc(d, 0.f);
            for (size_t i = b; i < b + B; ++i) {
              m.hist_terms(A[i], 3, &row);
              for (size_t f = 0; f < d; ++f) acc[f] += row[f] / float(B);
            }
            X[3].insert(X[3].end(), acc.begin(), acc.end());
            y[3].push_back(lab);
          }
          return;
        }
        for (size_t i = 0; i < A.size(); i += 2) {  // every other action keeps it small
          const int own = m.model_index(A[i]);
          for (int mi : {own, 3}) {
            m.hist_terms(A[i], mi, &row);
            if (row.size() != dim[mi]) continue;
            X[mi].insert(X[mi].end(), row.begin(), row.end());
            y[mi].push_back(lab);
            if (own == 3) break;  // one row for model 3
          }
        }
      };
      add(mine[k], 1);
      for (int v : fit_users)
        if (v != u) add(sess_of[v][k % sess_of[v].size()], 0);
    }
  }
  if (!y[3].empty()) {
    const std::vector<float> all = fit_weights(X[3], dim[3], y[3], o.l2);
    for (int mi = 0; mi < kOneClassModels; ++mi) {
      std::copy(all.begin(), all.begin() + kActionFeatures, pop.weight[mi].begin());
      pop.pair_weight[mi].assign(pop.model(mi).pairs.size(), 0.f);
    }
    pop.pair_weight[3].assign(all.begin() + kActionFeatures, all.end());
    if (o.type_weights && o.weight_block <= 1)
      for (int mi = 0; mi < 3; ++mi) {  // per-type weights where that type has enough rows
        size_t np = 0;
        for (uint8_t v : y[mi]) np += v;
        if (np < 500 || y[mi].size() - np < 500) continue;
        const std::vector<float> w = fit_weights(X[mi], dim[mi], y[mi], o.l2);
        std::copy(w.begin(), w.begin() + kActionFeatures, pop.weight[mi].begin());
        pop.pair_weight[mi].assign(w.begin() + kActionFeatures, w.end());
      }
  }
  if (verifier && !y[3].empty()) {
    // global verifier: a forest over model 3's log-ratio terms, genuine vs impostor
    // (FIT users only), negatives subsampled to the positives' count
    const size_t d = dim[3];
    std::vector<size_t> pi, ni;
    for (size_t i = 0; i < y[3].size(); ++i) (y[3][i] ? pi : ni).push_back(i);
    std::mt19937 rr(3);
    std::shuffle(ni.begin(), ni.end(), rr);
    if (ni.size() > pi.size()) ni.resize(pi.size());
    std::vector<float> Xb;
    std::vector<uint8_t> yb;
    for (auto* v : {&pi, &ni})
      for (size_t i : *v) {
        Xb.insert(Xb.end(), X[3].begin() + i * d, X[3].begin() + (i + 1) * d);
        yb.push_back(y[3][i]);
      }
    ForestParams vp;
    vp.trees = o.verifier_trees;
    vp.max_depth = o.verifier_depth;
    vp.min_leaf = 20;
    verifier->fit(Xb, int(d), yb, vp);
  }
  if (verbose) {
    for (int mi = 0; mi < (o.type_weights ? kOneClassModels : 1); ++mi) {
      const int show = o.type_weights ? mi : 3;
      std::printf("   hist weights, model %s (%zu rows):", show == 0 ? "MM" : show == 1 ? "PC" : show == 2 ? "DD" : "all",
                  y[show].size());
      for (int f = 0; f < kActionFeatures; ++f)
        if (pop.weight[show][f] > 0.05f) std::printf(" %s=%.2f", kActionFeatureNames[f], pop.weight[show][f]);
      const auto& pw = pop.pair_weight[show];
      const auto& pr = pop.model(show).pairs;
      if (!pw.empty()) {
        std::vector<size_t> top(pw.size());
        for (size_t k = 0; k < top.size(); ++k) top[k] = k;
        std::sort(top.begin(), top.end(), [&](size_t a, size_t b) { return pw[a] > pw[b]; });
        size_t nz = 0;
        for (float w : pw) nz += w > 0;
        std::printf("; pairs %zu of %zu weighted, largest", nz, pw.size());
        for (size_t k = 0; k < std::min<size_t>(5, top.size()); ++k)
          std::printf(" %s*%s=%.2f", kActionFeatureNames[pr[top[k]][0]], kActionFeatureNames[pr[top[k]][1]], pw[top[k]]);
      }
      std::printf("\n");
    }
  }
  return pop;
}

// Block-scorer weights from FIT users only: for each FIT user and held-out
// session, a MouseBlock enrolled on the user's other sessions gives term rows
// for blocks of block_fit_n actions (stride half a block) of the held-out
// session (genuine) and of the other FIT users' session k % n (impostor).
// Fits `with_hist` (all terms) and `no_hist` (two-sample terms only).
static void learn_block_weights(const std::vector<Session>& S, const std::vector<std::vector<int>>& sess_of,
                                const std::vector<int>& fit_users, const MousePopulation& pop, const OneClassOpts& o,
                                MouseBlockWeights* with_hist, MouseBlockWeights* no_hist, bool verbose) {
  MouseBlockWeights unit = MouseBlockWeights::unit(o.block_stat, o.block_log);
  BlockParams bp;
  bp.hist = oc_params("hist-w", o);
  bp.hist.self_norm = false;
  const size_t B = size_t(std::max(2, o.block_fit_n));
  std::vector<double> X;
  std::vector<uint8_t> y;
  double t[kBlockTerms];
  for (int u : fit_users) {
    const auto& mine = sess_of[u];
    for (size_t k = 0; k < mine.size(); ++k) {
      const std::vector<MouseAction> enr = enrollment_actions(S, mine, k, 0);
      MouseBlock mb = MouseBlock::enroll(enr, &pop, unit, bp);
      if (!mb.valid()) continue;
      auto add = [&](int s, uint8_t lab) {
        const auto& A = S[s].actions;
        for (size_t b = 0; b + B <= A.size(); b += std::max<size_t>(1, B / 2)) {
          mb.terms(&A[b], B, t);
          X.insert(X.end(), t, t + kBlockTerms);
          y.push_back(lab);
        }
      };
      add(mine[k], 1);
      for (int v : fit_users)
        if (v != u) add(sess_of[v][k % sess_of[v].size()], 0);
    }
  }
  std::array<bool, kBlockTerms> use{};
  for (int k = 3; k < kBlockTerms; ++k) use[k] = k < kBlockTermPop || k >= kBlockTermPop + 3;
  *with_hist = MouseBlockWeights::fit(X, y, o.block_stat, o.block_log, uint32_t(B), o.block_l2, use);
  use[kBlockTermHist] = false;
  *no_hist = MouseBlockWeights::fit(X, y, o.block_stat, o.block_log, uint32_t(B), o.block_l2, use);
  if (verbose) {
    size_t np = 0;
    for (uint8_t v : y) np += v;
    std::printf("   block weights (%zu genuine / %zu impostor FIT blocks of %zu), largest |w|:", np, y.size() - np, B);
    std::vector<std::pair<float, int>> ord;
    for (int k = 0; k < kBlockTerms; ++k) ord.push_back({-std::abs(with_hist->w[k]), k});
    std::sort(ord.begin(), ord.end());
    for (int i = 0; i < 8; ++i) {
      int k = ord[i].second;
      std::printf(" %s%s=%.2f", k >= kBlockTermPop && k < kBlockTermType ? "pop:" : "",
                  k == kBlockTermType ? "types" : k == kBlockTermHist ? "hist" : kActionFeatureNames[k % kActionFeatures],
                  with_hist->w[k]);
    }
    std::printf("\n");
  }
}

static void run_oneclass_eval(const std::vector<Session>& S, const std::vector<std::vector<int>>& sess_of,
                              const std::vector<std::string>& users, const std::vector<int>& Ns, ForestParams fp,
                              size_t max_pos, const char* mode, const OneClassOpts& o, bool per_user) {
  std::vector<int> half(users.size());
  for (size_t u = 0; u < users.size(); ++u) half[u] = 0;
  {  // balanced halves: sort users by hash, alternate
    std::vector<std::pair<uint64_t, int>> hs;
    for (size_t u = 0; u < users.size(); ++u) hs.push_back({fnv(o.user_salt + users[u]), int(u)});
    std::sort(hs.begin(), hs.end());
    for (size_t i = 0; i < hs.size(); ++i) half[hs[i].second] = int(i % 2);
  }
  std::map<std::string, Scores> res;
  // efar / nefar: mcc's cross-fitted enrolled_far estimates (summed over targets and folds).
  struct Cal { size_t g = 0, grej = 0, im = 0, iacc = 0, enr = 0, enrrej = 0; double efar = 0; size_t nefar = 0; };
  std::map<std::string, std::array<Cal, 2>> cal;  // target FRR 5%, 10% at 20 actions
  const double targets[2] = {0.05, 0.10};
  std::mt19937 rng(7);
  // mcc*: MouseCohort fits (5% and 10%), the time they took, the refusals and the (target, fold,
  // method) runs skipped because a cohort they need was refused or the target has no profile.
  size_t mcc_fits = 0, mcc_refused = 0, mcc_unenrolled = 0;
  double mcc_fit_s = 0;
  std::map<std::string, size_t> mcc_skipped;
  std::set<std::string> mcc_why;
  const bool mcc_cal = std::find(Ns.begin(), Ns.end(), 20) != Ns.end();
  for (int h = 0; h < 2; ++h) {
    std::vector<int> fitu, testu;
    for (size_t u = 0; u < users.size(); ++u) (half[u] == h ? testu : fitu).push_back(int(u));
    std::printf("[%s] half %d: FIT", mode, h);
    for (int u : fitu) std::printf(" %s", users[u].c_str());
    std::printf("; TEST");
    for (int u : testu) std::printf(" %s", users[u].c_str());
    std::printf("\n");
    RandomForest verifier;
    const bool want_ver = std::find(o.methods.begin(), o.methods.end(), "hist-rf") != o.methods.end();
    MousePopulation pop = learn_population(S, sess_of, fitu, o, true, want_ver ? &verifier : nullptr);
    MousePopulation pop_flat = pop;
    MouseBlockWeights bw_hist, bw_2s;
    if (std::any_of(o.methods.begin(), o.methods.end(), [](const std::string& m) { return m.rfind("block", 0) == 0; }))
      learn_block_weights(S, sess_of, fitu, pop, o, &bw_hist, &bw_2s, true);
    for (int mi = 0; mi < kOneClassModels; ++mi)  // unit weights for features that vary (as fit() sets them)
      for (int f = 0; f < kActionFeatures; ++f) {
        const auto& M = pop.model(pop.model(mi).q.empty() ? 3 : mi);
        pop_flat.weight[mi][f] = M.edges[f].empty() ? 0.f : 1.f;
      }
    for (auto& pw : pop_flat.pair_weight) std::fill(pw.begin(), pw.end(), 0.f);  // hist: the naive-Bayes ratio alone
    // mc*: one softmax GBT per (fold, left-out user) over the enrolled TEST users' actions as a
    // host holds them: each feature as its bin under the population's all-types model (what the
    // profiles' quantised records keep) plus the type. Shared by every target user of the fold.
    auto codes = [&](const MouseAction& a, float* out) {
      for (int f = 0; f < kActionFeatures; ++f) out[f] = float(pop.bin_of(3, f, a.f[f]));
      out[kActionFeatures] = float(a.type);
    };
    std::map<std::pair<size_t, int>, std::pair<GradientBoosting, std::vector<int>>> mc_models;
    // gbt-bg*: the shipped background, per FIT user at most --max-pos of their actions (drawn once per half).
    std::vector<std::vector<const MouseAction*>> bg_pool;
    auto mc_model = [&](size_t k, int left_out) -> const std::pair<GradientBoosting, std::vector<int>>& {
      auto key = std::make_pair(k, left_out);
      auto it = mc_models.find(key);
      if (it != mc_models.end()) return it->second;
      std::vector<float> X;
      std::vector<uint16_t> y;
      std::vector<int> members;
      for (int w : testu) {
        if (w == left_out) continue;
        const auto& theirs = sess_of[w];
        std::vector<MouseAction> e = enrollment_actions(S, theirs, k % theirs.size(), o.enroll_sessions, g_sitting_actions);
        std::shuffle(e.begin(), e.end(), rng);
        if (e.size() > max_pos) e.resize(max_pos);
        for (const MouseAction& a : e) {
          X.resize(X.size() + kActionFeatures + 1);
          codes(a, &X[X.size() - kActionFeatures - 1]);
          y.push_back(uint16_t(members.size()));
        }
        members.push_back(w);
      }
      GradientBoosting g;
      g.fit(X, kActionFeatures + 1, y, int(members.size()), BoostParams{});
      return mc_models.emplace(key, std::make_pair(std::move(g), std::move(members))).first->second;
    };
    // mcc*: the daemon's several-users class itself (MouseCohort, mouse_cohort.h) per (fold,
    // left-out user), fitted on the enrolled TEST users' hist-w profiles (the enrollments every
    // other method uses) with CohortParams defaults, so its rows (each member's most recent
    // max_rows) and calibration are exactly what a host would hold. A user whose profile is not
    // valid would not be enrolled on a host and is not a member. The 10% calibration needs a
    // second fit (the GBT is deterministic, only the thresholds differ): only its calibration is
    // kept, and only when 20-action blocks are evaluated.
    struct CohortFit {
      MouseCohort cohort;
      std::vector<CohortCalibration> cal10;
      std::vector<int> members;  // TEST users, in member order
      std::vector<const MouseOneClass*> ptrs;  // their profiles, then the background's
      const char* why = nullptr;
      size_t fold = 0, fits = 0;
      int left_out = -1;
      double seconds = 0;
      size_t index_of(int u) const { return size_t(std::find(members.begin(), members.end(), u) - members.begin()); }
      bool has(int u) const { return cohort.valid() && index_of(u) < members.size(); }
    };
    std::map<std::pair<size_t, int>, MouseOneClass> mcc_profiles;  // (fold, TEST user)
    std::map<std::tuple<size_t, int, int>, CohortFit> mcc_models;
    // --cohort-background: the FIT users' background profiles, enrolled once per half.
    std::vector<std::pair<int, MouseOneClass>> bg_profiles;
    if (g_cohort_background > 0)
      for (int v : fitu) {
        std::vector<MouseAction> all;
        for (int s : sess_of[v]) all.insert(all.end(), S[s].actions.begin(), S[s].actions.end());
        std::shuffle(all.begin(), all.end(), rng);
        if (all.size() > g_cohort_background) all.resize(g_cohort_background);
        MouseOneClass b = MouseOneClass::enroll(all, &pop, oc_params("hist-w", o));
        if (b.valid()) bg_profiles.emplace_back(v, std::move(b));
      }
    // solo >= 0 (--cohort-solo): the cohort of that TEST user alone (left_out is then moot).
    // mcc_prepare: the model's entry with its members (profiles enrolled here, serially);
    // mcc_fit: the fits themselves (thread-safe: reads the profiles and pop, writes f only);
    // mcc_account: the counters and the refusal line, serially.
    auto mcc_prepare = [&](size_t k, int left_out, int solo) -> std::pair<CohortFit*, bool> {
      if (solo >= 0) left_out = -1;
      auto key = std::make_tuple(k, left_out, solo);
      auto it = mcc_models.find(key);
      if (it != mcc_models.end()) return {&it->second, false};
      CohortFit& f = mcc_models[key];
      f.left_out = left_out;
      f.fold = k;
      for (int w : testu) {
        if (w == left_out || (solo >= 0 && w != solo)) continue;
        auto pk = std::make_pair(k, w);
        auto pit = mcc_profiles.find(pk);
        if (pit == mcc_profiles.end()) {
          const auto& theirs = sess_of[w];
          pit = mcc_profiles.emplace(pk, MouseOneClass::enroll(enrollment_actions(S, theirs, k % theirs.size(), o.enroll_sessions, g_sitting_actions),
                                                               &pop, oc_params("hist-w", o))).first;
          mcc_unenrolled += !pit->second.valid();
        }
        if (!pit->second.valid()) continue;
        f.members.push_back(w);
        f.ptrs.push_back(&pit->second);
      }
      for (const auto& b : bg_profiles) {
        f.members.push_back(b.first);
        f.ptrs.push_back(&b.second);
      }
      return {&f, true};
    };
    auto mcc_fit = [&](CohortFit& f) {
      const auto t0 = std::chrono::steady_clock::now();
      CohortParams cp = g_cohort_params;
      cp.frr = g_cohort_frr;
      if (g_cohort_split) cp.background = bg_profiles.size();
      if (g_cohort_merge >= 0) cp.merge_background = g_cohort_merge != 0;
      cp.two_models = g_cohort_two;
      f.cohort = MouseCohort::fit(f.ptrs, pop, cp, &f.why);
      f.fits = 1;
      if (f.cohort.valid() && mcc_cal && g_cohort_cal10) {
        CohortParams p10 = cp;
        p10.frr = 0.10;
        const MouseCohort c10 = MouseCohort::fit(f.ptrs, pop, p10, nullptr);
        ++f.fits;
        if (c10.valid())
          for (size_t i = 0; i < c10.members(); ++i) f.cal10.push_back(c10.calibration(i));
      }
      f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    auto mcc_account = [&](const CohortFit& f) {
      mcc_fits += f.fits;
      mcc_fit_s += f.seconds;
      if (!f.cohort.valid()) {
        ++mcc_refused;
        mcc_why.insert(f.why ? f.why : "?");
        std::printf("   mcc: MouseCohort::fit refused %zu members (fold %zu, left out %s): %s\n", f.ptrs.size(), f.fold,
                    f.left_out < 0 ? "none" : users[size_t(f.left_out)].c_str(), f.why ? f.why : "?");
      }
    };
    auto mcc_model = [&](size_t k, int left_out, int solo) -> const CohortFit& {
      auto [f, fresh] = mcc_prepare(k, left_out, solo);
      if (fresh) {
        mcc_fit(*f);
        mcc_account(*f);
      }
      return *f;
    };
    // --jobs N: every model the loop below will ask for, fitted up front on N threads (the
    // same fits, so the same figures as --jobs 1, in about 1/N of the time).
    const bool want_mcc = g_dump_cohort || std::any_of(o.methods.begin(), o.methods.end(), [](const std::string& m) { return m.rfind("mcc", 0) == 0; });
    const bool want_open = g_dump_cohort || std::any_of(o.methods.begin(), o.methods.end(), [](const std::string& m) {
                             return m.rfind("mcc", 0) == 0 && open_set_method(m);
                           });
    if (g_jobs > 1 && want_mcc) {
      std::vector<CohortFit*> todo;
      for (int u : testu)
        for (size_t k = 0; k < sess_of[u].size(); ++k) {
          const int solo = g_cohort_solo ? u : -1;
          auto add = [&](int left_out) {
            auto [f, fresh] = mcc_prepare(k, left_out, solo);
            if (fresh) todo.push_back(f);
          };
          add(-1);
          if (want_open)
            for (int v : testu)
              if (v != u) add(v);
        }
      std::atomic<size_t> next{0};
      std::vector<std::thread> pool;
      for (int t = 0; t < g_jobs; ++t)
        pool.emplace_back([&] {
          for (size_t i; (i = next.fetch_add(1)) < todo.size();) mcc_fit(*todo[i]);
        });
      for (std::thread& t : pool) t.join();
      for (const CohortFit* f : todo) mcc_account(*f);
    }
    for (int u : testu) {
      const auto& mine = sess_of[u];
      for (size_t k = 0; k < mine.size(); ++k) {
        const std::vector<MouseAction> enr = enrollment_actions(S, mine, k, o.enroll_sessions, g_sitting_actions);
        std::vector<int> imp;
        for (int v : testu)
          if (v != u) imp.push_back(sess_of[v][k % sess_of[v].size()]);
        for (const std::string& m : o.methods) {
          Scores& sc_ = res[m];
          if (m.rfind("block", 0) == 0) {
            // block-level two-sample scorer: scores whole blocks, not action means
            MouseBlockWeights w = m == "block" ? bw_hist : m == "block-2s" ? bw_2s
                                                : MouseBlockWeights::unit(o.block_stat, o.block_log);
            BlockParams bp;
            bp.hist = oc_params("hist-w", o);
            bp.hist.self_norm = false;
            MouseBlock mb = MouseBlock::enroll(enr, &pop, w, bp);
            if (!mb.valid()) continue;
            auto runb = [&](int s, bool genuine) {
              const auto& A = S[s].actions;
              auto& dst = genuine ? sc_.g[u] : sc_.im[u];
              dst.resize(Ns.size());
              std::vector<std::vector<double>> blocks(Ns.size());
              for (size_t ni = 0; ni < Ns.size(); ++ni) {
                size_t N = size_t(std::max(2, Ns[ni]));
                for (size_t b = 0; b + N <= A.size(); b += N) blocks[ni].push_back(mb.score(&A[b], N));
                dst[ni].insert(dst[ni].end(), blocks[ni].begin(), blocks[ni].end());
              }
              return blocks;
            };
            auto gb = runb(mine[k], true);
            std::vector<std::vector<std::vector<double>>> ib;
            for (int s : imp) ib.push_back(runb(s, false));
            size_t n20 = std::find(Ns.begin(), Ns.end(), 20) - Ns.begin();
            if (n20 < Ns.size())
              for (int t = 0; t < 2; ++t) {
                double thr = mb.calibrate(enr, &pop, 20, targets[t]);
                if (mb.calibration_scores().empty()) continue;
                Cal& c = cal[m][t];
                for (double s : mb.calibration_scores()) { ++c.enr; c.enrrej += s < thr; }
                for (double s : gb[n20]) { ++c.g; c.grej += s < thr; }
                for (auto& b : ib)
                  for (double s : b[n20]) { ++c.im; c.iacc += s >= thr; }
              }
            continue;
          }
          std::function<double(const MouseAction&)> score;
          std::vector<std::pair<int, MouseOneClass>> cohort;
          int cohort_excluded = -1;
          MouseOneClass oc;
          // mcc*: the cohort scoring the current session (cohort_excluded's) and u's index in it;
          // mcc-fused: hist-w's thresholds at 5% and 10% and its genuine sd.
          const CohortFit* mcc_cur = nullptr;
          int mcc_ex = -2;
          size_t mcc_me = 0;
          double oc_thr[2] = {0, 0}, oc_sd = 1;
          MouseProfile prof;
          RandomForest cadrf;
          GradientBoosting gbt_bg;
          if (m == "hist-rf") {
            OneClassParams hp = oc_params("hist", o);
            hp.self_norm = false;
            oc = MouseOneClass::enroll(enr, &pop_flat, hp);
            if (!oc.valid()) continue;
            score = [&](const MouseAction& a) {
              std::vector<float> t;
              oc.hist_terms(a, 3, &t);
              double q = std::min(0.995, std::max(0.005, verifier.predict(t.data())));
              return std::log(q / (1 - q));
            };
          } else if (m == "synth") {
            // per-user forest against synthetic actions drawn from the FIT population model
            std::vector<MouseAction> ua = enr;
            std::shuffle(ua.begin(), ua.end(), rng);
            if (ua.size() > max_pos) ua.resize(max_pos);
            std::vector<uint8_t> types;
            for (const MouseAction& a : ua) types.push_back(uint8_t(a.type));
            std::vector<MouseAction> bg = pop.sample(types, uint32_t(1000 * u + k));
            fp.seed = uint32_t(1000 * u + 10 * k + 5);
            prof = MouseProfile::enroll(ua, bg, fp, max_pos);
            score = [&](const MouseAction& a) { return prof.action_logit(a); };
          } else if (m == "rf" || m == "cad") {
            // per-user forest against a background of FIT users' actions only
            std::vector<const MouseAction*> pos, neg;
            for (const MouseAction& a : enr) pos.push_back(&a);
            std::shuffle(pos.begin(), pos.end(), rng);
            if (pos.size() > max_pos) pos.resize(max_pos);
            size_t per = pos.size() / fitu.size() + 1;
            for (int v : fitu) {
              std::vector<const MouseAction*> pool;
              for (int s : sess_of[v])
                for (const MouseAction& a : S[s].actions) pool.push_back(&a);
              std::shuffle(pool.begin(), pool.end(), rng);
              if (pool.size() > per) pool.resize(per);
              neg.insert(neg.end(), pool.begin(), pool.end());
            }
            fp.seed = uint32_t(1000 * u + 10 * k + 3);
            if (m == "rf") {
              std::vector<MouseAction> ua, bg;
              for (auto* a : pos) ua.push_back(*a);
              for (auto* a : neg) bg.push_back(*a);
              prof = MouseProfile::enroll(ua, bg, fp, max_pos);
              score = [&](const MouseAction& a) { return prof.action_logit(a); };
            } else {
              std::vector<float> X;
              std::vector<uint8_t> y;
              for (auto* a : pos) { X.insert(X.end(), a->cadence.begin(), a->cadence.end()); y.push_back(1); }
              for (auto* a : neg) { X.insert(X.end(), a->cadence.begin(), a->cadence.end()); y.push_back(0); }
              cadrf.fit(X, 3, y, fp);
              score = [&](const MouseAction& a) {
                double q = std::min(0.995, std::max(0.005, cadrf.predict(a.cadence.data())));
                return std::log(q / (1 - q));
              };
            }
          } else if (m.rfind("gbt-bg", 0) == 0) {
            // A host with no other enrolled user, given a shipped background: a GBT over u's
            // enrollment and the FIT users' actions (at most --max-pos of each), as the
            // population-bin codes a profile keeps. gbt-bg: binary, u against the pooled
            // background; gbt-bg-mc: softmax with each FIT user a class of its own, u's score
            // log p(u|x) - log mean_v p(v|x). Both with the class prior dropped (likelihoods, so
            // the row counts do not matter) and clipped to +-6. gbt-bg-sum: gbt-bg + hist-w.
            const bool per_class = m.rfind("gbt-bg-mc", 0) == 0;
            if (m == "gbt-bg-sum") {
              oc = MouseOneClass::enroll(enr, &pop, oc_params("hist-w", o));
              if (!oc.valid()) continue;
            }
            if (bg_pool.empty())
              for (int v : fitu) {
                std::vector<const MouseAction*> pool;
                for (int s : sess_of[v])
                  for (const MouseAction& a : S[s].actions) pool.push_back(&a);
                std::shuffle(pool.begin(), pool.end(), rng);
                if (pool.size() > max_pos) pool.resize(max_pos);
                bg_pool.push_back(std::move(pool));
              }
            std::vector<const MouseAction*> pos;
            for (const MouseAction& a : enr) pos.push_back(&a);
            std::shuffle(pos.begin(), pos.end(), rng);
            if (pos.size() > max_pos) pos.resize(max_pos);
            std::vector<float> X;
            std::vector<uint16_t> y;
            auto add = [&](const MouseAction* a, uint16_t c) {
              X.resize(X.size() + kActionFeatures + 1);
              codes(*a, &X[X.size() - kActionFeatures - 1]);
              y.push_back(c);
            };
            for (const MouseAction* a : pos) add(a, per_class ? 0 : 1);
            for (size_t v = 0; v < bg_pool.size(); ++v)
              for (const MouseAction* a : bg_pool[v]) add(a, per_class ? uint16_t(v + 1) : 0);
            const int classes = per_class ? int(bg_pool.size() + 1) : 2;
            gbt_bg.fit(X, kActionFeatures + 1, y, classes, BoostParams{});
            gbt_bg.drop_prior();
            score = [&, per_class, classes](const MouseAction& a) {
              float x[kActionFeatures + 1];
              codes(a, x);
              double mg[64];
              gbt_bg.margins(x, mg);
              double d = mg[0];
              if (per_class) {
                double mx = mg[1];
                for (int c = 2; c < classes; ++c) mx = std::max(mx, mg[c]);
                double se = 0;
                for (int c = 1; c < classes; ++c) se += std::exp(mg[c] - mx);
                d = mg[0] - (mx + std::log(se / double(classes - 1)));
              }
              d = std::min(6.0, std::max(-6.0, d));
              return m == "gbt-bg-sum" ? d + oc.action_score(a) : d;
            };
          } else if (m.rfind("mcc", 0) == 0) {
            // The daemon's several-users model (MouseCohort): u's action score is
            // cohort.action_score(u's member index), the cohort being the fold's TEST users' (closed
            // set) or, while an impostor's session is scored under -open, the one without them.
            // mcc-fused: what the session monitor does with the two calibrated mouse modalities,
            // per action (s_oc - t_oc) / sd_oc + (s_mc - t_mc) / sd_mc with each modality's 5%
            // threshold and genuine sd (hist-w: calibrate() on the enrollment; mcc: the cohort's
            // calibration of u), so a block mean >= 0 is both modalities at their threshold in sum.
            const bool open = open_set_method(m);
            bool ok = mcc_model(k, -1, g_cohort_solo ? u : -1).has(u);
            for (int v : testu)
              if (ok && open && v != u) ok = mcc_model(k, v, g_cohort_solo ? u : -1).has(u);
            if (!ok) { ++mcc_skipped[m]; continue; }
            if (m.rfind("mcc-fused", 0) == 0) {
              oc = MouseOneClass::enroll(enr, &pop, oc_params("hist-w", o));
              if (!oc.valid()) { ++mcc_skipped[m]; continue; }
              oc_thr[1] = oc.calibrate(enr, &pop, 20, 0.10);
              oc_thr[0] = oc.calibrate(enr, &pop, 20, 0.05);
              const auto& cs = oc.calibration_scores();
              double mu = 0, ss = 0;
              for (double v : cs) mu += v / double(cs.size());
              for (double v : cs) ss += (v - mu) * (v - mu);
              oc_sd = cs.size() > 1 ? std::max(1e-6, std::sqrt(ss / double(cs.size() - 1))) : 1;
            }
            // mcc-mD / mcc-sW: D or W, the number after the method's five-character prefix.
            const bool by_margin = margin_method(m), by_sum = sum_method(m);
            const double mcc_param = by_margin || by_sum ? std::atof(m.c_str() + 5) : 0;
            score = [&, by_margin, by_sum, mcc_param](const MouseAction& a) {
              if (cohort_excluded != mcc_ex) {
                mcc_ex = cohort_excluded;
                mcc_cur = &mcc_model(k, cohort_excluded, g_cohort_solo ? u : -1);
                mcc_me = mcc_cur->index_of(u);
              }
              if (by_margin) return MouseCohort::combine(mcc_cur->cohort.action_terms(mcc_me, a, pop), mcc_param);
              if (by_sum) {
                // Only where both parts exist (several enrolled users and a background).
                const MouseCohort::Terms t = mcc_cur->cohort.action_terms(mcc_me, a, pop);
                return std::isfinite(t.enrolled) && std::isfinite(t.background) ? t.enrolled + mcc_param * t.background
                                                                                  : std::min(t.enrolled, t.background);
              }
              const double s = mcc_cur->cohort.action_score(mcc_me, a, pop);
              if (m.rfind("mcc-fused", 0) != 0) return s;
              const CohortCalibration& c = mcc_cur->cohort.calibration(mcc_me);
              return (oc.action_score(a) - oc_thr[0]) / oc_sd + g_fuse_cohort_weight * (s - c.threshold) / c.genuine_sd;
            };
          } else if (m.rfind("mc", 0) == 0) {
            // Several users on one host, discriminative: log p(u|x) - log mean_{v != u} p(v|x) of
            // the fold's softmax GBT over the enrolled TEST users (clipped to +-6, as
            // --multiclass). mc-sum / mc-min add the user's hist-w score to it, or take the lower
            // of the two, so an outsider the GBT attributes to u still meets the one-class score.
            // -open: the impostor is not enrolled (a GBT without them scores their session).
            oc = MouseOneClass::enroll(enr, &pop, oc_params("hist-w", o));
            if (!oc.valid()) continue;
            score = [&](const MouseAction& a) {
              const auto& mm = mc_model(k, cohort_excluded);
              const std::vector<int>& mem = mm.second;
              const int me = int(std::find(mem.begin(), mem.end(), u) - mem.begin());
              std::vector<float> x(kActionFeatures + 1);
              codes(a, x.data());
              std::vector<double> mg(mem.size());
              mm.first.margins(x.data(), mg.data());
              const double mx = *std::max_element(mg.begin(), mg.end());
              double others = 0;
              for (size_t w = 0; w < mg.size(); ++w)
                if (int(w) != me) others += std::exp(mg[w] - mx);
              others = mx + std::log(std::max(1e-300, others / double(mg.size() - 1)));
              const double d = std::min(6.0, std::max(-6.0, mg[size_t(me)] - others));
              if (m.rfind("mc-sum", 0) == 0) return d + oc.action_score(a);
              if (m.rfind("mc-min", 0) == 0) return std::min(d, oc.action_score(a));
              return d;
            };
          } else if (m.rfind("cohort", 0) == 0) {
            // Several users enrolled on one host, each with the daemon's one-class model (hist-w):
            // an action's score is the user's log ratio minus the log of the mean ratio under the
            // other enrolled users' models, i.e. log p_u(x) - log mean_v p_v(x) with the population
            // cancelling, clipped to +-6 (as the softmax score of --multiclass). Every model leaves
            // out the session of this fold (the impostor sessions are the cohort's own held-out
            // ones). cohort: every other TEST user is enrolled (closed set: the impostor is one of
            // them); cohort-open: the impostor is not enrolled (left out of the cohort while their
            // session is scored). cohort-floor[-open]: the user's log ratio minus max(0, that log
            // mean), so only an action another enrolled user explains better than the population
            // lowers the score, and an outsider's falls back to the one-class score.
            oc = MouseOneClass::enroll(enr, &pop, oc_params("hist-w", o));
            if (!oc.valid()) continue;
            cohort.clear();
            for (int v : testu) {
              if (v == u) continue;
              const auto& theirs = sess_of[v];
              MouseOneClass cv = MouseOneClass::enroll(enrollment_actions(S, theirs, k % theirs.size(), o.enroll_sessions, g_sitting_actions),
                                                       &pop, oc_params("hist-w", o));
              if (cv.valid()) cohort.push_back({v, std::move(cv)});
            }
            score = [&](const MouseAction& a) {
              double mx = -1e300;
              std::vector<double> t;
              for (const auto& c : cohort)
                if (c.first != cohort_excluded) t.push_back(c.second.action_score(a)), mx = std::max(mx, t.back());
              double own = oc.action_score(a);
              if (t.empty()) return own;
              double se = 0;
              for (double x : t) se += std::exp(x - mx);
              double lme = mx + std::log(se / double(t.size()));
              if (m.rfind("cohort-floor", 0) == 0) return own - std::max(0.0, lme);
              return std::max(-6.0, std::min(6.0, own - lme));
            };
          } else {
            const MousePopulation* pp = m == "hist-w" ? &pop : &pop_flat;
            oc = MouseOneClass::enroll(enr, (m == "z" || m == "knn") ? nullptr : pp, oc_params(m, o));
            if (!oc.valid()) continue;
            score = [&](const MouseAction& a) { return oc.action_score(a); };
          }
          double dump_thr = 0, dump_sd = 1;
          const bool dumping = g_dump_blocks && m == "hist-w";
          if (dumping) {
            MouseOneClass c = oc;
            dump_thr = c.calibrate(enr, &pop, 20, 0.05);
            const auto& cs = c.calibration_scores();
            double mu = 0, ss = 0;
            for (double v : cs) mu += v / double(cs.size());
            for (double v : cs) ss += (v - mu) * (v - mu);
            dump_sd = cs.size() > 1 ? std::sqrt(ss / double(cs.size() - 1)) : 1;
          }
          auto run = [&](int s, bool genuine) {
            std::vector<double> p;
            for (const MouseAction& a : S[s].actions) p.push_back(score(a));
            // --dump-cohort: the same blocks under the several-users model (MouseCohort) with u's
            // calibration in it: every TEST user enrolled (closed), and for another person's session
            // the model without them (open: an outsider); a genuine session has the closed model
            // in both. Left empty where u is not a member.
            std::vector<double> qc, qo;
            const CohortFit* fc = nullptr;
            const CohortFit* fo = nullptr;
            if (dumping && g_dump_cohort) {
              fc = &mcc_model(k, -1, g_cohort_solo ? u : -1);
              fo = genuine ? fc : &mcc_model(k, S[s].user, g_cohort_solo ? u : -1);
              if (fc->has(u) && fo->has(u))
                for (const MouseAction& a : S[s].actions) {
                  qc.push_back(fc->cohort.action_score(fc->index_of(u), a, pop));
                  qo.push_back(fo->cohort.action_score(fo->index_of(u), a, pop));
                }
            }
            if (dumping) {
              // elapsed time: gap before each action (capped at 30 s by the extractor) + its duration
              static const int f_gap = int(std::find_if(kActionFeatureNames, kActionFeatureNames + kActionFeatures,
                                                        [](const char* n) { return std::strcmp(n, "gap_before_s") == 0; }) - kActionFeatureNames);
              static const int f_dur = int(std::find_if(kActionFeatureNames, kActionFeatureNames + kActionFeatures,
                                                        [](const char* n) { return std::strcmp(n, "duration_s") == 0; }) - kActionFeatureNames);
              double t = 0, win = 0, wc = 0, wo = 0;
              for (size_t i = 0; i < p.size(); ++i) {
                t += S[s].actions[i].f[f_gap] + S[s].actions[i].f[f_dur];
                win += p[i];
                if (i >= 20) win -= p[i - 20];
                if (!qc.empty()) {
                  wc += qc[i] - (i >= 20 ? qc[i - 20] : 0);
                  wo += qo[i] - (i >= 20 ? qo[i - 20] : 0);
                }
                if (i >= 19 && (i - 19) % 5 == 0) {
                  std::fprintf(g_dump_blocks, "%s,%zu,%s,%d,%.3f,%.6f,%.6f,%.6f", users[u].c_str(), k, S[s].name.c_str(),
                               genuine ? 1 : 0, t, win / 20, dump_thr, dump_sd);
                  if (qc.empty()) {
                    std::fprintf(g_dump_blocks, ",,,,,,\n");
                  } else {
                    const CohortCalibration& cc = fc->cohort.calibration(fc->index_of(u));
                    const CohortCalibration& co = fo->cohort.calibration(fo->index_of(u));
                    std::fprintf(g_dump_blocks, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", wc / 20, cc.threshold, cc.genuine_sd,
                                 wo / 20, co.threshold, co.genuine_sd);
                  }
                }
              }
            }
            std::vector<std::vector<double>> blocks;
            session_blocks(p, Ns, &blocks);
            auto& dst = genuine ? sc_.g[u] : sc_.im[u];
            dst.resize(Ns.size());
            for (size_t ni = 0; ni < Ns.size(); ++ni)
              dst[ni].insert(dst[ni].end(), blocks[ni].begin(), blocks[ni].end());
            return blocks;
          };
          auto gb = run(mine[k], true);
          std::vector<std::vector<std::vector<double>>> ib;
          {
            size_t i = 0;
            for (int v : testu) {
              if (v == u) continue;
              if (open_set_method(m)) cohort_excluded = v;
              ib.push_back(run(imp[i++], false));
            }
            cohort_excluded = -1;
          }
          // mcc*: each block against the threshold of the cohort that scored it (u's calibration
          // there): MouseCohort's at 5% / 10% for mcc; for mcc-fused 0 at 5% (both modalities at
          // their 5% thresholds), and at 10% the shift of both thresholds to their 10% values.
          // Enrollment FRR is the cohort's by construction (its held-out scores are not exposed).
          if (m.rfind("mcc", 0) == 0 && !margin_method(m) && !sum_method(m) && mcc_cal) {
            const size_t n20 = std::find(Ns.begin(), Ns.end(), 20) - Ns.begin();
            const bool open = open_set_method(m);
            const bool fused = m.rfind("mcc-fused", 0) == 0;
            for (int t = 0; t < 2; ++t) {
              auto thr = [&](int left_out) {
                const CohortFit& f = mcc_model(k, left_out, g_cohort_solo ? u : -1);
                const size_t me = f.index_of(u);
                const CohortCalibration& c5 = f.cohort.calibration(me);
                const double tm = t == 0 ? c5.threshold : f.cal10[me].threshold;
                if (!fused) return tm;
                return (oc_thr[t] - oc_thr[0]) / oc_sd + (tm - c5.threshold) / c5.genuine_sd;
              };
              bool have = true;  // the 10% fits (never refused where the 5% one was: checked)
              for (int v : testu) {
                const CohortFit& f = mcc_model(k, open && v != u ? v : -1, g_cohort_solo ? u : -1);
                if (t == 1 && f.cal10.size() != f.members.size()) have = false;
              }
              if (!have) continue;
              Cal& c = cal[m][t];
              const double tg = thr(-1);
              for (double s : gb[n20]) { ++c.g; c.grej += s < tg; }
              size_t i = 0;
              for (int v : testu) {
                if (v == u) continue;
                const double ti = thr(open ? v : -1);
                for (double s : ib[i++][n20]) { ++c.im; c.iacc += s >= ti; }
              }
              const CohortFit& closed = mcc_model(k, -1, g_cohort_solo ? u : -1);
              c.efar += t == 0 ? closed.cohort.calibration(closed.index_of(u)).enrolled_far : closed.cal10[closed.index_of(u)].enrolled_far;
              ++c.nefar;
            }
          }
          // calibration to a target FRR on the enrollment (one-class methods)
          if (m != "rf" && m != "cad" && m != "synth" && m != "hist-rf" && m.rfind("cohort", 0) != 0 && m.rfind("mc", 0) != 0 &&
              m.rfind("gbt-bg", 0) != 0) {
            size_t n20 = std::find(Ns.begin(), Ns.end(), 20) - Ns.begin();
            if (n20 < Ns.size())
              for (int t = 0; t < 2; ++t) {
                const MousePopulation* pp = m == "hist-w" ? &pop : &pop_flat;
                double thr = oc.calibrate(enr, (m == "z" || m == "knn") ? nullptr : pp, 20, targets[t]);
                if (oc.calibration_scores().empty()) continue;
                auto tally = [&](const std::string& key, double th, const std::vector<double>& calib) {
                  Cal& c = cal[key][t];
                  for (double s : calib) { ++c.enr; c.enrrej += s < th; }
                  for (double s : gb[n20]) { ++c.g; c.grej += s < th; }
                  for (auto& b : ib)
                    for (double s : b[n20]) { ++c.im; c.iacc += s >= th; }
                };
                tally(m, thr, oc.calibration_scores());
                // Several sittings, as `sentinel enroll --add` builds them (add_sitting: the
                // model and threshold of enroll + calibrate on every sitting, checked here), and
                // two calibration sets measured against it: each later sitting scored by the
                // model of the sittings before it (cross), alone or with the first sitting's own
                // leave-out chunks (within+cross); and leave one sitting out (loso).
                if ((m == "hist" || m == "hist-w") && o.enroll_sessions > 1) {
                  const auto sit = enrollment_sittings(S, mine, k, o.enroll_sessions, g_sitting_actions);
                  MouseOneClass inc = MouseOneClass::enroll(sit[0], pp, oc_params(m, o));
                  if (!inc.valid()) continue;
                  inc.calibrate(sit[0], pp, 20, targets[t]);
                  std::vector<double> within = inc.calibration_scores(), cross;
                  bool ok = true;
                  for (size_t i = 1; i < sit.size() && ok; ++i) {
                    for (size_t b = 0; b + 20 <= sit[i].size(); b += 5) cross.push_back(inc.block_score(&sit[i][b], 20));
                    ok = inc.add_sitting(sit[i], pp, 20, targets[t], nullptr);
                  }
                  if (!ok) continue;
                  ++g_sitting_folds;
                  g_sitting_same += inc.threshold == thr && inc.calibration_scores() == oc.calibration_scores();
                  tally(m + " sittings:cross", threshold_for_frr(cross, targets[t]), cross);
                  std::vector<double> uni = within;
                  uni.insert(uni.end(), cross.begin(), cross.end());
                  tally(m + " sittings:within+cross", threshold_for_frr(uni, targets[t]), uni);
                  // Leave one sitting out: each sitting's blocks scored by a model of all the others.
                  std::vector<double> loso;
                  for (size_t i = 0; i < sit.size(); ++i) {
                    std::vector<MouseAction> rest;
                    for (size_t j = 0; j < sit.size(); ++j)
                      if (j != i) rest.insert(rest.end(), sit[j].begin(), sit[j].end());
                    MouseOneClass li = MouseOneClass::enroll(rest, pp, oc_params(m, o));
                    if (!li.valid()) continue;
                    for (size_t b = 0; b + 20 <= sit[i].size(); b += 5) loso.push_back(li.block_score(&sit[i][b], 20));
                  }
                  if (!loso.empty()) tally(m + " sittings:loso", threshold_for_frr(loso, targets[t]), loso);
                }
              }
          }
        }
      }
    }
  }
  for (const std::string& m : o.methods) {
    const char* desc = m == "z" ? "one-class robust z (median/MAD per type; no population)"
                       : m == "knn" ? "one-class kNN distance to enrollment actions (per type; no population)"
                       : m == "hist" ? "one-class histogram density ratio vs FIT population (unit weights)"
                       : m == "hist-w" ? "one-class histogram density ratio vs FIT population (weights learned on FIT)"
                       : m == "gauss" ? "one-class Gaussian copula density ratio vs FIT population"
                       : m == "block" ? "block two-sample scorer (per-feature goodness of fit vs the user's and the population's CDFs + type term + hist-w block mean; weights learned on FIT blocks)"
                       : m == "block-2s" ? "block two-sample scorer, goodness-of-fit and type terms only (no hist-w term; weights learned on FIT blocks)"
                       : m == "block-unit" ? "block two-sample scorer, unit weights (-1 per goodness-of-fit term, +1 hist-w block mean)"
                       : m == "hist-rf" ? "one-class histogram terms scored by a global verifier forest learned on FIT users"
                       : m == "cohort" ? "hist-w against the other enrolled TEST users' hist-w models (log p_u - log mean p_v, clipped +-6; closed set)"
                       : m == "cohort-open" ? "hist-w against the other enrolled TEST users' hist-w models, impostor not enrolled (open set)"
                       : m == "mcc" ? "MouseCohort (the daemon's class) over the enrolled TEST users' hist-w profiles; closed set"
                       : m == "mcc-open" ? "MouseCohort (the daemon's class) over the enrolled TEST users' hist-w profiles; impostor not enrolled (open set)"
                       : m == "mcc-fused" ? "hist-w + MouseCohort, each (s - 5% threshold) / genuine sd, summed per action with the cohort weighted --fuse-cohort-weight (the daemon's fusion); closed set"
                       : m == "mcc-fused-open" ? "hist-w + MouseCohort, each (s - 5% threshold) / genuine sd, summed per action with the cohort weighted --fuse-cohort-weight (the daemon's fusion); impostor not enrolled (open set)"
                       : margin_method(m) ? "MouseCohort, min(against the enrolled, against the background + margin), the margin after mcc-m; -open: impostor not enrolled"
                       : sum_method(m) ? "MouseCohort, against the enrolled + W x against the background, W after mcc-s; -open: impostor not enrolled"
                       : m.rfind("mc", 0) == 0 ? "softmax GBT over the enrolled TEST users' population-bin codes (mc-sum: + hist-w; mc-min: the lower of the two; -open: impostor not enrolled)"
                       : m == "cohort-floor" ? "hist-w minus max(0, log mean ratio of the other enrolled TEST users' models); closed set"
                       : m == "cohort-floor-open" ? "hist-w minus max(0, log mean ratio of the other enrolled TEST users' models); impostor not enrolled (open set)"
                       : m == "synth" ? "per-user RF against synthetic actions sampled from the FIT population model"
                       : m == "gbt-bg" ? "per-user binary GBT over population-bin codes, background = FIT users' actions (prior dropped)"
                       : m == "gbt-bg-mc" ? "per-user softmax GBT over population-bin codes, each FIT user a class (log p_u - log mean p_v, prior dropped)"
                       : m == "gbt-bg-sum" ? "gbt-bg + hist-w per action"
                       : m == "rf" ? "per-user RF (ours, 44 features), background = FIT users' actions"
                                   : "per-user RF, cadence-only (3 timing numbers), background = FIT users";
    std::printf("\n[%s] oneclass method=%s: %s; TEST users, impostors = other TEST users\n", mode, m.c_str(), desc);
    print_scores(res[m], Ns, users, per_user);
    // Each half's TEST users alone (a parameter chosen on one half is then reported on the other).
    for (int h = 0; h < 2; ++h) {
      Scores part;
      for (size_t u = 0; u < users.size(); ++u) {
        if (half[u] != h) continue;
        if (res[m].g.count(int(u))) part.g[int(u)] = res[m].g.at(int(u));
        if (res[m].im.count(int(u))) part.im[int(u)] = res[m].im.at(int(u));
      }
      std::printf("   half %d TEST users only:\n", h);
      print_scores(part, Ns, users, false);
    }
    if (g_sitting_folds)
      std::printf("   add_sitting over the sittings = enroll + calibrate on all of them: %zu of %zu folds identical\n",
                  g_sitting_same, g_sitting_folds);
    if (m.rfind("mcc", 0) == 0) {
      std::printf("   MouseCohort: %zu fits (5%% and 10%%) in %.0f s (%.1f s each), %zu refused", mcc_fits, mcc_fit_s,
                  mcc_fit_s / double(std::max<size_t>(mcc_fits, 1)), mcc_refused);
      for (const std::string& w : mcc_why) std::printf(" [%s]", w.c_str());
      std::printf("; %zu TEST profiles not valid (not members); %zu target folds skipped\n", mcc_unenrolled, mcc_skipped[m]);
      for (int t = 0; t < 2; ++t) {
        if (!cal.count(m)) break;
        const Cal& c = cal[m][t];
        if (c.g == 0) continue;  // --cohort-cal10 0: no 10% thresholds
        if (m.rfind("mcc-fused", 0) == 0)
          std::printf("   both modalities at their %.0f%% enrollment-FRR thresholds at 20 actions (fused %s): TEST FRR %.1f%%, "
                      "TEST FAR %.1f%%\n",
                      100 * targets[t], t == 0 ? "block mean >= 0" : "at the shifted threshold",
                      100.0 * c.grej / std::max<size_t>(c.g, 1), 100.0 * c.iacc / std::max<size_t>(c.im, 1));
        else
          std::printf("   calibrated to %.0f%% held-out enrollment FRR at 20 actions (MouseCohort::calibration): TEST FRR %.1f%%, "
                      "TEST FAR %.1f%%; estimated enrolled_far %.1f%% (mean over targets and folds, closed cohort)\n",
                      100 * targets[t], 100.0 * c.grej / std::max<size_t>(c.g, 1),
                      100.0 * c.iacc / std::max<size_t>(c.im, 1), 100.0 * c.efar / double(std::max<size_t>(c.nefar, 1)));
      }
      continue;
    }
    for (const std::string& key : {m, m + " sittings:cross", m + " sittings:within+cross", m + " sittings:loso"}) {
      if (!cal.count(key)) continue;
      if (key != m) std::printf("   calibration %s\n", key.substr(m.size() + 1).c_str());
      for (int t = 0; t < 2; ++t) {
        const Cal& c = cal[key][t];
        std::printf("   calibrated to %.0f%% enrollment FRR at 20 actions: enrollment FRR %.1f%%, TEST FRR %.1f%%, "
                    "TEST FAR %.1f%%\n",
                    100 * targets[t], 100.0 * c.enrrej / std::max<size_t>(c.enr, 1),
                    100.0 * c.grej / std::max<size_t>(c.g, 1), 100.0 * c.iacc / std::max<size_t>(c.im, 1));
      }
    }
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------- multi-class (--multiclass 1)
// Closed-set, every user enrolled on one host: fold k holds out session k mod |sessions| of every
// user and trains one softmax GBT over all users' remaining sessions (at most max_pos actions per
// user). A user's score for an action is log p(user|x) - log mean_{v != user} p(v|x), clipped
// to +-6; blocks average it. Genuine: the user's held-out session; impostors: the other users'
// held-out sessions. Users with fewer sessions than k+1 sit that fold out as targets.
static void run_multiclass_eval(const std::vector<Session>& S, const std::vector<std::vector<int>>& sess_of,
                                const std::vector<std::string>& users, const std::vector<int>& Ns,
                                const BoostParams& bp, size_t max_pos, const char* mode, bool per_user) {
  const int U = int(users.size());
  size_t folds = 0;
  for (const auto& v : sess_of) folds = std::max(folds, v.size());
  Scores sc_;
  std::mt19937 rng(7);
  for (size_t k = 0; k < folds; ++k) {
    std::vector<int> held(U, -1);
    std::vector<float> X;
    std::vector<uint16_t> y;
    for (int u = 0; u < U; ++u) {
      if (sess_of[u].empty()) continue;
      held[u] = sess_of[u][k % sess_of[u].size()];
      std::vector<const MouseAction*> pos;
      for (int s : sess_of[u])
        if (s != held[u])
          for (const MouseAction& a : S[s].actions) pos.push_back(&a);
      std::shuffle(pos.begin(), pos.end(), rng);
      if (pos.size() > max_pos) pos.resize(max_pos);
      for (const MouseAction* a : pos) {
        X.insert(X.end(), a->f.begin(), a->f.end());
        y.push_back(uint16_t(u));
      }
    }
    GradientBoosting m;
    m.fit(X, kActionFeatures, y, U, bp);
    // Log-probabilities of every held-out action, per user.
    std::vector<std::vector<std::vector<double>>> lp(U);
    std::vector<double> mg(U);
    for (int v = 0; v < U; ++v) {
      if (held[v] < 0) continue;
      for (const MouseAction& a : S[held[v]].actions) {
        m.margins(a.f.data(), mg.data());
        const double mx = *std::max_element(mg.begin(), mg.end());
        double z = 0;
        for (double x : mg) z += std::exp(x - mx);
        std::vector<double> row(U);
        for (int w = 0; w < U; ++w) row[w] = mg[w] - mx - std::log(z);
        lp[v].push_back(std::move(row));
      }
    }
    for (int u = 0; u < U; ++u) {
      if (held[u] < 0 || k >= sess_of[u].size()) continue;
      for (int v = 0; v < U; ++v) {
        if (held[v] < 0) continue;
        std::vector<double> p;
        for (const std::vector<double>& row : lp[v]) {
          double others = 0;
          for (int w = 0; w < U; ++w)
            if (w != u) others += std::exp(row[w]);
          others = std::log(std::max(1e-300, others / double(U - 1)));
          p.push_back(std::min(6.0, std::max(-6.0, row[u] - others)));
        }
        std::vector<std::vector<double>> b;
        session_blocks(p, Ns, &b);
        auto& dst = v == u ? sc_.g[u] : sc_.im[u];
        dst.resize(Ns.size());
        for (size_t ni = 0; ni < Ns.size(); ++ni) dst[ni].insert(dst[ni].end(), b[ni].begin(), b[ni].end());
      }
    }
    std::fprintf(stderr, "multiclass fold %zu/%zu done\n", k + 1, folds);
  }
  std::printf("\n[%s] learner=gbt-softmax (%d rounds, lr %.2f, %d leaves) protocol=closed-set, all users on one host\n",
              mode, bp.rounds, bp.learning_rate, bp.max_leaves);
  print_scores(sc_, Ns, users, per_user);
  std::fflush(stdout);
}

int main(int argc, char** argv) {
  std::string dir, data_mode = "both";
  std::vector<int> Ns = {1, 5, 10, 20, 50};
  int open_trees = 50;
  size_t open_max_pos = 4000;
  double common_step = 0.11;
  int open = 1;
  ForestParams fp;
  size_t max_pos = 10000;
  SegmenterConfig sc;
  bool agg_logit = true;
  double agg_trim = 0;  // --agg trim: drop the 10% lowest and highest logits
  double neg_ratio = 1.0;
  bool per_user_report = false;
  int block_n = 0;
  std::vector<int> drop_features;  // --drop-feature K (repeatable): zeroed in every action
  bool oneclass = false;
  std::string learner = "rf";  // --learner rf|gbt: the closed-set per-user model
  bool multiclass = false;     // --multiclass 1: one softmax GBT over all users per fold
  BoostParams bp;
  int enroll_sessions = 0;  // --enroll-sessions K: closed-set positives from only K of the user's other sessions
  std::vector<std::string> excluded;  // --exclude-session USER/SESSION (repeatable)
  std::string dump_path;  // --dump FILE: per-action CSV (user, session, features) for offline study
  OneClassOpts oco;
  fp.trees = 100;
  fp.max_depth = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data") dir = next();
    else if (a == "--common-step") common_step = std::atof(next().c_str());
    else if (a == "--data-mode") data_mode = next();
    else if (a == "--open") open = std::atoi(next().c_str());
    else if (a == "--trees") fp.trees = std::atoi(next().c_str());
    else if (a == "--max-pos") max_pos = std::stoul(next());
    else if (a == "--resample") sc.resample_s = std::atof(next().c_str());
    else if (a == "--pause") sc.pause_s = std::atof(next().c_str());
    else if (a == "--min-path") sc.min_path_px = std::atof(next().c_str());
    else if (a == "--agg") {
      std::string v = next();
      agg_logit = v != "mean";
      agg_trim = v == "trim" ? 0.1 : 0.0;
    }
    else if (a == "--neg-ratio") neg_ratio = std::atof(next().c_str());
    else if (a == "--open-trees") open_trees = std::atoi(next().c_str());
    else if (a == "--open-max-pos") open_max_pos = std::stoul(next());
    else if (a == "--drop-feature") {
      int k = std::atoi(next().c_str());
      if (k < 0 || k >= kActionFeatures) { std::fprintf(stderr, "bad feature index\n"); return 2; }
      drop_features.push_back(k);
    }
    else if (a == "--dump") dump_path = next();
    else if (a == "--learner") learner = next();
    else if (a == "--multiclass") multiclass = std::atoi(next().c_str()) != 0;
    else if (a == "--rounds") bp.rounds = std::atoi(next().c_str());
    else if (a == "--lr") bp.learning_rate = std::atof(next().c_str());
    else if (a == "--leaves") bp.max_leaves = std::atoi(next().c_str());
    else if (a == "--gbt-min-leaf") bp.min_leaf = std::atoi(next().c_str());
    else if (a == "--gbt-l2") bp.l2 = std::atof(next().c_str());
    else if (a == "--enroll-sessions") oco.enroll_sessions = enroll_sessions = std::atoi(next().c_str());
    else if (a == "--exclude-session") excluded.push_back(next());
    else if (a == "--sitting-actions") g_sitting_actions = std::stoul(next());
    else if (a == "--pairs") oco.pairs = std::atoi(next().c_str());
    else if (a == "--pair-alpha") oco.pair_alpha = std::atof(next().c_str());
    else if (a == "--pair-alpha-ref") oco.pair_alpha_ref = std::atof(next().c_str());
    else if (a == "--pair-alpha-power") oco.pair_alpha_power = std::atof(next().c_str());
    else if (a == "--dump-blocks") {
      g_dump_blocks = std::fopen(next().c_str(), "w");
      if (!g_dump_blocks) { std::perror("--dump-blocks"); return 2; }
      std::fprintf(g_dump_blocks, "user,fold,session,genuine,t_s,score,threshold,genuine_sd,"
                                  "cohort_score,cohort_threshold,cohort_sd,cohort_open_score,cohort_open_threshold,cohort_open_sd\n");
    }
    else if (a == "--dump-cohort") g_dump_cohort = std::atoi(next().c_str()) != 0;
    else if (a == "--cohort-background") g_cohort_background = std::stoul(next());
    else if (a == "--cohort-solo") g_cohort_solo = std::atoi(next().c_str()) != 0;
    else if (a == "--cohort-split") g_cohort_split = std::atoi(next().c_str()) != 0;
    else if (a == "--cohort-merge") g_cohort_merge = std::atoi(next().c_str()) != 0;
    else if (a == "--cohort-two-models") g_cohort_two = std::atoi(next().c_str()) != 0;
    else if (a == "--cohort-margin") g_cohort_params.background_margin = std::atof(next().c_str());
    else if (a == "--jobs") {
      g_jobs = std::atoi(next().c_str());
      if (g_jobs < 1 || g_jobs > 64) { std::fprintf(stderr, "--jobs must be 1..64\n"); return 2; }
    }
    else if (a == "--cohort-frr") g_cohort_frr = std::atof(next().c_str());
    else if (a == "--fuse-cohort-weight") {
      g_fuse_cohort_weight = std::atof(next().c_str());
      if (!(g_fuse_cohort_weight >= 0)) { std::fprintf(stderr, "--fuse-cohort-weight must be >= 0\n"); return 2; }
    }
    else if (a == "--cohort-rounds") g_cohort_params.boost.rounds = std::atoi(next().c_str());
    else if (a == "--cohort-lr") g_cohort_params.boost.learning_rate = std::atof(next().c_str());
    else if (a == "--cohort-leaves") g_cohort_params.boost.max_leaves = std::atoi(next().c_str());
    else if (a == "--cohort-min-leaf") g_cohort_params.boost.min_leaf = std::atoi(next().c_str());
    else if (a == "--cohort-l2") g_cohort_params.boost.l2 = std::atof(next().c_str());
    else if (a == "--cohort-rows") g_cohort_params.max_rows = std::stoul(next());
    else if (a == "--cohort-prior") g_cohort_params.drop_prior = std::atoi(next().c_str()) == 0;
    else if (a == "--cohort-cal10") g_cohort_cal10 = std::atoi(next().c_str()) != 0;
    else if (a == "--oneclass") oneclass = std::atoi(next().c_str()) != 0;
    else if (a == "--oc-methods") {
      oco.methods.clear();
      std::stringstream ss(next());
      std::string x;
      while (std::getline(ss, x, ',')) oco.methods.push_back(x);
    }
    else if (a == "--knn-k") oco.knn_k = std::atoi(next().c_str());
    else if (a == "--alpha") oco.alpha = std::atof(next().c_str());
    else if (a == "--shrink") oco.shrink = std::atof(next().c_str());
    else if (a == "--verifier-trees") oco.verifier_trees = std::atoi(next().c_str());
    else if (a == "--verifier-depth") oco.verifier_depth = std::atoi(next().c_str());
    else if (a == "--weight-block") oco.weight_block = std::atoi(next().c_str());
    else if (a == "--type-weights") oco.type_weights = std::atoi(next().c_str()) != 0;
    else if (a == "--clip") oco.clip = std::atof(next().c_str());
    else if (a == "--self-norm") oco.self_norm = std::atoi(next().c_str());
    else if (a == "--l2") oco.l2 = std::atof(next().c_str());
    else if (a == "--user-salt") oco.user_salt = next();
    else if (a == "--write-model") oco.write_model = next();
    else if (a == "--write-block-weights") oco.write_block = next();
    else if (a == "--write-background") oco.write_background = next();
    else if (a == "--population") oco.population = next();
    else if (a == "--background-actions") oco.background_actions = std::stoul(next());
    else if (a == "--block-stat") {
      std::string v = next();
      oco.block_stat = v == "ad" ? BlockStat::kAd : v == "ks" ? BlockStat::kKs : BlockStat::kCvm;
    }
    else if (a == "--block-log") oco.block_log = std::atoi(next().c_str()) != 0;
    else if (a == "--block-fit-n") oco.block_fit_n = std::atoi(next().c_str());
    else if (a == "--block-l2") oco.block_l2 = std::atof(next().c_str());
    else if (a == "--block") block_n = std::atoi(next().c_str());
    else if (a == "--per-user") per_user_report = std::atoi(next().c_str()) != 0;
    else if (a == "--pair") g_pair = std::atoi(next().c_str()) != 0;
    else if (a == "--min-leaf") fp.min_leaf = std::atoi(next().c_str());
    else if (a == "--sample-frac") fp.sample_frac = std::atof(next().c_str());
    else if (a == "--mtry") fp.mtry = std::atoi(next().c_str());
    else if (a == "--depth") fp.max_depth = std::atoi(next().c_str());
    else if (a == "--actions") {
      Ns.clear();
      std::stringstream ss(next());
      std::string x;
      while (std::getline(ss, x, ',')) Ns.push_back(std::atoi(x.c_str()));
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const int closed_trees = fp.trees;
  if (dir.empty()) {
    std::fprintf(stderr, "usage: balabit_eval --data DIR/training_files [options]\n");
    return 2;
  }
  std::vector<Session> base;
  std::vector<std::string> users = list_dir(dir);
  for (size_t u = 0; u < users.size(); ++u)
    for (const std::string& s : list_dir(dir + "/" + users[u])) {
      Session se;
      se.user = int(u);
      se.name = users[u] + "/" + s;
      if (std::find(excluded.begin(), excluded.end(), se.name) != excluded.end()) continue;
      if (load_session(dir + "/" + users[u] + "/" + s, &se.events)) base.push_back(std::move(se));
    }
  std::printf("sessions: %zu, users: %zu; resample step %.3f s, pause %.2f s, min path %.0f px;\n"
              "forest: closed-set %d trees / %zu positives max, open-set %d trees / %zu, depth %d\n",
              base.size(), users.size(), sc.resample_s, sc.pause_s, sc.min_path_px, closed_trees,
              max_pos, open_trees, open_max_pos, fp.max_depth);

  std::vector<std::string> modes;
  if (data_mode == "raw" || data_mode == "both") modes.push_back("raw");
  if (data_mode == "common" || data_mode == "both") modes.push_back("common");
  if (data_mode == "grid" || data_mode == "all") modes.push_back("grid");
  if (data_mode == "all") modes.insert(modes.begin(), {"raw", "common"});
  if (!oco.write_model.empty() || !oco.write_block.empty() || !oco.write_background.empty()) modes = {"raw"};
  for (const std::string& mode : modes) {
    g_first.clear();
    std::vector<Session> S = base;
    std::vector<size_t> per_user(users.size());
    for (Session& s : S) {
      if (mode == "common") s.events = to_common_cadence(s.events, common_step);
      if (mode == "grid") s.events = to_common_grid(s.events, common_step);
      ActionSegmenter seg(sc);
      for (const MouseEvent& e : s.events) seg.push(e, &s.actions);
      seg.flush(&s.actions);
      for (int k : drop_features)
        for (MouseAction& a : s.actions) a.f[k] = 0.f;
      per_user[s.user] += s.actions.size();
      if (!s.actions.empty()) g_first.insert(&s.actions[0]);  // (cleared per mode)
      s.events.clear();
    }
    std::printf("\n#### data: %s%s\nactions per user:", mode.c_str(),
                mode == "common" ? (" (every session at one " + std::to_string(common_step) + " s cadence)").c_str()
                : mode == "grid" ? (" (motion interpolated onto one " + std::to_string(common_step) + " s grid)").c_str()
                                 : "");
    for (size_t u = 0; u < users.size(); ++u) std::printf(" %s=%zu", users[u].c_str(), per_user[u]);
    std::printf("\n");
    std::vector<std::vector<int>> sess_of(users.size());
    for (size_t i = 0; i < S.size(); ++i) sess_of[S[i].user].push_back(int(i));

    if (!dump_path.empty()) {
      const std::string path = modes.size() > 1 ? dump_path + "." + mode : dump_path;
      std::ofstream f(path);
      f << "user,session,index,type,t_start,t_end";
      for (int k = 0; k < kActionFeatures; ++k) f << ',' << kActionFeatureNames[k];
      f << ",cad_median,cad_p10,cad_p90\n";
      for (size_t i = 0; i < S.size(); ++i)
        for (size_t j = 0; j < S[i].actions.size(); ++j) {
          const MouseAction& a = S[i].actions[j];
          f << users[S[i].user] << ',' << S[i].name << ',' << j << ',' << int(a.type) << ','
            << a.t_start << ',' << a.t_end;
          for (float v : a.f) f << ',' << v;
          for (float v : a.cadence) f << ',' << v;
          f << '\n';
        }
      if (!f) { std::fprintf(stderr, "cannot write %s\n", path.c_str()); return 1; }
      std::printf("wrote %s\n", path.c_str());
      continue;
    }
    if (!oco.write_model.empty()) {
      std::vector<int> all;
      for (size_t u = 0; u < users.size(); ++u) all.push_back(int(u));
      MousePopulation pop = learn_population(S, sess_of, all, oco, true);
      std::vector<uint8_t> b = pop.serialize();
      std::ofstream f(oco.write_model, std::ios::binary);
      f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
      if (!f) { std::fprintf(stderr, "cannot write %s\n", oco.write_model.c_str()); return 1; }
      std::printf("wrote %s (%zu bytes)\n", oco.write_model.c_str(), b.size());
      return 0;
    }
    if (!oco.write_background.empty()) {
      // The background file (format in src/biometrics/mouse-background.ts): "SMBG", u32 version 1,
      // u32 members, then per member u16 name length, the name, u32 profile length, the profile
      // (MouseOneClass::serialize). Each profile is enrolled (hist-w, the daemon's defaults) on
      // N of the user's actions drawn at random over all their sessions (fixed seed).
      std::ifstream pf(oco.population, std::ios::binary);
      std::vector<uint8_t> pb((std::istreambuf_iterator<char>(pf)), std::istreambuf_iterator<char>());
      MousePopulation pop;
      if (oco.population.empty() || pb.empty() || !pop.deserialize(pb.data(), pb.size())) {
        std::fprintf(stderr, "--write-background needs --population FILE, a population model that loads (got '%s')\n", oco.population.c_str());
        return 2;
      }
      std::vector<uint8_t> out = {'S', 'M', 'B', 'G'};
      auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i))); };
      u32(1);
      u32(uint32_t(users.size()));
      std::mt19937 brng(1);
      for (size_t u = 0; u < users.size(); ++u) {
        std::vector<MouseAction> acts;
        for (int si : sess_of[u]) acts.insert(acts.end(), S[si].actions.begin(), S[si].actions.end());
        std::shuffle(acts.begin(), acts.end(), brng);
        if (acts.size() > oco.background_actions) acts.resize(oco.background_actions);
        MouseOneClass m = MouseOneClass::enroll(acts, &pop, oc_params("hist-w", oco));
        if (!m.valid()) { std::fprintf(stderr, "%s: no valid profile from %zu actions\n", users[u].c_str(), acts.size()); return 1; }
        const std::vector<uint8_t> b = m.serialize();
        out.push_back(uint8_t(users[u].size()));
        out.push_back(uint8_t(users[u].size() >> 8));
        out.insert(out.end(), users[u].begin(), users[u].end());
        u32(uint32_t(b.size()));
        out.insert(out.end(), b.begin(), b.end());
        std::printf("%s: %zu actions\n", users[u].c_str(), acts.size());
      }
      std::ofstream f(oco.write_background, std::ios::binary);
      f.write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
      if (!f) { std::fprintf(stderr, "cannot write %s\n", oco.write_background.c_str()); return 1; }
      std::printf("wrote %s (%zu bytes, %zu members)\n", oco.write_background.c_str(), out.size(), users.size());
      return 0;
    }
    if (!oco.write_block.empty()) {
      std::vector<int> all;
      for (size_t u = 0; u < users.size(); ++u) all.push_back(int(u));
      MousePopulation pop = learn_population(S, sess_of, all, oco, false);
      MouseBlockWeights wh, w2;
      learn_block_weights(S, sess_of, all, pop, oco, &wh, &w2, true);
      std::vector<uint8_t> b = wh.serialize();
      std::ofstream f(oco.write_block, std::ios::binary);
      f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
      if (!f || !wh.valid()) { std::fprintf(stderr, "cannot write %s\n", oco.write_block.c_str()); return 1; }
      std::printf("wrote %s (%zu bytes)\n", oco.write_block.c_str(), b.size());
      return 0;
    }
    if (oneclass) {
      run_oneclass_eval(S, sess_of, users, Ns, fp, max_pos, mode.c_str(), oco, per_user_report);
      continue;
    }
    if (multiclass) {
      run_multiclass_eval(S, sess_of, users, Ns, bp, max_pos, mode.c_str(), per_user_report);
      continue;
    }
    if (block_n > 0) {
      run_block_eval(S, sess_of, users, size_t(block_n), fp, max_pos, mode.c_str());
      continue;
    }
    for (FeatSet fs : {FeatSet::kOurs, FeatSet::kCadence}) {
      const int d = fs == FeatSet::kOurs ? kActionFeatures * (g_pair ? 2 : 1) : 3;
      for (int protocol = 0; protocol < ((open && fs == FeatSet::kOurs) ? 2 : 1); ++protocol) {
        Scores sc_;
        std::mt19937 rng(7);
        for (size_t u = 0; u < users.size(); ++u) {
          const auto& mine = sess_of[u];
          for (size_t k = 0; k < mine.size(); ++k) {
            // impostor groups: closed = one model per fold; open = one per (fold, v)
            std::vector<int> vs;
            if (protocol == 0) vs.push_back(-1);
            else
              for (size_t v = 0; v < users.size(); ++v)
                if (v != u) vs.push_back(int(v));
            for (int excl : vs) {
              std::vector<float> X;
              std::vector<uint8_t> y;
              std::vector<const MouseAction*> pos;
              for (int es : enrollment_sessions(mine, k, enroll_sessions))
                for (const MouseAction& a : S[es].actions) pos.push_back(&a);
              std::shuffle(pos.begin(), pos.end(), rng);
              const size_t cap = protocol == 0 ? max_pos : open_max_pos;
              if (pos.size() > cap) pos.resize(cap);
              for (const MouseAction* a : pos) { row_of(*a, fs, &X); y.push_back(1); }
              // negatives, balanced over the other users
              std::vector<int> negu;
              for (size_t v = 0; v < users.size(); ++v)
                if (v != u && int(v) != excl) negu.push_back(int(v));
              std::vector<int> test_imp;  // impostor sessions scored by this model
              // Our features go through the runtime enrollment (MouseProfile).
              const bool gbt = learner == "gbt";
              const bool runtime_path = fs == FeatSet::kOurs && !g_pair && neg_ratio == 1.0 && !gbt;
              std::vector<MouseAction> bg;
              size_t per = size_t(neg_ratio * pos.size()) / negu.size() + 1;
              for (int v : negu) {
                const auto& theirs = sess_of[v];
                int held = protocol == 0 ? theirs[k % theirs.size()] : -1;
                if (held >= 0) test_imp.push_back(held);
                std::vector<const MouseAction*> pool;
                for (int s : theirs)
                  if (s != held)
                    for (const MouseAction& a : S[s].actions) pool.push_back(&a);
                std::shuffle(pool.begin(), pool.end(), rng);
                if (pool.size() > per) pool.resize(per);
                for (const MouseAction* a : pool) {
                  row_of(*a, fs, &X);
                  y.push_back(0);
                  if (runtime_path) bg.push_back(*a);
                }
              }
              if (protocol == 1) test_imp = sess_of[excl];
              fp.trees = protocol == 0 ? closed_trees : open_trees;
              fp.seed = uint32_t(1000 * u + 10 * k + (excl + 1));
              MouseProfile prof;
              RandomForest direct;
              GradientBoosting boosted;
              if (gbt) {
                boosted.fit(X, d, std::vector<uint16_t>(y.begin(), y.end()), 2, bp);
              } else if (runtime_path) {
                std::vector<MouseAction> ua;
                for (const MouseAction* a : pos) ua.push_back(*a);
                prof = MouseProfile::enroll(ua, bg, fp, cap);
              } else {
                direct.fit(X, d, y, fp);
              }
              const RandomForest& rf = runtime_path ? prof.forest() : direct;
              auto predict = [&](const float* x) { return gbt ? boosted.predict(x) : rf.predict(x); };
              auto score_session = [&](int s, bool genuine) {
                std::vector<double> p;
                std::vector<float> row;
                for (const MouseAction& a : S[s].actions) {
                  row.clear();
                  row_of(a, fs, &row);
                  p.push_back(predict(row.data()));
                }
                auto& dst = genuine ? sc_.g[int(u)] : sc_.im[int(u)];
                dst.resize(Ns.size());
                for (size_t ni = 0; ni < Ns.size(); ++ni) {
                  size_t N = size_t(Ns[ni]);
                  for (size_t b = 0; b + N <= p.size(); b += N) {
                    double m = 0;
                    std::vector<double> lv;
                    for (size_t i = b; i < b + N; ++i) {
                      double q = std::min(0.995, std::max(0.005, p[i]));
                      lv.push_back(agg_logit ? std::log(q / (1 - q)) : p[i]);
                    }
                    size_t cut = size_t(agg_trim * N);
                    if (cut) std::sort(lv.begin(), lv.end());
                    for (size_t i = cut; i < N - cut; ++i) m += lv[i];
                    m *= double(N) / double(N - 2 * cut);
                    dst[ni].push_back(m / N);
                  }
                }
              };
              score_session(mine[k], true);
              for (int s : test_imp) score_session(s, false);
            }
          }
        }
        if (enroll_sessions > 0) std::printf("\nenrollment: %d session(s) per user", enroll_sessions);
        std::printf("\n[%s] learner=%s features=%s protocol=%s\n", mode.c_str(), learner.c_str(),
                    fs == FeatSet::kOurs ? "ours (cadence-invariant, 44 per action)" : "cadence-only (3 timing numbers)",
                    protocol == 0 ? "closed-set (impostor users seen as negatives, their test sessions not)"
                                  : "open-set (impostor user never seen)");
        std::printf("%8s %10s %10s %10s %10s %9s %9s\n", "actions", "userAUC", "userEER%", "pooledAUC",
                    "pooledEER%", "#genuine", "#impost");
        for (size_t ni = 0; ni < Ns.size(); ++ni) {
          std::vector<double> G, I;
          double sa = 0, se = 0;
          int nu = 0;
          for (size_t u = 0; u < users.size(); ++u) {
            auto gi = sc_.g.find(int(u));
            auto ii = sc_.im.find(int(u));
            if (gi == sc_.g.end() || ii == sc_.im.end()) continue;
            const auto& g = gi->second[ni];
            const auto& im = ii->second[ni];
            if (g.empty() || im.empty()) continue;
            RocSummary r = roc_summary(g, im);
            sa += r.auc;
            se += r.eer;
            ++nu;
            G.insert(G.end(), g.begin(), g.end());
            I.insert(I.end(), im.begin(), im.end());
          }
          RocSummary pr = roc_summary(G, I);
          if (Ns[ni] == 20 && per_user_report) {
            std::printf("   per-user AUC at 20:");
            for (size_t u = 0; u < users.size(); ++u) {
              auto gi = sc_.g.find(int(u));
              auto ii = sc_.im.find(int(u));
              if (gi == sc_.g.end() || ii == sc_.im.end()) continue;
              std::printf(" %s=%.3f", users[u].c_str(), roc_summary(gi->second[ni], ii->second[ni]).auc);
            }
            std::printf("\n");
          }
          std::printf("%8d %10.4f %10.2f %10.4f %10.2f %9zu %9zu\n", Ns[ni], sa / std::max(nu, 1),
                      100 * se / std::max(nu, 1), pr.auc, 100 * pr.eer, G.size(), I.size());
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

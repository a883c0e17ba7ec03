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
// Block score = mean logit of the per-action P(u) (--agg logit, default).
// The open-set protocol is run for our features only.
#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../../native/biometrics/forest.h"
#include "../../native/biometrics/metrics.h"
#include "../../native/biometrics/mouse.h"
#include "../../native/biometrics/mouse_model.h"

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
      if (load_session(dir + "/" + users[u] + "/" + s, &se.events)) base.push_back(std::move(se));
    }
  std::printf("sessions: %zu, users: %zu; resample step %.3f s, pause %.2f s, min path %.0f px;\n"
              "forest: closed-set %d trees / %zu positives max, open-set %d trees / %zu, depth %d\n",
              base.size(), users.size(), sc.resample_s, sc.pause_s, sc.min_path_px, closed_trees,
              max_pos, open_trees, open_max_pos, fp.max_depth);

  std::vector<std::string> modes;
  if (data_mode == "raw" || data_mode == "both") modes.push_back("raw");
  if (data_mode == "common" || data_mode == "both") modes.push_back("common");
  if (data_mode == "grid") modes.push_back("grid");
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
              for (size_t j = 0; j < mine.size(); ++j)
                if (j != k)
                  for (const MouseAction& a : S[mine[j]].actions) pos.push_back(&a);
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
              const bool runtime_path = fs == FeatSet::kOurs && !g_pair && neg_ratio == 1.0;
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
              if (runtime_path) {
                std::vector<MouseAction> ua;
                for (const MouseAction* a : pos) ua.push_back(*a);
                prof = MouseProfile::enroll(ua, bg, fp, cap);
              } else {
                direct.fit(X, d, y, fp);
              }
              const RandomForest& rf = runtime_path ? prof.forest() : direct;
              auto score_session = [&](int s, bool genuine) {
                std::vector<double> p;
                std::vector<float> row;
                for (const MouseAction& a : S[s].actions) {
                  row.clear();
                  row_of(a, fs, &row);
                  p.push_back(rf.predict(row.data()));
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
        std::printf("\n[%s] features=%s protocol=%s\n", mode.c_str(),
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

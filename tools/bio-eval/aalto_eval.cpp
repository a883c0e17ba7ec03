// Aalto free-text keystroke evaluation (issue 5).
//
// Protocol: per typist, enroll on the first 10 sentences (by first press
// time), test on the remaining sentences cut into non-overlapping windows of
// W keystrokes; impostor samples are every other test typist's windows.
// Typists are split by a hash of their id into a FIT half (used only to fit
// the fusion weights and the global threshold) and a TEST half (all reported
// figures). Reported: mean per-user EER (each typist's own threshold) and
// pooled EER (one threshold for all), for GP R+A, scaled Manhattan and the
// fused z-normalised score, plus FAR/FRR on TEST at the global threshold
// chosen on FIT.
//
// usage: aalto_eval --data DIR [--windows 50,100,200] [--max-users N]
//                   [--enroll-sentences 10] [--seed S] [--split-salt STR]
//                   [--dump DIR]
// --dump writes DIR/records.tsv (every typist's keystroke records, as the
// extractor emits them, plus the browser key code for offline experiments) and
// DIR/fused_W.tsv (the daemon's fused score, fused_v1(), of every
// profile-vs-window row, FIT and TEST), for scripts/bio/keystroke_learned.py.
// --seed changes the (evaluation-only) bucket hash key, --split-salt the
// FIT/TEST split of the typists.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../../native/biometrics/keystroke.h"
#include "../../native/biometrics/metrics.h"

using namespace sentinel::bio;

struct Sentence {
  int64_t first_press;
  std::vector<Keystroke> keys;
};
struct Typist {
  std::string id;
  std::vector<Sentence> sentences;
  std::vector<KeystrokeRecord> enroll, test;
};

static bool load_typist(const std::string& path, Typist* t) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  std::getline(in, line);  // header
  std::map<std::string, Sentence> by_section;
  std::vector<std::string> f;
  while (std::getline(in, line)) {
    f.clear();
    size_t s = 0;
    for (;;) {
      size_t e = line.find('\t', s);
      f.push_back(line.substr(s, e == std::string::npos ? std::string::npos : e - s));
      if (e == std::string::npos) break;
      s = e + 1;
    }
    if (f.size() != 9) continue;  // malformed (e.g. a literal tab as LETTER)
    char* end = nullptr;
    long long press = std::strtoll(f[5].c_str(), &end, 10);
    if (*end) continue;
    long long rel = std::strtoll(f[6].c_str(), &end, 10);
    if (*end) continue;
    long code = std::strtol(f[8].c_str(), &end, 10);
    if (*end || code < 0) continue;
    t->id = f[0];
    Sentence& sen = by_section[f[1]];
    if (sen.keys.empty() || press < sen.first_press) sen.first_press = press;
    sen.keys.push_back({uint32_t(code), press * 1000, rel * 1000});
  }
  for (auto& kv : by_section) {
    std::stable_sort(kv.second.keys.begin(), kv.second.keys.end(),
                     [](const Keystroke& a, const Keystroke& b) { return a.press_us < b.press_us; });
    t->sentences.push_back(std::move(kv.second));
  }
  std::sort(t->sentences.begin(), t->sentences.end(),
            [](const Sentence& a, const Sentence& b) { return a.first_press < b.first_press; });
  return !t->sentences.empty();
}

static uint64_t fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

struct Row { Components z, raw; bool genuine; size_t user, owner = 0, window = 0; };
static std::vector<double> g_user_thr;  // per TEST user, fused (FIT weights), FRR target

// Logistic regression on z components (class-balanced), returns weights so
// that fused distance = sum w z (the bias does not matter for ranking).
static FusionWeights fit_weights(const std::vector<Row>& rows) {
  double w[kComponents] = {0}, b = 0;
  size_t ng = 0, ni = 0;
  for (const Row& r : rows) (r.genuine ? ng : ni)++;
  if (!ng || !ni) return {};
  const double cg = 0.5 / ng, ci = 0.5 / ni;
  for (int it = 0; it < 400; ++it) {
    double gw[kComponents] = {0}, gb = 0;
    for (const Row& r : rows) {
      double v = b;
      for (int k = 0; k < kComponents; ++k) v += w[k] * std::max(-20.0, std::min(20.0, r.z[k]));
      double p = 1 / (1 + std::exp(-v));  // P(impostor)
      double y = r.genuine ? 0 : 1, c = r.genuine ? cg : ci;
      for (int k = 0; k < kComponents; ++k) gw[k] += c * (p - y) * std::max(-20.0, std::min(20.0, r.z[k]));
      gb += c * (p - y);
    }
    for (int k = 0; k < kComponents; ++k) w[k] -= 0.5 * (gw[k] + 1e-3 * w[k]);
    b -= 0.5 * gb;
  }
  FusionWeights fw;
  for (int k = 0; k < kComponents; ++k) fw.w[k] = w[k];
  return fw;
}

int main(int argc, char** argv) {
  std::string dir;
  std::vector<size_t> windows = {50, 100, 200};
  size_t max_users = 0, enroll_n = 10;
  unsigned seed = 1;
  std::string salt;  // changes which typists land in FIT and TEST
  std::string dump_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data") dir = next();
    else if (a == "--max-users") max_users = std::stoul(next());
    else if (a == "--enroll-sentences") enroll_n = std::stoul(next());
    else if (a == "--seed") seed = std::stoul(next());
    else if (a == "--split-salt") salt = next();
    else if (a == "--dump") dump_dir = next();
    else if (a == "--windows") {
      windows.clear();
      std::stringstream ss(next());
      std::string x;
      while (std::getline(ss, x, ',')) windows.push_back(std::stoul(x));
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: aalto_eval --data DIR [--windows 50,100,200] [--max-users N]\n");
    return 2;
  }
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 15 && n.compare(n.size() - 15, 15, "_keystrokes.txt") == 0)
        files.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  if (max_users && files.size() > max_users) {
    std::mt19937 rng(seed);
    std::shuffle(files.begin(), files.end(), rng);
    files.resize(max_users);
    std::sort(files.begin(), files.end());
  }
  HashKey key{};
  for (int i = 0; i < 16; ++i) key[i] = uint8_t(0x5e + 31 * i + seed);  // eval-only key
  ExtractorConfig cfg;
  cfg.backspace_code = 8;  // browser key code in the Aalto data
  std::vector<Typist> fit, test;
  FILE* records_out = nullptr;
  if (!dump_dir.empty()) {
    records_out = std::fopen((dump_dir + "/records.tsv").c_str(), "w");
    if (!records_out) {
      std::perror(dump_dir.c_str());
      return 1;
    }
    std::fprintf(records_out, "split\tuser\tpart\tsentence\tcode\tbackspace\thas_hold\thas_digraph"
                              "\tmono\tdigraph\thold_ms\tpp_ms\trp_ms\tpress_ms\n");
  }
  for (const std::string& f : files) {
    Typist t;
    if (!load_typist(f, &t) || t.sentences.size() <= enroll_n) continue;
    KeystrokeExtractor ex(key, cfg);
    const bool is_fit = (fnv(salt + t.id) >> 40) % 2 == 0;
    for (size_t s = 0; s < t.sentences.size(); ++s) {
      ex.break_chain();
      auto& dst = s < enroll_n ? t.enroll : t.test;
      for (const Keystroke& k : t.sentences[s].keys) {
        dst.push_back(ex.push(k));
        if (records_out) {
          const KeystrokeRecord& r = dst.back();
          std::fprintf(records_out, "%s\t%s\t%c\t%zu\t%u\t%d\t%d\t%d\t%u\t%u\t%.1f\t%.1f\t%.1f\t%lld\n",
                       is_fit ? "fit" : "test", t.id.c_str(), s < enroll_n ? 'e' : 't', s, k.code,
                       int(r.backspace), int(r.has_hold), int(r.has_digraph), r.mono_bucket,
                       r.digraph_bucket, r.hold_ms, r.pp_ms, r.rp_ms, (long long)(k.press_us / 1000));
        }
      }
    }
    t.sentences.clear();
    t.sentences.shrink_to_fit();
    (is_fit ? fit : test).push_back(std::move(t));
  }
  if (records_out) std::fclose(records_out);
  std::printf("typists: fit %zu, test %zu (of %zu files); enroll on first %zu sentences\n",
              fit.size(), test.size(), files.size(), enroll_n);

  for (size_t W : windows) {
    // Build rows for a group: every profile against every window of the group.
    auto rows_for = [&](const std::vector<Typist>& grp) {
      std::vector<KeystrokeProfile> prof;
      std::vector<std::vector<TimingStats>> wins(grp.size());
      for (size_t u = 0; u < grp.size(); ++u) {
        prof.push_back(KeystrokeProfile::enroll(grp[u].enroll, W));
        for (size_t s = 0; s + W <= grp[u].test.size(); s += W)
          wins[u].push_back(TimingStats::from_records(grp[u].test.data() + s, W));
      }
      std::vector<Row> rows;
      for (size_t u = 0; u < grp.size(); ++u)
        for (size_t v = 0; v < grp.size(); ++v)
          for (size_t wi = 0; wi < wins[v].size(); ++wi) {
            const TimingStats& w = wins[v][wi];
            Row r;
            r.owner = v;
            r.window = wi;
            r.raw = prof[u].raw(w);
            for (int k = 0; k < kComponents; ++k)
              r.z[k] = (r.raw[k] - prof[u].mu()[k]) / prof[u].sd()[k];
            r.genuine = u == v;
            r.user = u;
            rows.push_back(r);
          }
      return rows;
    };
    std::vector<Row> fr = rows_for(fit);
    FusionWeights fw = fit_weights(fr);
    // Ablation: the same fusion without hold times (hold times carry keyboard
    // hardware as well as the typist).
    std::vector<Row> fr_nohold = fr;
    for (Row& r : fr_nohold) r.z[kAhold] = 0;
    FusionWeights fw_nohold = fit_weights(fr_nohold);
    fw_nohold.w[kAhold] = 0;
    // Per-user thresholds from each TEST typist's own enrollment only.
    std::vector<KeystrokeProfile> tprof;
    for (const Typist& t : test) tprof.push_back(KeystrokeProfile::enroll(t.enroll, W));
    std::vector<Row> tr = rows_for(test);
    if (!dump_dir.empty()) {
      std::string path = dump_dir + "/fused_" + std::to_string(W) + ".tsv";
      FILE* out = std::fopen(path.c_str(), "w");
      if (!out) {
        std::perror(path.c_str());
        return 1;
      }
      std::fprintf(out, "split\tprofile\towner\twindow\tfused\n");
      // The score the daemon computes (KeystrokeProfile::fused_score with fused_v1(): the
      // shipped weights, no clipping), whatever W, so the learned fusion is fit on what it gets.
      const FusionWeights shipped = fused_v1();
      auto write = [&](const char* split, const std::vector<Typist>& grp, const std::vector<Row>& rows) {
        for (const Row& r : rows) {
          double v = 0;
          for (int k = 0; k < kComponents; ++k) v += shipped.w[k] * r.z[k];
          std::fprintf(out, "%s\t%s\t%s\t%zu\t%.5f\n", split, grp[r.user].id.c_str(),
                       grp[r.owner].id.c_str(), r.window, -v);
        }
      };
      write("fit", fit, fr);
      write("test", test, tr);
      std::fclose(out);
    }

    struct Method { const char* name; std::function<double(const Row&)> f; };
    auto fused = [&](const FusionWeights& w) {
      return [w](const Row& r) {
        double v = 0;
        for (int k = 0; k < kComponents; ++k) v += w.w[k] * std::max(-20.0, std::min(20.0, r.z[k]));
        return -v;
      };
    };
    FusionWeights ra; ra.w = {{1, 1, 0, 0, 0}};
    FusionWeights smz; smz.w = {{0, 0, 0, 0, 1}};
    std::vector<Method> methods = {
        {"GP R+A (raw distance)", [](const Row& r) { return -(r.raw[kRpp] + r.raw[kApp]); }},
        {"scaled Manhattan (raw)", [](const Row& r) { return -r.raw[kSM]; }},
        {"GP R+A z-normalised", fused(ra)},
        {"scaled Manhattan z-norm", fused(smz)},
        {"fused z, no hold times", fused(fw_nohold)},
        {"fused z (weights fit on FIT)", fused(fw)},
    };
    std::printf("\n== window %zu keystrokes ==  fused weights (Rpp,App,Ahold,Arp,SM) = "
                "%.3f %.3f %.3f %.3f %.3f\n",
                W, fw.w[0], fw.w[1], fw.w[2], fw.w[3], fw.w[4]);
    size_t ng = 0;
    for (const Row& r : tr) ng += r.genuine;
    std::printf("TEST rows: %zu genuine, %zu impostor windows-vs-profile\n", ng, tr.size() - ng);
    std::printf("%-30s %10s %10s %10s %16s\n", "method", "userEER%", "pooledEER%", "pooledAUC",
                "FAR/FRR@FITthr%");
    for (const Method& m : methods) {
      std::vector<double> g, im, fg, fi;
      std::vector<std::vector<double>> ug(test.size()), ui(test.size());
      for (const Row& r : tr) {
        double s = m.f(r);
        (r.genuine ? g : im).push_back(s);
        (r.genuine ? ug[r.user] : ui[r.user]).push_back(s);
      }
      for (const Row& r : fr) (r.genuine ? fg : fi).push_back(m.f(r));
      RocSummary pooled = roc_summary(g, im);
      double sum = 0;
      size_t n = 0;
      for (size_t u = 0; u < test.size(); ++u) {
        if (ug[u].empty() || ui[u].empty()) continue;
        sum += roc_summary(ug[u], ui[u]).eer;
        ++n;
      }
      RocSummary fitroc = roc_summary(fg, fi);
      OperatingPoint op = at_threshold(g, im, fitroc.eer_threshold);
      std::printf("%-30s %10.2f %10.2f %10.4f %7.2f/%-7.2f\n", m.name, 100 * sum / std::max<size_t>(n, 1),
                  100 * pooled.eer, pooled.auc, 100 * op.far, 100 * op.frr);
      if (&m == &methods.back())
        std::printf("  global threshold on the fused score (EER point on FIT): %.4f\n", fitroc.eer_threshold);
    }
    // Deployment-style operating points for the fused score: (a) the global
    // threshold fit on FIT (EER point there), (b) per-user thresholds
    // calibrated on each user's own enrollment to a target FRR.
    for (double target : {0.05, 0.10}) {
      size_t fa = 0, ni = 0, fr_ = 0, ng2 = 0;
      std::vector<double> thr(test.size());
      for (size_t u = 0; u < test.size(); ++u) thr[u] = tprof[u].calibrate(fw, target);
      auto f = fused(fw);
      for (const Row& r : tr) {
        bool acc = f(r) >= thr[r.user];
        if (r.genuine) { ++ng2; fr_ += !acc; } else { ++ni; fa += acc; }
      }
      std::printf("per-user threshold calibrated on enrollment to FRR %.0f%%: TEST FRR %.2f%%, FAR %.2f%%\n",
                  100 * target, 100.0 * fr_ / std::max<size_t>(ng2, 1), 100.0 * fa / std::max<size_t>(ni, 1));
    }
    std::fflush(stdout);
  }
  return 0;
}

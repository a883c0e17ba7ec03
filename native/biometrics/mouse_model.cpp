#include "mouse_model.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace sentinel {
namespace bio {

MouseProfile MouseProfile::enroll(const std::vector<MouseAction>& user,
                                  const std::vector<MouseAction>& background,
                                  const ForestParams& fp, size_t max_user) {
  std::mt19937 rng(fp.seed);
  std::vector<size_t> ui(user.size()), bi(background.size());
  for (size_t i = 0; i < ui.size(); ++i) ui[i] = i;
  for (size_t i = 0; i < bi.size(); ++i) bi[i] = i;
  std::shuffle(ui.begin(), ui.end(), rng);
  if (ui.size() > max_user) ui.resize(max_user);
  std::shuffle(bi.begin(), bi.end(), rng);
  if (bi.size() > ui.size()) bi.resize(ui.size());
  std::vector<float> X;
  std::vector<uint8_t> y;
  X.reserve((ui.size() + bi.size()) * kActionFeatures);
  for (size_t i : ui) {
    X.insert(X.end(), user[i].f.begin(), user[i].f.end());
    y.push_back(1);
  }
  for (size_t i : bi) {
    X.insert(X.end(), background[i].f.begin(), background[i].f.end());
    y.push_back(0);
  }
  MouseProfile p;
  p.rf_.fit(X, kActionFeatures, y, fp);
  return p;
}

double MouseProfile::action_logit(const MouseAction& a) const {
  double q = std::min(0.995, std::max(0.005, rf_.predict(a.f.data())));
  return std::log(q / (1 - q));
}

double MouseProfile::block_score(const MouseAction* a, size_t n) const {
  if (n == 0) return 0;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += action_logit(a[i]);
  return s / double(n);
}

}  // namespace bio
}  // namespace sentinel

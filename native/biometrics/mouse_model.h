// Per-user mouse model: a random forest over per-action features (mouse.h)
// trained with the user's actions as positives against a background of
// other people's actions, and block scoring over N actions.
//
// Contract:
//  * enroll(): `user` are the enrolled user's actions, `background` actions of
//    other people (on a host: a shipped set of public action feature
//    vectors; they contain no screen content and no key data). The
//    background is subsampled to balance the user's count.
//  * action_logit(): log-odds that one action is the user's, clipped to
//    +-5.3 (P in [0.005, 0.995]).
//  * block_score(): mean action_logit over a block; HIGHER = more likely
//    genuine. The figure of merit uses blocks of 20 actions.
//  * BlockScorer: streaming mean over the last N actions, for the daemon.
#pragma once
#include <cstddef>
#include <deque>
#include <vector>

#include "forest.h"
#include "mouse.h"

namespace sentinel {
namespace bio {

class MouseProfile {
 public:
  static MouseProfile enroll(const std::vector<MouseAction>& user,
                             const std::vector<MouseAction>& background,
                             const ForestParams& fp = default_params(), size_t max_user = 10000);
  static ForestParams default_params() {
    ForestParams p;
    p.trees = 100;
    p.max_depth = 20;
    return p;
  }
  double action_logit(const MouseAction& a) const;
  double block_score(const MouseAction* a, size_t n) const;
  const RandomForest& forest() const { return rf_; }
  RandomForest& forest() { return rf_; }
  double threshold = 0;  // accept when block_score >= threshold

 private:
  RandomForest rf_;
};

class BlockScorer {
 public:
  explicit BlockScorer(size_t n = 20) : n_(n) {}
  // Adds one action's logit; returns true once n actions are in the window.
  bool push(double logit) {
    win_.push_back(logit);
    sum_ += logit;
    if (win_.size() > n_) {
      sum_ -= win_.front();
      win_.pop_front();
    }
    return win_.size() == n_;
  }
  double score() const { return win_.empty() ? 0 : sum_ / double(win_.size()); }
  void reset() { win_.clear(); sum_ = 0; }

 private:
  size_t n_;
  std::deque<double> win_;
  double sum_ = 0;
};

}  // namespace bio
}  // namespace sentinel

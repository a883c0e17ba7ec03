// Verification metrics shared by enrollment calibration and the evaluation tools.
// Convention everywhere in native/biometrics: a HIGHER score means MORE LIKELY
// GENUINE. Distances are negated by their callers before use here.
#pragma once
#include <cstddef>
#include <vector>

namespace sentinel {
namespace bio {

struct RocSummary {
  double auc = 0.5;        // P(score(genuine) > score(impostor)), ties count 1/2
  double eer = 0.5;        // equal error rate, linearly interpolated on the ROC
  double eer_threshold = 0;  // accept when score >= threshold
  size_t n_genuine = 0, n_impostor = 0;
};

RocSummary roc_summary(std::vector<double> genuine, std::vector<double> impostor);

// Error rates at a fixed threshold (accept when score >= threshold).
struct OperatingPoint { double far = 0, frr = 0; };
OperatingPoint at_threshold(const std::vector<double>& genuine,
                            const std::vector<double>& impostor, double threshold);

// Threshold that rejects `frr` of the given genuine scores (calibration to a
// target false-reject rate).
double threshold_for_frr(std::vector<double> genuine, double frr);

// Sample standard deviation (n - 1); 0 with fewer than two values.
double sample_sd(const std::vector<double>& v);

// Appends the means of n consecutive scores of r, one every max(1, n/4) scores: the calibration
// blocks of one held-out chunk (MouseOneClass, MouseCohort).
void append_block_means(const std::vector<double>& r, size_t n, std::vector<double>* out);

// The streaming form of those blocks: push() one action score at a time; every `stride` scores
// once `n` are in, *mean is the mean of the last n and push() returns true (MouseScorer,
// MouseCohortScorer in the addon).
class StridedBlockMean {
 public:
  StridedBlockMean(size_t n, size_t stride) : n_(n), stride_(stride) {}
  bool push(double x, double* mean);
  void reset() { win_.clear(), since_ = 0; }
  size_t buffered() const { return win_.size(); }
  size_t n() const { return n_; }
  size_t stride() const { return stride_; }

 private:
  size_t n_, stride_, since_ = 0;
  std::vector<double> win_;
};

}  // namespace bio
}  // namespace sentinel

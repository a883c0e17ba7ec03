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

}  // namespace bio
}  // namespace sentinel

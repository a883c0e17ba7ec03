// Interpretable heuristic over one feature row (features.h).
//
// contribution_k = weight_k * indicator_k, indicator_k in [0, 1]; score = 1 - exp(-sum_k).
// sat(x, k) = min(1, x / k). Windows: w10s unless stated.
//
//   name                indicator
//   overwrite_entropy   sat(min(read_then_overwrite, high_entropy_writes + encoded_writes), 3)
//   entropy_rise        sat(entropy_rise, 4)
//   rare_ext_change     sat(min(ext_changes, rare_ext), 3)
//   type_change         sat(type_changes, 3)
//   copy_delete         sat(min(create_then_delete, high_entropy_writes + encoded_writes), 3)
//   uniform_overwrite   sat(min(read_then_overwrite, uniform_writes), 3)
//   note_spread         sat(w60s.note_spread, 2)
//   decoy               sat(w60s.decoy_touches, 1)
//   slow_overwrite      sat(min(life.read_then_overwrite, life.high_entropy_writes), 24)
//   high_entropy_volume sat(high_entropy_writes, 32)
//   encoded_volume      sat(encoded_writes, 8)
//   ext_churn           sat(ext_changes, 10)
//   mass_unlink         sat(unlinks, 64)
//
// Default weights: models/heuristic/weights.json ("heuristic-v1"), compiled in identically.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sentinel::core {

enum Contribution : uint8_t {
  kOverwriteEntropy, kEntropyRise, kRareExtChange, kTypeChange, kCopyDelete, kUniformOverwrite,
  kNoteSpread, kDecoy, kSlowOverwrite, kHighEntropyVolume, kEncodedVolume, kExtChurn,
  kMassUnlink, kContributions
};

extern const char* const kContributionNames[kContributions];
extern const float kDefaultWeights[kContributions];
constexpr const char* kHeuristicVersion = "heuristic-v1";

// Fills contrib[kContributions] (may be null) and returns the score in [0, 1).
float heuristicScore(const float* row, const float* weights, float* contrib);

}  // namespace sentinel::core

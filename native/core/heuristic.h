// Interpretable heuristic over one feature row (features.h).
//
// contribution_k = weight_k * indicator_k, indicator_k in [0, 1]; score = 1 - exp(-sum_k).
// sat(x, k) = min(1, x / k). Windows: w10s unless stated.
//
//   name                indicator                                                      weight
//   overwrite_entropy   sat(high_entropy_overwrite, 3)                                  2.0
//   entropy_rise        sat(entropy_rise, 4)                                            1.0
//   rare_ext_change     sat(rare_ext_renames, 3)                                        1.0
//   rare_ext_write      sat(min(rare_ext, he), 3)                                       0.8
//   type_change         sat(type_changes, 3)                                            1.0
//   copy_delete         sat(min(create_then_delete, he), 3)                             0.7
//   copy_delete_rare    sat(min(create_then_delete, rare_ext, he), 3)                   1.0
//   uniform_overwrite   sat(min(high_entropy_overwrite, uniform_writes), 3)             0.8
//   note_spread         sat(w60s.note_spread, 2)
//                         * sat(w60s.read_then_overwrite + w60s.create_then_delete, 3)  0.8
//   decoy               sat(w60s.decoy_touches, 1)                                      4.0
//   slow_overwrite      sat(min(life.read_then_overwrite, life.high_entropy_writes), 24) 1.0
//   high_entropy_volume sat(high_entropy_writes, 32)                                    0.15
//   encoded_volume      sat(encoded_writes, 8)                                          0.4
//   ext_churn           sat(ext_changes, 10)                                            0.1
//   mass_unlink         sat(unlinks, 100)                                               0.2
//
// where he = high_entropy_writes + encoded_writes. Rationale: each strong indicator needs two
// independent signs (a read file overwritten AND high-entropy output; a rare extension AND
// high-entropy output; ...), so benign bulk work that shows one of them (archivers and git
// write high entropy to new files; package managers rename temp files; moves delete originals)
// stays low, while a ransomware burst saturates several at 3 files.
//
// heuristic-v2 (same weights as v1) tightened two indicators to the file the sign is about:
// overwrite_entropy and uniform_overwrite count high-entropy writes landing on a file that was
// read (v1: min(read_then_overwrite, he), which one rewritten config file plus compressed files
// extracted elsewhere satisfied: npm install), and rare_ext_change counts renames TO a rare
// extension (v1: min(ext_changes, rare_ext), which rsync's temp files renamed to their final
// names and log rotation's numeric suffixes satisfied; numeric extensions are now common).
//
// Default weights: models/heuristic/weights.json ("heuristic-v2"), compiled in identically.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sentinel::core {

enum Contribution : uint8_t {
  kOverwriteEntropy, kEntropyRise, kRareExtChange, kRareExtWrite, kTypeChange, kCopyDelete,
  kCopyDeleteRare, kUniformOverwrite, kNoteSpread, kDecoy, kSlowOverwrite, kHighEntropyVolume,
  kEncodedVolume, kExtChurn, kMassUnlink, kContributions
};

extern const char* const kContributionNames[kContributions];
extern const float kDefaultWeights[kContributions];
constexpr const char* kHeuristicVersion = "heuristic-v2";

// Fills contrib[kContributions] (may be null) and returns the score in [0, 1).
float heuristicScore(const float* row, const float* weights, float* contrib);

}  // namespace sentinel::core

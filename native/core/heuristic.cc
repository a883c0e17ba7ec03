#include "heuristic.h"

#include <algorithm>
#include <cmath>

#include "features.h"

namespace sentinel::core {

const char* const kContributionNames[kContributions] = {
    "overwrite_entropy", "entropy_rise", "rare_ext_change", "rare_ext_write", "type_change",
    "copy_delete", "copy_delete_rare", "uniform_overwrite", "note_spread", "decoy",
    "slow_overwrite", "high_entropy_volume", "encoded_volume", "ext_churn", "mass_unlink",
};

// Keep identical to models/heuristic/weights.json (test/native checks it).
const float kDefaultWeights[kContributions] = {
    2.0f,   // overwrite_entropy
    1.0f,   // entropy_rise
    1.0f,   // rare_ext_change
    0.8f,   // rare_ext_write
    1.0f,   // type_change
    0.7f,   // copy_delete
    1.0f,   // copy_delete_rare
    0.8f,   // uniform_overwrite
    0.8f,   // note_spread
    4.0f,   // decoy
    1.0f,   // slow_overwrite
    0.15f,  // high_entropy_volume
    0.4f,   // encoded_volume
    0.1f,   // ext_churn
    0.2f,   // mass_unlink
};

namespace {
inline float sat(float x, float k) { return std::min(1.0f, std::max(0.0f, x) / k); }
}  // namespace

float heuristicScore(const float* row, const float* w, float* contrib) {
  const int W = 1;  // w10s
  auto f = [&](int win, WindowFeature x) { return row[featIndex(win, x)]; };
  float ind[kContributions];
  const float he = f(W, fHighEnt) + f(W, fEncoded);
  ind[kOverwriteEntropy] = sat(f(W, fRtoHigh), 3);
  ind[kEntropyRise] = sat(f(W, fRise), 4);
  ind[kRareExtChange] = sat(f(W, fRareRename), 3);
  ind[kRareExtWrite] = sat(std::min(f(W, fRareExt), he), 3);
  ind[kTypeChange] = sat(f(W, fTypeChanges), 3);
  ind[kCopyDelete] = sat(std::min(f(W, fCtd), he), 3);
  ind[kCopyDeleteRare] = sat(std::min(std::min(f(W, fCtd), f(W, fRareExt)), he), 3);
  ind[kUniformOverwrite] = sat(std::min(f(W, fRtoHigh), f(W, fUniform)), 3);
  ind[kNoteSpread] = sat(f(2, fNoteSpread), 2) * sat(f(2, fRto) + f(2, fCtd), 3);
  ind[kDecoy] = sat(f(2, fDecoy), 1);
  ind[kSlowOverwrite] = sat(std::min(row[lifeIndex(lRto)], row[lifeIndex(lHighEnt)]), 24);
  ind[kHighEntropyVolume] = sat(f(W, fHighEnt), 32);
  ind[kEncodedVolume] = sat(f(W, fEncoded), 8);
  ind[kExtChurn] = sat(f(W, fExtChanges), 10);
  ind[kMassUnlink] = sat(f(W, fUnlinks), 100);
  float sum = 0;
  for (int k = 0; k < kContributions; k++) {
    float c = w[k] * ind[k];
    if (contrib) contrib[k] = c;
    sum += c;
  }
  return 1.0f - std::exp(-sum);
}

}  // namespace sentinel::core

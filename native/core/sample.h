// Content sampling helpers: hashing, Shannon entropy, chi-square, magic-byte classes,
// base64/hex detection, file extensions. Pure C++17, no allocation.
//
// The hash (murmur3 x86_32 over the bytes) is mirrored bit for bit by bench/ts-features.ts, so
// the bounded per-subject tables of the native engine and of the TypeScript mirror fill and
// evict identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sentinel::core {

inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// murmur3 x86_32.
inline uint32_t hashBytes(const uint8_t* p, size_t n, uint32_t seed) {
  const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
  uint32_t h = seed;
  size_t nb = n / 4;
  for (size_t i = 0; i < nb; i++) {
    uint32_t k;
    std::memcpy(&k, p + 4 * i, 4);
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64u;
  }
  const uint8_t* t = p + 4 * nb;
  uint32_t k = 0;
  switch (n & 3) {
    case 3: k ^= uint32_t(t[2]) << 16; [[fallthrough]];
    case 2: k ^= uint32_t(t[1]) << 8; [[fallthrough]];
    case 1:
      k ^= t[0];
      k *= c1;
      k = rotl32(k, 15);
      k *= c2;
      h ^= k;
  }
  h ^= static_cast<uint32_t>(n);
  return fmix32(h);
}

constexpr uint32_t kSeedDir = 0x5e17u;
constexpr uint32_t kSeedBase = 0xba5eu;
constexpr uint32_t kSeedExt = 0xe47u;

// Never 0 (0 marks an empty table slot).
inline uint32_t nonZero(uint32_t h) { return h ? h : 1u; }
inline uint32_t combineKey(uint32_t dirHash, uint32_t baseHash) {
  return nonZero(fmix32(dirHash * 0x9e3779b1u + baseHash));
}

// Splits a path at its last '/': dir = [0, slash), base = [slash + 1, n). slash = -1 if none.
struct PathParts {
  uint32_t dirHash = 0, baseHash = 0, key = 0;
  int32_t slash = -1;
};

inline PathParts splitPath(const uint8_t* p, size_t n) {
  PathParts r;
  int32_t s = -1;
#if defined(__GLIBC__)
  if (n) {
    const void* q = memrchr(p, '/', n);
    if (q) s = static_cast<int32_t>(static_cast<const uint8_t*>(q) - p);
  }
#else
  for (size_t i = n; i > 0; i--) {
    if (p[i - 1] == '/') {
      s = static_cast<int32_t>(i - 1);
      break;
    }
  }
#endif
  r.slash = s;
  size_t dn = s < 0 ? 0 : static_cast<size_t>(s);
  size_t bo = static_cast<size_t>(s + 1);
  r.dirHash = nonZero(hashBytes(p, dn, kSeedDir));
  r.baseHash = nonZero(hashBytes(p + bo, n - bo, kSeedBase));
  r.key = combineKey(r.dirHash, r.baseHash);
  return r;
}

// Lower-cased extension of the basename: the bytes after its last '.', when that dot is not the
// first byte of the basename and the extension is 1..32 bytes of [A-Za-z0-9_-]. Empty otherwise.
struct Ext {
  uint8_t len = 0;
  char s[32];
  uint32_t hash = 0;  // 0 when empty
};

inline Ext extOf(const uint8_t* p, size_t n, int32_t slash) {
  Ext e;
  size_t bo = static_cast<size_t>(slash + 1);
  size_t dot = n;
  for (size_t i = n; i > bo; i--) {
    if (p[i - 1] == '.') {
      dot = i - 1;
      break;
    }
  }
  if (dot == n || dot == bo) return e;
  size_t len = n - dot - 1;
  if (len == 0 || len > 32) return e;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = p[dot + 1 + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return Ext{};
    e.s[i] = static_cast<char>(c);
  }
  e.len = static_cast<uint8_t>(len);
  e.hash = nonZero(hashBytes(reinterpret_cast<const uint8_t*>(e.s), len, kSeedExt));
  return e;
}

// True for the built-in list of common extensions (documents, media, code, archives, temp)
// and for extensions made only of digits (rotation and version suffixes).
bool isCommonExt(const Ext& e);
// True for extensions ransom notes use (txt, html, htm, hta, rtf, url, ...).
bool isNoteExt(const Ext& e);

struct SampleStats {
  float entropy = 0;    // bits per byte, 0..8
  float chiSquare = 0;  // against uniform bytes, 255 degrees of freedom
};

// Shannon entropy and chi-square of n bytes (n may be 0: both 0).
SampleStats sampleStats(const uint8_t* p, size_t n);
// Shannon entropy only.
float entropyOf(const uint8_t* p, size_t n);

// Chi-square below this (255 dof, upper 1% point) is consistent with uniform random bytes.
constexpr float kUniformChi2 = 310.5f;
constexpr size_t kUniformMinBytes = 256;
constexpr float kHighEntropy = 7.2f;

// Sample looks like base64 or hex text carrying random data (>= 128 bytes, >= 95% of the
// bytes in the alphabet, per-symbol entropy near the alphabet's maximum).
bool looksEncoded(const uint8_t* p, size_t n, float entropy);

enum MagicClass : uint8_t {
  kMagicNone = 0,  // no header given
  kMagicPdf, kMagicZip, kMagicPng, kMagicJpeg, kMagicGif, kMagicElf, kMagicGzip, kMagicXz,
  kMagicZstd, kMagicBzip2, kMagic7z, kMagicSqlite, kMagicOle, kMagicText, kMagicHighEntropy,
  kMagicUnknown,
};
const char* magicClassName(uint8_t c);
MagicClass magicClass(const uint8_t* p, size_t n);

}  // namespace sentinel::core

// Little-endian byte writing and bounds-checked reading for the biometric model formats
// (SRF1 forest, SKP1 keystroke profile, SMP1/SMO1 mouse one-class, SMB1/SMW1 mouse block,
// SAPM app model).
// Header-only, no allocation beyond the output vector, no exceptions.
//
// Reader contract: every read past the end, and every non-finite f32()/f64(), clears `ok` and
// returns 0; once `ok` is false it stays false, so a deserializer may read a whole record and
// check `ok` once. f32_any()/f64_any() are the unchecked reads for fields that may hold any
// value (NaN meaning "not calibrated", for example); the caller checks them.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sentinel {
namespace bio {

inline void put8(std::vector<uint8_t>& b, uint8_t v) { b.push_back(v); }
inline void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
inline void putf(std::vector<uint8_t>& b, float f) {
  uint32_t v;
  std::memcpy(&v, &f, 4);
  put32(b, v);
}
inline void putd(std::vector<uint8_t>& b, double f) {
  uint64_t v;
  std::memcpy(&v, &f, 8);
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
inline void put64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
inline void putvec(std::vector<uint8_t>& b, const std::vector<float>& v) {
  put32(b, uint32_t(v.size()));
  for (float x : v) putf(b, x);
}
inline void putblob(std::vector<uint8_t>& b, const std::vector<uint8_t>& x) {
  put32(b, uint32_t(x.size()));
  b.insert(b.end(), x.begin(), x.end());
}

struct LeReader {
  const uint8_t* p;
  size_t len, off = 0;
  bool ok = true;

  size_t left() const { return len - off; }
  uint8_t u8() {
    if (len - off < 1) { ok = false; return 0; }
    return p[off++];
  }
  uint32_t u32() {
    if (len - off < 4) { ok = false; return 0; }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(p[off + i]) << (8 * i);
    off += 4;
    return v;
  }
  float f32_any() {
    uint32_t v = u32();
    float f;
    std::memcpy(&f, &v, 4);
    return f;
  }
  float f32() {
    float f = f32_any();
    if (!std::isfinite(f)) { ok = false; return 0; }
    return f;
  }
  uint64_t u64() {
    if (len - off < 8) { ok = false; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p[off + i]) << (8 * i);
    off += 8;
    return v;
  }
  double f64_any() {
    uint64_t v = u64();
    double d;
    std::memcpy(&d, &v, 8);
    return d;
  }
  double f64() {
    double d = f64_any();
    if (!std::isfinite(d)) { ok = false; return 0; }
    return d;
  }
  // A u32 count then that many finite floats; refused when the count exceeds max_n or the input.
  bool vec(std::vector<float>* v, size_t max_n) {
    uint32_t n = u32();
    if (!ok || n > max_n || n > (len - off) / 4) return ok = false;
    v->resize(n);
    for (uint32_t i = 0; i < n && ok; ++i) (*v)[i] = f32();
    return ok;
  }
  bool magic(const char* m) {
    if (len - off < 4 || std::memcmp(p + off, m, 4) != 0) { ok = false; return false; }
    off += 4;
    return true;
  }
  // A u32 length then that many bytes (returned in place, not copied).
  const uint8_t* blob(size_t* n) {
    uint32_t k = u32();
    if (!ok || len - off < k) { ok = false; return nullptr; }
    const uint8_t* q = p + off;
    off += k;
    *n = k;
    return q;
  }
};

}  // namespace bio
}  // namespace sentinel

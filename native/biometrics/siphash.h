// SipHash-2-4 (Aumasson & Bernstein), 64-bit output, 128-bit key.
// Contract: pure function, no allocation, no global state. Used to map key codes
// to a fixed vocabulary of keyed-hash buckets so key identities never leave the
// keystroke extractor (see docs/privacy.md).
#pragma once
#include <cstddef>
#include <cstdint>

namespace sentinel {
namespace bio {

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len);

}  // namespace bio
}  // namespace sentinel

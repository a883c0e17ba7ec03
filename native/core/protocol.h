// Sentinel protocol v1: wire constants and a zero-copy frame/record codec.
//
// Contract
// - Pure C++17, no Node-API: shared by the addon, sentinel-fuse and native tools.
// - All integers little-endian; records are read with memcpy so input needs no alignment.
// - Decoding never allocates and never reads past the given span. Decoded views (strings,
//   samples) point into the caller's buffer and are valid only while that buffer lives.
// - Nothing here throws; failures are reported as a ProtoError code (see docs/protocol.md,
//   which is the normative description of this file).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sentinel::proto {

constexpr uint16_t kMagic = 0x4E53;  // bytes 'S' 'N'
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderSize = 12;
constexpr uint32_t kMaxPayload = 1u << 20;  // 1 MiB

enum FrameType : uint8_t {
  kHello = 0x01,
  kHelloAck = 0x02,
  kEventBatch = 0x10,
  kBatchAck = 0x11,
  // Barrier extension (role kRoleBarrier; docs/protocol.md "Verdict barrier"): the client asks
  // to be told when every event it sent before the BARRIER has been scored.
  kBarrier = 0x12,
  kBarrierAck = 0x13,
  kVerdictQuery = 0x20,
  kVerdictReply = 0x21,
  kStatePush = 0x30,
  kError = 0x7F,
};

// Roles a client asks for in HELLO (bit mask).
enum Role : uint32_t {
  kRoleEvents = 1u << 0,     // sends EVENT_BATCH
  kRoleQuery = 1u << 1,      // sends VERDICT_QUERY
  kRoleSubscribe = 1u << 2,  // receives STATE_PUSH
  kRoleAcks = 1u << 3,       // receives BATCH_ACK for every batch
  kRoleBarrier = 1u << 4,    // sends BARRIER, receives BARRIER_ACK and HOLD entries in STATE_PUSH
};
constexpr uint32_t kRoleMask = 0x1F;

// Numeric error codes on the wire; names are the SENTINEL_E_* catalog (src/errors.ts).
enum ProtoError : uint32_t {
  kOk = 0,
  kBadMagic = 1,            // fatal: framing lost, connection closed
  kUnsupportedVersion = 2,  // fatal
  kFrameTooLarge = 3,       // fatal
  kUnknownFrameType = 4,    // frame skipped, connection continues
  kMalformedFrame = 5,      // frame skipped
  kMalformedEvent = 6,      // record (or rest of batch) rejected and counted
  kHelloRequired = 7,       // fatal: first frame was not HELLO
  kRoleNotGranted = 8,      // frame skipped
  kQueueFull = 9,
  kPeerRejected = 10,
  kShuttingDown = 11,
};

enum Op : uint8_t {
  kOpOpen = 1, kOpRead = 2, kOpWrite = 3, kOpCreate = 4, kOpTruncate = 5, kOpRename = 6,
  kOpUnlink = 7, kOpMkdir = 8, kOpRmdir = 9, kOpChmod = 10, kOpSetattr = 11, kOpClose = 12,
};
constexpr uint8_t kOpMax = 12;

enum EventFlag : uint8_t { kFlagHasEntropy = 1u << 0 };

enum TrustState : uint8_t { kNormal = 0, kMonitoring = 1, kRestricted = 2, kLockdown = 3 };

// Verdict action bits.
// kHold (barrier extension): only in STATE_PUSH to kRoleBarrier clients; a suspicious process
// whose destructive operations should wait for a BARRIER round trip. Peers ignore unknown bits.
enum Action : uint8_t { kDenyMutate = 1u << 0, kDenyAll = 1u << 1, kHold = 1u << 2 };

constexpr size_t kRecordFixed = 84;
constexpr uint16_t kMaxComm = 255;
constexpr uint16_t kMaxPath = 4096;
constexpr uint16_t kMaxSample = 4096;
constexpr uint16_t kMaxHeader = 256;
constexpr size_t kVerdictEntrySize = 16;
constexpr uint32_t kMaxVerdictQueries = 4096;

template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

struct FrameHeader {
  uint16_t magic;
  uint8_t version;
  uint8_t type;
  uint32_t length;
  uint32_t seq;
};

inline FrameHeader readHeader(const uint8_t* p) {
  return FrameHeader{load<uint16_t>(p), p[2], p[3], load<uint32_t>(p + 4), load<uint32_t>(p + 8)};
}

// Checks a header; kOk means the payload of `length` bytes follows.
inline ProtoError checkHeader(const FrameHeader& h) {
  if (h.magic != kMagic) return kBadMagic;
  if (h.version != kVersion) return kUnsupportedVersion;
  if (h.length > kMaxPayload) return kFrameTooLarge;
  return kOk;
}

struct Bytes {
  const uint8_t* data = nullptr;
  uint16_t size = 0;
};

// One decoded file-system event; views point into the frame.
struct EventView {
  uint8_t op;
  uint8_t flags;
  uint32_t pid, ppid, uid, sid;
  int32_t result;
  uint64_t ts_ns, start_time, offset, len, size;
  uint32_t open_flags;
  float entropy;  // valid when flags & kFlagHasEntropy
  Bytes comm, path, path2, sample, header_before, header_after;
};

enum class RecordStatus { kOk, kBadRecord, kBadStructure };

// Decodes one record at p (avail bytes left in the batch payload).
// kOk: *out filled, *consumed = record_len.
// kBadRecord: record_len is consistent, so the caller may skip *consumed bytes and go on.
// kBadStructure: record_len itself is unusable; the rest of the batch cannot be trusted.
inline RecordStatus decodeRecord(const uint8_t* p, size_t avail, EventView* out, size_t* consumed) {
  if (avail < 2) return RecordStatus::kBadStructure;
  uint16_t recLen = load<uint16_t>(p);
  if (recLen < kRecordFixed || recLen > avail) return RecordStatus::kBadStructure;
  *consumed = recLen;
  EventView& e = *out;
  e.op = p[2];
  e.flags = p[3];
  e.pid = load<uint32_t>(p + 4);
  e.ppid = load<uint32_t>(p + 8);
  e.uid = load<uint32_t>(p + 12);
  e.sid = load<uint32_t>(p + 16);
  e.result = load<int32_t>(p + 20);
  e.ts_ns = load<uint64_t>(p + 24);
  e.start_time = load<uint64_t>(p + 32);
  e.offset = load<uint64_t>(p + 40);
  e.len = load<uint64_t>(p + 48);
  e.size = load<uint64_t>(p + 56);
  e.open_flags = load<uint32_t>(p + 64);
  e.entropy = load<float>(p + 68);
  uint16_t lens[6];
  for (int i = 0; i < 6; i++) lens[i] = load<uint16_t>(p + 72 + 2 * i);
  const uint16_t caps[6] = {kMaxComm, kMaxPath, kMaxPath, kMaxSample, kMaxHeader, kMaxHeader};
  size_t total = kRecordFixed;
  for (int i = 0; i < 6; i++) {
    if (lens[i] > caps[i]) return RecordStatus::kBadRecord;
    total += lens[i];
  }
  if (total != recLen) return RecordStatus::kBadRecord;
  if (e.op == 0 || e.op > kOpMax) return RecordStatus::kBadRecord;
  if (e.pid == 0 || lens[1] == 0) return RecordStatus::kBadRecord;
  if (e.op == kOpRename && lens[2] == 0) return RecordStatus::kBadRecord;
  if ((e.flags & kFlagHasEntropy) && !(e.entropy >= 0.0f && e.entropy <= 8.0f))
    return RecordStatus::kBadRecord;
  if (e.flags & ~kFlagHasEntropy) return RecordStatus::kBadRecord;
  const uint8_t* s = p + kRecordFixed;
  Bytes* views[6] = {&e.comm, &e.path, &e.path2, &e.sample, &e.header_before, &e.header_after};
  for (int i = 0; i < 6; i++) {
    views[i]->data = s;
    views[i]->size = lens[i];
    s += lens[i];
  }
  return RecordStatus::kOk;
}

// ---- encoding (used by sentinel-fuse, native tests and tools) ----

inline void appendHeader(std::vector<uint8_t>& out, uint8_t type, uint32_t length, uint32_t seq) {
  size_t at = out.size();
  out.resize(at + kHeaderSize);
  uint8_t* p = out.data() + at;
  store<uint16_t>(p, kMagic);
  p[2] = kVersion;
  p[3] = type;
  store<uint32_t>(p + 4, length);
  store<uint32_t>(p + 8, seq);
}

// Patches the payload length of a frame whose header starts at headerAt.
inline void patchLength(std::vector<uint8_t>& out, size_t headerAt) {
  store<uint32_t>(out.data() + headerAt + 4, static_cast<uint32_t>(out.size() - headerAt - kHeaderSize));
}

// Appends one record; fields longer than their cap are truncated to the cap.
inline void appendRecord(std::vector<uint8_t>& out, const EventView& e) {
  auto clip = [](Bytes b, uint16_t cap) { return Bytes{b.data, b.size > cap ? cap : b.size}; };
  Bytes parts[6] = {clip(e.comm, kMaxComm), clip(e.path, kMaxPath), clip(e.path2, kMaxPath),
                    clip(e.sample, kMaxSample), clip(e.header_before, kMaxHeader),
                    clip(e.header_after, kMaxHeader)};
  size_t total = kRecordFixed;
  for (auto& b : parts) total += b.size;
  size_t at = out.size();
  out.resize(at + total);
  uint8_t* p = out.data() + at;
  store<uint16_t>(p, static_cast<uint16_t>(total));
  p[2] = e.op;
  p[3] = e.flags;
  store<uint32_t>(p + 4, e.pid);
  store<uint32_t>(p + 8, e.ppid);
  store<uint32_t>(p + 12, e.uid);
  store<uint32_t>(p + 16, e.sid);
  store<int32_t>(p + 20, e.result);
  store<uint64_t>(p + 24, e.ts_ns);
  store<uint64_t>(p + 32, e.start_time);
  store<uint64_t>(p + 40, e.offset);
  store<uint64_t>(p + 48, e.len);
  store<uint64_t>(p + 56, e.size);
  store<uint32_t>(p + 64, e.open_flags);
  store<float>(p + 68, e.entropy);
  uint8_t* s = p + kRecordFixed;
  for (int i = 0; i < 6; i++) {
    store<uint16_t>(p + 72 + 2 * i, parts[i].size);
    if (parts[i].size) std::memcpy(s, parts[i].data, parts[i].size);
    s += parts[i].size;
  }
}

inline void appendHello(std::vector<uint8_t>& out, uint32_t seq, uint32_t roles, uint32_t pid,
                        const std::string& name) {
  size_t at = out.size();
  appendHeader(out, kHello, 0, seq);
  uint16_t n = static_cast<uint16_t>(name.size() > 64 ? 64 : name.size());
  size_t p = out.size();
  out.resize(p + 14 + n);
  store<uint16_t>(out.data() + p, kVersion);
  store<uint16_t>(out.data() + p + 2, kVersion);
  store<uint32_t>(out.data() + p + 4, roles);
  store<uint32_t>(out.data() + p + 8, pid);
  store<uint16_t>(out.data() + p + 12, n);
  std::memcpy(out.data() + p + 14, name.data(), n);
  patchLength(out, at);
}

struct VerdictEntry {
  uint32_t pid;
  uint8_t state;
  uint8_t actions;
  uint64_t start_time;
};

inline void appendVerdictEntry(std::vector<uint8_t>& out, const VerdictEntry& v) {
  size_t p = out.size();
  out.resize(p + kVerdictEntrySize);
  uint8_t* d = out.data() + p;
  store<uint32_t>(d, v.pid);
  d[4] = v.state;
  d[5] = v.actions;
  store<uint16_t>(d + 6, 0);
  store<uint64_t>(d + 8, v.start_time);
}

inline VerdictEntry readVerdictEntry(const uint8_t* d) {
  return VerdictEntry{load<uint32_t>(d), d[4], d[5], load<uint64_t>(d + 8)};
}

inline uint8_t actionsFor(uint8_t state) {
  if (state >= kLockdown) return kDenyMutate | kDenyAll;
  if (state >= kRestricted) return kDenyMutate;
  return 0;
}

// True when `op` changes the file system (denied under kDenyMutate).
inline bool isMutating(uint8_t op) {
  switch (op) {
    case kOpWrite: case kOpCreate: case kOpTruncate: case kOpRename: case kOpUnlink:
    case kOpMkdir: case kOpRmdir: case kOpChmod: case kOpSetattr:
      return true;
    default:
      return false;
  }
}

}  // namespace sentinel::proto

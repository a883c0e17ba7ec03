// The native engine: protocol sessions, subject table, sliding windows, heuristic, due marking,
// trust states and verdicts. Pure C++17 (no Node-API); the addon (native/addon/) wraps it.
//
// Cost: O(1) amortised per event; no allocation per event in steady state (subjects live in a
// slab of fixed-size slots reused through a free list; per-subject tables are fixed-size).
// Not thread-safe: one engine is driven by one thread (the Node main thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "features.h"
#include "heuristic.h"
#include "protocol.h"
#include "sample.h"

namespace sentinel::core {

struct EngineOptions {
  uint32_t dueEveryEvents = 64;
  double dueEveryMs = 1000;
  float triggerScore = 0.8f;
  uint32_t maxSubjects = 10000;
  double idleEvictMs = 300000;
  // Event records applied per ingest call at most (0: no bound). When the budget runs out in
  // the middle of a batch, the rest waits in the connection's backlog and the result says
  // `pending`; the caller resumes with an empty chunk on a later turn of its event loop, so
  // no single call blocks other clients (e.g. verdict queries) for long.
  uint32_t ingestBudgetEvents = 0;
};

enum SubjectKind : uint8_t { kProcess = 0, kTree = 1 };

// Fixed-size ring of a subject's last 64 events (input of the future sequence model).
struct RecentEvent {
  uint32_t tsMs;       // ms since the subject's first event (saturating)
  uint8_t op;
  uint8_t sizeClass;   // bit width of len (0 for 0, 1 for 1, 2 for 2..3, ... capped at 63)
  uint8_t entropyQ;    // entropy * 16 rounded (0..128), 255 unknown
  uint8_t flags;       // bit 0 high entropy, bit 1 decoy
};
constexpr int kRecentEvents = 64;
// Doubles of metadata per collected row (see collectDue).
constexpr size_t kMetaStride = 5;
// Own heuristic score from which a process takes its tree's trust state (see effectiveState).
constexpr float kTreeInheritScore = 0.25f;
// Barrier extension: a process (below Restricted) whose effective state is Monitoring or whose
// own heuristic is at or above this score is listed with the HOLD action in STATE_PUSH frames to
// barrier clients (docs/protocol.md "Verdict barrier").
constexpr float kHoldScore = 0.5f;
// Rescoring period (events) of a subject whose heuristic is at or above the trigger score.
constexpr uint32_t kSuspiciousDueEvents = 8;

enum PathFlag : uint8_t { kPfRead = 1, kPfWrote = 2, kPfRtoCounted = 4, kPfRtoHighCounted = 8 };
struct PathEnt {
  uint32_t key;
  uint8_t flags;
  uint8_t readEntQ;  // entropy last read * 16, 255 unknown
  uint16_t pad;
  int64_t lastNs;
};
struct DirEnt {
  uint32_t key;
  uint32_t pad;
  int64_t lastNs;
};
struct NoteEnt {
  uint32_t key;
  uint32_t dirs[3];
  int64_t lastNs;
  uint8_t n;
  uint8_t pad[7];
};
constexpr int kWays = 4;
constexpr int kPathSets = 16;  // 64 paths
constexpr int kDirSets = 8;    // 32 dirs
constexpr int kNoteSets = 4;   // 16 basenames

// One time bucket of a window. The entropy sum (milli-bits) is u64 so that it cannot wrap.
constexpr int kCounterSlots = 24;  // kCounters rounded up for vector adds
static_assert(kCounterSlots >= kCounters, "counter slots");
struct Bucket {
  uint32_t c[kCounterSlots];  // c[cEntSumMilli] and the padding are unused (see entSum)
  uint64_t bytes;
  uint64_t entSum;
};

// Field order: what every event touches comes first and is contiguous (the header, then the
// newest bucket of each window), then the older buckets, the bounded tables, and the cold
// identity fields. The batch decoder prefetches the hot part and the two table sets an event
// will touch a few events ahead.
struct alignas(64) Subject {
  uint32_t id;
  uint8_t kind;
  uint8_t state;
  uint8_t due;
  uint8_t dirty;
  uint8_t live;
  uint8_t scoreDirty;  // a counter the heuristic reads changed, or w10s / w60s moved on
  uint8_t recentHead;
  uint8_t commLen;
  uint32_t sinceScored;
  uint32_t filesWritten;
  uint32_t lruPrev, lruNext;
  uint32_t treeId;
  float score;
  uint32_t ppid, uid, sid;
  uint32_t commHash;
  uint64_t keyA, keyB;  // the table key (hot: the key cache validates against it)
  uint64_t events;
  uint64_t lastIndex;
  uint64_t lruTouchedAt;  // global index of the last recency refresh
  int64_t firstNs, lastNs, lastScoredNs;
  int64_t headEpoch[kWindows];
  uint64_t life[kLifeFeatures];
  Bucket cur[kWindows];        // newest bucket of each window (epoch headEpoch[w])
  // colder
  Bucket completed[kWindows];  // sum of the window's older buckets
  Bucket ring[kTotalBuckets];  // older buckets, slot = epoch mod buckets
  alignas(64) PathEnt paths[kPathSets * kWays];
  alignas(64) DirEnt dirs[kDirSets * kWays];
  alignas(64) NoteEnt notes[kNoteSets * kWays];
  RecentEvent recent[kRecentEvents];
  uint32_t pid;
  uint64_t startTime;
  char comm[32];
};

struct HelloInfo {
  bool set = false;
  uint16_t version = 0;
  uint32_t roles = 0, pid = 0;
  std::string name;
};

constexpr int kMaxErrorCode = 16;

struct IngestResult {
  uint32_t frames = 0, accepted = 0, rejected = 0;
  std::vector<uint8_t> reply;
  HelloInfo hello;
  uint32_t fatal = 0;
  uint32_t errors[kMaxErrorCode] = {0};
  // Work remains in the connection's backlog (budget ran out): call ingest again.
  bool pending = false;
  // Subjects made due at once in this call (trigger crossed, decoy touched, a suspicious
  // subject's short rescoring period, or a new process in a tree at Restricted or above): the
  // caller should score them now, not at its next tick.
  uint32_t urgent = 0;
  // Seqs of BARRIER frames processed in this call, in order: the caller answers each with
  // BARRIER_ACK once a scoring tick that started after this call has finished.
  std::vector<uint32_t> barriers;
};

struct EngineStats {
  uint64_t framesIn = 0, bytesIn = 0, eventsAccepted = 0, eventsRejected = 0;
  uint64_t errorsByCode[kMaxErrorCode] = {0};
  uint64_t connections = 0, subjectsLive = 0, subjectsCreated = 0, subjectsEvicted = 0;
  uint64_t eventsDroppedNoSubject = 0, dueSubjects = 0, verdictQueries = 0, denySetGeneration = 0;
  uint64_t tableBytes = 0;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  uint32_t openConnection(uint32_t peerUid);
  // Returns -1 when the id is unknown, else the unfinished bytes dropped.
  int64_t closeConnection(uint32_t connId);
  bool hasConnection(uint32_t connId) const;
  // The result is owned by the engine and valid until the next ingest call.
  const IngestResult& ingest(uint32_t connId, const uint8_t* data, size_t n);

  // Feeds one decoded event (tests and tools; ingest uses it too). Scores of touched subjects
  // are refreshed by finishBatch().
  void feed(const proto::EventView& e);
  void finishBatch();

  size_t dueCount() const { return dueLive_; }
  // Fills up to max due subjects (rows: kFeatureCount floats each, contrib: kContributions,
  // meta: kMetaStride doubles: score, last ts ms, last global event index, kind, events since
  // the subject was last scored).
  size_t collectDue(uint32_t* ids, float* rows, float* contrib, double* meta, size_t max);

  // states[i] must be 0..3. Returns true when the deny set (or, while a barrier client is
  // connected, the hold set) changed.
  bool setStates(const uint32_t* ids, const uint8_t* states, size_t n);
  uint8_t verdict(uint32_t pid, uint64_t startTime) const;
  // Floor on the effective state of every process of `uid` (0 removes it): the user-session
  // subject of continuous authentication restricts the session user's own processes while it is
  // Restricted or Lockdown. Returns true when the deny set changed (as setStates).
  bool setUidFloor(uint32_t uid, uint8_t state);
  // withHolds: also list the hold set (HOLD action), for barrier clients.
  void encodeStatePush(uint32_t seq, std::vector<uint8_t>& out, bool withHolds = false);

  const Subject* subjectById(uint32_t id) const;
  // Feature row of a subject as of its last event (row: kFeatureCount floats).
  void fillRow(const Subject& s, float* row) const;

  void setDecoys(const std::vector<std::string>& paths);
  void setWeights(const float* w);
  const float* weights() const { return weights_; }
  std::vector<uint32_t> takeEvicted();
  EngineStats stats() const;

 private:
  // Where a batch stopped when the ingest budget ran out (its frame is at the start of tail).
  struct BatchCursor {
    bool active = false;
    bool broken = false;
    uint32_t count = 0, k = 0, next = 0;
    size_t off = 0;
    uint32_t accepted = 0, bad = 0;
    long firstBad = -1;
    const char* firstWhy = nullptr;
  };
  struct Conn {
    uint32_t peerUid = 0;
    bool hello = false;
    uint32_t roles = 0;
    uint32_t fatal = 0;
    // Unprocessed bytes: a partial frame, or (while cursor.active) the suspended batch frame
    // followed by whatever arrived after it.
    std::vector<uint8_t> tail;
    BatchCursor cursor;
  };
  struct Key {
    uint64_t a, b;
    bool operator==(const Key& o) const { return a == o.a && b == o.b; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Derived;

  Subject& at(uint32_t slot) { return *slotPtr_[slot]; }
  const Subject& at(uint32_t slot) const { return *slotPtr_[slot]; }
  uint32_t create(const Key& k, uint8_t kind, uint32_t protect, int64_t nowNs);
  uint32_t lookupSlot(const Key& k);
  bool evictOne(uint32_t protect, int64_t nowNs);
  void derive(const proto::EventView& e, Derived& d);
  bool resolve(const proto::EventView& e, uint32_t* treeSlot, uint32_t* procSlot, bool mayEvict);
  void prefetchSubject(uint32_t slot, const Derived& d) const;
  void applyEvent(const proto::EventView& e, const Derived& d, uint32_t treeSlot, uint32_t procSlot);
  void evictSlot(uint32_t slot);
  void lruUnlink(uint32_t slot);
  void lruPushFront(uint32_t slot);
  void markDue(Subject& s);
  void apply(Subject& s, uint32_t slot, const proto::EventView& e, const Derived& d);
  uint8_t effectiveState(const Subject& s) const;
  bool siblingRestricted(const Subject& s) const;
  bool refreshDenySet();
  bool isDecoy(const uint8_t* p, size_t n, uint32_t key) const;
  uint32_t extSeen(uint32_t hash);

  // Returns false when a batch was suspended by the ingest budget (the frame is not consumed).
  bool processFrame(Conn& c, const proto::FrameHeader& h, const uint8_t* payload);
  // Processes the complete frames of buf; returns the bytes consumed; stops at a partial
  // frame, a fatal error or a suspension (*suspended).
  size_t processBuffer(Conn& c, const uint8_t* buf, size_t len, bool* suspended);
  void handleHello(Conn& c, const proto::FrameHeader& h, const uint8_t* p);
  bool handleBatch(Conn& c, const proto::FrameHeader& h, const uint8_t* p);
  void handleQuery(Conn& c, const proto::FrameHeader& h, const uint8_t* p);
  void handleBarrier(Conn& c, const proto::FrameHeader& h, const uint8_t* p);
  void error(Conn* c, uint32_t code, uint32_t refSeq, const std::string& msg, bool fatal, uint32_t count = 1);

  static constexpr uint32_t kNil = 0xFFFFFFFFu;
  // Subjects live in 2 MiB chunks (transparent huge pages where the kernel allows: a subject
  // table spread over thousands of 4 KiB pages spends its time in TLB misses).
  static constexpr size_t kChunkBytes = 2u << 20;
  static constexpr uint32_t kChunkSubjects = static_cast<uint32_t>(kChunkBytes / sizeof(Subject));
  struct ChunkFree {
    void operator()(Subject* p) const;
  };

  EngineOptions opts_;
  int64_t dueEveryNs_, idleEvictNs_;
  uint64_t lruLag_ = 0;
  float weights_[kContributions];

  std::vector<std::unique_ptr<Subject, ChunkFree>> chunks_;
  std::vector<Subject*> slotPtr_;  // slot -> subject
  uint32_t slotCount_ = 0;
  std::vector<uint32_t> freeSlots_;
  std::unordered_map<Key, uint32_t, KeyHash> byKey_;
  // Direct-mapped cache in front of byKey_, validated against the subject's own key (so an
  // evicted or reused slot simply misses).
  static constexpr size_t kKeyCache = 4096;
  std::vector<uint32_t> keyCache_;
  std::unordered_map<uint32_t, uint32_t> byId_;
  uint32_t lruHead_ = kNil, lruTail_ = kNil;
  uint32_t nextId_ = 1;
  uint64_t live_ = 0;
  Key cacheProcKey_{~0ull, ~0ull}, cacheTreeKey_{~0ull, ~0ull};
  uint32_t cacheProcSlot_ = kNil, cacheTreeSlot_ = kNil;

  std::vector<uint32_t> dueIds_;
  size_t dueLive_ = 0;
  std::vector<uint32_t> dirty_;
  std::vector<uint32_t> evicted_;

  struct ExtEnt {
    uint32_t key, count;
  };
  std::vector<ExtEnt> extTable_;
  std::vector<uint32_t> decoyKeys_;  // open addressing, 0 = empty
  std::vector<std::string> decoyPaths_;

  std::unordered_map<uint32_t, Conn> conns_;
  uint32_t nextConn_ = 1;

  std::vector<proto::VerdictEntry> denySet_;
  std::vector<std::pair<uint32_t, uint8_t>> uidFloors_;  // (uid, state), few: one per watched session
  std::vector<std::pair<uint32_t, uint32_t>> restrictedParents_;  // (treeId, ppid), see refreshDenySet
  uint64_t denyGen_ = 0;
  std::vector<proto::VerdictEntry> holdSet_;  // only kept while barrierConns_ > 0
  uint64_t holdGen_ = 0;
  uint32_t barrierConns_ = 0;

  uint64_t globalIndex_ = 0;
  EngineStats st_;
  IngestResult res_;
  // Records this ingest call may still apply (reset per call from opts_.ingestBudgetEvents).
  uint64_t budgetLeft_ = 0;
};

// Names in row order ("w1s.ops", ...).
std::vector<std::string> featureNames();

}  // namespace sentinel::core

#include "engine.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace sentinel::core {

using namespace sentinel::proto;

const char* const kWindowFeatureNames[kWindowFeatures] = {
    "ops", "reads", "writes", "write_bytes", "mean_entropy", "high_entropy_writes", "uniform_writes",
    "entropy_rise", "encoded_writes", "type_changes", "ext_changes", "rare_ext", "renames", "unlinks",
    "truncates", "creates", "distinct_files", "distinct_dirs", "read_then_overwrite",
    "create_then_delete", "note_spread", "decoy_touches", "high_entropy_overwrite", "rare_ext_renames",
};
const char* const kLifeFeatureNames[kLifeFeatures] = {
    "life.events", "life.age_s", "life.high_entropy_writes", "life.read_then_overwrite",
    "life.ext_changes", "life.decoy_touches", "life.files_written",
};

std::vector<std::string> featureNames() {
  std::vector<std::string> out;
  for (int w = 0; w < kWindows; w++)
    for (int f = 0; f < kWindowFeatures; f++)
      out.push_back(std::string(kWindowSpecs[w].prefix) + "." + kWindowFeatureNames[f]);
  for (int f = 0; f < kLifeFeatures; f++) out.push_back(kLifeFeatureNames[f]);
  return out;
}

namespace {

constexpr int kBucketOffset[kWindows] = {0, 10, 20};
constexpr uint32_t kExtTableSize = 4096;
constexpr int kExtProbe = 16;
constexpr int kEvictWalk = 256;

inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

template <int64_t B>
inline int64_t floorDiv(int64_t a) { return a >= 0 ? a / B : -((-a + B - 1) / B); }
static_assert(kWindowSpecs[0].bucketNs == 100'000'000LL && kWindowSpecs[1].bucketNs == 10 * kWindowSpecs[0].bucketNs &&
                  kWindowSpecs[2].bucketNs == 100 * kWindowSpecs[0].bucketNs,
              "epochs are derived from the 100 ms epoch");

// Set-associative lookup: returns the entry for key, inserting it over an empty or the least
// recently seen way. *fresh is true when it was not there.
template <typename E>
inline E* lookupInsert(E* table, int sets, uint32_t key, bool* fresh) {
  E* set = table + (key & static_cast<uint32_t>(sets - 1)) * kWays;
  E* victim = set;
  for (int i = 0; i < kWays; i++) {
    if (set[i].key == key) {
      *fresh = false;
      return &set[i];
    }
  }
  for (int i = 0; i < kWays; i++) {
    if (set[i].key == 0) {
      victim = &set[i];
      break;
    }
    if (set[i].lastNs < victim->lastNs) victim = &set[i];
  }
  std::memset(static_cast<void*>(victim), 0, sizeof(E));
  victim->key = key;
  *fresh = true;
  return victim;
}

template <typename E>
inline E* lookup(E* table, int sets, uint32_t key) {
  E* set = table + (key & static_cast<uint32_t>(sets - 1)) * kWays;
  for (int i = 0; i < kWays; i++)
    if (set[i].key == key) return &set[i];
  return nullptr;
}

// Event time as used by the engine: the record's ts, capped at 2^62 ns (year 2116) so that
// differences of two event times never overflow.
inline int64_t eventTime(const EventView& e) {
  constexpr uint64_t kCap = 1ull << 62;
  return static_cast<int64_t>(e.ts_ns < kCap ? e.ts_ns : kCap);
}

// Cheap hash of a short string (comm): only compared within the engine, to notice a change.
inline uint32_t quickHash(const uint8_t* p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
  }
  uint64_t w = 0;
  std::memcpy(&w, p + i, n - i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 32;
  return static_cast<uint32_t>(h) | 1u;
}

inline uint8_t sizeClass(uint64_t len) {
  if (len == 0) return 0;
  int bits = 64 - __builtin_clzll(len);
  return static_cast<uint8_t>(bits > 63 ? 63 : bits);
}

const char* recordProblem(const uint8_t* p) {
  uint16_t lens[6];
  for (int i = 0; i < 6; i++) lens[i] = load<uint16_t>(p + 72 + 2 * i);
  const uint16_t caps[6] = {kMaxComm, kMaxPath, kMaxPath, kMaxSample, kMaxHeader, kMaxHeader};
  static const char* const over[6] = {"comm length over its cap", "path length over its cap",
                                      "path2 length over its cap", "sample length over its cap",
                                      "header_before length over its cap", "header_after length over its cap"};
  size_t total = kRecordFixed;
  for (int i = 0; i < 6; i++) {
    if (lens[i] > caps[i]) return over[i];
    total += lens[i];
  }
  if (total != load<uint16_t>(p)) return "field lengths do not add up to record_len";
  uint8_t op = p[2];
  if (op == 0 || op > kOpMax) return "bad op";
  if (load<uint32_t>(p + 4) == 0) return "pid 0";
  if (lens[1] == 0) return "empty path";
  if (op == kOpRename && lens[2] == 0) return "rename without path2";
  float ent = load<float>(p + 68);
  if ((p[3] & kFlagHasEntropy) && !(ent >= 0.0f && ent <= 8.0f)) return "entropy outside 0..8";
  if (p[3] & ~kFlagHasEntropy) return "unknown flag";
  return "invalid record";
}

}  // namespace

size_t Engine::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(fmix64(k.a * 0x9e3779b97f4a7c15ULL ^ fmix64(k.b + 0x632be59bd9b4e019ULL)));
}

// What an event means independently of the subject (computed once, applied to both subjects).
struct Engine::Derived {
  int64_t ep[kWindows];  // bucket epoch of ts in each window
  PathParts p1, p2;
  uint32_t commHash = 0;
  bool hasP2 = false;
  bool hasEnt = false;
  float ent = 0;
  uint32_t entMilli = 0;
  uint8_t entQ = 255;
  bool high = false, uniform = false, encoded = false;
  bool hbKnown = false;
  float hbEnt = 0;
  bool typeChange = false, extChange = false, rare = false, noteExt = false, decoy = false;
  bool rareRename = false;  // rename to a rare extension different from the old one
};

Engine::Engine(const EngineOptions& o) : opts_(o) {
  if (opts_.maxSubjects < 2) opts_.maxSubjects = 2;
  if (opts_.dueEveryEvents < 1) opts_.dueEveryEvents = 1;
  dueEveryNs_ = static_cast<int64_t>(opts_.dueEveryMs * 1e6);
  idleEvictNs_ = static_cast<int64_t>(opts_.idleEvictMs * 1e6);
  lruLag_ = opts_.maxSubjects / 32;
  std::memcpy(weights_, kDefaultWeights, sizeof(weights_));
  extTable_.assign(kExtTableSize, ExtEnt{0, 0});
  keyCache_.assign(kKeyCache, kNil);
  byKey_.reserve(std::min<uint32_t>(opts_.maxSubjects, 1u << 16) * 2);
  byId_.reserve(std::min<uint32_t>(opts_.maxSubjects, 1u << 16) * 2);
  dirty_.reserve(1024);
  dueIds_.reserve(1024);
  res_.reply.reserve(4096);
}

Engine::~Engine() = default;

void Engine::ChunkFree::operator()(Subject* p) const { std::free(p); }

// ---------------------------------------------------------------- subjects

void Engine::lruUnlink(uint32_t slot) {
  Subject& s = at(slot);
  if (s.lruPrev != kNil) at(s.lruPrev).lruNext = s.lruNext; else lruHead_ = s.lruNext;
  if (s.lruNext != kNil) at(s.lruNext).lruPrev = s.lruPrev; else lruTail_ = s.lruPrev;
  s.lruPrev = s.lruNext = kNil;
}

void Engine::lruPushFront(uint32_t slot) {
  Subject& s = at(slot);
  s.lruPrev = kNil;
  s.lruNext = lruHead_;
  if (lruHead_ != kNil) at(lruHead_).lruPrev = slot;
  lruHead_ = slot;
  if (lruTail_ == kNil) lruTail_ = slot;
}

// A process takes its tree's state only when it is itself implicated (own state at least
// Monitoring, or its own heuristic score at least kTreeInheritScore): a tree can span a whole
// login session, and an attack by one member must not lock down the user's idle editor.
bool Engine::siblingRestricted(const Subject& s) const {
  if (s.ppid <= 1) return false;
  for (const auto& r : restrictedParents_)
    if (r.first == s.treeId && r.second == s.ppid) return true;
  return false;
}

uint8_t Engine::effectiveState(const Subject& s) const {
  uint8_t st = s.state;
  for (const auto& f : uidFloors_)
    if (s.kind == kProcess && f.first == s.uid) st = std::max(st, f.second);
  if (s.kind == kProcess && s.treeId && (s.state >= kMonitoring || s.score >= kTreeInheritScore || siblingRestricted(s))) {
    auto it = byId_.find(s.treeId);
    if (it != byId_.end()) st = std::max(st, at(it->second).state);
  }
  return st;
}

void Engine::evictSlot(uint32_t slot) {
  Subject& s = at(slot);
  byKey_.erase(Key{s.keyA, s.keyB});
  byId_.erase(s.id);
  lruUnlink(slot);
  if (s.due) dueLive_--;
  if (evicted_.size() < (1u << 20)) evicted_.push_back(s.id);
  if (cacheProcSlot_ == slot) { cacheProcSlot_ = kNil; cacheProcKey_ = Key{~0ull, ~0ull}; }
  if (cacheTreeSlot_ == slot) { cacheTreeSlot_ = kNil; cacheTreeKey_ = Key{~0ull, ~0ull}; }
  s.live = 0;
  s.due = 0;
  s.dirty = 0;
  freeSlots_.push_back(slot);
  live_--;
  st_.subjectsEvicted++;
}

// Evicts the least recently active Normal subject (idle measured against `now`, the event
// time of the event that needs the slot), preferring (idle >= idleEvictMs, not due),
// then (not due), then any Normal one, among the kEvictWalk least recent.
bool Engine::evictOne(uint32_t protect, int64_t now) {
  uint32_t best = kNil;
  int bestTier = 0;
  int walked = 0;
  for (uint32_t slot = lruTail_; slot != kNil && walked < kEvictWalk; slot = at(slot).lruPrev, walked++) {
    if (slot == protect) continue;
    const Subject& s = at(slot);
    if (effectiveState(s) != kNormal) continue;
    int tier = 1;
    if (!s.due) tier = 2;
    if (!s.due && now - s.lastNs >= idleEvictNs_) tier = 3;
    if (tier > bestTier) {
      best = slot;
      bestTier = tier;
      if (tier == 3) break;
    }
  }
  if (best == kNil) return false;
  evictSlot(best);
  return true;
}

uint32_t Engine::create(const Key& k, uint8_t kind, uint32_t protect, int64_t nowNs) {
  if (live_ >= opts_.maxSubjects && !evictOne(protect, nowNs)) return kNil;
  uint32_t slot;
  if (!freeSlots_.empty()) {
    slot = freeSlots_.back();
    freeSlots_.pop_back();
  } else {
    slot = slotCount_++;
    if (slot / kChunkSubjects >= chunks_.size()) {
      void* mem = std::aligned_alloc(kChunkBytes, kChunkBytes);
      if (!mem) throw std::bad_alloc();
#if defined(__linux__) && !defined(SENTINEL_NO_HUGEPAGE)
      madvise(mem, kChunkBytes, MADV_HUGEPAGE);
#endif
      chunks_.emplace_back(static_cast<Subject*>(mem));
    }
    slotPtr_.push_back(chunks_[slot / kChunkSubjects].get() + slot % kChunkSubjects);
  }
  Subject& s = at(slot);
  std::memset(static_cast<void*>(&s), 0, sizeof(Subject));
  s.id = nextId_++;
  s.kind = kind;
  s.live = 1;
  s.keyA = k.a;
  s.keyB = k.b;
  s.lruPrev = s.lruNext = kNil;
  byKey_.emplace(k, slot);
  byId_.emplace(s.id, slot);
  keyCache_[KeyHash()(k) & (kKeyCache - 1)] = slot;
  lruPushFront(slot);
  live_++;
  st_.subjectsCreated++;
  return slot;
}

const Subject* Engine::subjectById(uint32_t id) const {
  auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : &at(it->second);
}

void Engine::markDue(Subject& s) {
  if (s.due) return;
  s.due = 1;
  dueLive_++;
  dueIds_.push_back(s.id);
}

// ---------------------------------------------------------------- features

uint32_t Engine::extSeen(uint32_t hash) {
  uint32_t i = hash & (kExtTableSize - 1);
  for (int p = 0; p < kExtProbe; p++, i = (i + 1) & (kExtTableSize - 1)) {
    ExtEnt& e = extTable_[i];
    if (e.key == hash) return ++e.count;
    if (e.key == 0) {
      e.key = hash;
      e.count = 1;
      return 1;
    }
  }
  return 1;  // table full: treat as never seen (rare)
}

bool Engine::isDecoy(const uint8_t* p, size_t n, uint32_t key) const {
  if (decoyKeys_.empty()) return false;
  size_t mask = decoyKeys_.size() - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask) {
    uint32_t k = decoyKeys_[i];
    if (k == 0) return false;
    if (k == key) {
      const std::string& s = decoyPaths_[i];
      if (s.size() == n && std::memcmp(s.data(), p, n) == 0) return true;
    }
  }
}

void Engine::setDecoys(const std::vector<std::string>& paths) {
  size_t cap = 16;
  while (cap < paths.size() * 2 + 2) cap <<= 1;
  decoyKeys_.assign(paths.empty() ? 0 : cap, 0);
  decoyPaths_.assign(paths.empty() ? 0 : cap, std::string());
  for (const std::string& s : paths) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
    uint32_t key = splitPath(p, s.size()).key;
    if (isDecoy(p, s.size(), key)) continue;
    for (size_t i = key & (cap - 1);; i = (i + 1) & (cap - 1)) {
      if (decoyKeys_[i] == 0) {
        decoyKeys_[i] = key;
        decoyPaths_[i] = s;
        break;
      }
    }
  }
}

void Engine::setWeights(const float* w) { std::memcpy(weights_, w, sizeof(weights_)); }

void Engine::derive(const EventView& e, Derived& d) {
  d = Derived();
  d.ep[0] = floorDiv<100'000'000LL>(eventTime(e));
  d.ep[1] = floorDiv<10>(d.ep[0]);
  d.ep[2] = floorDiv<100>(d.ep[0]);
  d.p1 = splitPath(e.path.data, e.path.size);
  if (e.path2.size) {
    d.hasP2 = true;
    d.p2 = splitPath(e.path2.data, e.path2.size);
  }
  d.commHash = quickHash(e.comm.data, std::min<size_t>(e.comm.size, sizeof(Subject::comm)));
  if (e.flags & kFlagHasEntropy) {
    d.hasEnt = true;
    d.ent = e.entropy;
  }
  if (e.op == kOpWrite) {
    if (e.sample.size) {
      SampleStats ss = sampleStats(e.sample.data, e.sample.size);
      if (!d.hasEnt) {
        d.hasEnt = true;
        d.ent = ss.entropy;
      }
      d.uniform = e.sample.size >= kUniformMinBytes && ss.chiSquare <= kUniformChi2;
      d.encoded = looksEncoded(e.sample.data, e.sample.size, ss.entropy);
    }
    if (e.header_before.size) {
      d.hbKnown = true;
      d.hbEnt = entropyOf(e.header_before.data, e.header_before.size);
    }
  } else if (e.op == kOpRead && !d.hasEnt && e.sample.size) {
    d.hasEnt = true;
    d.ent = entropyOf(e.sample.data, e.sample.size);
  }
  if (d.hasEnt) {
    d.entMilli = static_cast<uint32_t>(std::lround(d.ent * 1000.0f));
    d.entQ = static_cast<uint8_t>(std::lround(d.ent * 16.0f));
    d.high = d.ent >= kHighEntropy;
  }
  if (e.header_before.size && e.header_after.size)
    d.typeChange = magicClass(e.header_before.data, e.header_before.size) !=
                   magicClass(e.header_after.data, e.header_after.size);
  if (e.op == kOpRename && d.hasP2) {
    Ext a = extOf(e.path.data, e.path.size, d.p1.slash);
    Ext b = extOf(e.path2.data, e.path2.size, d.p2.slash);
    d.extChange = a.len != b.len || std::memcmp(a.s, b.s, a.len) != 0;
    if (b.len && !isCommonExt(b)) d.rare = extSeen(b.hash) <= kRareExtMaxSeen;
    d.rareRename = d.rare && d.extChange;
  } else if (e.op == kOpCreate) {
    Ext a = extOf(e.path.data, e.path.size, d.p1.slash);
    if (a.len && !isCommonExt(a)) d.rare = extSeen(a.hash) <= kRareExtMaxSeen;
    d.noteExt = isNoteExt(a);
  }
  if (!decoyKeys_.empty())
    d.decoy = isDecoy(e.path.data, e.path.size, d.p1.key) ||
              (d.hasP2 && isDecoy(e.path2.data, e.path2.size, d.p2.key));
}

// Finds (or creates) the tree and process subjects of an event. With mayEvict false it stops
// (returns false) before any creation that would need an eviction, so that evictions only ever
// happen with every earlier event applied.
bool Engine::resolve(const EventView& e, uint32_t* treeSlot, uint32_t* procSlot, bool mayEvict) {
  const int64_t now = eventTime(e);
  // Tree key: the session when known; else the parent, unless the parent is init or a reaper
  // (ppid <= 1), whose children are unrelated: such a process is the root of its own tree.
  Key tk = e.sid ? Key{(1ull << 40) | (1ull << 32) | e.sid, 0}
         : e.ppid > 1 ? Key{(1ull << 40) | e.ppid, 0}
                      : Key{(1ull << 40) | (1ull << 33) | e.pid, e.start_time};
  uint32_t ts;
  if (cacheTreeSlot_ != kNil && cacheTreeKey_ == tk) {
    ts = cacheTreeSlot_;
  } else {
    ts = lookupSlot(tk);
    if (ts == kNil) {
      if (!mayEvict && live_ >= opts_.maxSubjects) return false;
      ts = create(tk, kTree, kNil, now);
      if (ts != kNil) {
        Subject& t = at(ts);
        t.sid = e.sid;
        t.ppid = e.sid ? 0 : e.ppid > 1 ? e.ppid : 0;
        t.pid = !e.sid && e.ppid <= 1 ? e.pid : 0;
      }
    }
    cacheTreeKey_ = tk;
    cacheTreeSlot_ = ts;
  }
  Key pk{e.pid, e.start_time};
  uint32_t ps;
  if (cacheProcSlot_ != kNil && cacheProcKey_ == pk) {
    ps = cacheProcSlot_;
  } else {
    ps = lookupSlot(pk);
    if (ps == kNil) {
      if (!mayEvict && live_ >= opts_.maxSubjects) return false;
      ps = create(pk, kProcess, ts, now);
      if (ps != kNil) {
        Subject& p = at(ps);
        p.pid = e.pid;
        p.startTime = e.start_time;
        p.ppid = e.ppid;
        p.sid = e.sid;
        // A new process in an enforced tree is scored (and the deny set refreshed) at once:
        // a fresh worker of a Restricted parent must not get a tick's worth of files first.
        if (ts != kNil && at(ts).state >= kRestricted) {
          res_.urgent++;
          markDue(p);
        }
      }
    }
    cacheProcKey_ = pk;
    cacheProcSlot_ = ps;
  }
  *treeSlot = ts;
  *procSlot = ps;
  return true;
}

uint32_t Engine::lookupSlot(const Key& k) {
  uint32_t& c = keyCache_[KeyHash()(k) & (kKeyCache - 1)];
  if (c != kNil) {
    const Subject& s = at(c);
    if (s.live && s.keyA == k.a && s.keyB == k.b) return c;
  }
  auto it = byKey_.find(k);
  if (it == byKey_.end()) return kNil;
  c = it->second;
  return c;
}

inline void Engine::prefetchSubject(uint32_t slot, const Derived& d) const {
#ifdef SENTINEL_NO_PREFETCH
  return;
#endif
  if (slot == kNil) return;
  const Subject& s = at(slot);
  const char* p = reinterpret_cast<const char*>(&s);
  for (size_t off = 0; off < offsetof(Subject, completed); off += 64) __builtin_prefetch(p + off, 1, 3);
  __builtin_prefetch(&s.paths[(d.p1.key & (kPathSets - 1)) * kWays], 1, 3);
  __builtin_prefetch(&s.dirs[(d.p1.dirHash & (kDirSets - 1)) * kWays], 1, 3);
}

void Engine::applyEvent(const EventView& e, const Derived& d, uint32_t ts, uint32_t ps) {
  if (ts == kNil || ps == kNil) st_.eventsDroppedNoSubject++;
  if (ts != kNil) {
    Subject& t = at(ts);
    t.uid = e.uid;
    apply(t, ts, e, d);
  }
  if (ps != kNil) {
    Subject& p = at(ps);
    p.ppid = e.ppid;
    p.uid = e.uid;
    p.sid = e.sid;
    p.treeId = ts != kNil ? at(ts).id : 0;
    apply(p, ps, e, d);
  }
  globalIndex_++;
}

void Engine::feed(const EventView& e) {
  Derived d;
  derive(e, d);
  uint32_t ts, ps;
  resolve(e, &ts, &ps, true);
  applyEvent(e, d, ts, ps);
}

namespace {
inline int slotOf(int64_t epoch, int nb) {
  int64_t m = epoch % nb;
  return static_cast<int>(m < 0 ? m + nb : m);
}
inline void addBucket(Bucket& to, const Bucket& b) {
  for (int c = 0; c < kCounterSlots; c++) to.c[c] += b.c[c];
  to.bytes += b.bytes;
  to.entSum += b.entSum;
}
inline void subBucket(Bucket& to, const Bucket& b) {
  for (int c = 0; c < kCounterSlots; c++) to.c[c] -= b.c[c];
  to.bytes -= b.bytes;
  to.entSum -= b.entSum;
}
}  // namespace

void Engine::apply(Subject& s, uint32_t slot, const EventView& e, const Derived& d) {
  const int64_t ts = eventTime(e);
  if (s.events == 0) {
    s.firstNs = s.lastNs = s.lastScoredNs = ts;
    for (int w = 0; w < kWindows; w++) s.headEpoch[w] = d.ep[w];
  }
  s.events++;
  if (ts > s.lastNs) s.lastNs = ts;
  s.lastIndex = globalIndex_;
  if (d.commHash != s.commHash) {
    size_t n = std::min<size_t>(e.comm.size, sizeof(s.comm));
    std::memcpy(s.comm, e.comm.data, n);
    s.commLen = static_cast<uint8_t>(n);
    s.commHash = d.commHash;
  }
  // Move to the front of the recency list, unless it is already one of the two most recent
  // (an event touches its tree and its process in turn; keeping those two in place halves the
  // list updates and changes nothing at the tail, where eviction looks).
  // Also, a subject refreshed less than lruLag_ (= maxSubjects / 32) events ago keeps its
  // place: it is far from the tail anyway (each event moves at most two subjects).
  if (s.events == 1 || globalIndex_ - s.lruTouchedAt >= lruLag_) {
    s.lruTouchedAt = globalIndex_;
    if (lruHead_ != slot && s.lruPrev != lruHead_) {
      lruUnlink(slot);
      lruPushFront(slot);
    }
  }

  // Windows. cur[w] accumulates the newest bucket (epoch headEpoch[w]); completed[w] is the sum
  // of the older buckets still in the window, kept in ring slots (epoch mod buckets).
  Bucket* bk[kWindows];
  bool old[kWindows];
  int64_t wstart[kWindows];
  for (int w = 0; w < kWindows; w++) {
    const WindowSpec& sp = kWindowSpecs[w];
    const int nb = sp.buckets;
    Bucket* ring = s.ring + kBucketOffset[w];
    const int64_t ep = d.ep[w];
    const int64_t h = s.headEpoch[w];
    old[w] = false;
    if (ep > h) {
      const int64_t steps = ep - h;
      if (steps >= nb) {
        std::memset(static_cast<void*>(ring), 0, sizeof(Bucket) * nb);
        std::memset(static_cast<void*>(&s.completed[w]), 0, sizeof(Bucket));
      } else {
        Bucket& into = ring[slotOf(h, nb)];
        into = s.cur[w];
        addBucket(s.completed[w], into);
        for (int64_t x = h - nb + 1; x <= ep - nb; x++) {
          Bucket& gone = ring[slotOf(x, nb)];
          subBucket(s.completed[w], gone);
          std::memset(static_cast<void*>(&gone), 0, sizeof(Bucket));
        }
      }
      std::memset(static_cast<void*>(&s.cur[w]), 0, sizeof(Bucket));
      s.headEpoch[w] = ep;
      if (w > 0) s.scoreDirty = 1;  // the heuristic reads w10s and w60s
      bk[w] = &s.cur[w];
    } else if (ep == h) {
      bk[w] = &s.cur[w];
    } else if (h - ep < nb) {
      bk[w] = &ring[slotOf(ep, nb)];
      old[w] = true;
    } else {
      bk[w] = nullptr;
    }
    wstart[w] = (s.headEpoch[w] - nb + 1) * sp.bucketNs;
  }

  // The counters this event increments (each by one: no counter is hit twice by one event).
  uint32_t touched = 0;
  auto add = [&](uint8_t c) { touched |= 1u << c; };
  uint64_t bytes = 0, entMilli = 0;
  add(cOps);

  bool fresh;
  PathEnt* pe = lookupInsert(s.paths, kPathSets, d.p1.key, &fresh);
  int64_t prevPath = fresh ? INT64_MIN : pe->lastNs;
  if (fresh) pe->readEntQ = 255;
  if (fresh || ts > pe->lastNs) pe->lastNs = ts;
  DirEnt* de = lookupInsert(s.dirs, kDirSets, d.p1.dirHash, &fresh);
  int64_t prevDir = fresh ? INT64_MIN : de->lastNs;
  if (fresh || ts > de->lastNs) de->lastNs = ts;

  auto markWritten = [&](PathEnt* p) {
    if (!(p->flags & kPfWrote)) {
      p->flags |= kPfWrote;
      s.filesWritten++;
    }
  };
  auto rto = [&]() {
    if ((pe->flags & kPfRead) && !(pe->flags & kPfRtoCounted)) {
      pe->flags |= kPfRtoCounted;
      add(cRto);
      s.life[lRto]++;
    }
  };

  switch (e.op) {
    case kOpRead:
      add(cReads);
      pe->flags |= kPfRead;
      if (d.hasEnt) pe->readEntQ = d.entQ;
      break;
    case kOpWrite: {
      add(cWrites);
      bytes = e.len;
      if (d.hasEnt) {
        entMilli = d.entMilli;
        add(cEntN);
        if (d.high) {
          add(cHighEnt);
          s.life[lHighEnt]++;
        }
        bool rise = (d.hbKnown && d.ent >= d.hbEnt + kEntropyRiseBits) ||
                    ((pe->flags & kPfRead) && pe->readEntQ != 255 && d.ent >= pe->readEntQ / 16.0f + kEntropyRiseBits);
        if (rise) add(cRise);
      }
      if (d.uniform) add(cUniform);
      if (d.encoded) add(cEncoded);
      if ((d.high || d.encoded) && (pe->flags & kPfRead) && !(pe->flags & kPfRtoHighCounted)) {
        pe->flags |= kPfRtoHighCounted;
        add(cRtoHigh);
      }
      rto();
      markWritten(pe);
      break;
    }
    case kOpTruncate:
      add(cTruncates);
      rto();
      markWritten(pe);
      break;
    case kOpCreate:
      add(cCreates);
      markWritten(pe);
      if (d.rare) add(cRareExt);
      if (d.noteExt) {
        NoteEnt* ne = lookupInsert(s.notes, kNoteSets, d.p1.baseHash, &fresh);
        ne->lastNs = ts;
        bool known = false;
        for (int i = 0; i < ne->n && i < kNoteSpreadDirs; i++) known |= ne->dirs[i] == d.p1.dirHash;
        if (!known && ne->n < kNoteSpreadDirs) ne->dirs[ne->n] = d.p1.dirHash;
        if (!known && ne->n < 255) ne->n++;
        if (ne->n >= kNoteSpreadDirs) add(cNoteSpread);
      }
      break;
    case kOpRename:
      add(cRenames);
      if (d.extChange) {
        add(cExtChange);
        s.life[lExtChanges]++;
      }
      if (d.rare) add(cRareExt);
      if (d.rareRename) add(cRareRename);
      if (d.hasP2) {
        uint8_t fl = pe->flags & kPfRead;
        uint8_t rq = pe->readEntQ;
        PathEnt* p2 = lookupInsert(s.paths, kPathSets, d.p2.key, &fresh);
        if (fresh) p2->readEntQ = 255;
        if (fresh || ts > p2->lastNs) p2->lastNs = ts;
        if (fl) {
          p2->flags |= fl;
          p2->readEntQ = rq;
        }
        markWritten(p2);
        // pe may have been replaced by the insert above only if it was the LRU of its set;
        // it was touched at ts, so it is not.
      }
      break;
    case kOpUnlink:
      add(cUnlinks);
      if ((pe->flags & kPfRead) && s.filesWritten - ((pe->flags & kPfWrote) ? 1u : 0u) >= 1) add(cCtd);
      break;
    default:
      break;
  }
  if (d.typeChange) add(cTypeChange);
  if (d.decoy) {
    add(cDecoy);
    s.life[lDecoy]++;
  }
  s.life[lEvents]++;

  constexpr uint32_t kScoreCounters =
      (1u << cHighEnt) | (1u << cEncoded) | (1u << cRise) | (1u << cExtChange) | (1u << cRareExt) |
      (1u << cTypeChange) | (1u << cCtd) | (1u << cUniform) | (1u << cNoteSpread) | (1u << cDecoy) |
      (1u << cRto) | (1u << cUnlinks) | (1u << cRtoHigh) | (1u << cRareRename);
  if (touched & kScoreCounters) s.scoreDirty = 1;
  for (int w = 0; w < kWindows; w++) {
    Bucket* b = bk[w];
    if (!b) continue;
    const uint32_t bits = touched | (prevPath < wstart[w] ? 1u << cDistinctFiles : 0u) |
                          (prevDir < wstart[w] ? 1u << cDistinctDirs : 0u);
    for (uint32_t m = bits; m; m &= m - 1) b->c[__builtin_ctz(m)]++;
    b->bytes += bytes;
    b->entSum += entMilli;
    if (old[w]) {  // an out-of-order event lands in an older bucket: keep completed in step
      Bucket& t = s.completed[w];
      for (uint32_t m = bits; m; m &= m - 1) t.c[__builtin_ctz(m)]++;
      t.bytes += bytes;
      t.entSum += entMilli;
    }
  }

  RecentEvent& r = s.recent[s.recentHead];
  s.recentHead = static_cast<uint8_t>((s.recentHead + 1) % kRecentEvents);
  int64_t rel = (ts - s.firstNs) / 1000000;
  r.tsMs = rel < 0 ? 0 : (rel > 0xFFFFFFFFLL ? 0xFFFFFFFFu : static_cast<uint32_t>(rel));
  r.op = e.op;
  r.sizeClass = sizeClass(e.len);
  r.entropyQ = d.entQ;
  r.flags = static_cast<uint8_t>((d.high ? 1 : 0) | (d.decoy ? 2 : 0));

  s.sinceScored++;
  // A subject whose heuristic is at or above the trigger is rescored every kSuspiciousDueEvents
  // events instead of dueEveryEvents, so its confirmations come files sooner.
  const uint32_t dueAfter = s.score >= opts_.triggerScore ? std::min<uint32_t>(kSuspiciousDueEvents, opts_.dueEveryEvents) : opts_.dueEveryEvents;
  if (!s.due && (s.sinceScored >= dueAfter || ts - s.lastScoredNs >= dueEveryNs_ || d.decoy)) {
    if (d.decoy || dueAfter != opts_.dueEveryEvents) res_.urgent++;
    markDue(s);
  }
  if (!s.dirty) {
    s.dirty = 1;
    dirty_.push_back(slot);
  }
}

void Engine::fillRow(const Subject& s, float* row) const {
  for (int w = 0; w < kWindows; w++) {
    Bucket ws = s.completed[w];
    addBucket(ws, s.cur[w]);
    float* r = row + w * kWindowFeatures;
    const uint32_t* t = ws.c;
    r[fOps] = static_cast<float>(t[cOps]);
    r[fReads] = static_cast<float>(t[cReads]);
    r[fWrites] = static_cast<float>(t[cWrites]);
    r[fWriteBytes] = static_cast<float>(ws.bytes);
    r[fMeanEntropy] = t[cEntN] ? static_cast<float>(static_cast<double>(ws.entSum) / t[cEntN] / 1000.0) : 0.0f;
    r[fHighEnt] = static_cast<float>(t[cHighEnt]);
    r[fUniform] = static_cast<float>(t[cUniform]);
    r[fRise] = static_cast<float>(t[cRise]);
    r[fEncoded] = static_cast<float>(t[cEncoded]);
    r[fTypeChanges] = static_cast<float>(t[cTypeChange]);
    r[fExtChanges] = static_cast<float>(t[cExtChange]);
    r[fRareExt] = static_cast<float>(t[cRareExt]);
    r[fRenames] = static_cast<float>(t[cRenames]);
    r[fUnlinks] = static_cast<float>(t[cUnlinks]);
    r[fTruncates] = static_cast<float>(t[cTruncates]);
    r[fCreates] = static_cast<float>(t[cCreates]);
    r[fDistinctFiles] = static_cast<float>(t[cDistinctFiles]);
    r[fDistinctDirs] = static_cast<float>(t[cDistinctDirs]);
    r[fRto] = static_cast<float>(t[cRto]);
    r[fCtd] = static_cast<float>(t[cCtd]);
    r[fNoteSpread] = static_cast<float>(t[cNoteSpread]);
    r[fDecoy] = static_cast<float>(t[cDecoy]);
    r[fRtoHigh] = static_cast<float>(t[cRtoHigh]);
    r[fRareRename] = static_cast<float>(t[cRareRename]);
  }
  float* l = row + kWindows * kWindowFeatures;
  l[lEvents] = static_cast<float>(s.life[lEvents]);
  l[lAgeS] = static_cast<float>(static_cast<double>(s.lastNs - s.firstNs) / 1e9);
  l[lHighEnt] = static_cast<float>(s.life[lHighEnt]);
  l[lRto] = static_cast<float>(s.life[lRto]);
  l[lExtChanges] = static_cast<float>(s.life[lExtChanges]);
  l[lDecoy] = static_cast<float>(s.life[lDecoy]);
  l[lFilesWritten] = static_cast<float>(s.filesWritten);
}

void Engine::finishBatch() {
  float row[kFeatureCount];
  for (uint32_t slot : dirty_) {
    Subject& s = at(slot);
    if (!s.live || !s.dirty) continue;
    s.dirty = 0;
    if (!s.scoreDirty) continue;  // nothing the heuristic reads changed: the score stands
    s.scoreDirty = 0;
    fillRow(s, row);
    float prev = s.score;
    s.score = heuristicScore(row, weights_, nullptr);
    if (s.score >= opts_.triggerScore && prev < opts_.triggerScore && !s.due) {
      res_.urgent++;
      markDue(s);
    }
    // A process crossing the hold score is scored now so that the hold set is refreshed
    // (and pushed to barrier clients) before it gets much further.
    if (barrierConns_ && s.kind == kProcess && s.score >= kHoldScore && prev < kHoldScore && !s.due) {
      res_.urgent++;
      markDue(s);
    }
  }
  dirty_.clear();
}

size_t Engine::collectDue(uint32_t* ids, float* rows, float* contrib, double* meta, size_t max) {
  size_t n = 0, i = 0;
  for (; i < dueIds_.size() && n < max; i++) {
    auto it = byId_.find(dueIds_[i]);
    if (it == byId_.end()) continue;
    Subject& s = at(it->second);
    if (!s.due) continue;
    s.due = 0;
    dueLive_--;
    const uint32_t eventsSinceScored = s.sinceScored;
    s.sinceScored = 0;
    s.lastScoredNs = s.lastNs;
    ids[n] = s.id;
    float* row = rows + n * kFeatureCount;
    fillRow(s, row);
    float score = heuristicScore(row, weights_, contrib + n * kContributions);
    s.score = score;
    double* m = meta + n * kMetaStride;
    m[0] = score;
    m[1] = static_cast<double>(s.lastNs) / 1e6;
    m[2] = static_cast<double>(s.lastIndex);
    m[3] = s.kind;
    m[4] = eventsSinceScored;
    n++;
  }
  dueIds_.erase(dueIds_.begin(), dueIds_.begin() + static_cast<std::ptrdiff_t>(i));
  if (dueIds_.size() > 2 * static_cast<size_t>(opts_.maxSubjects) + 1024) {  // drop stale entries
    std::vector<uint32_t> keep;
    for (uint32_t id : dueIds_) {
      const Subject* s = subjectById(id);
      if (s && s->due) keep.push_back(id);
    }
    dueIds_.swap(keep);
  }
  return n;
}

// ---------------------------------------------------------------- states

bool Engine::refreshDenySet() {
  // (tree, parent) of every process that is itself Restricted or above: its siblings (workers
  // forked by the same parent in the same tree) take the tree's state (effectiveState).
  restrictedParents_.clear();
  for (uint32_t slot = 0; slot < slotCount_; slot++) {
    const Subject& s = at(slot);
    if (s.live && s.kind == kProcess && s.state >= kRestricted && s.ppid > 1 && s.treeId) {
      std::pair<uint32_t, uint32_t> k{s.treeId, s.ppid};
      if (std::find(restrictedParents_.begin(), restrictedParents_.end(), k) == restrictedParents_.end()) restrictedParents_.push_back(k);
    }
  }
  std::vector<VerdictEntry> next;
  for (uint32_t slot = 0; slot < slotCount_; slot++) {
    const Subject& s = at(slot);
    if (!s.live || s.kind != kProcess) continue;
    uint8_t st = effectiveState(s);
    if (st >= kRestricted) next.push_back(VerdictEntry{s.pid, st, actionsFor(st), s.startTime});
  }
  std::sort(next.begin(), next.end(), [](const VerdictEntry& a, const VerdictEntry& b) {
    return a.pid != b.pid ? a.pid < b.pid : a.start_time < b.start_time;
  });
  bool same = next.size() == denySet_.size();
  for (size_t i = 0; same && i < next.size(); i++)
    same = next[i].pid == denySet_[i].pid && next[i].start_time == denySet_[i].start_time &&
           next[i].state == denySet_[i].state;
  bool holdChanged = false;
  if (barrierConns_) {
    std::vector<VerdictEntry> holds;
    for (uint32_t slot = 0; slot < slotCount_; slot++) {
      const Subject& s = at(slot);
      if (!s.live || s.kind != kProcess) continue;
      uint8_t st = effectiveState(s);
      if (st < kRestricted && (st >= kMonitoring || s.score >= kHoldScore))
        holds.push_back(VerdictEntry{s.pid, st, kHold, s.startTime});
    }
    std::sort(holds.begin(), holds.end(), [](const VerdictEntry& a, const VerdictEntry& b) {
      return a.pid != b.pid ? a.pid < b.pid : a.start_time < b.start_time;
    });
    bool hsame = holds.size() == holdSet_.size();
    for (size_t i = 0; hsame && i < holds.size(); i++)
      hsame = holds[i].pid == holdSet_[i].pid && holds[i].start_time == holdSet_[i].start_time &&
              holds[i].state == holdSet_[i].state;
    if (!hsame) {
      holdSet_.swap(holds);
      holdGen_++;
      holdChanged = true;
    }
  } else if (!holdSet_.empty()) {
    holdSet_.clear();
  }
  if (same) return holdChanged;
  denySet_.swap(next);
  denyGen_++;
  return true;
}

bool Engine::setStates(const uint32_t* ids, const uint8_t* states, size_t n) {
  for (size_t i = 0; i < n; i++) {
    auto it = byId_.find(ids[i]);
    if (it == byId_.end()) continue;
    at(it->second).state = std::min<uint8_t>(states[i], kLockdown);
  }
  return refreshDenySet();
}

bool Engine::setUidFloor(uint32_t uid, uint8_t state) {
  state = std::min<uint8_t>(state, kLockdown);
  auto it = std::find_if(uidFloors_.begin(), uidFloors_.end(), [&](const auto& f) { return f.first == uid; });
  if (state == kNormal) {
    if (it != uidFloors_.end()) uidFloors_.erase(it);
  } else if (it != uidFloors_.end()) {
    it->second = state;
  } else {
    uidFloors_.emplace_back(uid, state);
  }
  return refreshDenySet();
}

uint8_t Engine::verdict(uint32_t pid, uint64_t startTime) const {
  auto it = byKey_.find(Key{pid, startTime});
  if (it == byKey_.end()) return kNormal;
  return effectiveState(at(it->second));
}

void Engine::encodeStatePush(uint32_t seq, std::vector<uint8_t>& out, bool withHolds) {
  refreshDenySet();
  withHolds = withHolds && barrierConns_;
  size_t at0 = out.size();
  appendHeader(out, kStatePush, 0, seq);
  size_t p = out.size();
  out.resize(p + 16);
  // A barrier client's generation also counts hold-set changes (still increasing by one per change).
  store<uint64_t>(out.data() + p, withHolds ? denyGen_ + holdGen_ : denyGen_);
  store<uint32_t>(out.data() + p + 8, static_cast<uint32_t>(denySet_.size() + (withHolds ? holdSet_.size() : 0)));
  store<uint32_t>(out.data() + p + 12, 0);
  for (const VerdictEntry& v : denySet_) appendVerdictEntry(out, v);
  if (withHolds)
    for (const VerdictEntry& v : holdSet_) appendVerdictEntry(out, v);
  patchLength(out, at0);
}

std::vector<uint32_t> Engine::takeEvicted() {
  std::vector<uint32_t> out;
  out.swap(evicted_);
  return out;
}

EngineStats Engine::stats() const {
  EngineStats s = st_;
  s.connections = conns_.size();
  s.subjectsLive = live_;
  s.dueSubjects = dueLive_;
  s.denySetGeneration = denyGen_;
  s.tableBytes = static_cast<uint64_t>(slotCount_) * sizeof(Subject) + byKey_.size() * 48 +
                 byKey_.bucket_count() * 8 + byId_.size() * 32 + byId_.bucket_count() * 8 +
                 extTable_.size() * sizeof(ExtEnt) + dueIds_.capacity() * 4 + freeSlots_.capacity() * 4;
  return s;
}

// ---------------------------------------------------------------- protocol

uint32_t Engine::openConnection(uint32_t peerUid) {
  uint32_t id = nextConn_++;
  if (nextConn_ == 0) nextConn_ = 1;
  Conn& c = conns_[id];
  c.peerUid = peerUid;
  return id;
}

bool Engine::hasConnection(uint32_t connId) const { return conns_.count(connId) != 0; }

int64_t Engine::closeConnection(uint32_t connId) {
  auto it = conns_.find(connId);
  if (it == conns_.end()) return -1;
  int64_t dropped = static_cast<int64_t>(it->second.tail.size());
  if (it->second.roles & kRoleBarrier) barrierConns_--;
  conns_.erase(it);
  return dropped;
}

void Engine::error(Conn* c, uint32_t code, uint32_t refSeq, const std::string& msg, bool fatal, uint32_t count) {
  std::vector<uint8_t>& out = res_.reply;
  size_t at0 = out.size();
  appendHeader(out, kError, 0, refSeq);
  uint16_t len = static_cast<uint16_t>(std::min<size_t>(msg.size(), 1024));
  size_t p = out.size();
  out.resize(p + 10 + len);
  store<uint32_t>(out.data() + p, code);
  store<uint32_t>(out.data() + p + 4, refSeq);
  store<uint16_t>(out.data() + p + 8, len);
  std::memcpy(out.data() + p + 10, msg.data(), len);
  patchLength(out, at0);
  if (code < kMaxErrorCode) {
    res_.errors[code] += count;
    st_.errorsByCode[code] += count;
  }
  if (fatal && c) {
    c->fatal = code;
    res_.fatal = code;
  }
}

void Engine::handleHello(Conn& c, const FrameHeader& h, const uint8_t* p) {
  if (h.length < 14) return error(&c, kMalformedFrame, h.seq, "HELLO payload shorter than 14 bytes", false);
  uint16_t minV = load<uint16_t>(p), maxV = load<uint16_t>(p + 2);
  uint32_t roles = load<uint32_t>(p + 4), pid = load<uint32_t>(p + 8);
  uint16_t nameLen = load<uint16_t>(p + 12);
  if (nameLen > 64) return error(&c, kMalformedFrame, h.seq, "HELLO name longer than 64 bytes", false);
  if (h.length != 14u + nameLen) return error(&c, kMalformedFrame, h.seq, "HELLO length does not match name_len", false);
  if (!(minV <= kVersion && kVersion <= maxV))
    return error(&c, kUnsupportedVersion, h.seq,
                 "no common protocol version: client offers " + std::to_string(minV) + ".." +
                     std::to_string(maxV) + ", daemon speaks 1",
                 true);
  c.hello = true;
  c.roles = roles & kRoleMask;
  if (c.roles & kRoleBarrier) barrierConns_++;
  res_.hello.set = true;
  res_.hello.version = kVersion;
  res_.hello.roles = c.roles;
  res_.hello.pid = pid;
  res_.hello.name.assign(reinterpret_cast<const char*>(p + 14), nameLen);
  std::vector<uint8_t>& out = res_.reply;
  size_t at0 = out.size();
  appendHeader(out, kHelloAck, 12, h.seq);
  size_t q = out.size();
  out.resize(q + 12);
  store<uint16_t>(out.data() + q, kVersion);
  store<uint16_t>(out.data() + q + 2, 0);
  store<uint32_t>(out.data() + q + 4, c.roles);
  store<uint32_t>(out.data() + q + 8, kMaxPayload);
  patchLength(out, at0);
  if (c.roles & kRoleSubscribe) encodeStatePush(h.seq, out, (c.roles & kRoleBarrier) != 0);
}

// BARRIER: u32 count (1..4096), count x {u32 pid, u32 reserved, u64 start_time}. Every listed
// process (and its tree) with events not yet scored is made due at once; the caller acknowledges
// the frame (BARRIER_ACK, same seq) after the next scoring tick (docs/protocol.md).
void Engine::handleBarrier(Conn& c, const FrameHeader& h, const uint8_t* p) {
  if (h.length < 4) return error(&c, kMalformedFrame, h.seq, "BARRIER payload shorter than 4 bytes", false);
  uint32_t count = load<uint32_t>(p);
  if (count == 0 || count > 4096) return error(&c, kMalformedFrame, h.seq, "BARRIER count must be 1..4096", false);
  if (h.length != 4u + count * 16u) return error(&c, kMalformedFrame, h.seq, "BARRIER length does not match count", false);
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* q = p + 4 + i * 16;
    auto it = byKey_.find(Key{load<uint32_t>(q), load<uint64_t>(q + 8)});
    if (it == byKey_.end()) continue;
    Subject& s = at(it->second);
    if (s.sinceScored > 0 || s.due) {
      markDue(s);
      res_.urgent++;
    }
    if (s.treeId) {
      auto t = byId_.find(s.treeId);
      if (t != byId_.end() && (at(t->second).sinceScored > 0 || at(t->second).due)) {
        markDue(at(t->second));
        res_.urgent++;
      }
    }
  }
  res_.barriers.push_back(h.seq);
}

bool Engine::handleBatch(Conn& c, const FrameHeader& h, const uint8_t* p) {
  const size_t len = h.length;
  BatchCursor& cur = c.cursor;
  if (!cur.active) {
  if (len < 4) {
    error(&c, kMalformedFrame, h.seq, "EVENT_BATCH payload shorter than 4 bytes", false);
    return true;
  }
  const uint32_t count = load<uint32_t>(p);
  // Structure pass: follow record_len.
  size_t off = 4;
  uint32_t k = 0;
  bool broken = false;
  while (k < count && off < len) {
    if (len - off < 2) {
      broken = true;
      break;
    }
    uint16_t rl = load<uint16_t>(p + off);
    if (rl < kRecordFixed || rl > len - off) {
      broken = true;
      break;
    }
    off += rl;
    k++;
  }
  if (!broken && k < count) {
    error(&c, kMalformedFrame, h.seq,
          "EVENT_BATCH count is " + std::to_string(count) + " but the payload holds " + std::to_string(k) + " records", false);
    return true;
  }
  if (!broken && off != len) {
    error(&c, kMalformedFrame, h.seq,
          "EVENT_BATCH has " + std::to_string(len - off) + " trailing bytes after " + std::to_string(count) + " records", false);
    return true;
  }
  cur = BatchCursor{};
  cur.count = count;
  cur.k = k;
  cur.broken = broken;
  cur.off = 4;
  }
  const uint32_t count = cur.count, k = cur.k;
  const bool broken = cur.broken;
  uint32_t accepted = cur.accepted, bad = cur.bad;
  long firstBad = cur.firstBad;
  const char* firstWhy = cur.firstWhy;
  size_t off = cur.off;
  // Records are decoded, derived and resolved to subjects in groups of kGroup; the subjects'
  // hot lines are prefetched, then the group is applied in order. Same result as feeding one
  // by one: derivation does not depend on subject state, and a resolution that would need an
  // eviction first applies the pending events (resolve(..., mayEvict=false)).
  constexpr int kGroup = 8;
  struct Pending {
    EventView ev;
    Derived d;
    uint32_t ts, ps;
  };
  Pending pend[kGroup];
  int np = 0;
  auto flush = [&] {
    for (int j = 0; j < np; j++) applyEvent(pend[j].ev, pend[j].d, pend[j].ts, pend[j].ps);
    np = 0;
  };
  uint32_t i = cur.next;
  for (; i < k; i++) {
    if (budgetLeft_ == 0) break;
    budgetLeft_--;
    size_t used = 0;
    Pending* q = &pend[np];
    RecordStatus rs = decodeRecord(p + off, len - off, &q->ev, &used);
    if (rs == RecordStatus::kOk) {
      derive(q->ev, q->d);
      if (!resolve(q->ev, &q->ts, &q->ps, np == 0)) {
        Pending tmp = *q;
        flush();
        pend[0] = tmp;
        q = &pend[0];
        resolve(q->ev, &q->ts, &q->ps, true);
      }
      prefetchSubject(q->ts, q->d);
      prefetchSubject(q->ps, q->d);
      np++;
      if (np == kGroup) flush();
      accepted++;
    } else {
      if (firstBad < 0) {
        firstBad = i;
        firstWhy = recordProblem(p + off);
      }
      bad++;
    }
    off += used;
  }
  flush();
  if (i < k) {  // budget spent: remember where this batch stopped
    cur.active = true;
    cur.next = i;
    cur.off = off;
    cur.accepted = accepted;
    cur.bad = bad;
    cur.firstBad = firstBad;
    cur.firstWhy = firstWhy;
    return false;
  }
  cur.active = false;
  uint32_t rest = 0;
  if (broken) {
    size_t remain = len - off;
    uint64_t fit = 1 + remain / kRecordFixed;
    rest = static_cast<uint32_t>(std::min<uint64_t>(count - k, fit));
    if (firstBad < 0) {
      firstBad = k;
      firstWhy = "record_len below 84 or past the end of the payload; rest of batch rejected";
    }
  }
  uint32_t rejected = bad + rest;
  if (rejected) {
    error(&c, kMalformedEvent, h.seq,
          std::to_string(rejected) + " bad records in batch of " + std::to_string(count) + " (first: record " +
              std::to_string(firstBad) + ", " + firstWhy + ")",
          false, rejected);
  }
  res_.accepted += accepted;
  res_.rejected += rejected;
  st_.eventsAccepted += accepted;
  st_.eventsRejected += rejected;
  if (c.roles & kRoleAcks) {
    std::vector<uint8_t>& out = res_.reply;
    appendHeader(out, kBatchAck, 8, h.seq);
    size_t q = out.size();
    out.resize(q + 8);
    store<uint32_t>(out.data() + q, accepted);
    store<uint32_t>(out.data() + q + 4, rejected);
  }
  return true;
}

void Engine::handleQuery(Conn& c, const FrameHeader& h, const uint8_t* p) {
  if (h.length < 4) return error(&c, kMalformedFrame, h.seq, "VERDICT_QUERY payload shorter than 4 bytes", false);
  uint32_t count = load<uint32_t>(p);
  if (count == 0 || count > kMaxVerdictQueries)
    return error(&c, kMalformedFrame, h.seq, "VERDICT_QUERY count must be 1..4096, not " + std::to_string(count), false);
  if (h.length != 4 + 16ull * count)
    return error(&c, kMalformedFrame, h.seq, "VERDICT_QUERY length does not match its count", false);
  std::vector<uint8_t>& out = res_.reply;
  size_t at0 = out.size();
  appendHeader(out, kVerdictReply, 0, h.seq);
  size_t q = out.size();
  out.resize(q + 4);
  store<uint32_t>(out.data() + q, count);
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* e = p + 4 + 16 * i;
    uint32_t pid = load<uint32_t>(e);
    uint64_t start = load<uint64_t>(e + 8);
    uint8_t st = verdict(pid, start);
    appendVerdictEntry(out, VerdictEntry{pid, st, actionsFor(st), start});
  }
  patchLength(out, at0);
  st_.verdictQueries += count;
}

bool Engine::processFrame(Conn& c, const FrameHeader& h, const uint8_t* payload) {
  if (c.cursor.active) return handleBatch(c, h, payload);  // resuming: already counted and checked
  res_.frames++;
  st_.framesIn++;
  if (!c.hello) {
    if (h.type != kHello) error(&c, kHelloRequired, h.seq, "the first frame must be HELLO", true);
    else handleHello(c, h, payload);
    return true;
  }
  switch (h.type) {
    case kHello:
      error(&c, kMalformedFrame, h.seq, "duplicate HELLO", false);
      return true;
    case kEventBatch:
      if (!(c.roles & kRoleEvents)) {
        error(&c, kRoleNotGranted, h.seq, "EVENT_BATCH needs the EVENTS role", false);
        return true;
      }
      return handleBatch(c, h, payload);
    case kVerdictQuery:
      if (!(c.roles & kRoleQuery)) error(&c, kRoleNotGranted, h.seq, "VERDICT_QUERY needs the QUERY role", false);
      else handleQuery(c, h, payload);
      return true;
    case kBarrier:
      if (!(c.roles & kRoleBarrier)) error(&c, kRoleNotGranted, h.seq, "BARRIER needs the BARRIER role", false);
      else handleBarrier(c, h, payload);
      return true;
    default: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "unknown client frame type 0x%02x", h.type);
      error(&c, kUnknownFrameType, h.seq, buf, false);
      return true;
    }
  }
}

namespace {
const char* headerProblem(ProtoError err) {
  return err == kBadMagic ? "frame magic is not 0x4E53; framing lost"
         : err == kUnsupportedVersion ? "frame version is not 1"
                                      : "frame payload exceeds 1 MiB";
}
}  // namespace

size_t Engine::processBuffer(Conn& c, const uint8_t* buf, size_t len, bool* suspended) {
  size_t off = 0;
  while (!c.fatal && len - off >= kHeaderSize) {
    FrameHeader h = readHeader(buf + off);
    ProtoError err = checkHeader(h);
    if (err != kOk) {
      error(&c, err, h.seq, headerProblem(err), true);
      break;
    }
    if (len - off - kHeaderSize < h.length) break;
    if (!processFrame(c, h, buf + off + kHeaderSize)) {
      *suspended = true;
      break;
    }
    off += kHeaderSize + h.length;
  }
  return off;
}

const IngestResult& Engine::ingest(uint32_t connId, const uint8_t* data, size_t n) {
  res_.frames = res_.accepted = res_.rejected = 0;
  res_.reply.clear();
  res_.hello.set = false;
  res_.hello.name.clear();
  res_.fatal = 0;
  std::memset(res_.errors, 0, sizeof(res_.errors));
  res_.pending = false;
  res_.urgent = 0;
  res_.barriers.clear();
  budgetLeft_ = opts_.ingestBudgetEvents ? opts_.ingestBudgetEvents : UINT64_MAX;
  auto it = conns_.find(connId);
  if (it == conns_.end()) return res_;
  Conn& c = it->second;
  st_.bytesIn += n;
  if (c.fatal) {
    res_.fatal = c.fatal;
    return res_;
  }
  auto headerFatal = [&](const FrameHeader& h, ProtoError err) {
    error(&c, err, h.seq, headerProblem(err), true);
    c.tail.clear();
  };
  bool suspended = false;
  if (c.cursor.active) {
    // A suspended batch heads the backlog: queue the new bytes behind it and go on from there.
    c.tail.insert(c.tail.end(), data, data + n);
    size_t used = processBuffer(c, c.tail.data(), c.tail.size(), &suspended);
    if (!c.fatal) c.tail.erase(c.tail.begin(), c.tail.begin() + static_cast<std::ptrdiff_t>(used));
  } else {
    size_t off = 0;
    if (!c.tail.empty()) {
      // The tail holds one partial frame: complete it from the new bytes (only what it needs).
      if (c.tail.size() < kHeaderSize) {
        size_t take = std::min(kHeaderSize - c.tail.size(), n);
        c.tail.insert(c.tail.end(), data, data + take);
        off += take;
      }
      if (c.tail.size() >= kHeaderSize) {
        FrameHeader h = readHeader(c.tail.data());
        ProtoError err = checkHeader(h);
        if (err != kOk) {
          headerFatal(h, err);
        } else {
          size_t need = kHeaderSize + h.length - c.tail.size();
          size_t take = std::min(need, n - off);
          c.tail.insert(c.tail.end(), data + off, data + off + take);
          off += take;
          if (c.tail.size() == kHeaderSize + h.length) {
            if (processFrame(c, h, c.tail.data() + kHeaderSize)) {
              c.tail.clear();
            } else {
              suspended = true;
              c.tail.insert(c.tail.end(), data + off, data + n);  // the rest waits behind it
              off = n;
            }
          }
        }
      }
    }
    if (!c.fatal && !suspended && c.tail.empty()) {
      off += processBuffer(c, data + off, n - off, &suspended);
      // A complete header in the tail is already checked; a partial frame is bounded by
      // 12 + 1 MiB because a longer frame fails checkHeader; a suspended batch and what came
      // after it are bounded by one chunk, because the caller stops reading while pending.
      if (!c.fatal && off < n) c.tail.assign(data + off, data + n);
    }
  }
  res_.pending = suspended && !c.fatal;
  if (c.fatal) c.tail.clear();
  finishBatch();
  return res_;
}

}  // namespace sentinel::core

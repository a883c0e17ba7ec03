// Feature schema of the native engine (schema "fs-features-v2": v1 plus high_entropy_overwrite and rare_ext_renames). This comment table is the
// specification that src/, bench/ts-features.ts and the docs follow.
//
// Event time. Every window is driven by the record's `ts` (ns), never by the wall clock, so a
// replay gives the same rows. Each subject keeps, per window, a ring of time buckets:
//
//   window  bucket   buckets  covers (as of the subject's latest event, in bucket epoch E)
//   w1s     100 ms   10       events with floor(ts / 100 ms) in [E - 9, E]
//   w10s    1 s      10       events with floor(ts / 1 s)   in [E - 9, E]
//   w60s    10 s     6        events with floor(ts / 10 s)  in [E - 5, E]
//
// Each window keeps its newest bucket apart (every event adds to it), plus the sum of its
// older buckets and a ring of them; when event time moves on, the newest bucket joins the ring
// and the buckets that fall out are subtracted from the sum (O(1) amortised per event). The
// window's value is sum + newest. An out-of-order event still inside a window is added to its
// own (older) bucket; one older than the window updates lifetime counters only. "window start"
// below is the first ns of the oldest bucket still in the window.
//
// Per-window features (the row holds w1s.*, then w10s.*, then w60s.*; 24 each):
//
//   name                 definition (count of events in the window unless stated)
//   ops                  all accepted events
//   reads                op read
//   writes               op write
//   write_bytes          sum of `len` over writes
//   mean_entropy         mean entropy (bits/byte) of writes whose entropy is known: the record's
//                        entropy field when flags bit 0 is set, else Shannon entropy of `sample`
//                        when it is non-empty; 0 when no write in the window has one
//   high_entropy_writes  writes with known entropy >= 7.2
//   uniform_writes       writes whose sample is >= 256 bytes and whose chi-square against
//                        uniform bytes is <= 310.5 (255 dof, upper 1 % point)
//   entropy_rise         writes with known entropy e where e >= H(header_before) + 2 (header_before
//                        non-empty), or e >= (entropy this subject last read from that path) + 2
//   encoded_writes       writes whose sample (>= 128 bytes) is >= 95 % hex (entropy >= 3.6) or
//                        >= 95 % base64/base64url alphabet incl. CR/LF (entropy >= 5.4)
//   type_changes         events carrying both header_before and header_after whose magic classes
//                        differ (classes: pdf zip png jpeg gif elf gzip xz zstd bzip2 7z sqlite ole
//                        text high_entropy unknown; see sample.h)
//   ext_changes          renames whose extension of path2 differs from that of path
//   rare_ext             renames (extension of path2) and creates (extension of path) whose
//                        extension is non-empty, not in the built-in common list (sample.cc), and
//                        seen by this engine (all subjects, creates + renames) at most 32 times,
//                        this one included
//   renames, unlinks, truncates, creates   the op counts
//   distinct_files       events whose path (full path hash) this subject last touched before the
//                        window start, or never (bounded table: 64 paths, 4-way LRU; a path pushed
//                        out counts again when it comes back)
//   distinct_dirs        the same for the directory part of path (32 dirs, 4-way LRU)
//   read_then_overwrite  write or truncate of a path this subject read before (a read event on it,
//                        or it was renamed from a path read before); once per path table entry
//   create_then_delete   unlink of a path this subject read before, while it has created or
//                        written at least one other path (lifetime, per path table)
//   note_spread          creates whose basename has a ransom-note extension (txt html htm hta rtf
//                        url bmp) and which this subject has created in >= 3 distinct directories
//                        (this one included; table of 16 basenames)
//   decoy_touches        events whose path or path2 is a registered decoy (setDecoys)
//   high_entropy_overwrite  write with known entropy >= 7.2, or an encoded sample (as
//                        encoded_writes), to a path this subject read before (as
//                        read_then_overwrite: a read event on it, or renamed from a path read
//                        before); once per path table entry. Unlike min(read_then_overwrite,
//                        high_entropy_writes) it needs the high-entropy bytes to land on the very
//                        file that was read: a package manager that rewrites one config file and
//                        extracts many compressed files elsewhere shows none.
//   rare_ext_renames     renames whose path2 extension is rare (as rare_ext) and differs from
//                        the extension of path: a file given an unusual new extension (.locked),
//                        not a temp file renamed to its final common name (rsync, editors)
//
// Extensions: the part after the last dot of the basename (at most 32 bytes of [a-z0-9_-], lowercased);
// extensions made only of digits (rotation and version suffixes: app.log.1) count as common.
//
// Lifetime features (since the subject was created):
//   life.events               accepted events
//   life.age_s                (latest ts - first ts) / 1e9
//   life.high_entropy_writes  as above, all time
//   life.read_then_overwrite  as above, all time
//   life.ext_changes          as above, all time
//   life.decoy_touches        as above, all time
//   life.files_written        paths this subject created or wrote (first time per table entry)
//
// Both a process subject (pid, start_time) and its tree subject (keyed by sid when non-zero,
// else by ppid when > 1, else by the process itself: children of init or a reaper are roots of
// their own trees) get every event; a tree's tables are shared by its processes, so
// read-by-one / overwrite-by-another still counts as read_then_overwrite on the tree.
//
// Subject table (engine.h): at most maxSubjects live subjects. A new subject that finds the
// table full evicts, among the 256 least recently active, a subject whose effective state is
// Normal, preferring one idle (event time of the event that needs the slot minus its last event)
// >= idleEvictMs and not due, then one not due, then any Normal one; with none, the event is
// counted in eventsDroppedNoSubject. Recency is a list moved to the front on each event, except
// that a subject already first or second stays put (an event touches its tree and its process in
// turn), which changes nothing at the tail where eviction looks.
//
// Heuristic score (heuristic.h) is recomputed at the end of each ingest call for subjects whose
// heuristic inputs changed (a counter it reads, or w10s / w60s moving on); a subject is due at
// once when that score rises to triggerScore or above from below it. Otherwise a subject is due
// after dueEveryEvents new events (8 while its score is at or above triggerScore,
// kSuspiciousDueEvents), after dueEveryMs of event time, on a decoy touch, or, for a process,
// at its first event when its tree is Restricted or above. Trigger, decoy, 8-event and
// new-process-in-an-enforced-tree due marks count as `urgent` in the ingest result.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sentinel::core {

// Counters kept per bucket (write_bytes is kept apart as u64).
enum Counter : uint8_t {
  cOps, cReads, cWrites, cEntSumMilli, cEntN, cHighEnt, cUniform, cRise, cEncoded, cTypeChange,
  cExtChange, cRareExt, cRenames, cUnlinks, cTruncates, cCreates, cDistinctFiles, cDistinctDirs,
  cRto, cCtd, cNoteSpread, cDecoy, cRtoHigh, cRareRename, kCounters
};

enum WindowFeature : uint8_t {
  fOps, fReads, fWrites, fWriteBytes, fMeanEntropy, fHighEnt, fUniform, fRise, fEncoded,
  fTypeChanges, fExtChanges, fRareExt, fRenames, fUnlinks, fTruncates, fCreates, fDistinctFiles,
  fDistinctDirs, fRto, fCtd, fNoteSpread, fDecoy, fRtoHigh, fRareRename, kWindowFeatures
};

enum LifeFeature : uint8_t {
  lEvents, lAgeS, lHighEnt, lRto, lExtChanges, lDecoy, lFilesWritten, kLifeFeatures
};

constexpr int kWindows = 3;
struct WindowSpec {
  const char* prefix;
  int64_t bucketNs;
  int buckets;
};
constexpr WindowSpec kWindowSpecs[kWindows] = {
    {"w1s", 100'000'000LL, 10},
    {"w10s", 1'000'000'000LL, 10},
    {"w60s", 10'000'000'000LL, 6},
};
constexpr int kTotalBuckets = 10 + 10 + 6;

constexpr size_t kFeatureCount = kWindows * kWindowFeatures + kLifeFeatures;

// Index of a window feature in the row.
constexpr size_t featIndex(int window, WindowFeature f) { return static_cast<size_t>(window) * kWindowFeatures + f; }
constexpr size_t lifeIndex(LifeFeature f) { return kWindows * kWindowFeatures + f; }

extern const char* const kWindowFeatureNames[kWindowFeatures];
extern const char* const kLifeFeatureNames[kLifeFeatures];

// Engine constants that are part of the feature definitions.
constexpr uint32_t kRareExtMaxSeen = 32;
constexpr float kEntropyRiseBits = 2.0f;
constexpr int kNoteSpreadDirs = 3;

}  // namespace sentinel::core

// Native unit tests of the pure C++ core (run by ctest; no Node).
#include <atomic>
#include <deque>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/features.h"
#include "core/protocol.h"
#include "core/sample.h"
#include "core/spsc_ring.h"

using namespace sentinel;

static int failures = 0;
#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                           \
    }                                                                       \
  } while (0)

static void testSpscTwoThreads() {
  core::SpscRing<uint64_t> ring(1024);
  CHECK(ring.capacity() == 1024);
  const uint64_t N = 200000;
  std::atomic<bool> ok{true};
  std::thread consumer([&] {
    uint64_t expect = 0, v;
    while (expect < N) {
      if (ring.pop(v)) {
        if (v != expect) ok = false;
        expect++;
      }
    }
  });
  uint64_t fullSeen = 0;
  for (uint64_t i = 0; i < N;) {
    if (ring.push(i)) i++;
    else fullSeen++;
  }
  consumer.join();
  CHECK(ok.load());
  CHECK(ring.size() == 0);
  uint64_t v;
  CHECK(!ring.pop(v));
  (void)fullSeen;
}

static void testSpscFull() {
  core::SpscRing<int> ring(4);
  for (int i = 0; i < 4; i++) CHECK(ring.push(i));
  CHECK(!ring.push(99));
  int v = -1;
  CHECK(ring.pop(v) && v == 0);
  CHECK(ring.push(4));
  for (int i = 1; i <= 4; i++) CHECK(ring.pop(v) && v == i);
  CHECK(!ring.pop(v));
}

static void testSampleStats() {
  std::vector<uint8_t> zeros(1024, 0);
  core::SampleStats z = core::sampleStats(zeros.data(), zeros.size());
  CHECK(z.entropy == 0.0f);
  std::vector<uint8_t> all(256 * 16);
  for (size_t i = 0; i < all.size(); i++) all[i] = static_cast<uint8_t>(i);
  core::SampleStats a = core::sampleStats(all.data(), all.size());
  CHECK(std::fabs(a.entropy - 8.0f) < 1e-4f);
  CHECK(a.chiSquare < 1e-3f);
  std::mt19937 rng(7);
  std::vector<uint8_t> rnd(4096);
  for (auto& b : rnd) b = static_cast<uint8_t>(rng());
  core::SampleStats r = core::sampleStats(rnd.data(), rnd.size());
  CHECK(r.entropy > 7.9f);
  CHECK(r.chiSquare < core::kUniformChi2);
  const char* pdf = "%PDF-1.7\n";
  CHECK(core::magicClass(reinterpret_cast<const uint8_t*>(pdf), 9) == core::kMagicPdf);
  CHECK(core::magicClass(rnd.data(), 256) == core::kMagicHighEntropy);
}

static std::vector<uint8_t> batch(const std::vector<proto::EventView>& evs, uint32_t seq) {
  std::vector<uint8_t> out;
  proto::appendHeader(out, proto::kEventBatch, 0, seq);
  size_t p = out.size();
  out.resize(p + 4);
  proto::store<uint32_t>(out.data() + p, static_cast<uint32_t>(evs.size()));
  for (auto& e : evs) proto::appendRecord(out, e);
  proto::patchLength(out, 0);
  return out;
}

static proto::EventView ev(uint8_t op, uint32_t pid, uint64_t tsNs, const std::string& path) {
  static std::deque<std::string> keep;  // stable element addresses (a vector would move them)
  keep.push_back(path);
  proto::EventView e{};
  e.op = op;
  e.pid = pid;
  e.ppid = 1;
  e.ts_ns = tsNs;
  e.path = proto::Bytes{reinterpret_cast<const uint8_t*>(keep.back().data()), static_cast<uint16_t>(keep.back().size())};
  return e;
}

static void testEngineBasics() {
  core::EngineOptions o;
  o.dueEveryEvents = 2;
  core::Engine eng(o);
  uint32_t c = eng.openConnection(0);
  std::vector<uint8_t> hello;
  proto::appendHello(hello, 1, proto::kRoleEvents | proto::kRoleAcks, 42, "test");
  const core::IngestResult& r1 = eng.ingest(c, hello.data(), hello.size());
  CHECK(r1.hello.set && r1.hello.roles == (proto::kRoleEvents | proto::kRoleAcks));
  CHECK(r1.reply.size() == 24);
  auto e1 = ev(proto::kOpWrite, 100, 1'000'000'000, "/home/u/a.txt");
  e1.flags = proto::kFlagHasEntropy;
  e1.entropy = 7.5f;
  auto e2 = ev(proto::kOpWrite, 100, 1'050'000'000, "/home/u/b.txt");
  e2.flags = proto::kFlagHasEntropy;
  e2.entropy = 6.5f;
  std::vector<uint8_t> b = batch({e1, e2}, 2);
  const core::IngestResult& r2 = eng.ingest(c, b.data(), b.size());
  CHECK(r2.accepted == 2 && r2.rejected == 0);
  CHECK(eng.dueCount() == 2);  // process + tree
  std::vector<uint32_t> ids(4);
  std::vector<float> rows(4 * core::kFeatureCount), contrib(4 * core::kContributions);
  std::vector<double> meta(16);
  size_t n = eng.collectDue(ids.data(), rows.data(), contrib.data(), meta.data(), 4);
  CHECK(n == 2);
  const float* row = rows.data();
  CHECK(row[core::featIndex(0, core::fWrites)] == 2);
  CHECK(std::fabs(row[core::featIndex(0, core::fMeanEntropy)] - 7.0f) < 1e-3f);
  CHECK(row[core::featIndex(0, core::fHighEnt)] == 1);
  CHECK(row[core::featIndex(0, core::fDistinctFiles)] == 2);
  CHECK(row[core::featIndex(0, core::fDistinctDirs)] == 1);
  CHECK(meta[2] == 1.0);
}

int main() {
  testSpscFull();
  testSpscTwoThreads();
  testSampleStats();
  testEngineBasics();
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("sentinel_core_test: all checks passed\n");
  return 0;
}

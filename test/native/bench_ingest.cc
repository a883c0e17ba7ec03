// Native ingest micro-benchmark (no Node): replays a file of protocol bytes (HELLO + EVENT_BATCH
// frames, e.g. written by `node dist/bench/run.js --only native` with SENTINEL_BENCH_DUMP=path)
// in 64 KiB chunks and prints events per CPU second of the thread (best and median; the
// machines are shared, so CPU time is steadier than wall time).
//
// "cold": a fresh engine per repetition (subject creation and first page touches included).
// "warm": one engine; each repetition replays the same events shifted 10 s later in event time
// (the subjects exist, windows move on): the steady state of a running daemon.
//
//   sentinel_bench_ingest <file> [reps]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/engine.h"

using namespace sentinel;

static double cpuNow() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// Adds delta ns to the ts of every record of every EVENT_BATCH frame.
static void shift(std::vector<uint8_t>& d, uint64_t delta) {
  size_t at = 0;
  while (at + proto::kHeaderSize <= d.size()) {
    proto::FrameHeader h = proto::readHeader(d.data() + at);
    if (h.length > d.size() - at - proto::kHeaderSize) break;  // truncated (or damaged) input
    uint8_t* p = d.data() + at + proto::kHeaderSize;
    if (h.type == proto::kEventBatch && h.length >= 4) {
      uint32_t n = proto::load<uint32_t>(p);
      size_t off = 4;
      for (uint32_t i = 0; i < n && off + proto::kRecordFixed <= h.length; i++) {
        uint16_t rl = proto::load<uint16_t>(p + off);
        if (rl < proto::kRecordFixed || off + rl > h.length) break;
        proto::store<uint64_t>(p + off + 24, proto::load<uint64_t>(p + off + 24) + delta);
        off += rl;
      }
    }
    at += proto::kHeaderSize + h.length;
  }
}

static void report(const char* what, std::vector<double>& rates, uint64_t events) {
  std::sort(rates.begin(), rates.end());
  std::printf("%s: %llu events: best %.2f M/s, median %.2f M/s\n", what, static_cast<unsigned long long>(events),
              rates.back() / 1e6, rates[rates.size() / 2] / 1e6);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <file> [reps]\n", argv[0]);
    return 2;
  }
  std::ifstream f(argv[1], std::ios::binary);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  int reps = argc > 2 ? std::atoi(argv[2]) : 10;
  auto run = [&](core::Engine& eng, uint32_t c, const std::vector<uint8_t>& d) {
    double t0 = cpuNow();
    for (size_t at = 0; at < d.size(); at += 65536) eng.ingest(c, d.data() + at, std::min<size_t>(65536, d.size() - at));
    return cpuNow() - t0;
  };
  uint64_t events = 0;
  std::vector<double> cold, warm;
  for (int r = 0; r < reps; r++) {
    core::Engine eng{core::EngineOptions{}};
    uint32_t c = eng.openConnection(0);
    double s = run(eng, c, data);
    events = eng.stats().eventsAccepted;
    cold.push_back(events / s);
  }
  {
    core::Engine eng{core::EngineOptions{}};
    uint32_t c = eng.openConnection(0);
    run(eng, c, data);
    // Later passes: the same stream without HELLO, shifted in time.
    size_t skip = std::min(data.size(), proto::kHeaderSize + proto::readHeader(data.data()).length);
    std::vector<uint8_t> body(data.begin() + static_cast<std::ptrdiff_t>(skip), data.end());
    for (int r = 0; r < reps; r++) {
      shift(body, 10'000'000'000ULL);
      uint64_t before = eng.stats().eventsAccepted;
      double s = run(eng, c, body);
      warm.push_back((eng.stats().eventsAccepted - before) / s);
    }
  }
  report("cold", cold, events);
  report("warm", warm, events);
  return 0;
}

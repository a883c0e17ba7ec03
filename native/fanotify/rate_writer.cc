// rate_writer <dir> <seconds> [files per second, 0 = as fast as possible]
// Creates, writes (64 bytes) and closes distinct files f0, f1, ... under <dir> and prints
// {"files":N,"seconds":S,"rate":R}. The load generator of test/e2e/fanotify-rate.test.ts (the
// fanotify event rate sustained without overflow, docs/fanotify.md). Not part of the addon.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

static double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: rate_writer <dir> <seconds> [rate]\n");
    return 2;
  }
  const char* dir = argv[1];
  double secs = std::atof(argv[2]);
  double rate = argc > 3 ? std::atof(argv[3]) : 0;
  char buf[64];
  std::memset(buf, 'a', sizeof buf);
  char p[4096];
  double t0 = now(), end = t0 + secs;
  long n = 0;
  for (;;) {
    double t = now();
    if (t >= end) break;
    if (rate > 0 && double(n) >= (t - t0) * rate) {
      usleep(200);
      continue;
    }
    std::snprintf(p, sizeof p, "%s/f%ld", dir, n);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::perror("open");
      return 1;
    }
    if (write(fd, buf, sizeof buf) < 0) return 1;
    close(fd);
    n++;
  }
  double el = now() - t0;
  std::printf("{\"files\":%ld,\"seconds\":%.3f,\"rate\":%.0f}\n", n, el, double(n) / el);
  return 0;
}

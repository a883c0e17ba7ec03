// evdev input decoding: raw `struct input_event` bytes → bucketed keystroke records and mouse
// actions. Pure C++17, no Node-API, no threads (native/evdev/collector.h runs it on a thread; the
// addon's decodeInputEvents runs it synchronously on a buffer).
//
// Contract
// - DeviceDecoder::feed() takes bytes in ANY chunking (a short read may split a record; the
//   remainder is kept until the next feed). One decoder per device, because records of two
//   devices must never be glued together and each device has its own SYN_REPORT framing.
// - A record is malformed (counted in Stats::malformed, skipped, nothing else changes) when its
//   type is above EV_MAX, its tv_usec is outside [0, 10^6), its tv_sec is negative, or an EV_KEY
//   value is not 0, 1 or 2. Auto-repeat (EV_KEY value 2) is counted and dropped.
// - SYN_DROPPED (the kernel's buffer overran) discards the frame in progress, counts it and
//   breaks the keystroke digraph chain: timings across a gap are not trusted.
// - Keys: EV_KEY codes below BTN_MISC or at/above KEY_OK are keyboard keys. A keystroke is
//   assembled from press and release and handed to bio::KeystrokeExtractor in PRESS order (a
//   press waits for its release, so rollover typing keeps its order). A press without a release
//   after max_hold_ms of later input is emitted with the release unknown. The key code goes no
//   further than the extractor: an InputSink sees buckets and timings only.
// - Pointer: BTN_LEFT/RIGHT/MIDDLE, REL_X/REL_Y (accumulated into a virtual position),
//   ABS_X/ABS_Y (device units, used as positions), REL_WHEEL. Each SYN_REPORT frame becomes at
//   most one motion event plus its button and wheel events, fed to bio::ActionSegmenter. No
//   absolute screen position is kept beyond the action in progress.
// - Times are the kernel's event timestamps (µs). Not internally synchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "../biometrics/keystroke.h"
#include "../biometrics/mouse.h"

namespace sentinel::evdev {

// One keystroke as it leaves the collector: no key code, only buckets and timings.
struct KeyRecordOut {
  double press_ms = 0;  // kernel timestamp of the press, ms
  bio::KeystrokeRecord rec;
};

struct MouseActionOut {
  bio::MouseAction action;
};

struct DecodeStats {
  uint64_t bytes = 0;
  uint64_t records = 0;      // whole input_event records read
  uint64_t malformed = 0;    // records refused (see contract)
  uint64_t repeats = 0;      // auto-repeat key events dropped
  uint64_t synDropped = 0;   // SYN_DROPPED frames (kernel overrun)
  uint64_t keystrokes = 0;   // keystrokes emitted
  uint64_t unreleased = 0;   // keystrokes emitted with the release unknown
  uint64_t pointerEvents = 0;  // motion/button/wheel events fed to the segmenter
  uint64_t actions = 0;      // mouse actions emitted
  uint64_t ignored = 0;      // well-formed records of no interest (LEDs, MSC_SCAN, touch, ...)
};

struct DecoderConfig {
  bio::ExtractorConfig keys;
  bio::SegmenterConfig mouse;
};

// The keyboard and pointer state shared by every device of one user session. Owns the
// extractor and segmenter; appends what it completes to the output vectors.
class InputAssembler {
 public:
  InputAssembler(const bio::HashKey& key, const DecoderConfig& cfg);

  void key(uint16_t code, int64_t t_us, bool press);
  void pointer(const bio::MouseEvent& e);
  // Called when no input arrived for a while (the collector's poll timeout): a movement that
  // ended in a pause becomes an MM action, and a press whose release never came is emitted.
  void idle(int64_t now_us);
  void breakChain();
  // Newest kernel timestamp seen in any well-formed record (µs; 0 before the first).
  void noteTime(int64_t t_us) {
    if (t_us > lastEventUs_) lastEventUs_ = t_us;
  }
  int64_t lastEventUs() const { return lastEventUs_; }
  // End of all input: emit whatever is in progress.
  void flush();

  std::vector<KeyRecordOut> keys;
  std::vector<MouseActionOut> actions;
  DecodeStats stats;

 private:
  struct Pending {
    uint16_t code;
    int64_t press_us;
    int64_t release_us;  // -1 until seen
  };
  void emitReady(int64_t now_us, bool force);

  DecoderConfig cfg_;
  bio::KeystrokeExtractor extractor_;
  bio::ActionSegmenter segmenter_;
  std::deque<Pending> pending_;
  std::vector<bio::MouseAction> scratch_;
  double lastPointerT_ = -1;
  int64_t lastEventUs_ = 0;
};

class DeviceDecoder {
 public:
  explicit DeviceDecoder(InputAssembler* out) : out_(out) {}
  void feed(const uint8_t* data, size_t len);
  // Bytes of an incomplete record held back (a device that ends here had a truncated record).
  size_t partialBytes() const { return partialLen_; }

 private:
  void record(const uint8_t* rec);
  void endFrame(int64_t t_us);

  InputAssembler* out_;
  uint8_t partial_[64];
  size_t partialLen_ = 0;
  // Frame in progress (between SYN_REPORTs).
  double relX_ = 0, relY_ = 0;
  bool moved_ = false;
  double absX_ = 0, absY_ = 0;
  bool haveAbs_ = false;
  int wheel_ = 0;
  struct Button {
    uint16_t code;
    bool press;
  };
  std::vector<Button> buttons_;
  bool dropping_ = false;  // after SYN_DROPPED until the next SYN_REPORT
  double posX_ = 0, posY_ = 0;
};

// Size of one record on this platform (24 bytes on 64-bit Linux).
size_t inputEventSize();

}  // namespace sentinel::evdev

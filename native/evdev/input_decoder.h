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
//   ABS_X/ABS_Y, REL_WHEEL. ABS coordinates are multiplied by the device's absolute scale
//   (pixels per device unit: DecoderConfig::abs_scale, or setAbsScale()).
// - Touch devices (touchpads, touchscreens, pen tablets): a device that has reported BTN_TOUCH
//   or BTN_TOOL_FINGER (or was marked by markTouchDevice()) is touch-relative, because its ABS
//   position is where the finger is on the pad, not where the pointer is: ABS_X/ABS_Y move the
//   virtual position by their CHANGE, and only while in contact (BTN_TOUCH down; for a device
//   that never reports BTN_TOUCH, BTN_TOOL_FINGER down). A frame carrying a touch or finger-count
//   key (BTN_TOUCH, BTN_TOOL_FINGER/DOUBLETAP/TRIPLETAP/QUADTAP/QUINTTAP) re-takes the reference
//   from that frame's coordinates and moves nothing (a touch-down; or another finger, which the
//   kernel's single-touch emulation may follow instead); an axis whose value is not known yet
//   takes its reference from its first value. With two or more fingers down (a scroll or
//   gesture) nothing moves. So lifting the finger and touching down elsewhere never jumps. A
//   finger already down before the decoder started moves nothing until it lifts and touches
//   again. Buttons (a clickpad's BTN_LEFT) are pointer events at the virtual position as for a
//   mouse; taps are not clicks (tap-to-click is done by libinput, evdev has no such event).
// - An ABS pointer that never reports a touch key (a virtual machine's absolute tablet) keeps
//   absolute positions: ABS_X/ABS_Y (scaled) are the position.
// - Each SYN_REPORT frame becomes at
//   most one motion event plus its button and wheel events, fed to the DEVICE'S OWN
//   bio::ActionSegmenter: two pointers moving at once never make one action, and every action
//   is attributed to the device it came from (MouseActionOut::device, the number the caller
//   gave the decoder). No absolute screen position is kept beyond the action in progress.
// - Keys of every device share one InputAssembler (one keyboard state and digraph chain per
//   session); keystrokes carry no device.
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
  uint32_t device = 0;  // the DeviceDecoder's device number (0: decodeInputEvents, no collector)
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
  uint64_t ignored = 0;      // well-formed records of no interest (LEDs, MSC_SCAN, ABS_MT_*, ...)
};

struct DecoderConfig {
  bio::ExtractorConfig keys;
  bio::SegmenterConfig mouse;
  // Pixels per ABS_X/ABS_Y device unit, both axes (> 0): the scale of a device whose resolution
  // is not known (FIFOs, recordings). The collector replaces it per device with
  // setAbsScale() when EVIOCGABS reports a resolution.
  double abs_scale = 1.0;
};

// The keyboard state shared by every device of one user session, and the outputs: owns the
// keystroke extractor; appends completed keystrokes and (from the DeviceDecoders) mouse actions
// to the output vectors. Pointer state is per device (DeviceDecoder).
class InputAssembler {
 public:
  InputAssembler(const bio::HashKey& key, const DecoderConfig& cfg);

  void key(uint16_t code, int64_t t_us, bool press);
  // Called when no input arrived for a while (the collector's poll timeout): a press whose
  // release never came is emitted. (Each DeviceDecoder::idle does the same for its pointer.)
  void idle(int64_t now_us);
  void breakChain();
  // Newest kernel timestamp seen in any well-formed record (µs; 0 before the first).
  void noteTime(int64_t t_us) {
    if (t_us > lastEventUs_) lastEventUs_ = t_us;
  }
  int64_t lastEventUs() const { return lastEventUs_; }
  // End of all input: emit every keystroke still waiting for its release.
  void flush();
  const DecoderConfig& config() const { return cfg_; }

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
  std::deque<Pending> pending_;
  int64_t lastEventUs_ = 0;
};

// One device's decoder: framing, pointer state and its own action segmenter. `device` is the
// number its actions carry (the collector's per-device number). Not copyable (holds a pointer
// to the assembler, which must outlive it).
class DeviceDecoder {
 public:
  DeviceDecoder(InputAssembler* out, uint32_t device);
  DeviceDecoder(const DeviceDecoder&) = delete;
  DeviceDecoder& operator=(const DeviceDecoder&) = delete;
  void feed(const uint8_t* data, size_t len);
  // No input for a while: a movement of this device that ended in a pause becomes an action.
  void idle(int64_t now_us);
  // This device ended: emit its action in progress, if any.
  void flush();
  // Pixels per device unit of ABS_X and ABS_Y (each > 0; replaces DecoderConfig::abs_scale).
  // Call before the first feed(): a change in the middle of a contact would scale its motion
  // partly one way and partly the other.
  void setAbsScale(double x_px_per_unit, double y_px_per_unit);
  // The device is a touch device (its key bits include BTN_TOUCH or BTN_TOOL_FINGER) before any
  // touch key was seen: its ABS motion counts only inside a contact that starts after this.
  void markTouchDevice() { touchDevice_ = true; }
  // Bytes of an incomplete record held back (a device that ends here had a truncated record).
  size_t partialBytes() const { return partialLen_; }
  uint32_t device() const { return device_; }

 private:
  void record(const uint8_t* rec);
  void endFrame(int64_t t_us);
  void pointer(const bio::MouseEvent& e);
  void emit();  // moves scratch_ into the assembler's actions, tagged with device_
  void touchKey(uint16_t code, bool down);
  // The ABS part of a frame: returns whether the virtual position moved (or, for an absolute
  // device, was set).
  bool absFrame();

  // One ABS axis: its latest value (kept across frames, because the kernel reports an axis only
  // when it changes) and, for a touch device, the value the next change is measured from.
  struct AbsAxis {
    double value = 0;  // device units
    bool known = false;
    bool updated = false;  // in the frame in progress
    double ref = 0;
    bool refValid = false;
    double scale = 1;  // px per unit
  };

  InputAssembler* out_;
  uint32_t device_;
  bio::ActionSegmenter segmenter_;
  std::vector<bio::MouseAction> scratch_;
  double lastPointerT_ = -1;  // s; -1: no movement in progress
  uint8_t partial_[64];
  size_t partialLen_ = 0;
  // Frame in progress (between SYN_REPORTs).
  double relX_ = 0, relY_ = 0;
  bool moved_ = false;
  AbsAxis absX_, absY_;
  // Touch state (persists across frames). Finger-count tools: bit 0 BTN_TOOL_FINGER, bit 1
  // DOUBLETAP, bit 2 TRIPLETAP, bit 3 QUADTAP, bit 4 QUINTTAP.
  bool touchDevice_ = false;
  bool hasTouchKey_ = false;  // BTN_TOUCH seen: it, not BTN_TOOL_FINGER, says "in contact"
  bool touchDown_ = false;
  uint8_t tools_ = 0;
  bool touchKeyInFrame_ = false;
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

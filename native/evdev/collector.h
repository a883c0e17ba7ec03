// evdev collector: reads input devices on its own thread and turns them into bucketed keystroke
// records and mouse actions (input_decoder.h). Pure C++17, no Node-API (the wrapper is
// native/addon/evdev_binding.cc; docs/biometrics.md describes it, docs/privacy.md what leaves it).
//
// Devices
// - `paths`: opened at open(); a path that cannot be opened fails open() with errno and a message
//   (EACCES/EPERM: "may not read input devices"). Any readable path works: a character device,
//   a FIFO, or a regular file holding recorded `struct input_event` records.
// - `dir` (e.g. /dev/input): every `event*` entry is opened at start(); with `watch`, inotify
//   reports new entries (hot-plug; a node whose permissions udev fixes later is retried on
//   IN_ATTRIB). A discovered device that cannot be opened becomes a DeviceEvent of kind kError,
//   not a failure.
// - A device ends at EOF (a FIFO's writer closed, a recording's end) or on ENODEV (unplugged):
//   a DeviceEvent kRemoved, with the count of bytes of a truncated last record if any.
//
// Device numbers and identities
// - Each device opened gets a number, 1, 2, 3, ... in open order, never reused within one
//   Collector (a device unplugged and plugged again gets a new one). Its kAdded and kRemoved
//   events carry the number and the identity, and every mouse action it produced carries the
//   number (MouseActionOut::device); its kAdded is queued no later than its first action.
// - The identity (deviceIdentity()) names the pointing device independent of its path, because
//   a mouse model's verdict on a device it was not enrolled on carries no information: a
//   character device is "bus:vendor:product name" from EVIOCGID and EVIOCGNAME, e.g.
//   "0003:046d:c077 Logitech USB Optical Mouse"; anything else (a FIFO, a recording, a
//   character device that is not evdev) is "file:<basename of the path>".
//
// Absolute pointers (touchpads, touchscreens, tablets; the decoder's contract in input_decoder.h)
// - A character device whose EVIOCGABS(ABS_X) and EVIOCGABS(ABS_Y) both report a resolution
//   (units per mm) gets its ABS coordinates scaled to nominal pixels at 96 dpi (96/25.4 px per
//   mm), so that speeds and lengths compare with a mouse's pixels; any other device (no
//   resolution, a FIFO, a recording) keeps DecoderConfig::abs_scale.
// - A character device whose key bits (EVIOCGBIT) include BTN_TOUCH or BTN_TOOL_FINGER is a
//   touch device from the start (DeviceDecoder::markTouchDevice): a finger already on the pad
//   when it is opened moves nothing until it touches again.
//
// Threads and ownership
// - One reader thread: poll(devices, inotify fd, stop eventfd) with a timeout that lets a
//   movement ending in a pause be emitted. It decodes, appends to a bounded output queue and
//   calls onReady() (never blocks on the consumer). A full queue drops the newest output,
//   counted in Stats::dropped.
// - drain(), stats() run on the consumer's thread and take the queue mutex only to swap vectors.
// - stop() joins the thread; nothing calls onReady after it returns. The destructor stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "input_decoder.h"

namespace sentinel::evdev {

struct CollectorOptions {
  std::vector<std::string> paths;
  std::string dir;         // empty: no discovery
  bool watch = true;       // hot-plug in `dir`
  bio::HashKey key{};      // host-local digraph key (loaded by the caller)
  DecoderConfig decoder;
  size_t maxQueued = 65536;  // keystrokes + actions waiting for drain()
};

struct DeviceEvent {
  enum Kind : uint8_t { kAdded = 0, kRemoved = 1, kError = 2 };
  Kind kind;
  std::string path;
  int err = 0;              // errno for kError / kRemoved by error
  uint32_t truncatedBytes = 0;  // kRemoved: bytes of an incomplete last record
  std::string message;
  uint32_t device = 0;      // kAdded / kRemoved: the device's number (0 for kError)
  std::string identity;     // kAdded / kRemoved: deviceIdentity() of the device ("" for kError)
};

// The identity of the open device `fd` found at `path` (see "Device numbers and identities"):
// at most 14 + 1 + 64 bytes, printable ASCII only (other bytes become '?'). Synchronous (two
// ioctls, or none); never fails: a character device that answers no EVIOCGID is named by path.
std::string deviceIdentity(int fd, const std::string& path);

struct CollectorBatch {
  std::vector<KeyRecordOut> keys;
  std::vector<MouseActionOut> actions;
  std::vector<DeviceEvent> devices;
  bool empty() const { return keys.empty() && actions.empty() && devices.empty(); }
};

struct CollectorStats {
  DecodeStats decode;
  uint64_t dropped = 0;      // outputs refused by a full queue
  uint64_t devicesOpen = 0;
  uint64_t devicesAdded = 0;
  uint64_t devicesRemoved = 0;
  uint64_t deviceErrors = 0;
  uint64_t readErrors = 0;
  uint64_t truncatedRecords = 0;  // devices that ended inside a record
  uint64_t queued = 0;
  bool running = false;
};

class Collector {
 public:
  // Opens `paths` (and the inotify watch). nullptr with *err / *errnum set on failure.
  static std::unique_ptr<Collector> open(const CollectorOptions& opt, std::string* err, int* errnum);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  bool start(std::function<void()> onReady, std::string* err);
  void stop();
  bool running() const { return running_.load(); }
  // Moves everything queued into *out (replacing its content). Returns false when nothing was.
  bool drain(CollectorBatch* out);
  CollectorStats stats();

 private:
  struct Device {
    std::string path;
    int fd = -1;
    uint32_t number = 0;
    std::string identity;
    std::unique_ptr<DeviceDecoder> decoder;
  };
  explicit Collector(const CollectorOptions& opt);
  void run();
  // Adds the open `fd` as a device (number, identity, decoder) and queues its kAdded event.
  void addDevice(const std::string& path, int fd);
  void openDiscovered(const std::string& name);
  void closeDevice(size_t i, int err);
  void publish();
  void deviceEvent(DeviceEvent ev);

  CollectorOptions opt_;
  InputAssembler assembler_;  // reader thread only
  std::vector<Device> devices_;  // reader thread only after start()
  std::vector<DeviceEvent> pendingDeviceEvents_;  // reader thread only
  uint32_t nextDevice_ = 1;  // open() and then the reader thread only
  int inotifyFd_ = -1;
  int stopFd_ = -1;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::function<void()> onReady_;

  std::mutex mu_;  // guards queue_ and shared_
  CollectorBatch queue_;
  CollectorStats shared_;
};

}  // namespace sentinel::evdev

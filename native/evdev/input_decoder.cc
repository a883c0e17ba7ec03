#include "input_decoder.h"

#include <linux/input.h>

#include <cstring>

namespace sentinel::evdev {

size_t inputEventSize() { return sizeof(struct input_event); }

namespace {
constexpr size_t kRec = sizeof(struct input_event);
static_assert(kRec <= 64, "input_event larger than the partial buffer");
// At most this many presses wait for their release; beyond it the oldest is emitted without one
// (a stuck key or lost release must not hold the stream back without bound).
constexpr size_t kMaxPending = 32;

bool isKeyboardCode(uint16_t code) { return code < BTN_MISC || code >= KEY_OK; }

// The finger-count bit of a touch tool key (DeviceDecoder::tools_), 0 for any other code.
uint8_t toolBit(uint16_t code) {
  switch (code) {
    case BTN_TOOL_FINGER: return 1;
    case BTN_TOOL_DOUBLETAP: return 2;
    case BTN_TOOL_TRIPLETAP: return 4;
    case BTN_TOOL_QUADTAP: return 8;
    case BTN_TOOL_QUINTTAP: return 16;
    default: return 0;
  }
}
}  // namespace

InputAssembler::InputAssembler(const bio::HashKey& key, const DecoderConfig& cfg)
    : cfg_(cfg), extractor_(key, cfg.keys) {}

void InputAssembler::key(uint16_t code, int64_t t_us, bool press) {
  if (press) {
    // A second press of a key still held means its release was lost: emit the old one first.
    for (Pending& p : pending_)
      if (p.code == code && p.release_us < 0) p.release_us = p.press_us;  // release unknown
    pending_.push_back({code, t_us, -1});
  } else {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (it->code == code && it->release_us < 0) {
        it->release_us = t_us;
        break;
      }
    }
    // A release with no press (the press predates the collector, or was dropped) is ignored.
  }
  emitReady(t_us, false);
}

void InputAssembler::emitReady(int64_t now_us, bool force) {
  const int64_t maxHoldUs = int64_t(cfg_.keys.max_hold_ms * 1000.0);
  while (!pending_.empty()) {
    Pending& p = pending_.front();
    bool released = p.release_us >= 0;
    bool stale = now_us - p.press_us > maxHoldUs || pending_.size() > kMaxPending;
    if (!released && !stale && !force) break;
    bio::Keystroke k;
    k.code = p.code;
    k.press_us = p.press_us;
    k.release_us = released ? p.release_us : p.press_us;  // <= press: unknown
    if (!released || p.release_us <= p.press_us) stats.unreleased++;
    KeyRecordOut o;
    o.press_ms = double(p.press_us) / 1000.0;
    o.rec = extractor_.push(k);
    keys.push_back(o);
    stats.keystrokes++;
    pending_.pop_front();
  }
}

void InputAssembler::idle(int64_t now_us) { emitReady(now_us, false); }

void InputAssembler::breakChain() { extractor_.break_chain(); }

void InputAssembler::flush() { emitReady(0, true); }

DeviceDecoder::DeviceDecoder(InputAssembler* out, uint32_t device)
    : out_(out), device_(device), segmenter_(out->config().mouse) {
  absX_.scale = absY_.scale = out->config().abs_scale;
}

void DeviceDecoder::setAbsScale(double x_px_per_unit, double y_px_per_unit) {
  absX_.scale = x_px_per_unit;
  absY_.scale = y_px_per_unit;
}

void DeviceDecoder::touchKey(uint16_t code, bool down) {
  touchDevice_ = true;
  touchKeyInFrame_ = true;
  if (code == BTN_TOUCH) {
    hasTouchKey_ = true;
    touchDown_ = down;
    return;
  }
  const uint8_t bit = toolBit(code);
  tools_ = down ? uint8_t(tools_ | bit) : uint8_t(tools_ & ~bit);
}

bool DeviceDecoder::absFrame() {
  if (!touchDevice_) {
    // Absolute pointer: the (scaled) coordinates are the position.
    if (!absX_.updated && !absY_.updated) return false;
    posX_ = absX_.value * absX_.scale;
    posY_ = absY_.value * absY_.scale;
    return true;
  }
  const bool contact = hasTouchKey_ ? touchDown_ : tools_ != 0;
  const bool oneFinger = (tools_ & ~1u) == 0;  // two or more: a scroll or gesture
  bool moved = false;
  for (AbsAxis* a : {&absX_, &absY_}) {
    if (!contact || !oneFinger || touchKeyInFrame_) a->refValid = false;
    if (!contact || !oneFinger || !a->known) continue;
    if (a->refValid && a->updated) {
      (a == &absX_ ? posX_ : posY_) += (a->value - a->ref) * a->scale;
      moved = true;
    }
    a->ref = a->value;
    a->refValid = true;
  }
  return moved;
}

void DeviceDecoder::emit() {
  for (const bio::MouseAction& a : scratch_) out_->actions.push_back({a, device_});
  out_->stats.actions += scratch_.size();
  scratch_.clear();
}

void DeviceDecoder::pointer(const bio::MouseEvent& e) {
  out_->stats.pointerEvents++;
  scratch_.clear();
  segmenter_.push(e, &scratch_);
  lastPointerT_ = e.t;
  emit();
}

void DeviceDecoder::idle(int64_t now_us) {
  if (lastPointerT_ >= 0 && double(now_us) / 1e6 - lastPointerT_ >= out_->config().mouse.pause_s) {
    scratch_.clear();
    segmenter_.flush(&scratch_);
    emit();
    lastPointerT_ = -1;
  }
}

void DeviceDecoder::flush() {
  scratch_.clear();
  segmenter_.flush(&scratch_);
  emit();
  lastPointerT_ = -1;
}

void DeviceDecoder::feed(const uint8_t* data, size_t len) {
  out_->stats.bytes += len;
  if (partialLen_) {
    size_t take = std::min(kRec - partialLen_, len);
    std::memcpy(partial_ + partialLen_, data, take);
    partialLen_ += take;
    data += take;
    len -= take;
    if (partialLen_ < kRec) return;
    record(partial_);
    partialLen_ = 0;
  }
  while (len >= kRec) {
    record(data);
    data += kRec;
    len -= kRec;
  }
  if (len) {
    std::memcpy(partial_, data, len);
    partialLen_ = len;
  }
}

void DeviceDecoder::record(const uint8_t* raw) {
  struct input_event ev;
  std::memcpy(&ev, raw, kRec);  // the byte stream has no alignment guarantee
  DecodeStats& st = out_->stats;
  st.records++;
  if (ev.type > EV_MAX || ev.input_event_sec < 0 || ev.input_event_usec < 0 || ev.input_event_usec >= 1000000 ||
      (ev.type == EV_KEY && (ev.value < 0 || ev.value > 2))) {
    st.malformed++;
    return;
  }
  const int64_t t_us = int64_t(ev.input_event_sec) * 1000000 + int64_t(ev.input_event_usec);
  out_->noteTime(t_us);
  if (ev.type == EV_SYN) {
    if (ev.code == SYN_DROPPED) {
      st.synDropped++;
      dropping_ = true;
      relX_ = relY_ = 0;
      moved_ = false;
      absX_.updated = absY_.updated = false;
      // Touch keys or coordinates of the lost frames may be missing: measure the next change
      // from a fresh reference, never across the gap.
      absX_.refValid = absY_.refValid = false;
      touchKeyInFrame_ = false;
      wheel_ = 0;
      buttons_.clear();
      out_->breakChain();
      return;
    }
    if (ev.code == SYN_REPORT) {
      if (dropping_) {
        dropping_ = false;  // the frame after the gap starts clean
        return;
      }
      endFrame(t_us);
      return;
    }
    st.ignored++;
    return;
  }
  if (dropping_) return;
  switch (ev.type) {
    case EV_KEY: {
      if (ev.value == 2) {
        st.repeats++;
        return;
      }
      if (isKeyboardCode(ev.code)) {
        // Keys are handed over at once (not per frame): their timestamps are their own.
        out_->key(ev.code, t_us, ev.value == 1);
        return;
      }
      if (ev.code == BTN_LEFT || ev.code == BTN_RIGHT || ev.code == BTN_MIDDLE) {
        buttons_.push_back({ev.code, ev.value == 1});
        return;
      }
      if (ev.code == BTN_TOUCH || toolBit(ev.code) != 0) {
        touchKey(ev.code, ev.value == 1);
        return;
      }
      st.ignored++;
      return;
    }
    case EV_REL:
      if (ev.code == REL_X) {
        relX_ += ev.value;
        moved_ = true;
      } else if (ev.code == REL_Y) {
        relY_ += ev.value;
        moved_ = true;
      } else if (ev.code == REL_WHEEL) {
        wheel_ += ev.value;
      } else {
        st.ignored++;  // REL_HWHEEL, hi-res wheel duplicates, ...
      }
      return;
    case EV_ABS:
      if (ev.code == ABS_X || ev.code == ABS_Y) {
        AbsAxis& a = ev.code == ABS_X ? absX_ : absY_;
        a.value = ev.value;
        a.known = true;
        a.updated = true;
      } else {
        st.ignored++;
      }
      return;
    default:
      st.ignored++;
      return;
  }
}

void DeviceDecoder::endFrame(int64_t t_us) {
  const double t = double(t_us) / 1e6;
  const bool absMoved = absFrame();
  if (moved_) {
    posX_ += relX_;
    posY_ += relY_;
  }
  if (moved_ || absMoved) {
    bio::MouseEvent e;
    e.t = t;
    e.x = posX_;
    e.y = posY_;
    e.state = bio::MouseState::kMove;
    pointer(e);
  }
  for (const Button& b : buttons_) {
    bio::MouseEvent e;
    e.t = t;
    e.x = posX_;
    e.y = posY_;
    e.button = b.code == BTN_LEFT ? bio::MouseButton::kLeft
               : b.code == BTN_RIGHT ? bio::MouseButton::kRight
                                     : bio::MouseButton::kMiddle;
    e.state = b.press ? bio::MouseState::kPressed : bio::MouseState::kReleased;
    pointer(e);
  }
  if (wheel_ != 0) {
    bio::MouseEvent e;
    e.t = t;
    e.x = posX_;
    e.y = posY_;
    e.button = bio::MouseButton::kScroll;
    e.state = wheel_ > 0 ? bio::MouseState::kScrollUp : bio::MouseState::kScrollDown;
    pointer(e);
  }
  relX_ = relY_ = 0;
  moved_ = false;
  absX_.updated = absY_.updated = false;
  touchKeyInFrame_ = false;
  wheel_ = 0;
  buttons_.clear();
}

}  // namespace sentinel::evdev

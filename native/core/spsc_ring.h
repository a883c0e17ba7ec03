// Lock-free single-producer / single-consumer ring buffer.
//
// One thread calls push(), one other thread calls pop(); no locks, no allocation after
// construction. Capacity is rounded up to a power of two; one slot is NOT wasted because head
// and tail are free-running counters (they wrap modulo 2^64, which never happens in practice).
// Memory ordering: the producer publishes a slot with a release store of tail_; the consumer
// reads tail_ with acquire before reading the slot, and releases head_ after it is done, which
// the producer acquires before reusing the slot.
//
// Used (later) between the fanotify / evdev reader threads and the engine thread. Not exposed
// to JavaScript.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace sentinel::core {

template <typename T>
class SpscRing {
  static_assert(std::is_nothrow_move_assignable_v<T> || std::is_trivially_copyable_v<T>,
                "SpscRing<T> needs a nothrow-movable T");

 public:
  explicit SpscRing(size_t capacity) {
    size_t cap = 2;
    while (cap < capacity) cap <<= 1;
    mask_ = cap - 1;
    slots_.reset(new T[cap]);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Producer only. False when the ring is full (the caller counts the drop).
  bool push(T v) {
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t - headCache_ > mask_) {
      headCache_ = head_.load(std::memory_order_acquire);
      if (t - headCache_ > mask_) return false;
    }
    slots_[t & mask_] = std::move(v);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. False when the ring is empty.
  bool pop(T& out) {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    if (h == tailCache_) {
      tailCache_ = tail_.load(std::memory_order_acquire);
      if (h == tailCache_) return false;
    }
    out = std::move(slots_[h & mask_]);
    head_.store(h + 1, std::memory_order_release);
    return true;
  }

  // Approximate (exact when called from either side while the other is idle).
  size_t size() const {
    return static_cast<size_t>(tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire));
  }

 private:
  static constexpr size_t kLine = 64;
  alignas(kLine) std::atomic<uint64_t> head_{0};  // written by the consumer
  alignas(kLine) uint64_t tailCache_ = 0;         // consumer's view of tail_
  alignas(kLine) std::atomic<uint64_t> tail_{0};  // written by the producer
  alignas(kLine) uint64_t headCache_ = 0;         // producer's view of head_
  alignas(kLine) size_t mask_ = 0;
  std::unique_ptr<T[]> slots_;
};

}  // namespace sentinel::core

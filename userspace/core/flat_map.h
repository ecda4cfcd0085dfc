// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A hash map in one array (open addressing, linear probing), for the small
// trivially copyable keys and values the aggregator looks up on every
// record. std::unordered_map allocates a node per element and scatters them,
// so under a storm each lookup was a cache miss or two and each insert an
// allocation; here a lookup is one probe into one array, and nothing is
// allocated except when the array grows or shrinks. Pointers into it are
// invalidated by any insert or erase. Pure C++.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/model.h"

namespace treetrace {

// Spreads every input bit over the result (the MurmurHash3 finalizer): the
// table is indexed by the low bits.
constexpr uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// Keys: `empty` is a value no real key takes (PIDs stay below 2^22).
struct PidKeyTraits {
  static constexpr uint32_t empty = UINT32_MAX;
  static uint64_t hash(uint32_t pid) { return mix64(pid); }
};

struct ProcKeyTraits {
  static constexpr ProcKey empty = {UINT32_MAX, UINT64_MAX};
  static uint64_t hash(const ProcKey &k) { return mix64(k.start_ns ^ (uint64_t{k.pid} * 0x9E3779B97F4A7C15ull)); }
};

struct NoValue {};

template <typename K, typename V, typename Traits> class FlatMap {
public:
  struct Slot {
    K key = Traits::empty;
    [[no_unique_address]] V value{};
  };

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  V *find(const K &key) {
    const size_t i = index_of(key);
    return i == npos ? nullptr : &slots_[i].value;
  }
  const V *find(const K &key) const { return const_cast<FlatMap *>(this)->find(key); }
  bool contains(const K &key) const { return index_of(key) != npos; }

  // Inserts (key, value) unless key is there; returns its value and
  // whether it was inserted.
  std::pair<V *, bool> try_emplace(const K &key, const V &value = {}) {
    assert(!(key == Traits::empty) && "the empty key cannot be stored");
    if ((size_ + 1) * 2 > slots_.size())
      rehash(slots_.empty() ? kMinSlots : slots_.size() * 2);
    size_t i = Traits::hash(key) & mask();
    while (!(slots_[i].key == Traits::empty)) {
      if (slots_[i].key == key)
        return {&slots_[i].value, false};
      i = (i + 1) & mask();
    }
    slots_[i].key = key;
    slots_[i].value = value;
    ++size_;
    return {&slots_[i].value, true};
  }

  // For sets: std::unordered_set's spelling.
  std::pair<const K *, bool> insert(const K &key) {
    auto [value, inserted] = try_emplace(key);
    (void)value;
    return {find_key(key), inserted};
  }
  size_t count(const K &key) const { return contains(key) ? 1 : 0; }

  // Every entry, in no particular order: the key for a set, the slot
  // (.key, .value) for a map. Invalidated by inserts and erases.
  class const_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using difference_type = std::ptrdiff_t;
    using value_type = std::conditional_t<std::is_same_v<V, NoValue>, K, Slot>;
    using reference = const value_type &;
    using pointer = const value_type *;
    const_iterator() = default;
    const_iterator(const FlatMap *m, size_t i) : m_(m), i_(i) { skip(); }
    decltype(auto) operator*() const {
      const auto &slot = m_->slots_[i_];
      if constexpr (std::is_same_v<V, NoValue>)
        return (slot.key);
      else
        return (slot);
    }
    const_iterator &operator++() {
      ++i_;
      skip();
      return *this;
    }
    friend bool operator==(const const_iterator &a, const const_iterator &b) { return a.i_ == b.i_; }

  private:
    void skip() {
      while (i_ < m_->slots_.size() && m_->slots_[i_].key == Traits::empty)
        ++i_;
    }
    const FlatMap *m_ = nullptr;
    size_t i_ = 0;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, slots_.size()}; }

  bool erase(const K &key) {
    size_t i = index_of(key);
    if (i == npos)
      return false;
    // Backward shift: pull later entries of the probe run into the hole, so
    // that no tombstones slow later lookups down.
    for (size_t j = (i + 1) & mask(); !(slots_[j].key == Traits::empty); j = (j + 1) & mask()) {
      const size_t home = Traits::hash(slots_[j].key) & mask();
      if (((j - home) & mask()) >= ((j - i) & mask())) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].key = Traits::empty;
    --size_;
    // Give back what a burst made it grow to.
    if (slots_.size() > kMinSlots && size_ * 8 < slots_.size())
      rehash(slots_.size() / 2);
    return true;
  }

private:
  static constexpr size_t kMinSlots = 16;
  static constexpr size_t npos = SIZE_MAX;

  size_t mask() const { return slots_.size() - 1; }

  const K *find_key(const K &key) const {
    const size_t i = index_of(key);
    return i == npos ? nullptr : &slots_[i].key;
  }

  size_t index_of(const K &key) const {
    if (slots_.empty())
      return npos;
    for (size_t i = Traits::hash(key) & mask();; i = (i + 1) & mask()) {
      if (slots_[i].key == key)
        return i;
      if (slots_[i].key == Traits::empty)
        return npos;
    }
  }

  void rehash(size_t slots) {
    std::vector<Slot> old(slots);
    old.swap(slots_);
    for (const Slot &s : old) {
      if (s.key == Traits::empty)
        continue;
      size_t i = Traits::hash(s.key) & mask();
      while (!(slots_[i].key == Traits::empty))
        i = (i + 1) & mask();
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_; // a power of two of them, at most half used
  size_t size_ = 0;
};

template <typename K, typename Traits> using FlatSet = FlatMap<K, NoValue, Traits>;

} // namespace treetrace

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// A bounded FIFO in one vector: once full, the oldest slot is reused for
// the newest element, so elements that own buffers (strings, vectors) keep
// them and a steady stream of pushes allocates nothing. Pure C++.
#pragma once

#include <cstddef>
#include <iterator>
#include <type_traits>
#include <vector>

namespace treetrace {

template <typename T> class Ring {
public:
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

  // A slot for a new newest element: a fresh one while size() < limit,
  // else the oldest, with its old contents still in it for the caller to
  // overwrite. limit > 0.
  T &push(size_t limit) {
    if (items_.size() < limit && oldest_ == 0)
      return items_.emplace_back();
    T &slot = items_[oldest_];
    oldest_ = (oldest_ + 1) % items_.size();
    return slot;
  }

  // Oldest first.
  template <typename Self, typename Ref> class Iter {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::remove_reference_t<Ref> *;
    using reference = Ref;
    Iter() = default;
    Iter(Self *ring, size_t n) : ring_(ring), n_(n) {}
    Ref operator*() const { return ring_->items_[(ring_->oldest_ + n_) % ring_->items_.size()]; }
    pointer operator->() const { return &**this; }
    Iter &operator++() {
      ++n_;
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++n_;
      return old;
    }
    friend bool operator==(const Iter &a, const Iter &b) { return a.n_ == b.n_; }

  private:
    Self *ring_ = nullptr;
    size_t n_ = 0;
  };
  using iterator = Iter<Ring, T &>;
  using const_iterator = Iter<const Ring, const T &>;
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, items_.size()}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, items_.size()}; }

private:
  std::vector<T> items_;
  size_t oldest_ = 0; // index of the oldest element once the ring is full
};

} // namespace treetrace

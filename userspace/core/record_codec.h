// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The item codec of recordings (core/recording.h), shared by the encoder
// and the reader so both walk one field list per record kind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/recording.h"
#include "util/result.h"

namespace treetrace::record_codec {

enum class Tag : uint8_t {
  Meta = 1,
  Event = 2,
  Cgroup = 3,
  Tick = 4,
  Loss = 5,
  Reconcile = 6,
  StartupDone = 7,
  End = 8,
};

// Bounds a reader enforces, so a hostile file cannot make it allocate
// without limit. Generous against what the kernel side produces.
inline constexpr size_t kMaxItemBytes = 1u << 20;
inline constexpr size_t kMaxShortString = 4096; // comm, paths, names
inline constexpr size_t kMaxArgvBytes = 64 * 1024;
inline constexpr size_t kMaxRows = 1u << 20;
// Per-pid delta states kept by both sides; past this both clear, in step.
inline constexpr size_t kMaxDeltaStates = 1u << 16;

struct DeltaTable; // per-pid previous values, mirrored by encoder and decoder

class ItemDecoder {
public:
  ItemDecoder();
  ~ItemDecoder();
  // One item's payload (after its length and tag).
  Result<RecordingItem> decode(Tag tag, std::string_view payload);

private:
  std::unique_ptr<DeltaTable> deltas_;
  uint64_t last_ts_ns_ = 0;
};

// Appends a varint; exposed for the framing code.
void put_varint(std::string &out, uint64_t v);

} // namespace treetrace::record_codec

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The recording: every input the aggregator had during a run, in order,
// so that replaying it through the same Aggregator gives the same figures
// (docs/recording.md describes the format and why it is this way).
//
//   file    := header frame, then zstd frames
//   header  := a zstd skippable frame (zstd tools pass over it) holding
//              "TTREC" NUL, u16 format version, u32 flags, u32 reserved (16 bytes)
//   frame   := one zstd frame (with content checksum) of whole items;
//              an item never spans two frames, and the writer ends a
//              frame at least once a second
//   item    := varint length, tag byte, payload
//
// Events are encoded field by field against the previous record of the
// same kind and pid (core/record_codec.cpp), which is what makes a record
// cost a few bytes; the state carries across frames, so a file is read
// from its start. Pure C++ and libzstd: no libbpf, no kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/aggregator.h"
#include "core/model.h"
#include "util/result.h"

namespace treetrace {

inline constexpr uint16_t kRecordingFormatVersion = 1;

// The first item: what was recorded, where and how.
struct RecordingMeta {
  std::string treetrace_version;
  std::string hostname;
  std::string kernel;
  std::string command; // run-a-command mode; empty for a node trace
  std::string group_by;
  uint64_t start_ns = 0; // CLOCK_BOOTTIME
  int64_t realtime_offset_ns = 0;
  uint64_t interval_ns = 0;
  // The aggregator's configuration, so replay builds the same one.
  uint64_t max_live_procs = 0;
  bool init_children_are_roots = false;
  bool per_process = false;
};

// A cgroup id's path below the cgroup2 mount, written before the first
// record that names the id: replay groups by container, pod, unit or
// cgroup from these, as the live run did from the mount.
struct RecordedCgroup {
  uint64_t id = 0;
  std::string path;
};

// What the live side measured for one row beside the records: PSS and the
// memory cgroup's charge. A row is a tree (root) or a group (name).
struct RecordedRow {
  ProcKey root;
  std::string group;
  std::optional<uint64_t> pss_bytes;
  std::optional<uint64_t> memcg_current_bytes;
  std::optional<uint64_t> memcg_peak_bytes;
  std::optional<uint64_t> memcg_limit_bytes;
};

// An --interval snapshot, or the final report, at now_ns.
struct RecordedTick {
  uint64_t now_ns = 0;
  bool final = false;
  std::optional<ProcKey> only_tree; // final report of one command's tree
  std::vector<RecordedRow> rows;
};

struct RecordedLoss {
  uint64_t now_ns = 0;
  uint64_t attempts = 0, delivered = 0, dropped_kernel = 0, dropped_output = 0, proc_table_full = 0,
           procs_untracked = 0;
};

// Aggregator::reconcile() after lost records, with what the kernel said.
struct RecordedReconcile {
  uint64_t now_ns = 0;
  std::vector<Aggregator::LiveProcess> live;
};

// Aggregator::finish_startup_scan() was called here.
struct RecordedStartupDone {};

// The last item of a recording that ended cleanly.
struct RecordedEnd {
  uint64_t now_ns = 0;
  uint64_t wall_ns = 0;
  std::optional<int> exit_code; // of the command
  std::optional<int> signal;
  std::string stop_reason; // "" (ended as asked), "max-size"
};

using RecordingItem = std::variant<RecordingMeta, Event, RecordedCgroup, RecordedTick, RecordedLoss, RecordedReconcile,
                                   RecordedStartupDone, RecordedEnd>;

// Turns items into the bytes of frames. Stateful: events are encoded
// against the previous record of the same pid, so one encoder writes one
// file, in order.
class RecordingEncoder {
public:
  RecordingEncoder();
  ~RecordingEncoder();
  RecordingEncoder(RecordingEncoder &&) noexcept;
  RecordingEncoder &operator=(RecordingEncoder &&) noexcept;

  // The header frame: the first bytes of the file.
  static std::string header();
  // Appends one item to `out`.
  void encode(const RecordingItem &item, std::string &out);

private:
  struct State;
  std::unique_ptr<State> state_;
};

// Reads a recording from its start. Every failure is one line: a foreign,
// empty, newer, truncated or corrupt file, or a file with data after its
// end. A file that ends at a frame boundary without its end item was cut
// short (the recorder was killed): its items up to there are good.
class RecordingReader {
public:
  using ItemHandler = std::function<void(RecordingItem &&item)>;

  struct Outcome {
    bool ended_cleanly = false; // the end item was read
    std::string cut_note;       // when not: what the reader saw
    uint64_t frames = 0;
    uint64_t items = 0;
    uint64_t events = 0;
    uint64_t compressed_bytes = 0;
  };

  // The whole file from memory (tests, the fuzzer).
  static Result<Outcome> read_buffer(const void *data, size_t size, const ItemHandler &handler);
  // A file (or "-" for stdin), streamed in bounded memory.
  static Result<Outcome> read_file(const std::string &path, const ItemHandler &handler);
};

} // namespace treetrace

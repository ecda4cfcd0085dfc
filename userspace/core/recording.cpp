// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Reading a recording: the header, then zstd frames decompressed one at a
// time; a frame's items are handed out only once the frame has ended and
// its checksum matched, so a cut or damaged tail never yields half a frame.
#include "core/recording.h"

#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "core/record_codec.h"
#include "util/unique_fd.h"

namespace treetrace {
namespace {

using record_codec::Tag;

constexpr size_t kHeaderBytes = 24;
// A frame the writer made holds about a second of items (at most ~1 MiB);
// anything far past that is not ours.
constexpr size_t kMaxFrameContent = 64u << 20;

uint32_t get32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

Result<void> check_header(const uint8_t *p, size_t n) {
  if (n == 0)
    return Error("the file is empty: not a treetrace recording");
  if (n < kHeaderBytes || get32(p) != 0x184D2A5Bu || get32(p + 4) != 16 || memcmp(p + 8, "TTREC", 6) != 0)
    return Error("not a treetrace recording (no recording header)");
  const uint16_t version = static_cast<uint16_t>(p[14] | p[15] << 8);
  if (version > kRecordingFormatVersion)
    return Error("recording format version " + std::to_string(version) + " is newer than this treetrace reads (" +
                 std::to_string(kRecordingFormatVersion) + "): use a newer treetrace");
  if (version == 0)
    return Error("not a treetrace recording (format version 0)");
  return {};
}

// Splits decompressed frame content into items and decodes them.
class FrameParser {
public:
  FrameParser(const RecordingReader::ItemHandler &handler, RecordingReader::Outcome &outcome)
      : handler_(handler), outcome_(outcome) {}

  Result<void> parse(std::string_view content, uint64_t frame_offset) {
    size_t pos = 0;
    while (pos < content.size()) {
      uint64_t len = 0;
      int shift = 0;
      for (;;) {
        if (pos >= content.size() || shift > 28)
          return Error(where(frame_offset) + "an item's length is cut or malformed");
        const uint8_t b = static_cast<uint8_t>(content[pos++]);
        len |= static_cast<uint64_t>(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
          break;
      }
      if (len == 0 || len > record_codec::kMaxItemBytes || len > content.size() - pos)
        return Error(where(frame_offset) + "an item's length is out of bounds");
      const auto tag = static_cast<Tag>(static_cast<uint8_t>(content[pos]));
      if (ended_)
        return Error(where(frame_offset) + "items follow the end of the recording");
      if (outcome_.items == 0 && tag != Tag::Meta)
        return Error("the recording does not start with its description");
      if (outcome_.items > 0 && tag == Tag::Meta)
        return Error(where(frame_offset) + "a second recording description");
      auto item = decoder_.decode(tag, content.substr(pos + 1, len - 1));
      if (!item)
        return Error(where(frame_offset) + item.error());
      pos += len;
      outcome_.items++;
      if (std::holds_alternative<Event>(*item))
        outcome_.events++;
      if (std::holds_alternative<RecordedEnd>(*item))
        ended_ = true;
      handler_(std::move(*item));
    }
    return {};
  }
  bool ended() const { return ended_; }

private:
  static std::string where(uint64_t offset) { return "frame at byte " + std::to_string(offset) + ": "; }

  const RecordingReader::ItemHandler &handler_;
  RecordingReader::Outcome &outcome_;
  record_codec::ItemDecoder decoder_;
  bool ended_ = false;
};

// Feeds compressed bytes, one chunk at a time, through one decompression
// stream; delivers each frame's content when the frame ends.
class FrameReader {
public:
  FrameReader(const RecordingReader::ItemHandler &handler, RecordingReader::Outcome &outcome)
      : parser_(handler, outcome), outcome_(outcome), dctx_(ZSTD_createDCtx()) {
    out_.resize(ZSTD_DStreamOutSize());
  }
  ~FrameReader() { ZSTD_freeDCtx(dctx_); }
  FrameReader(const FrameReader &) = delete;
  FrameReader &operator=(const FrameReader &) = delete;

  Result<void> feed(const uint8_t *data, size_t size) {
    ZSTD_inBuffer in{data, size, 0};
    while (in.pos < in.size) {
      if (!in_frame_) {
        in_frame_ = true;
        frame_offset_ = offset_ + in.pos;
        content_.clear();
      }
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      const size_t before = in.pos;
      const size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
      if (ZSTD_isError(ret))
        return Error("frame at byte " + std::to_string(frame_offset_) + " is corrupt: " + ZSTD_getErrorName(ret));
      content_.append(out_.data(), out.pos);
      if (content_.size() > kMaxFrameContent)
        return Error("frame at byte " + std::to_string(frame_offset_) + " is larger than any recorder writes");
      if (ret == 0) { // the frame ended and its checksum matched
        in_frame_ = false;
        outcome_.frames++;
        if (auto r = parser_.parse(content_, frame_offset_); !r)
          return r;
      } else if (in.pos == before && out.pos == 0) {
        break; // needs more input
      }
    }
    offset_ += size;
    return {};
  }
  bool in_frame() const { return in_frame_; }
  bool ended() const { return parser_.ended(); }
  uint64_t frame_offset() const { return frame_offset_; }

private:
  FrameParser parser_;
  RecordingReader::Outcome &outcome_;
  ZSTD_DCtx *dctx_;
  std::string out_;
  std::string content_;
  bool in_frame_ = false;
  uint64_t offset_ = kHeaderBytes;
  uint64_t frame_offset_ = 0;
};

Result<RecordingReader::Outcome> conclude(FrameReader &frames, RecordingReader::Outcome &outcome) {
  if (outcome.items == 0 && !frames.in_frame())
    return Error("the recording holds no data (it stopped before its first frame)");
  if (outcome.items == 0)
    return Error("the recording's first frame is cut short: nothing to report");
  if (frames.ended()) {
    outcome.ended_cleanly = true;
    if (frames.in_frame())
      return Error("data after the end of the recording");
    return outcome;
  }
  outcome.cut_note = frames.in_frame()
                         ? "cut short: its last frame (at byte " + std::to_string(frames.frame_offset()) +
                               ") is incomplete, so the report ends at the frame before"
                         : "cut short: it ends after a whole frame but without its end (the recorder was killed "
                           "or its disk filled)";
  return outcome;
}

} // namespace

Result<RecordingReader::Outcome> RecordingReader::read_buffer(const void *data, size_t size,
                                                              const ItemHandler &handler) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  if (auto h = check_header(bytes, size); !h)
    return Error(h.error());
  Outcome outcome;
  outcome.compressed_bytes = size;
  FrameReader frames(handler, outcome);
  if (auto r = frames.feed(bytes + kHeaderBytes, size - kHeaderBytes); !r)
    return Error(r.error());
  return conclude(frames, outcome);
}

Result<RecordingReader::Outcome> RecordingReader::read_file(const std::string &path, const ItemHandler &handler) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (path != "-") {
    owned = UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (owned.get() < 0)
      return Error(path + ": " + strerror(errno));
    fd = owned.get();
  }
  std::string chunk(1 << 16, '\0');
  auto read_some = [&](char *buf, size_t n) -> ssize_t {
    for (;;) {
      const ssize_t got = read(fd, buf, n);
      if (got < 0 && errno == EINTR)
        continue;
      return got;
    }
  };
  // The header, read whole (a pipe may deliver it in pieces).
  size_t have = 0;
  while (have < kHeaderBytes) {
    const ssize_t got = read_some(chunk.data() + have, kHeaderBytes - have);
    if (got < 0)
      return Error(path + ": " + strerror(errno));
    if (got == 0)
      break;
    have += static_cast<size_t>(got);
  }
  if (auto h = check_header(reinterpret_cast<const uint8_t *>(chunk.data()), have); !h)
    return Error(path + ": " + h.error());
  Outcome outcome;
  outcome.compressed_bytes = have;
  FrameReader frames(handler, outcome);
  for (;;) {
    const ssize_t got = read_some(chunk.data(), chunk.size());
    if (got < 0)
      return Error(path + ": " + strerror(errno));
    if (got == 0)
      break;
    outcome.compressed_bytes += static_cast<uint64_t>(got);
    if (auto r = frames.feed(reinterpret_cast<const uint8_t *>(chunk.data()), static_cast<size_t>(got)); !r)
      return Error(path + ": " + r.error());
  }
  auto done = conclude(frames, outcome);
  if (!done)
    return Error(path + ": " + done.error());
  return done;
}

} // namespace treetrace

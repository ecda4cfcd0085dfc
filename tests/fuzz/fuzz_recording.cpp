// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The recording reader fed arbitrary files: it must end every input with
// items or one error, never crash, hang or allocate without bound. What it
// reads must encode again to items that read back the same way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <zstd.h>

#include "core/recording.h"

using namespace treetrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<RecordingItem> items;
  auto outcome = RecordingReader::read_buffer(data, size, [&](RecordingItem &&item) {
    if (items.size() < 4096)
      items.push_back(std::move(item));
  });
  if (!outcome || items.size() >= 4096)
    return 0;
  // Round trip: encode what was read, in one frame, and read it again.
  RecordingEncoder encoder;
  std::string content;
  for (const RecordingItem &item : items)
    encoder.encode(item, content);
  std::string file = RecordingEncoder::header();
  std::string frame(ZSTD_compressBound(content.size()), '\0');
  const size_t n = ZSTD_compress(frame.data(), frame.size(), content.data(), content.size(), 1);
  if (ZSTD_isError(n))
    __builtin_trap();
  file.append(frame.data(), n);
  size_t again = 0;
  auto second = RecordingReader::read_buffer(file.data(), file.size(), [&](RecordingItem &&) { again++; });
  if (!second || again != items.size())
    __builtin_trap();
  return 0;
}

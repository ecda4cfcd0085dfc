// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The event decoder reads bytes the kernel wrote, but must survive any
// bytes: a corrupt or truncated record must be refused, never read past.
// Every decoded event must also render to JSON that a strict parser takes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/decode.h"
#include "output/render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A private copy of exactly `size` bytes, so ASan sees any overread.
  std::vector<uint8_t> record(data, data + size);
  treetrace::DecodeResult r = treetrace::decode_event(record.data(), record.size());
  if (!r.event)
    return 0;
  treetrace::RenderContext ctx;
  ctx.format = treetrace::OutputFormat::Json;
  const std::string line = treetrace::render_event(*r.event, {}, ctx);
  if (line.empty() || line.back() != '\n' || !nlohmann::json::accept(line.substr(0, line.size() - 1)))
    abort();
  ctx.format = treetrace::OutputFormat::Text;
  if (treetrace::render_event(*r.event, {}, ctx).empty())
    abort();
  return 0;
}

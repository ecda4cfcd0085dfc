// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Turns raw ring-buffer bytes into model events. Pure C++: no libbpf.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/model.h"

namespace treetrace {

enum class DecodeError { TooShort, UnknownKind, SizeMismatch };

struct DecodeResult {
  std::optional<Event> event;
  DecodeError error = DecodeError::TooShort; // meaningful only when !event
};

// `data` points at one ring buffer record of `size` bytes. Never reads past
// `size`; strings are cut at the first NUL or at their fixed field length.
DecodeResult decode_event(const void *data, size_t size);

const char *to_string(DecodeError e);

} // namespace treetrace

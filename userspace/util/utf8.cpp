// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/utf8.h"

namespace treetrace {

int utf8_sequence(const unsigned char *p, const unsigned char *end) {
  unsigned char c = p[0];
  int need;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c == 0xe0) {
    need = 2;
    lo = 0xa0; // shorter forms are overlong
  } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
    need = 2;
  } else if (c == 0xed) {
    need = 2;
    hi = 0x9f; // ED A0..BF are the surrogates D800..DFFF
  } else if (c == 0xf0) {
    need = 3;
    lo = 0x90; // shorter forms are overlong
  } else if (c >= 0xf1 && c <= 0xf3) {
    need = 3;
  } else if (c == 0xf4) {
    need = 3;
    hi = 0x8f; // beyond is above U+10FFFF
  } else {
    return -1; // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  for (int k = 1; k <= need; ++k) {
    if (end - p <= k || p[k] < lo || p[k] > hi)
      return -k;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

std::string sanitize_utf8(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  const auto *p = reinterpret_cast<const unsigned char *>(raw.data());
  const auto *end = p + raw.size();
  while (p < end) {
    if (*p < 0x80) {
      out.push_back(static_cast<char>(*p++));
      continue;
    }
    const int n = utf8_sequence(p, end);
    if (n > 0) {
      out.append(reinterpret_cast<const char *>(p), static_cast<size_t>(n));
      p += n;
    } else {
      out += kUtf8Replacement;
      p += -n; // the bytes that could not start or continue a sequence
    }
  }
  return out;
}

} // namespace treetrace

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// libFuzzer harness for the /proc/self/mountinfo parser.
#include "util/cgroup.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace treetrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  if (auto mount = find_cgroup2_mount(text)) {
    // Unescaping only shrinks, and a found mount point is never empty.
    if (mount->empty() || mount->size() > size)
      std::abort();
    if (text.find("cgroup2") == std::string_view::npos)
      std::abort();
  }
  return 0;
}

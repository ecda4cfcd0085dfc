// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// libFuzzer harness for every /proc text parser.
#include "util/proc_parse.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace treetrace;

namespace {

void check(bool ok, const char *what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);

  if (auto st = parse_proc_stat(text)) {
    // The comm is copied verbatim from between "(" and the last ")".
    std::string wrapped = "(" + st->comm + ")";
    check(text.find(wrapped) != std::string_view::npos, "stat comm not found in input");
    check(text.rfind(')') == text.find(wrapped) + wrapped.size() - 1, "stat comm does not end at the last ')'");
    check(st->pid >= 0, "negative pid");
  }

  ProcStatus status = parse_proc_status(text);
  for (const auto *v : {&status.vm_hwm_bytes, &status.vm_rss_bytes, &status.rss_anon_bytes, &status.rss_file_bytes,
                        &status.rss_shmem_bytes})
    check(!*v || **v % 1024 == 0, "status size not a multiple of 1 KiB");

  if (auto r = parse_smaps_rollup(text)) {
    check(r->rss_bytes % 1024 == 0 && r->pss_bytes % 1024 == 0, "smaps size not in KiB");
  }

  // First byte picks the limit so truncation is exercised too.
  size_t max_bytes = size == 0 ? 0 : data[0] % 64 + (data[0] & 0x80 ? size : 0);
  Cmdline cmd = parse_cmdline(text, max_bytes);
  check(cmd.truncated == (size > max_bytes), "cmdline truncated flag wrong");
  size_t total = 0;
  for (const auto &a : cmd.args) {
    check(a.find('\0') == std::string::npos, "cmdline argument holds a NUL");
    total += a.size();
  }
  check(total <= std::min(size, max_bytes), "cmdline arguments longer than the input");
  return 0;
}

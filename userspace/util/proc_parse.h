// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Parsers for /proc/PID text files, and thin readers for them.
//
// The parsers are pure functions of the file contents (fuzzed in
// tests/fuzz/fuzz_proc_parse.cpp). They never throw; malformed input gives
// nullopt. Readers return nullopt when the process is gone (ENOENT, ESRCH)
// or the file cannot be read: a process may exit at any moment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace treetrace {

// /proc/PID/stat, fields as numbered in proc(5).
struct ProcStat {
  int32_t pid = 0;          // (1)
  std::string comm;         // (2) without the parentheses; may hold ')', ' ', '\n'
  char state = 0;           // (3)
  int32_t ppid = 0;         // (4)
  uint64_t minflt = 0;      // (10)
  uint64_t majflt = 0;      // (12)
  uint64_t utime = 0;       // (14) clock ticks
  uint64_t stime = 0;       // (15) clock ticks
  int64_t num_threads = 0;  // (20)
  uint64_t starttime = 0;   // (22) clock ticks after boot
  uint64_t vsize_bytes = 0; // (23)
  int64_t rss_pages = 0;    // (24)
};

// The comm ends at the last ')' in the text: no later field can hold one.
// Needs at least fields 1..24; later fields are ignored.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// /proc/PID/status. A field the kernel did not print is nullopt.
struct ProcStatus {
  std::optional<uint64_t> vm_hwm_bytes;
  std::optional<uint64_t> vm_rss_bytes;
  std::optional<uint64_t> rss_anon_bytes;
  std::optional<uint64_t> rss_file_bytes;
  std::optional<uint64_t> rss_shmem_bytes;
  std::optional<int32_t> tgid;
  std::optional<int32_t> ppid;
  std::vector<int32_t> nspid; // outermost namespace first; empty if absent
  std::optional<uint32_t> threads;
};

// Never fails as a whole: unparsable or missing lines leave fields unset.
ProcStatus parse_proc_status(std::string_view text);

// /proc/PID/smaps_rollup (Linux 4.14+; Pss_* lines 5.7+).
struct SmapsRollup {
  uint64_t rss_bytes = 0;
  uint64_t pss_bytes = 0;
  std::optional<uint64_t> pss_anon_bytes;
  std::optional<uint64_t> pss_file_bytes;
  std::optional<uint64_t> pss_shmem_bytes;
};

// nullopt unless both Rss and Pss are present. The file is empty for
// kernel threads and zombies.
std::optional<SmapsRollup> parse_smaps_rollup(std::string_view text);

// /proc/PID/cmdline: NUL-separated arguments.
struct Cmdline {
  std::vector<std::string> args;
  bool truncated = false; // data was longer than max_bytes
};

// Splits at most max_bytes of data. A final NUL ends the last argument
// rather than starting an empty one; empty arguments in between are kept.
// To detect truncation, read max_bytes + 1 bytes and pass max_bytes.
Cmdline parse_cmdline(std::string_view data, size_t max_bytes);

// Reads at most max_bytes of /proc/PID/NAME with open/read. Returns
// nullopt on any failure (pid <= 0, process gone, permission denied, ...);
// the errno is stored in *error when error is non-null (0 on success).
std::optional<std::string> read_proc_file(int pid, const char *name, size_t max_bytes, int *error = nullptr);

// Any small text file (/proc/cgroups, mountinfo), read to its end or max_bytes.
std::optional<std::string> read_text_file(const char *path, size_t max_bytes = 1 << 20, int *error = nullptr);
std::optional<ProcStat> read_proc_stat(int pid);
std::optional<ProcStatus> read_proc_status(int pid);
std::optional<SmapsRollup> read_smaps_rollup(int pid);
std::optional<Cmdline> read_cmdline(int pid, size_t max_bytes);

} // namespace treetrace

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/proc_parse.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fcntl.h>
#include <limits>
#include <unistd.h>

namespace treetrace {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// The whole of `s` must be the number: no sign for unsigned types, no
// whitespace, no trailing junk.
template <class T> std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size())
    return std::nullopt;
  return v;
}

// "   1234 kB" -> bytes.
std::optional<uint64_t> parse_kb(std::string_view s) {
  s = trim(s);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
    ++digits;
  auto kb = parse_number<uint64_t>(s.substr(0, digits));
  if (!kb || trim(s.substr(digits)) != "kB")
    return std::nullopt;
  if (*kb > std::numeric_limits<uint64_t>::max() / 1024)
    return std::nullopt;
  return *kb * 1024;
}

// Calls fn(key, value) for each "Key: value" line.
template <class Fn> void for_each_key_value(std::string_view text, Fn &&fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      fn(line.substr(0, colon), line.substr(colon + 1));
  }
}

// The first occurrence of a key wins.
template <class T> void set_once(std::optional<T> &field, std::optional<T> v) {
  if (!field)
    field = v;
}

} // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  size_t space = text.find(' ');
  if (space == std::string_view::npos || space + 1 >= text.size() || text[space + 1] != '(')
    return std::nullopt;
  // A comm may contain ") R 1 (": only the last ')' closes it, since no
  // field after it can contain one.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos || close < space + 1)
    return std::nullopt;

  ProcStat st;
  auto pid = parse_number<int32_t>(text.substr(0, space));
  if (!pid || *pid < 0)
    return std::nullopt;
  st.pid = *pid;
  st.comm.assign(text.substr(space + 2, close - space - 2));

  std::string_view rest = text.substr(close + 1);
  if (rest.empty() || rest.front() != ' ')
    return std::nullopt;
  rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' '))
    rest.remove_suffix(1);

  // fields[i] is field i + 3 of proc(5); fields are single-space separated.
  constexpr size_t kNeeded = 24 - 2;
  std::array<std::string_view, kNeeded> fields;
  size_t n = 0;
  while (n < kNeeded && !rest.empty()) {
    size_t sp = rest.find(' ');
    fields[n++] = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  }
  if (n < kNeeded)
    return std::nullopt;
  auto field = [&](int number) { return fields[static_cast<size_t>(number - 3)]; };

  if (field(3).size() != 1)
    return std::nullopt;
  // Fields we do not keep must still be integers, or the line is not what
  // we think it is (e.g. an empty field would shift all the others).
  for (int number = 4; number <= 24; ++number) {
    std::string_view f = field(number);
    if (!f.empty() && f.front() == '-')
      f.remove_prefix(1);
    if (f.empty() || f.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
  }
  st.state = field(3)[0];
  auto ppid = parse_number<int32_t>(field(4));
  auto minflt = parse_number<uint64_t>(field(10));
  auto majflt = parse_number<uint64_t>(field(12));
  auto utime = parse_number<uint64_t>(field(14));
  auto stime = parse_number<uint64_t>(field(15));
  auto num_threads = parse_number<int64_t>(field(20));
  auto starttime = parse_number<uint64_t>(field(22));
  auto vsize = parse_number<uint64_t>(field(23));
  auto rss = parse_number<int64_t>(field(24));
  if (!ppid || !minflt || !majflt || !utime || !stime || !num_threads || !starttime || !vsize || !rss)
    return std::nullopt;
  st.ppid = *ppid;
  st.minflt = *minflt;
  st.majflt = *majflt;
  st.utime = *utime;
  st.stime = *stime;
  st.num_threads = *num_threads;
  st.starttime = *starttime;
  st.vsize_bytes = *vsize;
  st.rss_pages = *rss;
  return st;
}

ProcStatus parse_proc_status(std::string_view text) {
  ProcStatus st;
  bool nspid_seen = false;
  for_each_key_value(text, [&](std::string_view key, std::string_view value) {
    if (key == "VmHWM") {
      set_once(st.vm_hwm_bytes, parse_kb(value));
    } else if (key == "VmRSS") {
      set_once(st.vm_rss_bytes, parse_kb(value));
    } else if (key == "RssAnon") {
      set_once(st.rss_anon_bytes, parse_kb(value));
    } else if (key == "RssFile") {
      set_once(st.rss_file_bytes, parse_kb(value));
    } else if (key == "RssShmem") {
      set_once(st.rss_shmem_bytes, parse_kb(value));
    } else if (key == "Tgid") {
      set_once(st.tgid, parse_number<int32_t>(trim(value)));
    } else if (key == "PPid") {
      set_once(st.ppid, parse_number<int32_t>(trim(value)));
    } else if (key == "Threads") {
      set_once(st.threads, parse_number<uint32_t>(trim(value)));
    } else if (key == "NSpid" && !nspid_seen) {
      nspid_seen = true;
      std::string_view rest = trim(value);
      while (!rest.empty()) {
        size_t sep = rest.find_first_of(" \t");
        auto v = parse_number<int32_t>(rest.substr(0, sep));
        if (!v) {
          st.nspid.clear(); // all or nothing: a partial list would mislead
          return;
        }
        st.nspid.push_back(*v);
        rest = sep == std::string_view::npos ? std::string_view() : trim(rest.substr(sep));
      }
    }
  });
  return st;
}

std::optional<SmapsRollup> parse_smaps_rollup(std::string_view text) {
  std::optional<uint64_t> rss, pss, pss_anon, pss_file, pss_shmem;
  for_each_key_value(text, [&](std::string_view key, std::string_view value) {
    if (key == "Rss")
      set_once(rss, parse_kb(value));
    else if (key == "Pss")
      set_once(pss, parse_kb(value));
    else if (key == "Pss_Anon")
      set_once(pss_anon, parse_kb(value));
    else if (key == "Pss_File")
      set_once(pss_file, parse_kb(value));
    else if (key == "Pss_Shmem")
      set_once(pss_shmem, parse_kb(value));
  });
  if (!rss || !pss)
    return std::nullopt;
  return SmapsRollup{*rss, *pss, pss_anon, pss_file, pss_shmem};
}

Cmdline parse_cmdline(std::string_view data, size_t max_bytes) {
  Cmdline out;
  if (data.size() > max_bytes) {
    out.truncated = true;
    data = data.substr(0, max_bytes);
  }
  size_t start = 0;
  while (start < data.size()) {
    size_t nul = data.find('\0', start);
    if (nul == std::string_view::npos) {
      // No final NUL: truncated, or a process that rewrote its argv.
      out.args.emplace_back(data.substr(start));
      break;
    }
    out.args.emplace_back(data.substr(start, nul - start));
    start = nul + 1;
  }
  return out;
}

std::optional<std::string> read_proc_file(int pid, const char *name, size_t max_bytes, int *error) {
  if (pid <= 0 || name == nullptr) {
    if (error)
      *error = EINVAL;
    return std::nullopt;
  }
  char path[128];
  int len = std::snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
  if (len < 0 || static_cast<size_t>(len) >= sizeof(path)) {
    if (error)
      *error = ENAMETOOLONG;
    return std::nullopt;
  }
  return read_text_file(path, max_bytes, error);
}

std::optional<std::string> read_text_file(const char *path, size_t max_bytes, int *error) {
  auto fail = [&](int err) -> std::optional<std::string> {
    if (error)
      *error = err;
    return std::nullopt;
  };
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(errno);
  std::string data;
  size_t used = 0;
  int err = 0;
  // /proc files report size 0, so read until EOF in page-sized steps.
  constexpr size_t kChunk = 4096;
  while (used < max_bytes) {
    size_t want = std::min(kChunk, max_bytes - used);
    data.resize(used + want);
    ssize_t n = ::read(fd, data.data() + used, want);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno; // ESRCH when the process went away after open()
      break;
    }
    if (n == 0)
      break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  if (err != 0)
    return fail(err);
  data.resize(used);
  if (error)
    *error = 0;
  return data;
}

std::optional<ProcStat> read_proc_stat(int pid) {
  auto text = read_proc_file(pid, "stat", 4096);
  if (!text)
    return std::nullopt;
  return parse_proc_stat(*text);
}

std::optional<ProcStatus> read_proc_status(int pid) {
  auto text = read_proc_file(pid, "status", 16384);
  if (!text || text->empty())
    return std::nullopt;
  return parse_proc_status(*text);
}

std::optional<SmapsRollup> read_smaps_rollup(int pid) {
  auto text = read_proc_file(pid, "smaps_rollup", 8192);
  if (!text)
    return std::nullopt;
  return parse_smaps_rollup(*text);
}

std::optional<Cmdline> read_cmdline(int pid, size_t max_bytes) {
  size_t limit = max_bytes == std::numeric_limits<size_t>::max() ? max_bytes : max_bytes + 1;
  auto data = read_proc_file(pid, "cmdline", limit);
  if (!data)
    return std::nullopt;
  return parse_cmdline(*data, max_bytes);
}

} // namespace treetrace

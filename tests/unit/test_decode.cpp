// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Decoding of raw ring buffer records (include/treetrace/events.h) into
// model events.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/decode.h"
#include "treetrace/events.h"

namespace treetrace {
namespace {

template <size_t N> void put_string(char (&field)[N], std::string_view s) {
  ASSERT_LE(s.size(), N);
  std::memset(field, 0, N);
  std::memcpy(field, s.data(), s.size());
}

tt_event_header raw_header(uint32_t kind) {
  tt_event_header h{};
  h.kind = kind;
  h.pid = 4242;
  h.ts_ns = 1'000'000'123;
  h.start_ns = 999'000'000;
  h.cgroup_id = 77;
  h.ppid = 4000;
  h.ns_pid = 12;
  put_string(h.comm, "make");
  return h;
}

// Records are copied to an odd offset: the decoder must not assume alignment
// (UBSan flags a misaligned load in a sanitizer build).
template <typename Raw> DecodeResult decode_unaligned(const Raw &raw, size_t size = sizeof(Raw)) {
  std::vector<unsigned char> buffer(size + 1, 0xab);
  std::memcpy(buffer.data() + 1, &raw, std::min(size, sizeof raw));
  return decode_event(buffer.data() + 1, size);
}

DecodeResult decode_unaligned_bytes(const std::vector<char> &bytes) {
  std::vector<unsigned char> buffer(bytes.size() + 1, 0xab);
  std::memcpy(buffer.data() + 1, bytes.data(), bytes.size());
  return decode_event(buffer.data() + 1, bytes.size());
}

template <typename Model, typename Raw> Model decode_as(const Raw &raw) {
  DecodeResult result = decode_unaligned(raw);
  if (!result.event)
    ADD_FAILURE() << "decode failed: " << to_string(result.error);
  else if (!std::holds_alternative<Model>(*result.event))
    ADD_FAILURE() << "decoded to the wrong kind, index " << result.event->index();
  else
    return std::get<Model>(*result.event);
  return {};
}

tt_exec_event raw_exec(std::string_view argv_bytes) {
  tt_exec_event raw{};
  raw.hdr = raw_header(TT_EVENT_EXEC);
  raw.argv_len = static_cast<uint32_t>(argv_bytes.size());
  std::memcpy(raw.argv, argv_bytes.data(), argv_bytes.size());
  return raw;
}

tt_sample_event raw_sample(uint64_t cpu_ns, uint64_t utime_ns, uint64_t stime_ns) {
  tt_sample_event raw{};
  raw.hdr = raw_header(TT_EVENT_SAMPLE);
  raw.counters.cpu_ns = cpu_ns;
  raw.counters.utime_ns = utime_ns;
  raw.counters.stime_ns = stime_ns;
  return raw;
}

tt_exit_event raw_exit(uint32_t wait_status) {
  tt_exit_event raw{};
  raw.hdr = raw_header(TT_EVENT_EXIT);
  raw.wait_status = wait_status;
  return raw;
}

TEST(Decode, HeaderFields) {
  tt_sample_event raw = raw_sample(0, 0, 0);
  const EventHeader hdr = decode_as<SampleEvent>(raw).hdr;
  EXPECT_EQ(hdr.ts_ns, 1'000'000'123u);
  EXPECT_EQ(hdr.proc, (ProcKey{4242, 999'000'000}));
  EXPECT_EQ(hdr.ppid, 4000u);
  EXPECT_EQ(hdr.ns_pid, 12u);
  EXPECT_EQ(hdr.cgroup_id, 77u);
  EXPECT_EQ(hdr.comm, "make");
}

TEST(Decode, Fork) {
  tt_fork_event raw{};
  raw.hdr = raw_header(TT_EVENT_FORK);
  raw.child_pid = 4300;
  raw.child_ns_pid = 13;
  raw.child_start_ns = 1'000'000'100;
  const ForkEvent ev = decode_as<ForkEvent>(raw);
  EXPECT_EQ(ev.hdr.proc.pid, 4242u);
  EXPECT_EQ(ev.child, (ProcKey{4300, 1'000'000'100}));
  EXPECT_EQ(ev.child_ns_pid, 13u);
}

TEST(Decode, Exec) {
  tt_exec_event raw = raw_exec(std::string_view("cc\0-c\0x.c\0", 10));
  put_string(raw.hdr.comm, "cc");
  put_string(raw.old_comm, "make");
  put_string(raw.filename, "/usr/bin/cc");
  raw.exec_tid = 4243;
  raw.argv_truncated = 1;
  raw.filename_truncated = 0;
  const ExecEvent ev = decode_as<ExecEvent>(raw);
  EXPECT_EQ(ev.hdr.comm, "cc");
  EXPECT_EQ(ev.old_comm, "make");
  EXPECT_EQ(ev.filename, "/usr/bin/cc");
  EXPECT_FALSE(ev.filename_truncated);
  EXPECT_EQ(ev.exec_tid, 4243u);
  EXPECT_TRUE(ev.argv_truncated);
  EXPECT_EQ(ev.argv, (std::vector<std::string>{"cc", "-c", "x.c"}));
}

TEST(Decode, ExistingEvent) {
  tt_existing_event raw{};
  raw.hdr = raw_header(TT_EVENT_EXISTING);
  raw.nr_threads = 9;
  raw.is_kernel_thread = 1;
  const ExistingEvent ev = decode_as<ExistingEvent>(raw);
  EXPECT_EQ(ev.nr_threads, 9u);
  EXPECT_TRUE(ev.kernel_thread);
}

TEST(Decode, SampleCountersConvertUnits) {
  tt_sample_event raw = raw_sample(3'000, 1, 2);
  raw.counters.rss_bytes = 10;
  raw.counters.rss_anon_bytes = 4;
  raw.counters.rss_file_bytes = 5;
  raw.counters.rss_shmem_bytes = 1;
  raw.counters.rss_peak_bytes = 12;
  raw.counters.rss_peak_sampled_bytes = 11;
  raw.counters.rss_integral_kib_us = 3;  // 3 KiB*us = 3 * 1024 * 1000 byte*ns
  raw.counters.rss_integral_span_us = 7; // 7000 ns
  const ProcCounters c = decode_as<SampleEvent>(raw).counters;
  EXPECT_EQ(c.cpu_ns, 3'000u);
  EXPECT_EQ(c.cpu_user_ns, 1'000u);
  EXPECT_EQ(c.cpu_sys_ns, 2'000u);
  EXPECT_EQ(c.rss_bytes, 10u);
  EXPECT_EQ(c.rss_anon_bytes, 4u);
  EXPECT_EQ(c.rss_file_bytes, 5u);
  EXPECT_EQ(c.rss_shmem_bytes, 1u);
  EXPECT_EQ(c.rss_peak_bytes, 12u);
  EXPECT_EQ(c.rss_peak_sampled_bytes, 11u);
  EXPECT_DOUBLE_EQ(c.rss_integral_byte_ns, 3.0 * 1024 * 1000);
  EXPECT_EQ(c.rss_integral_span_ns, 7'000u);
}

TEST(Decode, CpuSplitAddsUpExactly) {
  constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
  struct Case {
    uint64_t cpu, utime, stime, expected_user;
  };
  const Case cases[] = {
      {1'000, 1, 3, 250},
      {1'000, 0, 0, 1'000}, // no tick yet: all user
      {1'000, 0, 5, 0},
      {1'000, 5, 0, 1'000},
      {10, 1, 2, 3},            // 3.33 rounds down, sys takes the rest
      {max, max, max, max / 2}, // products and the tick sum overflow 64 bits
      {max - 1, max / 3, max - max / 3, (max - 1) / 3},
      {60'000'000'000'000, 7'000'000'000'000, 3'000'000'000'000, 42'000'000'000'000},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(testing::Message() << c.cpu << " " << c.utime << " " << c.stime);
    const ProcCounters counters = decode_as<SampleEvent>(raw_sample(c.cpu, c.utime, c.stime)).counters;
    EXPECT_EQ(counters.cpu_user_ns, c.expected_user);
    EXPECT_EQ(counters.cpu_user_ns + counters.cpu_sys_ns, c.cpu);
  }
}

TEST(Decode, ExitStatus) {
  struct Case {
    uint32_t status;
    int exit_code, signal;
    bool core;
  };
  const Case cases[] = {
      {0x0000, 0, 0, false},   // exit(0)
      {0x0300, 3, 0, false},   // exit(3)
      {0xff00, 255, 0, false}, // exit(255)
      {0x0009, 0, 9, false},   // SIGKILL
      {0x008b, 0, 11, true},   // SIGSEGV with core
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(testing::Message() << std::hex << c.status);
    const ExitEvent ev = decode_as<ExitEvent>(raw_exit(c.status));
    EXPECT_EQ(ev.wait_status, c.status);
    EXPECT_EQ(ev.exit_code, c.exit_code);
    EXPECT_EQ(ev.signal, c.signal);
    EXPECT_EQ(ev.core_dumped, c.core);
  }
}

TEST(Decode, ExitCountersAndMemSource) {
  tt_exit_event raw = raw_exit(0);
  raw.counters.cpu_ns = 500;
  raw.counters.utime_ns = 1;
  raw.counters.rss_bytes = 4096;
  raw.minflt = 1;
  raw.majflt = 2;
  raw.nvcsw = 3;
  raw.nivcsw = 4;
  raw.mem_source = TT_EXIT_MEM_LAST_SAMPLE;
  ExitEvent ev = decode_as<ExitEvent>(raw);
  EXPECT_EQ(ev.counters.cpu_ns, 500u);
  EXPECT_EQ(ev.counters.cpu_user_ns, 500u);
  EXPECT_EQ(ev.counters.rss_bytes, 4096u);
  EXPECT_EQ(ev.activity.minflt, 1u);
  EXPECT_EQ(ev.activity.majflt, 2u);
  EXPECT_EQ(ev.activity.nvcsw, 3u);
  EXPECT_EQ(ev.activity.nivcsw, 4u);
  EXPECT_EQ(ev.mem_source, ExitMemSource::LastSample);

  raw.mem_source = TT_EXIT_MEM_AT_EXIT;
  EXPECT_EQ(decode_as<ExitEvent>(raw).mem_source, ExitMemSource::AtExit);
  raw.mem_source = TT_EXIT_MEM_NONE;
  EXPECT_EQ(decode_as<ExitEvent>(raw).mem_source, ExitMemSource::None);
  raw.mem_source = 17; // from a newer BPF object
  EXPECT_EQ(decode_as<ExitEvent>(raw).mem_source, ExitMemSource::None);
}

TEST(Decode, StringsFillingTheirFieldHaveNoNul) {
  tt_exec_event raw = raw_exec("");
  std::memset(raw.hdr.comm, 'c', sizeof raw.hdr.comm);
  std::memset(raw.old_comm, 'o', sizeof raw.old_comm);
  std::memset(raw.filename, 'f', sizeof raw.filename);
  raw.filename_truncated = 1;
  const ExecEvent ev = decode_as<ExecEvent>(raw);
  EXPECT_EQ(ev.hdr.comm, std::string(TT_COMM_LEN, 'c'));
  EXPECT_EQ(ev.old_comm, std::string(TT_COMM_LEN, 'o'));
  EXPECT_EQ(ev.filename, std::string(TT_FILENAME_LEN, 'f'));
  EXPECT_TRUE(ev.filename_truncated);
}

TEST(Decode, StringsKeepRawBytes) {
  tt_sample_event raw = raw_sample(0, 0, 0);
  put_string(raw.hdr.comm, "a\xff\xfe\x62"); // not UTF-8
  EXPECT_EQ(decode_as<SampleEvent>(raw).hdr.comm, "a\xff\xfe\x62");
  put_string(raw.hdr.comm, std::string_view("ab\0cd", 5)); // bytes after the NUL are junk
  EXPECT_EQ(decode_as<SampleEvent>(raw).hdr.comm, "ab");
}

TEST(Decode, ArgvSplitting) {
  using Args = std::vector<std::string>;
  struct Case {
    std::string_view bytes;
    Args expected;
  };
  const Case cases[] = {
      {std::string_view("", 0), Args{}},
      {std::string_view("ls\0", 3), Args{"ls"}},
      {std::string_view("ls\0-l\0", 6), Args{"ls", "-l"}},
      {std::string_view("printf\0\0x\0", 10), Args{"printf", "", "x"}}, // empty argument in the middle
      {std::string_view("echo\0\0", 6), Args{"echo", ""}}, // an empty last argument is still NUL-terminated
      {std::string_view("cut-of", 6), Args{"cut-of"}},     // truncated: no final NUL
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(testing::Message() << c.bytes.size() << " bytes");
    EXPECT_EQ(decode_as<ExecEvent>(raw_exec(c.bytes)).argv, c.expected);
  }
}

TEST(Decode, ArgvLenIsClampedToTheField) {
  tt_exec_event raw = raw_exec("");
  std::memset(raw.argv, 'x', sizeof raw.argv);
  raw.argv_len = 1'000'000; // corrupt: must not read past the record
  const ExecEvent ev = decode_as<ExecEvent>(raw);
  ASSERT_EQ(ev.argv.size(), 1u);
  EXPECT_EQ(ev.argv[0], std::string(TT_ARGV_LEN, 'x'));
}

TEST(Decode, TooShort) {
  const tt_event_header hdr = raw_header(TT_EVENT_SAMPLE);
  for (size_t size : {size_t{0}, size_t{4}, sizeof hdr - 1}) {
    const DecodeResult r = decode_unaligned(hdr, size);
    EXPECT_FALSE(r.event);
    EXPECT_EQ(r.error, DecodeError::TooShort);
  }
}

TEST(Decode, UnknownKind) {
  for (uint32_t kind : {0u, static_cast<uint32_t>(TT_EVENT_KIND_MAX), 0xffffffffu}) {
    tt_sample_event raw = raw_sample(0, 0, 0);
    raw.hdr.kind = kind;
    const DecodeResult r = decode_unaligned(raw);
    EXPECT_FALSE(r.event);
    EXPECT_EQ(r.error, DecodeError::UnknownKind);
  }
}

// Every kind demands its exact struct size: one byte short or long is rejected.
template <typename Raw> void expect_exact_size(uint32_t kind) {
  SCOPED_TRACE(testing::Message() << "kind " << kind);
  Raw raw{};
  raw.hdr = raw_header(kind);
  EXPECT_TRUE(decode_unaligned(raw).event);
  for (size_t size : {sizeof(tt_event_header), sizeof(Raw) - 1, sizeof(Raw) + 1, sizeof(Raw) + 8}) {
    const DecodeResult r = decode_unaligned(raw, size);
    EXPECT_FALSE(r.event) << size;
    EXPECT_EQ(r.error, DecodeError::SizeMismatch) << size;
  }
}

TEST(Decode, SizeMismatchPerKind) {
  expect_exact_size<tt_fork_event>(TT_EVENT_FORK);
  expect_exact_size<tt_exec_event>(TT_EVENT_EXEC);
  expect_exact_size<tt_exit_event>(TT_EVENT_EXIT);
  expect_exact_size<tt_sample_event>(TT_EVENT_SAMPLE);
  expect_exact_size<tt_existing_event>(TT_EVENT_EXISTING);
}

TEST(Decode, ErrorNamesAreDistinct) {
  const std::string too_short = to_string(DecodeError::TooShort);
  const std::string unknown = to_string(DecodeError::UnknownKind);
  const std::string mismatch = to_string(DecodeError::SizeMismatch);
  EXPECT_FALSE(too_short.empty());
  EXPECT_NE(too_short, unknown);
  EXPECT_NE(unknown, mismatch);
  EXPECT_NE(too_short, mismatch);
}

// ---- OOM kills, exit flags, sample origin and activity

tt_oom_kill_event raw_oom_kill() {
  tt_oom_kill_event raw{};
  raw.hdr = raw_header(TT_EVENT_OOM_KILL);
  put_string(raw.hdr.comm, "hog");
  raw.rss_anon_bytes = 31 << 20;
  raw.rss_file_bytes = 412 << 10;
  raw.rss_shmem_bytes = 8 << 10;
  raw.rss_peak_bytes = 33 << 20;
  raw.memcg_id = 55;
  raw.memcg_limit_bytes = 32 << 20;
  raw.memcg_usage_bytes = (32 << 20) - 4096;
  raw.memcg_hierarchy_id = 0;
  raw.constraint = TT_OOM_CONSTRAINT_MEMCG;
  raw.trigger_pid = 4300;
  raw.flags = TT_OOM_CONTEXT_KNOWN;
  return raw;
}

TEST(DecodeOomKill, EveryField) {
  const OomKillEvent ev = decode_as<OomKillEvent>(raw_oom_kill());
  EXPECT_EQ(ev.hdr.proc, (ProcKey{4242, 999'000'000}));
  EXPECT_EQ(ev.hdr.ts_ns, 1'000'000'123u);
  EXPECT_EQ(ev.hdr.cgroup_id, 77u);
  EXPECT_EQ(ev.hdr.ppid, 4000u);
  EXPECT_EQ(ev.hdr.comm, "hog");
  EXPECT_EQ(ev.rss_anon_bytes, 31u << 20);
  EXPECT_EQ(ev.rss_file_bytes, 412u << 10);
  EXPECT_EQ(ev.rss_shmem_bytes, 8u << 10);
  EXPECT_EQ(ev.rss_bytes(), (31u << 20) + (412u << 10) + (8u << 10));
  EXPECT_EQ(ev.rss_peak_bytes, 33u << 20);
  EXPECT_TRUE(ev.context_known);
  EXPECT_FALSE(ev.victim_pid_only);
  EXPECT_EQ(ev.constraint, OomConstraint::Memcg);
  EXPECT_EQ(ev.memcg_id, 55u);
  EXPECT_EQ(ev.memcg_hierarchy_id, 0u);
  EXPECT_EQ(ev.memcg_limit_bytes, std::optional<uint64_t>(32u << 20));
  EXPECT_EQ(ev.memcg_usage_bytes, (32u << 20) - 4096);
  EXPECT_EQ(ev.trigger_pid, 4300u);

  tt_oom_kill_event v1 = raw_oom_kill();
  v1.memcg_hierarchy_id = 7;
  EXPECT_EQ(decode_as<OomKillEvent>(v1).memcg_hierarchy_id, 7u);
}

TEST(DecodeOomKill, Flags) {
  struct Case {
    uint32_t flags;
    bool context_known, pid_only;
  };
  const Case cases[] = {
      {0, false, false},
      {TT_OOM_CONTEXT_KNOWN, true, false},
      {TT_OOM_VICTIM_PID_ONLY, false, true},
      {TT_OOM_CONTEXT_KNOWN | TT_OOM_VICTIM_PID_ONLY, true, true},
      {0xfffffffcu, false, false}, // bits of a newer BPF object mean nothing here
      {0xffffffffu, true, true},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(testing::Message() << std::hex << c.flags);
    tt_oom_kill_event raw = raw_oom_kill();
    raw.flags = c.flags;
    const OomKillEvent ev = decode_as<OomKillEvent>(raw);
    EXPECT_EQ(ev.context_known, c.context_known);
    EXPECT_EQ(ev.victim_pid_only, c.pid_only);
  }
}

TEST(DecodeOomKill, PidOnlyVictimKeepsStartZero) {
  tt_oom_kill_event raw = raw_oom_kill();
  raw.hdr.start_ns = 0;
  raw.flags = TT_OOM_VICTIM_PID_ONLY;
  const OomKillEvent ev = decode_as<OomKillEvent>(raw);
  EXPECT_TRUE(ev.victim_pid_only);
  EXPECT_EQ(ev.hdr.proc, (ProcKey{4242, 0}));
}

TEST(DecodeOomKill, ConstraintMapping) {
  struct Case {
    uint32_t raw;
    OomConstraint expected;
  };
  const Case cases[] = {
      {TT_OOM_CONSTRAINT_NONE, OomConstraint::Global},
      {TT_OOM_CONSTRAINT_CPUSET, OomConstraint::Cpuset},
      {TT_OOM_CONSTRAINT_MEMORY_POLICY, OomConstraint::MemoryPolicy},
      {TT_OOM_CONSTRAINT_MEMCG, OomConstraint::Memcg},
      {4, OomConstraint::Global}, // unknown: no claim about a cause
      {0xffffffffu, OomConstraint::Global},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.raw);
    tt_oom_kill_event raw = raw_oom_kill();
    raw.constraint = c.raw;
    EXPECT_EQ(decode_as<OomKillEvent>(raw).constraint, c.expected);
  }
}

TEST(DecodeOomKill, UnlimitedOrAbsentMemcgLimitIsNullopt) {
  constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
  // PAGE_COUNTER_MAX pages of 4 KiB (v2 "max"; v1 memory.limit_in_bytes of an unlimited group).
  constexpr uint64_t page_counter_max_bytes =
      (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 4096) * 4096;
  struct Case {
    uint64_t memcg_id, limit;
    std::optional<uint64_t> expected;
  };
  const Case cases[] = {
      {55, 32u << 20, 32u << 20},
      {55, 0, 0},                               // memory.max = 0 is a real limit
      {55, 1ull << 40, 1ull << 40},             // 1 TiB
      {55, (1ull << 60) - 1, (1ull << 60) - 1}, // just below the cut-off
      {55, page_counter_max_bytes, std::nullopt},
      {55, 9223372036854771712ull, std::nullopt},                   // the v1 file's text for "unlimited"
      {55, (page_counter_max_bytes / 65536) * 65536, std::nullopt}, // the same with 64 KiB pages
      {55, 1ull << 60, std::nullopt},                               // the cut-off itself
      {55, max, std::nullopt},
      {0, 32u << 20, std::nullopt}, // no memcg involved: no limit to speak of
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(testing::Message() << "memcg " << c.memcg_id << " limit " << c.limit);
    tt_oom_kill_event raw = raw_oom_kill();
    raw.memcg_id = c.memcg_id;
    raw.memcg_limit_bytes = c.limit;
    const OomKillEvent ev = decode_as<OomKillEvent>(raw);
    EXPECT_EQ(ev.memcg_limit_bytes, c.expected);
    EXPECT_EQ(ev.memcg_usage_bytes, (32u << 20) - 4096); // kept either way
  }
}

TEST(DecodeOomKill, SizeMismatch) { expect_exact_size<tt_oom_kill_event>(TT_EVENT_OOM_KILL); }

TEST(Decode, ExitOomKilledFlag) {
  struct Case {
    uint32_t flags;
    bool oom_killed;
  };
  const Case cases[] = {{0, false}, {TT_EXIT_OOM_KILLED, true}, {0x2, false}, {0xffffffffu, true}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.flags);
    tt_exit_event raw = raw_exit(0x0009); // SIGKILL
    raw.flags = c.flags;
    const ExitEvent ev = decode_as<ExitEvent>(raw);
    EXPECT_EQ(ev.oom_killed, c.oom_killed);
    EXPECT_EQ(ev.signal, 9);
  }
}

TEST(Decode, SampleOriginAndActivity) {
  struct Case {
    uint32_t origin;
    SampleOrigin expected;
  };
  const Case cases[] = {
      {TT_SAMPLE_SWITCH, SampleOrigin::Switch},
      {TT_SAMPLE_REFRESH, SampleOrigin::Refresh},
      {2, SampleOrigin::Switch}, // unknown: the rate-limited kind, which may admit a process
      {0xffffffffu, SampleOrigin::Switch},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.origin);
    tt_sample_event raw = raw_sample(5'000, 1, 1);
    raw.origin = c.origin;
    raw.minflt = 11;
    raw.majflt = 22;
    raw.nvcsw = 33;
    raw.nivcsw = 44;
    const SampleEvent ev = decode_as<SampleEvent>(raw);
    EXPECT_EQ(ev.origin, c.expected);
    EXPECT_EQ(ev.activity.minflt, 11u);
    EXPECT_EQ(ev.activity.majflt, 22u);
    EXPECT_EQ(ev.activity.nvcsw, 33u);
    EXPECT_EQ(ev.activity.nivcsw, 44u);
    EXPECT_EQ(ev.counters.cpu_ns, 5'000u);
  }
}

// The fuzz_decode seeds are records the fuzzer starts from; a seed that no
// longer decodes (a struct grew) only exercises the size check.
TEST(Decode, EveryFuzzSeedDecodes) {
  const std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus" / "fuzz_decode";
  if (!std::filesystem::is_directory(dir))
    GTEST_SKIP() << dir << " not found";
  size_t seeds = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file())
      continue;
    ++seeds;
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const DecodeResult r = decode_unaligned_bytes(bytes);
    EXPECT_TRUE(r.event.has_value()) << entry.path().filename().string() << " (" << bytes.size()
                                     << " bytes): " << to_string(r.error);
  }
  EXPECT_GE(seeds, 7u);
}

} // namespace
} // namespace treetrace

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The C++ view of every ring buffer record must match the layout clang gave
// the same struct in the built BPF object, as recorded in its BTF. If the
// two sides ever drift, this fails instead of the decoder reading garbage.
#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "treetrace/events.h"

namespace {

struct Member {
  const char *name;
  size_t offset;
};

class EventLayout : public ::testing::Test {
protected:
  void SetUp() override {
    btf_ = btf__parse_elf(TT_BPF_OBJECT, nullptr);
    ASSERT_NE(btf_, nullptr) << "cannot read BTF from " << TT_BPF_OBJECT;
  }
  void TearDown() override { btf__free(btf_); }

  void expect_layout(const char *type, size_t size, const std::vector<Member> &members) {
    int id = btf__find_by_name_kind(btf_, type, BTF_KIND_STRUCT);
    ASSERT_GT(id, 0) << type << " is not in the BPF object's BTF";
    const struct btf_type *t = btf__type_by_id(btf_, id);
    EXPECT_EQ(t->size, size) << type;
    const struct btf_member *m = btf_members(t);
    for (const auto &want : members) {
      bool found = false;
      for (int i = 0; i < btf_vlen(t); i++) {
        if (std::string(btf__name_by_offset(btf_, m[i].name_off)) != want.name)
          continue;
        found = true;
        EXPECT_EQ(btf_member_bit_offset(t, i) / 8, want.offset) << type << "." << want.name;
      }
      EXPECT_TRUE(found) << type << "." << want.name << " missing in BTF";
    }
    EXPECT_EQ(static_cast<size_t>(btf_vlen(t)), members.size()) << type << ": member count differs";
  }

  struct btf *btf_ = nullptr;
};

#define M(type, field)                                                                                                 \
  Member { #field, offsetof(type, field) }

TEST_F(EventLayout, Header) {
  expect_layout("tt_event_header", sizeof(tt_event_header),
                {M(tt_event_header, kind), M(tt_event_header, pid), M(tt_event_header, ts_ns),
                 M(tt_event_header, start_ns), M(tt_event_header, cgroup_id), M(tt_event_header, ppid),
                 M(tt_event_header, ns_pid), M(tt_event_header, comm)});
}

TEST_F(EventLayout, Fork) {
  expect_layout("tt_fork_event", sizeof(tt_fork_event),
                {M(tt_fork_event, hdr), M(tt_fork_event, child_pid), M(tt_fork_event, child_ns_pid),
                 M(tt_fork_event, child_start_ns)});
}

TEST_F(EventLayout, Exec) {
  expect_layout("tt_exec_event", sizeof(tt_exec_event),
                {M(tt_exec_event, hdr), M(tt_exec_event, old_comm), M(tt_exec_event, exec_tid),
                 M(tt_exec_event, argv_len), M(tt_exec_event, argv_truncated), M(tt_exec_event, filename_truncated),
                 M(tt_exec_event, pad), M(tt_exec_event, filename), M(tt_exec_event, argv)});
}

TEST_F(EventLayout, Counters) {
  expect_layout("tt_proc_counters", sizeof(tt_proc_counters),
                {M(tt_proc_counters, cpu_ns), M(tt_proc_counters, utime_ns), M(tt_proc_counters, stime_ns),
                 M(tt_proc_counters, rss_bytes), M(tt_proc_counters, rss_anon_bytes),
                 M(tt_proc_counters, rss_file_bytes), M(tt_proc_counters, rss_shmem_bytes),
                 M(tt_proc_counters, rss_peak_bytes), M(tt_proc_counters, rss_peak_sampled_bytes),
                 M(tt_proc_counters, rss_integral_kib_us), M(tt_proc_counters, rss_integral_span_us)});
}

TEST_F(EventLayout, Exit) {
  expect_layout("tt_exit_event", sizeof(tt_exit_event),
                {M(tt_exit_event, hdr), M(tt_exit_event, counters), M(tt_exit_event, minflt), M(tt_exit_event, majflt),
                 M(tt_exit_event, nvcsw), M(tt_exit_event, nivcsw), M(tt_exit_event, wait_status),
                 M(tt_exit_event, mem_source), M(tt_exit_event, flags), M(tt_exit_event, pad)});
}

TEST_F(EventLayout, SampleAndExisting) {
  expect_layout("tt_sample_event", sizeof(tt_sample_event),
                {M(tt_sample_event, hdr), M(tt_sample_event, counters), M(tt_sample_event, minflt),
                 M(tt_sample_event, majflt), M(tt_sample_event, nvcsw), M(tt_sample_event, nivcsw),
                 M(tt_sample_event, origin), M(tt_sample_event, pad)});
  expect_layout("tt_existing_event", sizeof(tt_existing_event),
                {M(tt_existing_event, hdr), M(tt_existing_event, nr_threads), M(tt_existing_event, is_kernel_thread)});
}

TEST_F(EventLayout, OomKill) {
  expect_layout("tt_oom_kill_event", sizeof(tt_oom_kill_event),
                {M(tt_oom_kill_event, hdr), M(tt_oom_kill_event, rss_anon_bytes), M(tt_oom_kill_event, rss_file_bytes),
                 M(tt_oom_kill_event, rss_shmem_bytes), M(tt_oom_kill_event, rss_peak_bytes),
                 M(tt_oom_kill_event, memcg_id), M(tt_oom_kill_event, memcg_limit_bytes),
                 M(tt_oom_kill_event, memcg_usage_bytes), M(tt_oom_kill_event, memcg_hierarchy_id),
                 M(tt_oom_kill_event, constraint), M(tt_oom_kill_event, trigger_pid), M(tt_oom_kill_event, flags)});
}

} // namespace

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The loader's judgement of a kernel: what it refuses up front, and how it
// explains a rejected load. Older kernels' tracepoint prototypes are built
// as BTF here, the way those kernels describe them.
#include "loader/kernel_features.h"

#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <memory>
#include <unistd.h>

namespace treetrace {
namespace {

struct BtfDeleter {
  void operator()(struct btf *b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;

// A BTF holding only btf_trace_sched_switch, as the kernel declares it:
// (void *__data, bool preempt, task *prev, task *next[, unsigned int prev_state]).
BtfPtr sched_switch_btf(bool with_prev_state) {
  BtfPtr b(btf__new_empty());
  const int void_ptr = btf__add_ptr(b.get(), 0);
  const int task = btf__add_fwd(b.get(), "task_struct", BTF_FWD_STRUCT);
  const int task_ptr = btf__add_ptr(b.get(), task);
  const int boolean = btf__add_int(b.get(), "bool", 1, BTF_INT_BOOL);
  const int uint = btf__add_int(b.get(), "unsigned int", 4, 0);
  const int proto = btf__add_func_proto(b.get(), 0);
  btf__add_func_param(b.get(), "__data", void_ptr);
  btf__add_func_param(b.get(), "preempt", boolean);
  btf__add_func_param(b.get(), "prev", task_ptr);
  btf__add_func_param(b.get(), "next", task_ptr);
  if (with_prev_state)
    btf__add_func_param(b.get(), "prev_state", uint);
  btf__add_typedef(b.get(), "btf_trace_sched_switch", btf__add_ptr(b.get(), proto));
  return b;
}

KernelFeatures kernel(const char *release) {
  KernelFeatures f;
  f.release = release;
  f.has_btf = f.has_ringbuf = f.has_task_storage = true;
  return f;
}

TEST(KernelFeatures, SchedSwitchWithoutPrevStateIsNamed) {
  auto old = sched_switch_btf(false);
  auto why = explain_rejection(kernel("5.17.0"), old.get());
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "kernel 5.17.0 has no prev_state in sched_switch: treetrace needs Linux 6.1 or later");
}

TEST(KernelFeatures, SchedSwitchWithPrevStateIsNotBlamed) {
  auto current = sched_switch_btf(true);
  EXPECT_FALSE(explain_rejection(kernel("5.18.0"), current.get()));
  // No prototype at all: nothing can be said, rather than a wrong reason.
  BtfPtr empty(btf__new_empty());
  EXPECT_FALSE(explain_rejection(kernel("x"), empty.get()));
}

TEST(KernelFeatures, ThisKernelsOwnBtfHasWhatTheProgramsRead) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    GTEST_SKIP() << "no kernel BTF here";
  EXPECT_FALSE(explain_rejection(kernel("running")));
}

TEST(KernelFeatures, EachMissingRequirementGetsOneLine) {
  KernelFeatures f = kernel("4.19.0");
  EXPECT_FALSE(missing_requirement(f));
  f.has_task_storage = false;
  EXPECT_EQ(*missing_requirement(f), "kernel 4.19.0 has no BPF task storage: treetrace needs Linux 6.1 or later");
  f.has_ringbuf = false;
  EXPECT_EQ(*missing_requirement(f), "kernel 4.19.0 has no BPF ring buffer: treetrace needs Linux 6.1 or later");
  f.bpf_permitted = false;
  EXPECT_NE(missing_requirement(f)->find("CAP_BPF and CAP_PERFMON"), std::string::npos);
  f.has_btf = false;
  EXPECT_NE(missing_requirement(f)->find("CONFIG_DEBUG_INFO_BTF=y"), std::string::npos);
}

} // namespace
} // namespace treetrace

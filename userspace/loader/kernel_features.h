// What the running kernel offers, probed once at startup. A kernel that
// lacks something treetrace cannot work without gets one clear error.
#pragma once

#include <optional>
#include <string>

namespace treetrace {

struct KernelFeatures {
  std::string release;           // uname -r
  bool has_btf = false;          // /sys/kernel/btf/vmlinux readable
  bool bpf_permitted = true;     // false: the probes were refused (EPERM)
  bool has_ringbuf = false;      // BPF_MAP_TYPE_RINGBUF (5.8)
  bool has_task_storage = false; // BPF_MAP_TYPE_TASK_STORAGE (5.11)
  // sched_process_exit(p, group_dead), fired before exit_mm() (6.16).
  bool exit_tp_has_group_dead = false;
  // sched_switch(preempt, prev, next, prev_state) (5.18).
  bool switch_tp_has_prev_state = false;
};

KernelFeatures probe_kernel_features();

// Why treetrace cannot run on this kernel, or nullopt when it can.
std::optional<std::string> missing_requirement(const KernelFeatures &f);

} // namespace treetrace

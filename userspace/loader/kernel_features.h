// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// What the running kernel offers, probed once at startup. A kernel that
// lacks something treetrace cannot work without gets one clear error.
#pragma once

#include <optional>
#include <string>

struct btf;

namespace treetrace {

struct KernelFeatures {
  std::string release;           // uname -r
  bool has_btf = false;          // /sys/kernel/btf/vmlinux readable
  bool bpf_permitted = true;     // false: the probes were refused (EPERM)
  bool has_ringbuf = false;      // BPF_MAP_TYPE_RINGBUF (5.8)
  bool has_task_storage = false; // BPF_MAP_TYPE_TASK_STORAGE (5.11)
};

// Cheap probes only: parsing the kernel's BTF (tens of milliseconds) is
// left to libbpf, which needs it anyway, and to explain_rejection().
KernelFeatures probe_kernel_features();

// Why treetrace cannot run on this kernel, or nullopt when it can.
std::optional<std::string> missing_requirement(const KernelFeatures &f);

// After the kernel rejected the programs: a reason found in the kernel's
// BTF (a tracepoint without the arguments the programs read), or nullopt.
std::optional<std::string> explain_rejection(const KernelFeatures &f);
// The same, judged from a given BTF (tests hand it an older kernel's).
std::optional<std::string> explain_rejection(const KernelFeatures &f, const struct btf *kernel_btf);

} // namespace treetrace

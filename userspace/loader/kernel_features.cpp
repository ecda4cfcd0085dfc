// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "loader/kernel_features.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <sys/utsname.h>
#include <unistd.h>

namespace treetrace {
namespace {

// Number of arguments of a raw tracepoint as BTF describes it: the
// btf_trace_<name> typedef points to a prototype whose first argument is
// the tracepoint's private data pointer, which the program never sees.
std::optional<int> tracepoint_arg_count(const struct btf *vmlinux, const char *tp) {
  std::string name = std::string("btf_trace_") + tp;
  int id = btf__find_by_name_kind(vmlinux, name.c_str(), BTF_KIND_TYPEDEF);
  if (id < 0)
    return std::nullopt;
  const struct btf_type *t = btf__type_by_id(vmlinux, id);
  while (t && (btf_is_typedef(t) || btf_is_ptr(t)))
    t = btf__type_by_id(vmlinux, t->type);
  if (!t || !btf_is_func_proto(t))
    return std::nullopt;
  return static_cast<int>(btf_vlen(t)) - 1;
}

} // namespace

KernelFeatures probe_kernel_features() {
  KernelFeatures f;
  struct utsname u {};
  if (uname(&u) == 0)
    f.release = u.release;
  f.has_btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
  const int ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
  const int task_storage = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, nullptr);
  // A refused probe says nothing about the kernel, only about us.
  f.bpf_permitted = ringbuf != -EPERM && task_storage != -EPERM;
  f.has_ringbuf = ringbuf == 1;
  f.has_task_storage = task_storage == 1;
  return f;
}

std::optional<std::string> missing_requirement(const KernelFeatures &f) {
  const std::string k = "kernel " + f.release + " ";
  if (!f.has_btf)
    return k + "has no BTF (/sys/kernel/btf/vmlinux); treetrace needs CONFIG_DEBUG_INFO_BTF=y";
  if (!f.bpf_permitted)
    return "permission denied: treetrace needs CAP_BPF and CAP_PERFMON (or root) to load BPF programs";
  if (!f.has_ringbuf)
    return k + "has no BPF ring buffer: treetrace needs Linux 6.1 or later";
  if (!f.has_task_storage)
    return k + "has no BPF task storage: treetrace needs Linux 6.1 or later";
  return std::nullopt;
}

std::optional<std::string> explain_rejection(const KernelFeatures &f, const struct btf *kernel_btf) {
  // handle_switch reads prev_state, the fourth argument since 5.18.
  const auto switch_args = tracepoint_arg_count(kernel_btf, "sched_switch");
  if (switch_args && *switch_args < 4)
    return "kernel " + f.release + " has no prev_state in sched_switch: treetrace needs Linux 6.1 or later";
  return std::nullopt;
}

std::optional<std::string> explain_rejection(const KernelFeatures &f) {
  struct btf *vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux)
    return std::nullopt;
  auto why = explain_rejection(f, vmlinux);
  btf__free(vmlinux);
  return why;
}

} // namespace treetrace

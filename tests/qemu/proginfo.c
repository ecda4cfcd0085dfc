// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Lists the loaded BPF programs with the number of instructions the
// verifier processed for each (bpf_prog_info.verified_insns, Linux 5.16+):
// how close treetrace comes to the verifier's 1M-instruction limit on the
// kernel under test. Built statically by tests/qemu/run-kernel.sh.
#include <bpf/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  __u32 id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0)
      continue;
    struct bpf_prog_info info;
    __u32 len = sizeof info;
    memset(&info, 0, sizeof info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
      printf("%s verified_insns=%u xlated_bytes=%u\n", info.name, info.verified_insns, info.xlated_prog_len);
    close(fd);
  }
  return 0;
}

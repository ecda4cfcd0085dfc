// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// libFuzzer harness for cgroup path -> container/pod/unit identity, and for
// the checks on what users give --container and --pod.
#include "util/cgroup_identity.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

using namespace treetrace;

namespace {

void check(bool ok) {
  if (!ok)
    std::abort();
}

bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

// The canonical forms the header promises.
bool canonical_uid(std::string_view s) {
  if (s.size() == 32)
    return lower_hex(s);
  if (s.size() != 36)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !lower_hex(s.substr(i, 1)))
      return false;
  }
  return true;
}

// Nothing a user types may make an error longer than one line.
void check_one_line(const Result<std::vector<std::string>> &r) {
  if (!r)
    check(!r.error().empty() && r.error().find('\n') == std::string::npos);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view path(reinterpret_cast<const char *>(data), size);
  const CgroupIdentity id = identity_from_cgroup_path(path);

  // Everything reported is in the path as written, in the promised form.
  if (!id.container_id.empty())
    check(id.container_id.size() == 64 && lower_hex(id.container_id) &&
          path.find(id.container_id) != std::string_view::npos);
  if (!id.container_runtime.empty())
    check(!id.container_id.empty() && (id.container_runtime == "docker" || id.container_runtime == "containerd" ||
                                       id.container_runtime == "cri-o" || id.container_runtime == "podman"));
  if (!id.pod_uid.empty())
    check(canonical_uid(id.pod_uid) && canonical_pod_uid(id.pod_uid) == id.pod_uid);
  check(id.qos_class.empty() || id.qos_class == "guaranteed" || id.qos_class == "burstable" ||
        id.qos_class == "besteffort");
  if (!id.systemd_unit.empty())
    check(path.find(id.systemd_unit) != std::string_view::npos && id.systemd_unit.find('/') == std::string::npos &&
          id.systemd_unit.size() <= 255);
  check(id.pod_name.empty() && id.pod_namespace.empty());

  // Pure and insensitive to the leading '/'.
  check(identity_from_cgroup_path(path) == id);
  check(identity_from_cgroup_path("/" + std::string(path)) == id);

  if (auto uid = canonical_pod_uid(path))
    check(canonical_uid(*uid) && canonical_pod_uid(*uid) == uid);

  // Input checks only: the mount does not exist, so nothing is walked.
  const char *no_mount = "/nonexistent/treetrace-fuzz";
  check_one_line(find_container_cgroups(no_mount, path));
  check_one_line(find_pod_cgroups(no_mount, path));
  return 0;
}

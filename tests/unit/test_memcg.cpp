// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// util/memcg: which memory cgroup a group row has, on unified (v2) and
// hybrid (v1 memory) layouts, and what its files say.
#include "util/memcg.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>

namespace treetrace {
namespace {

namespace fs = std::filesystem;

const char *kUnifiedMountinfo =
    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
    "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// As on this project's CI machines: cgroup2 without controllers, memory on v1.
const char *kHybridMountinfo = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                               "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                               "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
                               "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
                               "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

using Files = std::map<std::string, std::string>;
auto reader(const Files &files) {
  return [files](const std::string &path) -> std::optional<std::string> {
    auto it = files.find(path);
    return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

// --- find_memcg_hierarchy ---------------------------------------------------

TEST(Memcg, UnifiedWithTheControllerIsV2) {
  auto h = find_memcg_hierarchy(kUnifiedMountinfo, reader({{"/sys/fs/cgroup/cgroup.controllers",
                                                            "cpuset cpu io memory hugetlb pids rdma misc\n"}}));
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, (MemcgHierarchy{"/sys/fs/cgroup", false}));
}

TEST(Memcg, HybridIsTheV1MemoryHierarchy) {
  // The unified mount lists no memory ("hugetlb" only here): v1 has it.
  auto h = find_memcg_hierarchy(kHybridMountinfo, reader({{"/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n"}}));
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, (MemcgHierarchy{"/sys/fs/cgroup/memory", true}));
  // Nor does an unreadable or empty controllers file make it v2.
  EXPECT_EQ(find_memcg_hierarchy(kHybridMountinfo, reader({})), (MemcgHierarchy{"/sys/fs/cgroup/memory", true}));
}

TEST(Memcg, NoControllerAnywhere) {
  EXPECT_FALSE(find_memcg_hierarchy(kUnifiedMountinfo, reader({{"/sys/fs/cgroup/cgroup.controllers", "cpu io\n"}})));
  EXPECT_FALSE(find_memcg_hierarchy("", reader({})));
  // "memory_recursiveprot" in the mount options is no controller.
  EXPECT_FALSE(find_memcg_hierarchy(kUnifiedMountinfo, reader({{"/sys/fs/cgroup/cgroup.controllers", "memoryx\n"}})));
}

// --- memcg_path_from_proc_cgroup --------------------------------------------

const char *kHybridProcCgroup = "9:name=systemd:/user.slice/session-1.scope\n"
                                "8:pids:/\n"
                                "4:memory:/process_api/bbc289330ad85f08766f1d2789180404\n"
                                "2:cpu,cpuacct:/\n"
                                "0::/tt-123-0\n";

TEST(Memcg, ProcCgroupV2IsTheUnifiedLine) {
  EXPECT_EQ(memcg_path_from_proc_cgroup("0::/system.slice/nginx.service\n", false), "/system.slice/nginx.service");
  EXPECT_EQ(memcg_path_from_proc_cgroup(kHybridProcCgroup, false), "/tt-123-0");
  EXPECT_EQ(memcg_path_from_proc_cgroup("0::/\n", false), "/");
  // A path may hold ':' (only the first two separate fields).
  EXPECT_EQ(memcg_path_from_proc_cgroup("0::/a:b/c", false), "/a:b/c");
}

TEST(Memcg, ProcCgroupV1IsTheMemoryLine) {
  EXPECT_EQ(memcg_path_from_proc_cgroup(kHybridProcCgroup, true), "/process_api/bbc289330ad85f08766f1d2789180404");
  // Co-mounted controllers are a comma list.
  EXPECT_EQ(memcg_path_from_proc_cgroup("5:cpu,memory:/docker/abc\n0::/\n", true), "/docker/abc");
  // name=memory is a named hierarchy, not the controller; nor is memory_x.
  EXPECT_FALSE(memcg_path_from_proc_cgroup("3:name=memory:/x\n4:memoryx:/y\n0::/z\n", true));
  // Pure v2 has no v1 memory line.
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::/a\n", true));
}

TEST(Memcg, ProcCgroupPathsNotToReadFrom) {
  // Outside our cgroup namespace, removed, or not a path at all.
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::/../../other\n", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::/a/b (deleted)\n", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::a/b\n", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::/a//b\n", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::/a/./b\n", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("0::\n", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("", false));
  EXPECT_FALSE(memcg_path_from_proc_cgroup("garbage\nno colons", true));
}

// --- common_cgroup_ancestor -------------------------------------------------

TEST(Memcg, CommonAncestor) {
  EXPECT_EQ(common_cgroup_ancestor({"/a/b/c", "/a/b/d"}), "/a/b");
  EXPECT_EQ(common_cgroup_ancestor({"/a/b/c"}), "/a/b/c");
  EXPECT_EQ(common_cgroup_ancestor({"/a/b", "/a/b/c"}), "/a/b");
  EXPECT_EQ(common_cgroup_ancestor({"/a/b/c", "/a/b"}), "/a/b");
  EXPECT_EQ(common_cgroup_ancestor({"/a", "/b"}), "/");
  // A shared prefix is not a shared directory.
  EXPECT_EQ(common_cgroup_ancestor({"/app1/x", "/app10/x"}), "/");
  EXPECT_EQ(common_cgroup_ancestor({"/pod/ab", "/pod/abc"}), "/pod");
  EXPECT_FALSE(common_cgroup_ancestor({}));
}

// --- group_memcg_path -------------------------------------------------------

const std::string kCtrA = std::string(64, 'a'), kCtrB = std::string(64, 'b');
const std::string kPodUid = "3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
const std::string kPodV2 = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                           "3f1a2b4c_5d6e_4f70_8a9b_0c1d2e3f4a5b.slice";
const std::string kPodV1 = "/kubepods/burstable/pod3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

TEST(Memcg, CgroupRowOnV2IsItsKey) {
  // Members need not be asked: the row is the cgroup.
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Cgroup, "/system.slice/app.service", false, {}),
            "/system.slice/app.service");
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Cgroup, "/", false, {})) << "the root has no memory.current";
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Cgroup, "", false, {})) << "the row of no group";
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Cgroup, "/../x", false, {}));
}

TEST(Memcg, CgroupRowOnV1IsTheMembersSharedMemcg) {
  // The v2 key says nothing about the v1 memory cgroup.
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Cgroup, "/tt-1-0", true, {"/tt-mem-1-1", "/tt-mem-1-1"}), "/tt-mem-1-1");
  // Members that disagree, or none: no figure rather than a wrong one.
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Cgroup, "/tt-1-0", true, {"/tt-mem-1-1", "/tt-mem-1-1/sub"}));
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Cgroup, "/tt-1-0", true, {}));
  // A v1 root is the node's total, not the group's.
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Cgroup, "/tt-1-0", true, {"/", "/"}));
}

TEST(Memcg, PodRowIsThePodCgroup) {
  const std::string a = kPodV2 + "/cri-containerd-" + kCtrA + ".scope";
  const std::string b = kPodV2 + "/cri-containerd-" + kCtrB + ".scope";
  // Two containers: their common ancestor is the pod.
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Pod, kPodUid, false, {a, b}), kPodV2);
  // One container's members only: still the pod's cgroup, not the container's.
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Pod, kPodUid, false, {a, a}), kPodV2);
  // cgroupfs layout on v1.
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Pod, kPodUid, true, {kPodV1 + "/" + kCtrA}), kPodV1);
  // Members outside the pod in the memory hierarchy: none.
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Pod, kPodUid, true, {"/process_api/x"}));
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Pod, kPodUid, false, {a, "/system.slice/x.service"}));
}

TEST(Memcg, ContainerRowIsTheContainerCgroup) {
  const std::string ctr = "/system.slice/docker-" + kCtrA + ".scope";
  // Sub-cgroups inside the container (systemd in a container, nested runtimes).
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Container, kCtrA, false, {ctr + "/init.scope", ctr + "/app"}), ctr);
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Container, kCtrA, false, {ctr}), ctr);
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Container, kCtrA, true, {"/docker/" + kCtrA}), "/docker/" + kCtrA);
  // Docker in docker: the innermost container is the row; the outer one is not it.
  const std::string inner = "/docker/" + kCtrB + "/docker/" + kCtrA;
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Container, kCtrA, true, {inner}), inner);
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Container, kCtrA, true, {"/docker/" + kCtrB}));
}

TEST(Memcg, UnitRowIsTheUnitCgroup) {
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Unit, "app.service", false,
                             {"/system.slice/app.service/worker-1", "/system.slice/app.service/worker-2"}),
            "/system.slice/app.service");
  EXPECT_EQ(group_memcg_path(MemcgGroupKind::Unit, "app.service", false, {"/system.slice/app.service"}),
            "/system.slice/app.service");
  // Members in two units: their ancestor is a slice, which is no unit.
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Unit, "app.service", false,
                                {"/system.slice/app.service", "/system.slice/other.service"}));
  EXPECT_FALSE(group_memcg_path(MemcgGroupKind::Unit, "", false, {"/system.slice/app.service"}));
}

// --- values -----------------------------------------------------------------

TEST(Memcg, Counters) {
  EXPECT_EQ(parse_memcg_counter("67108864\n"), 67108864u);
  EXPECT_EQ(parse_memcg_counter("0"), 0u);
  EXPECT_EQ(parse_memcg_counter("18446744073709551615\n"), UINT64_MAX);
  EXPECT_FALSE(parse_memcg_counter("18446744073709551616\n"));
  EXPECT_FALSE(parse_memcg_counter(""));
  EXPECT_FALSE(parse_memcg_counter("\n"));
  EXPECT_FALSE(parse_memcg_counter("max\n"));
  EXPECT_FALSE(parse_memcg_counter("-1\n"));
  EXPECT_FALSE(parse_memcg_counter("12 34\n"));
}

TEST(Memcg, LimitsV2) {
  EXPECT_EQ(parse_memcg_limit("268435456\n", false, 4096), 268435456u);
  EXPECT_FALSE(parse_memcg_limit("max\n", false, 4096)) << "no limit";
  EXPECT_FALSE(parse_memcg_limit("max", false, 4096));
  EXPECT_FALSE(parse_memcg_limit("bogus\n", false, 4096));
}

TEST(Memcg, LimitsV1) {
  EXPECT_EQ(parse_memcg_limit("268435456\n", true, 4096), 268435456u);
  // PAGE_COUNTER_MAX * PAGE_SIZE: what an unlimited v1 cgroup shows.
  EXPECT_FALSE(parse_memcg_limit("9223372036854771712\n", true, 4096)) << "0x7ffffffffffff000";
  EXPECT_FALSE(parse_memcg_limit("9223372036854710272\n", true, 65536)) << "0x7fffffffffff0000 with 64 KiB pages";
  // One page below the maximum is a real (if absurd) limit.
  EXPECT_EQ(parse_memcg_limit("9223372036854767616\n", true, 4096), 9223372036854767616u);
  EXPECT_FALSE(parse_memcg_limit("max\n", true, 4096)) << "v1 has no 'max'";
}

// --- read_memcg_figures, on a synthetic hierarchy ---------------------------

class MemcgFiles : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tt_memcg_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string &rel, const std::string &name, const std::string &text) {
    fs::create_directories(root_ + rel);
    std::ofstream(root_ + rel + "/" + name) << text;
  }
  std::string root_;
};

TEST_F(MemcgFiles, V2) {
  write("/app", "memory.current", "70254592\n");
  write("/app", "memory.peak", "71303168\n");
  write("/app", "memory.max", "268435456\n");
  int err = -1;
  auto f = read_memcg_figures({root_, false}, "/app", 4096, &err);
  ASSERT_TRUE(f);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(*f, (MemcgFigures{70254592u, 71303168u, 268435456u}));

  // Before 5.19 there is no memory.peak; "max" is no limit.
  write("/old", "memory.current", "4096\n");
  write("/old", "memory.max", "max\n");
  f = read_memcg_figures({root_, false}, "/old", 4096);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (MemcgFigures{4096u, std::nullopt, std::nullopt}));
}

TEST_F(MemcgFiles, V1) {
  write("/tt-mem", "memory.usage_in_bytes", "69206016\n");
  write("/tt-mem", "memory.max_usage_in_bytes", "69861376\n");
  write("/tt-mem", "memory.limit_in_bytes", "268435456\n");
  auto f = read_memcg_figures({root_, true}, "/tt-mem", 4096);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (MemcgFigures{69206016u, 69861376u, 268435456u}));

  write("/free", "memory.usage_in_bytes", "8192\n");
  write("/free", "memory.max_usage_in_bytes", "12288\n");
  write("/free", "memory.limit_in_bytes", "9223372036854771712\n");
  f = read_memcg_figures({root_, true}, "/free", 4096);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (MemcgFigures{8192u, 12288u, std::nullopt}));
}

TEST_F(MemcgFiles, UnreadableIsUnknownNotZeroOrUnlimited) {
  int err = 0;
  // Gone, or (v2) the controller not enabled there: no usage file.
  EXPECT_FALSE(read_memcg_figures({root_, false}, "/missing", 4096, &err));
  EXPECT_EQ(err, ENOENT);
  // Usage but no limit file: "no limit" would be a guess.
  write("/nolimit", "memory.current", "4096\n");
  EXPECT_FALSE(read_memcg_figures({root_, false}, "/nolimit", 4096, &err));
  EXPECT_EQ(err, ENOENT);
  // Files that are no memory cgroup's.
  write("/garbage", "memory.current", "lots\n");
  write("/garbage", "memory.max", "max\n");
  EXPECT_FALSE(read_memcg_figures({root_, false}, "/garbage", 4096, &err));
  EXPECT_EQ(err, EINVAL);
  write("/badlimit", "memory.current", "4096\n");
  write("/badlimit", "memory.max", "unlimited\n");
  EXPECT_FALSE(read_memcg_figures({root_, false}, "/badlimit", 4096, &err));
  EXPECT_EQ(err, EINVAL);
}

} // namespace
} // namespace treetrace

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/cgroup.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace treetrace {
namespace {

namespace fs = std::filesystem;

// --- find_cgroup2_mount -----------------------------------------------------

TEST(UtilCgroupMount, PureUnified) {
  const char *text = "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
                     "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
                     "24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
                     "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                     "rw,nsdelegate,memory_recursiveprot\n"
                     "36 24 0:31 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:10 - bpf bpf rw,mode=700\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/sys/fs/cgroup");
}

TEST(UtilCgroupMount, HybridPicksTheUnifiedMount) {
  const char *text = "30 22 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755\n"
                     "31 30 0:28 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 "
                     "cgroup2 rw,nsdelegate\n"
                     "32 30 0:29 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup "
                     "cgroup rw,xattr,name=systemd\n"
                     "33 30 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup "
                     "cgroup rw,memory\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/sys/fs/cgroup/unified");
}

TEST(UtilCgroupMount, HybridCgroup2AfterV1Controllers) {
  // Seen on this project's CI machine: v1 controllers listed first, no
  // optional fields at all.
  const char *text = "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                     "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                     "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
                     "rw,name=systemd\n"
                     "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
  EXPECT_EQ(find_cgroup2_mount(text), "/sys/fs/cgroup/unified");
}

TEST(UtilCgroupMount, LegacyOnlyHasNone) {
  const char *text = "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                     "31 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup2 rw,memory\n"
                     "32 30 0:29 / /sys/fs/cgroup/cgroup2 rw - cgroup cgroup rw,cpu\n";
  EXPECT_FALSE(find_cgroup2_mount(text).has_value());
  EXPECT_FALSE(find_cgroup2_mount("").has_value());
  EXPECT_FALSE(find_cgroup2_mount("\n\n").has_value());
}

TEST(UtilCgroupMount, ManyOptionalFields) {
  const char *text = "40 30 0:37 / /cg rw shared:5 master:3 propagate_from:2 unbindable - "
                     "cgroup2 none rw\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/cg");
}

TEST(UtilCgroupMount, UnescapesMountPoint) {
  const char *text = "40 30 0:37 / /mnt/my\\040cgroup\\011tab\\012nl\\134bs rw - cgroup2 none rw\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/mnt/my cgroup\ttab\nnl\\bs");
  // Not an escape: kept literally.
  EXPECT_EQ(find_cgroup2_mount("1 2 0:1 / /a\\9b\\04 rw - cgroup2 x rw\n"), "/a\\9b\\04");
}

TEST(UtilCgroupMount, ContainerWithNonRootCgroupRoot) {
  // Inside a container without a cgroup namespace the root field is a
  // sub-path; the mount point is still what we want.
  const char *text = "712 700 0:30 /docker/abc123 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/sys/fs/cgroup");
}

TEST(UtilCgroupMount, MalformedLinesAreSkipped) {
  const char *text = "garbage\n"
                     "1 2 3\n"
                     "1 2 0:1 / /early - cgroup2\n"   // separator too early
                     "1 2 0:1 / /nofstype rw opt -\n" // nothing after separator
                     "1 2 0:1 / /good rw - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/good");
}

TEST(UtilCgroupMount, FirstCgroup2Wins) {
  const char *text = "1 2 0:1 / /first rw - cgroup2 a rw\n1 2 0:2 / /second rw - cgroup2 b rw\n";
  EXPECT_EQ(find_cgroup2_mount(text), "/first");
}

// --- resolve_cgroup against a stand-in tree --------------------------------

uint64_t inode_of(const fs::path &p) {
  struct stat st;
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<uint64_t>(st.st_ino);
}

class UtilCgroupTree : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tt_cgroup_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = fs::canonical(tmpl);
    root_ = base_ / "root";
    fs::create_directories(root_ / "system.slice" / "foo.service");
    fs::create_directories(root_ / "user.slice" / "user-1000.slice" / "session-1.scope");
    fs::create_directories(root_ / "with space");
    fs::create_directories(base_ / "outside");
    fs::create_directories(base_ / "rootx" / "system.slice");
    std::ofstream(root_ / "cgroup.procs") << "1\n";
    std::ofstream(root_ / "system.slice" / "cgroup.procs") << "";
    fs::create_directory_symlink("system.slice", root_ / "link");
    fs::create_directory_symlink("../outside", root_ / "escape");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  CgroupTarget ok(std::string_view user_path, std::string_view mount) {
    auto r = resolve_cgroup(user_path, mount);
    if (!r) {
      ADD_FAILURE() << "'" << user_path << "' failed: " << r.error();
      return {};
    }
    return *r;
  }
  std::string error(std::string_view user_path, std::string_view mount) {
    auto r = resolve_cgroup(user_path, mount);
    if (!r)
      return r.error();
    ADD_FAILURE() << "'" << user_path << "' resolved to " << r->abs_path;
    return {};
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(UtilCgroupTree, RelativePaths) {
  std::string mount = root_.string();
  CgroupTarget t = ok("system.slice", mount);
  EXPECT_EQ(t.rel_path, "/system.slice");
  EXPECT_EQ(t.abs_path, (root_ / "system.slice").string());
  EXPECT_EQ(t.level, 1u);
  EXPECT_EQ(t.id, inode_of(root_ / "system.slice"));

  t = ok("user.slice/user-1000.slice/session-1.scope", mount);
  EXPECT_EQ(t.rel_path, "/user.slice/user-1000.slice/session-1.scope");
  EXPECT_EQ(t.level, 3u);
  EXPECT_EQ(t.id, inode_of(root_ / "user.slice/user-1000.slice/session-1.scope"));

  t = ok("with space", mount);
  EXPECT_EQ(t.rel_path, "/with space");
}

TEST_F(UtilCgroupTree, LeadingSlashIsStillRelativeToTheMount) {
  std::string mount = root_.string();
  CgroupTarget a = ok("/system.slice/foo.service", mount);
  CgroupTarget b = ok("system.slice/foo.service", mount);
  EXPECT_EQ(a.rel_path, "/system.slice/foo.service");
  EXPECT_EQ(a.level, 2u);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.abs_path, b.abs_path);
}

TEST_F(UtilCgroupTree, AbsolutePathsUnderTheMount) {
  std::string mount = root_.string();
  CgroupTarget t = ok(mount + "/system.slice/foo.service", mount);
  EXPECT_EQ(t.rel_path, "/system.slice/foo.service");
  EXPECT_EQ(t.level, 2u);
  EXPECT_EQ(t.id, inode_of(root_ / "system.slice/foo.service"));
}

TEST_F(UtilCgroupTree, SiblingWithTheMountAsPrefixIsNotAbsolute) {
  // "<mount>x/..." does not start with "<mount>/": it is taken as relative.
  std::string mount = root_.string();
  std::string sibling = (base_ / "rootx" / "system.slice").string();
  EXPECT_EQ(error(sibling, mount), "cgroup '" + sibling + "' does not exist under " + mount);
}

TEST_F(UtilCgroupTree, RootInEveryForm) {
  std::string mount = root_.string();
  for (const std::string &p :
       {mount, mount + "/", std::string("/"), std::string("//"), std::string("."), std::string("system.slice/..")}) {
    CgroupTarget t = ok(p, mount);
    EXPECT_EQ(t.rel_path, "/") << p;
    EXPECT_EQ(t.level, 0u) << p;
    EXPECT_EQ(t.abs_path, mount) << p;
    EXPECT_EQ(t.id, inode_of(root_)) << p;
  }
  // The mount itself given with a trailing slash.
  CgroupTarget t = ok("system.slice", mount + "/");
  EXPECT_EQ(t.rel_path, "/system.slice");
}

TEST_F(UtilCgroupTree, NormalizesSlashesAndDots) {
  std::string mount = root_.string();
  EXPECT_EQ(ok("system.slice/", mount).rel_path, "/system.slice");
  EXPECT_EQ(ok("system.slice//foo.service", mount).rel_path, "/system.slice/foo.service");
  EXPECT_EQ(ok("./system.slice/./foo.service", mount).rel_path, "/system.slice/foo.service");
  EXPECT_EQ(ok("user.slice/../system.slice", mount).rel_path, "/system.slice");
}

TEST_F(UtilCgroupTree, SymlinkInsideIsCanonicalized) {
  CgroupTarget t = ok("link/foo.service", root_.string());
  EXPECT_EQ(t.rel_path, "/system.slice/foo.service");
  EXPECT_EQ(t.level, 2u);
}

TEST_F(UtilCgroupTree, MountGivenThroughASymlink) {
  fs::create_directory_symlink(root_, base_ / "mount-link");
  std::string link = (base_ / "mount-link").string();
  CgroupTarget t = ok("system.slice", link);
  EXPECT_EQ(t.abs_path, (root_ / "system.slice").string());
  EXPECT_EQ(t.rel_path, "/system.slice");
  t = ok(link + "/system.slice", link); // absolute via the given spelling
  EXPECT_EQ(t.rel_path, "/system.slice");
  t = ok(root_.string() + "/system.slice", link); // absolute via the canonical spelling
  EXPECT_EQ(t.rel_path, "/system.slice");
}

TEST_F(UtilCgroupTree, Errors) {
  std::string mount = root_.string();
  EXPECT_EQ(error("nope", mount), "cgroup 'nope' does not exist under " + mount);
  EXPECT_EQ(error("/system.slice/nope.service", mount),
            "cgroup '/system.slice/nope.service' does not exist under " + mount);
  EXPECT_EQ(error("cgroup.procs/x", mount), "cgroup 'cgroup.procs/x' does not exist under " + mount);
  EXPECT_EQ(error("cgroup.procs", mount), "cgroup 'cgroup.procs' is not a directory under " + mount);
  EXPECT_EQ(error("..", mount), "cgroup '..' is outside the cgroup2 mount " + mount);
  EXPECT_EQ(error("system.slice/../../outside", mount),
            "cgroup 'system.slice/../../outside' is outside the cgroup2 mount " + mount);
  EXPECT_EQ(error("escape", mount), "cgroup 'escape' is outside the cgroup2 mount " + mount);
  EXPECT_EQ(error("", mount), "empty cgroup path");
  EXPECT_EQ(error(std::string_view("sys\0tem", 7), mount), "cgroup path contains a NUL byte");
  std::string missing = (base_ / "missing").string();
  EXPECT_EQ(error("system.slice", missing).rfind("cannot access cgroup2 mount " + missing, 0), 0u);
  EXPECT_EQ(error("system.slice", ""), "invalid cgroup2 mount point ''");
}

TEST_F(UtilCgroupTree, PermissionDenied) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root bypasses directory permissions";
  fs::permissions(root_ / "user.slice", fs::perms::none);
  std::string err = error("user.slice/user-1000.slice", root_.string());
  fs::permissions(root_ / "user.slice", fs::perms::owner_all);
  EXPECT_EQ(err, "cannot access cgroup 'user.slice/user-1000.slice': Permission denied");
}

// --- CgroupPathCache ---------------------------------------------------------

class UtilCgroupCache : public UtilCgroupTree {
protected:
  CgroupPathCache::Options options(size_t max_entries = 1000) {
    CgroupPathCache::Options o;
    o.min_rescan_interval_ms = 1000;
    o.max_entries = max_entries;
    o.now_ms = [this] { return now_ms_; };
    return o;
  }
  uint64_t now_ms_ = 5000;
};

TEST_F(UtilCgroupCache, MapsEveryDirectory) {
  CgroupPathCache cache(root_.string(), options());
  EXPECT_EQ(cache.lookup(inode_of(root_)), "/");
  EXPECT_EQ(cache.stats().scans, 1u);
  EXPECT_EQ(cache.lookup(inode_of(root_ / "system.slice")), "/system.slice");
  EXPECT_EQ(cache.lookup(inode_of(root_ / "system.slice/foo.service")), "/system.slice/foo.service");
  EXPECT_EQ(cache.lookup(inode_of(root_ / "user.slice/user-1000.slice/session-1.scope")),
            "/user.slice/user-1000.slice/session-1.scope");
  EXPECT_EQ(cache.lookup(inode_of(root_ / "with space")), "/with space");
  // Root, system.slice, foo.service, user.slice, user-1000, session-1, with space.
  // Files and symlinks are not cgroups.
  EXPECT_EQ(cache.size(), 7u);
  EXPECT_EQ(cache.stats().scans, 1u);
  EXPECT_FALSE(cache.lookup(inode_of(root_ / "cgroup.procs")).has_value());
}

TEST_F(UtilCgroupCache, MissRescansAtMostOncePerInterval) {
  CgroupPathCache cache(root_.string(), options());
  ASSERT_EQ(cache.lookup(inode_of(root_)), "/");
  ASSERT_EQ(cache.stats().scans, 1u);

  fs::create_directories(root_ / "system.slice" / "new.service");
  uint64_t new_id = inode_of(root_ / "system.slice" / "new.service");

  // Within the interval: no walk, even for many misses.
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(cache.lookup(new_id).has_value());
  now_ms_ += 999;
  EXPECT_FALSE(cache.lookup(new_id).has_value());
  EXPECT_EQ(cache.stats().scans, 1u);
  EXPECT_EQ(cache.stats().misses, 101u);

  now_ms_ += 1;
  EXPECT_EQ(cache.lookup(new_id), "/system.slice/new.service");
  EXPECT_EQ(cache.stats().scans, 2u);

  // A hit never rescans, however late.
  now_ms_ += 100000;
  EXPECT_EQ(cache.lookup(new_id), "/system.slice/new.service");
  EXPECT_EQ(cache.stats().scans, 2u);

  // A miss right after a rescan does not walk again.
  now_ms_ += 5000;
  EXPECT_FALSE(cache.lookup(999999999).has_value());
  EXPECT_EQ(cache.stats().scans, 3u);
  EXPECT_FALSE(cache.lookup(999999998).has_value());
  EXPECT_EQ(cache.stats().scans, 3u);
}

TEST_F(UtilCgroupCache, RemovedCgroupsKeepTheirPath) {
  CgroupPathCache cache(root_.string(), options());
  uint64_t foo = inode_of(root_ / "system.slice/foo.service");
  ASSERT_EQ(cache.lookup(foo), "/system.slice/foo.service");
  fs::remove(root_ / "system.slice/foo.service");
  now_ms_ += 2000;
  cache.rescan();
  EXPECT_EQ(cache.lookup(foo), "/system.slice/foo.service");
}

TEST_F(UtilCgroupCache, BoundedEntries) {
  CgroupPathCache cache(root_.string(), options(3));
  cache.rescan();
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.stats().overflowed, 4u); // 7 directories, 3 kept
  EXPECT_EQ(cache.lookup(inode_of(root_)), "/");
  cache.rescan();
  EXPECT_EQ(cache.size(), 3u);
}

TEST_F(UtilCgroupCache, ExplicitRescanIgnoresTheInterval) {
  CgroupPathCache cache(root_.string(), options());
  cache.rescan();
  cache.rescan();
  EXPECT_EQ(cache.stats().scans, 2u);
}

TEST_F(UtilCgroupCache, DeepHierarchy) {
  fs::path p = root_;
  std::string rel;
  for (int i = 0; i < 200; ++i) {
    p /= "d";
    rel += "/d";
  }
  fs::create_directories(p);
  CgroupPathCache cache(root_.string(), options());
  EXPECT_EQ(cache.lookup(inode_of(p)), rel);
}

TEST_F(UtilCgroupCache, MissingMountIsAnError) {
  CgroupPathCache cache((base_ / "missing").string(), options());
  EXPECT_FALSE(cache.lookup(1).has_value());
  EXPECT_EQ(cache.stats().scan_errors, 1u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(UtilCgroupCache, DefaultClockWorks) {
  CgroupPathCache cache(root_.string());
  EXPECT_EQ(cache.lookup(inode_of(root_ / "with space")), "/with space");
}

// --- The real cgroup2 hierarchy ----------------------------------------------

std::optional<std::string> real_cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  return find_cgroup2_mount(ss.str());
}

TEST(UtilCgroupReal, ResolvesRootOfTheRealMount) {
  auto mount = real_cgroup2_mount();
  if (!mount)
    GTEST_SKIP() << "no cgroup2 filesystem mounted on this machine";
  auto r = resolve_cgroup("/", *mount);
  ASSERT_TRUE(r) << r.error();
  const auto &t = *r;
  EXPECT_EQ(t.rel_path, "/");
  EXPECT_EQ(t.level, 0u);
  EXPECT_EQ(t.id, inode_of(*mount));
  EXPECT_TRUE(fs::exists(fs::path(t.abs_path) / "cgroup.procs"));

  CgroupPathCache cache(*mount);
  EXPECT_EQ(cache.lookup(t.id), "/");
}

TEST(UtilCgroupReal, ResolvesOwnCgroup) {
  auto mount = real_cgroup2_mount();
  if (!mount)
    GTEST_SKIP() << "no cgroup2 filesystem mounted on this machine";
  std::ifstream in("/proc/self/cgroup");
  std::string line, own;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0)
      own = line.substr(3);
  if (own.empty() || !fs::is_directory(*mount + own))
    GTEST_SKIP() << "own cgroup '" << own << "' is not visible under " << *mount;
  auto r = resolve_cgroup(own, *mount);
  ASSERT_TRUE(r) << r.error();
  const auto &t = *r;
  EXPECT_EQ(t.rel_path, own);
  EXPECT_EQ(t.id, inode_of(*mount + own));
  // Our own process must be listed in it.
  std::ifstream procs(t.abs_path + "/cgroup.procs");
  bool found = false;
  for (pid_t pid; procs >> pid;)
    found = found || pid == ::getpid();
  EXPECT_TRUE(found);
  CgroupPathCache cache(*mount);
  EXPECT_EQ(cache.lookup(t.id), own);
}

} // namespace
} // namespace treetrace

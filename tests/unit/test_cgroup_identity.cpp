// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#include "util/cgroup_identity.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <unistd.h>

namespace treetrace {

// Readable failure output; gtest finds it by argument-dependent lookup, so
// it lives in the type's namespace.
static void PrintTo(const CgroupIdentity &id, std::ostream *os) {
  *os << "{container=" << id.container_id << " runtime=" << id.container_runtime << " pod=" << id.pod_uid
      << " qos=" << id.qos_class << " unit=" << id.systemd_unit << " name=" << id.pod_name << " ns=" << id.pod_namespace
      << "}";
}

namespace {

namespace fs = std::filesystem;

// Full-length ids as the runtimes and the API server make them.
const std::string kIdA = "bee9d16919a547ad4cb80d2ce8dfd45c4ced14852a558f23cdfb4a3660426e9f";
const std::string kIdB = "0050333ed635f8b157ef83924c87e40f757527b6de871395d4354e21a20ededb";
const std::string kIdC = "449bb259c4440abe29beab38a105a288efeff913285d8410365f256ca459c984";
const std::string kIdD = "a8b136e38c0c2af7dc8fa40e60fa3f91bface8a84ae964d690df0d099602cc1e";
const std::string kUid = "5fe60bcd-083b-43d7-bbcc-2daa1f0e5f75";
const std::string kUidUnderscored = "5fe60bcd_083b_43d7_bbcc_2daa1f0e5f75";
const std::string kUid2 = "edd4d9cc-0e9b-4b13-a8c3-34ea1f95570f";
const std::string kUid2Underscored = "edd4d9cc_0e9b_4b13_a8c3_34ea1f95570f";
const std::string kStaticUid = "1c2d6763b8bd02c1cbe4591ad4b50a0d"; // kubelet's md5 of a manifest

// What identity_from_cgroup_path() fills; pod names come from elsewhere.
struct Want {
  std::string container_id, container_runtime, pod_uid, qos_class, systemd_unit;
};

struct Case {
  const char *what;
  std::string path;
  Want want;
};

void expect_all(const std::vector<Case> &cases) {
  for (const Case &c : cases) {
    const CgroupIdentity want{
        c.want.container_id, c.want.container_runtime, c.want.pod_uid, c.want.qos_class, c.want.systemd_unit, "", ""};
    EXPECT_EQ(identity_from_cgroup_path(c.path), want) << c.what << ": " << c.path;
    // The leading '/' is optional.
    if (!c.path.empty() && c.path.front() == '/') {
      EXPECT_EQ(identity_from_cgroup_path(c.path.substr(1)), want) << c.what << " without '/'";
    }
  }
}

TEST(CgroupIdentityKubeletSystemd, EveryQosAndRuntime) {
  const std::string burstable =
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidUnderscored + ".slice";
  const std::string besteffort =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidUnderscored + ".slice";
  const std::string guaranteed = "/kubepods.slice/kubepods-pod" + kUidUnderscored + ".slice";
  const std::string cri = "cri-containerd-" + kIdA + ".scope";
  expect_all({
      {"containerd, burstable", burstable + "/" + cri, {kIdA, "containerd", kUid, "burstable", cri}},
      {"containerd, besteffort", besteffort + "/" + cri, {kIdA, "containerd", kUid, "besteffort", cri}},
      {"containerd, guaranteed", guaranteed + "/" + cri, {kIdA, "containerd", kUid, "guaranteed", cri}},
      {"cri-o", burstable + "/crio-" + kIdB + ".scope", {kIdB, "cri-o", kUid, "burstable", "crio-" + kIdB + ".scope"}},
      {"cri-o conmon is not the container",
       burstable + "/crio-conmon-" + kIdB + ".scope",
       {"", "", kUid, "burstable", "crio-conmon-" + kIdB + ".scope"}},
      {"cri-o infra cgroup without .scope", burstable + "/crio-" + kIdC, {kIdC, "cri-o", kUid, "burstable", ""}},
      {"cri-dockerd",
       guaranteed + "/docker-" + kIdC + ".scope",
       {kIdC, "docker", kUid, "guaranteed", "docker-" + kIdC + ".scope"}},
      {"crun's sub-cgroup belongs to the container",
       burstable + "/crio-" + kIdB + ".scope/container",
       {kIdB, "cri-o", kUid, "burstable", "crio-" + kIdB + ".scope"}},
      {"the pod's own cgroup", burstable, {"", "", kUid, "burstable", ""}},
      {"static pod",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kStaticUid + ".slice/" + cri,
       {kIdA, "containerd", kStaticUid, "burstable", cri}},
      {"QoS slice", "/kubepods.slice/kubepods-besteffort.slice", {"", "", "", "besteffort", ""}},
      {"kubepods root", "/kubepods.slice", {}},
      {"custom --cgroup-root (kind)",
       "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
           kUidUnderscored + ".slice/" + cri,
       {kIdA, "containerd", kUid, "besteffort", cri}},
  });
}

TEST(CgroupIdentityKubeletCgroupfs, EveryQosAndRuntime) {
  expect_all({
      {"burstable", "/kubepods/burstable/pod" + kUid + "/" + kIdA, {kIdA, "", kUid, "burstable", ""}},
      {"besteffort", "/kubepods/besteffort/pod" + kUid + "/" + kIdA, {kIdA, "", kUid, "besteffort", ""}},
      {"guaranteed", "/kubepods/pod" + kUid + "/" + kIdA, {kIdA, "", kUid, "guaranteed", ""}},
      {"cri-o", "/kubepods/burstable/pod" + kUid + "/crio-" + kIdB, {kIdB, "cri-o", kUid, "burstable", ""}},
      {"cri-o conmon", "/kubepods/burstable/pod" + kUid + "/crio-conmon-" + kIdB, {"", "", kUid, "burstable", ""}},
      {"pod only", "/kubepods/pod" + kUid, {"", "", kUid, "guaranteed", ""}},
      {"static pod", "/kubepods/burstable/pod" + kStaticUid, {"", "", kStaticUid, "burstable", ""}},
      {"custom --cgroup-root",
       "/kubelet/kubepods/besteffort/pod" + kUid + "/" + kIdA,
       {kIdA, "", kUid, "besteffort", ""}},
      {"QoS", "/kubepods/burstable", {"", "", "", "burstable", ""}},
      {"systemd-style uid under cgroupfs is not a pod", "/kubepods/pod" + kUidUnderscored, {}},
      {"cgroupfs-style uid in a slice is not a pod", "/kubepods.slice/kubepods-pod" + kUid + ".slice", {}},
      {"pod outside kubepods", "/burstable/pod" + kUid, {}},
  });
}

TEST(CgroupIdentityDocker, SystemdAndCgroupfs) {
  const std::string scope = "docker-" + kIdA + ".scope";
  expect_all({
      {"systemd driver", "/system.slice/" + scope, {kIdA, "docker", "", "", scope}},
      {"cgroupfs driver", "/docker/" + kIdA, {kIdA, "docker", "", "", ""}},
      {"systemd inside the container",
       "/system.slice/" + scope + "/init.scope",
       {kIdA, "docker", "", "", "init.scope"}},
      {"a container's own sub-cgroup", "/docker/" + kIdA + "/worker", {kIdA, "docker", "", "", ""}},
      {"docker in docker: innermost wins", "/docker/" + kIdA + "/docker/" + kIdB, {kIdB, "docker", "", "", ""}},
      {"rootless",
       "/user.slice/user-1000.slice/user@1000.service/user.slice/" + scope,
       {kIdA, "docker", "", "", scope}},
      {"--cgroup-parent elsewhere", "/ci_jobs/" + kIdA, {kIdA, "", "", "", ""}},
      {"the daemon", "/system.slice/docker.service", {"", "", "", "", "docker.service"}},
  });
}

TEST(CgroupIdentityPodman, RootfulRootlessConmon) {
  const std::string scope = "libpod-" + kIdC + ".scope";
  const std::string rootless = "/user.slice/user-1000.slice/user@1000.service/user.slice/";
  expect_all({
      {"rootful", "/machine.slice/" + scope, {kIdC, "podman", "", "", scope}},
      {"rootless", rootless + scope, {kIdC, "podman", "", "", scope}},
      {"rootless, cgroup v2 'container' child", rootless + scope + "/container", {kIdC, "podman", "", "", scope}},
      {"conmon",
       "/machine.slice/libpod-conmon-" + kIdC + ".scope",
       {"", "", "", "", "libpod-conmon-" + kIdC + ".scope"}},
      {"in a podman pod",
       "/machine.slice/machine-libpod_pod_" + kIdD + ".slice/" + scope,
       {kIdC, "podman", "", "", scope}},
      {"cgroupfs", "/libpod_parent/libpod-" + kIdC, {kIdC, "podman", "", "", ""}},
      {"cgroupfs conmon", "/libpod_parent/conmon", {}},
  });
}

TEST(CgroupIdentityContainerd, OutsideKubernetes) {
  expect_all({
      {"ctr, default namespace", "/default/" + kIdA, {kIdA, "containerd", "", "", ""}},
      {"k8s.io namespace without a pod", "/k8s.io/" + kIdA, {kIdA, "containerd", "", "", ""}},
      {"nerdctl, systemd driver",
       "/system.slice/nerdctl-" + kIdB + ".scope",
       {kIdB, "containerd", "", "", "nerdctl-" + kIdB + ".scope"}},
      {"a namespace directory deeper down is not a namespace", "/x/default/" + kIdA, {kIdA, "", "", "", ""}},
  });
}

TEST(CgroupIdentityNested, KindNodeRunsPods) {
  // A kind node is a docker container with its own kubelet inside.
  const std::string node = "/system.slice/docker-" + kIdD + ".scope";
  const std::string pod = node +
                          "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
                          "kubelet-kubepods-burstable-pod" +
                          kUid2Underscored + ".slice";
  const std::string cri = "cri-containerd-" + kIdA + ".scope";
  expect_all({
      {"the node", node + "/kubelet.slice", {kIdD, "docker", "", "", "docker-" + kIdD + ".scope"}},
      {"a pod on the node", pod, {kIdD, "docker", kUid2, "burstable", "docker-" + kIdD + ".scope"}},
      {"a container on the node", pod + "/" + cri, {kIdA, "containerd", kUid2, "burstable", cri}},
  });
  // A kubepods hierarchy inside a pod's container starts afresh.
  const std::string outer = "/kubepods.slice/kubepods-pod" + kUidUnderscored + ".slice/" + cri;
  expect_all({
      {"inner QoS resets the outer pod",
       outer + "/kubepods.slice/kubepods-besteffort.slice",
       {kIdA, "containerd", "", "besteffort", cri}},
      {"inner pod replaces the outer pod",
       outer + "/kubepods/pod" + kUid2,
       {kIdA, "containerd", kUid2, "guaranteed", cri}},
  });
}

TEST(CgroupIdentitySystemd, UnitRules) {
  expect_all({
      {"service", "/system.slice/nginx.service", {"", "", "", "", "nginx.service"}},
      {"session scope", "/user.slice/user-1000.slice/session-3.scope", {"", "", "", "", "session-3.scope"}},
      {"user manager", "/user.slice/user-1000.slice/user@1000.service", {"", "", "", "", "user@1000.service"}},
      {"app in the user manager: innermost",
       "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-org.gnome.Terminal-4213.scope",
       {"", "", "", "", "app-gnome-org.gnome.Terminal-4213.scope"}},
      {"template instance",
       "/system.slice/system-getty.slice/getty@tty1.service",
       {"", "", "", "", "getty@tty1.service"}},
      {"\\x2d kept",
       "/system.slice/systemd-fsck@dev-disk-by\\x2duuid-7C1A\\x2d2B3C.service",
       {"", "", "", "", "systemd-fsck@dev-disk-by\\x2duuid-7C1A\\x2d2B3C.service"}},
      {"sub-cgroup of a delegated service",
       "/system.slice/buildkitd.service/worker-7",
       {"", "", "", "", "buildkitd.service"}},
      {"PID 1", "/init.scope", {"", "", "", "", "init.scope"}},
      {"mount unit",
       "/system.slice/var-lib-docker-overlay2-" + kIdA + "-merged.mount",
       {"", "", "", "", "var-lib-docker-overlay2-" + kIdA + "-merged.mount"}},
      {"socket", "/system.slice/sshd.socket", {"", "", "", "", "sshd.socket"}},
      {"swap", "/system.slice/dev-zram0.swap", {"", "", "", "", "dev-zram0.swap"}},
      {"slices are not units", "/user.slice/user-1000.slice", {}},
      {"bare suffix", "/system.slice/.service", {}},
      {"space is not a unit name character", "/system.slice/my app.service", {}},
      {"non-ASCII", "/system.slice/caf\xc3\xa9.service", {}},
      {"unknown unit type", "/system.slice/foo.timer", {}},
      {"outer unit when the inner component is not one",
       "/system.slice/foo.service/bad name.scope",
       {"", "", "", "", "foo.service"}},
  });
  std::string longest = std::string(247, 'a') + ".service"; // 255: UNIT_NAME_MAX - 1
  EXPECT_EQ(identity_from_cgroup_path("/system.slice/" + longest).systemd_unit, longest);
  EXPECT_EQ(identity_from_cgroup_path("/system.slice/a" + longest).systemd_unit, "");
}

TEST(CgroupIdentityHostile, NothingOrTheTruth) {
  const std::string scope = "/system.slice/docker-" + kIdA + ".scope";
  expect_all({
      {"empty", "", {}},
      {"root", "/", {}},
      {"slashes", "////", {}},
      {"63 hex", "/docker/" + kIdA.substr(1), {}},
      {"65 hex", "/docker/" + kIdA + "0", {}},
      {"uppercase hex", "/docker/BEE9D16919A547AD4CB80D2CE8DFD45C4CED14852A558F23CDFB4A3660426E9F", {}},
      {"non-hex", "/docker/" + std::string(64, 'g'), {}},
      {"empty id", "/system.slice/docker-.scope", {"", "", "", "", "docker-.scope"}},
      {"id with a suffix", "/system.slice/docker-" + kIdA + "x.scope", {"", "", "", "", "docker-" + kIdA + "x.scope"}},
      {"id then a wrong suffix", "/docker-" + kIdA + ".slice", {}},
      {"pod without a uid", "/kubepods/pod", {}},
      {"pod uid too short", "/kubepods/pod" + kUid.substr(1), {}},
      {"pod uid uppercase", "/kubepods/pod5FE60BCD-083B-43D7-BBCC-2DAA1F0E5F75", {}},
      {"pod uid mixed separators", "/kubepods/pod5fe60bcd-083b_43d7-bbcc-2daa1f0e5f75", {}},
      {"pod uid misplaced dashes", "/kubepods/pod5fe60bc-d083b-43d7-bbcc-2daa1f0e5f75", {}},
      {"pod uid non-hex", "/kubepods/pod5fe60bcd-083b-43d7-bbcc-2daa1f0e5f7z", {}},
      {"slice with an empty part", "/kubepods.slice/kubepods--pod" + kUidUnderscored + ".slice", {}},
      {"dot-dot after a container", scope + "/..", {}},
      {"dot-dot before a container", "/../../" + scope, {}},
      {"dot component", "/system.slice/./nginx.service", {}},
      {"dot-dot with no container", "/../../etc/passwd", {}},
      {"dots in names are fine", "/system.slice/..nginx.service", {"", "", "", "", "..nginx.service"}},
  });
  std::string with_nul = scope;
  with_nul.insert(5, 1, '\0');
  EXPECT_EQ(identity_from_cgroup_path(with_nul), CgroupIdentity{});
  EXPECT_EQ(identity_from_cgroup_path(std::string(1, '\0')), CgroupIdentity{});

  // Very long inputs: linear, and the container still found.
  std::string deep;
  for (int i = 0; i < 100000; ++i)
    deep += "/d";
  EXPECT_EQ(identity_from_cgroup_path(deep + scope).container_id, kIdA);
  EXPECT_EQ(identity_from_cgroup_path(std::string(1 << 20, 'a')), CgroupIdentity{});
  std::string bytes;
  for (int i = 0; i < 256; ++i)
    bytes += static_cast<char>(i == 0 ? 1 : i);
  EXPECT_EQ(identity_from_cgroup_path(bytes), CgroupIdentity{});
}

TEST(CgroupIdentityPodUid, CanonicalForms) {
  EXPECT_EQ(canonical_pod_uid(kUid), kUid);
  EXPECT_EQ(canonical_pod_uid(kUidUnderscored), kUid);
  EXPECT_EQ(canonical_pod_uid("5FE60BCD-083B-43D7-BBCC-2DAA1F0E5F75"), kUid);
  EXPECT_EQ(canonical_pod_uid("5FE60BCD_083b_43D7_bbcc_2DAA1F0E5F75"), kUid);
  EXPECT_EQ(canonical_pod_uid(kStaticUid), kStaticUid);
  EXPECT_EQ(canonical_pod_uid("1C2D6763B8BD02C1CBE4591AD4B50A0D"), kStaticUid);
  for (std::string bad : {std::string(), std::string("pod") + kUid, kUid + " ", kUid.substr(0, 35),
                          std::string("5fe60bcd-083b_43d7-bbcc-2daa1f0e5f75"), std::string(36, '-'),
                          kStaticUid.substr(1), kStaticUid + "0", std::string("../../etc/passwd")})
    EXPECT_FALSE(canonical_pod_uid(bad).has_value()) << bad;
}

// --- Directory trees ----------------------------------------------------------

class TempTree : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tt_identity_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = fs::canonical(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  fs::path base_;
};

class PodDirectoryTest : public TempTree {
protected:
  void SetUp() override {
    TempTree::SetUp();
    root_ = base_ / "pods";
    fs::create_directories(root_ / ("kube-system_coredns-5d78c9869d-x7k2p_" + kUid) / "coredns");
    fs::create_directories(root_ / ("kube-system_kube-apiserver-node1_" + kStaticUid));
  }
  PodDirectory::Options options(size_t max_entries = 100) {
    PodDirectory::Options o;
    o.min_rescan_interval_ms = 1000;
    o.max_entries = max_entries;
    o.now_ms = [this] { return now_ms_; };
    return o;
  }
  fs::path root_;
  uint64_t now_ms_ = 5000;
};

TEST_F(PodDirectoryTest, FindsNamesByAnyUidSpelling) {
  PodDirectory pods(root_.string(), options());
  const PodName coredns{"coredns-5d78c9869d-x7k2p", "kube-system"};
  EXPECT_EQ(pods.lookup(kUid), coredns);
  EXPECT_EQ(pods.lookup(kUidUnderscored), coredns);
  EXPECT_EQ(pods.lookup("5FE60BCD-083B-43D7-BBCC-2DAA1F0E5F75"), coredns);
  EXPECT_EQ(pods.lookup(kStaticUid), (PodName{"kube-apiserver-node1", "kube-system"}));
  EXPECT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods.stats().scans, 1u);
}

TEST_F(PodDirectoryTest, NeverGuesses) {
  fs::create_directories(root_ / kUid2);                               // pre-1.14 layout: no name
  fs::create_directories(root_ / ("default_web_" + kUid2 + "_x"));     // four parts
  fs::create_directories(root_ / ("Default_web_" + kUid2));            // not a namespace
  fs::create_directories(root_ / ("default_web_" + kUid2Underscored)); // not how the kubelet writes it
  fs::create_directories(root_ / ("default__" + kUid2));               // empty name
  std::ofstream(root_ / ("default_file_" + kUid2)) << "";              // not a directory
  fs::create_directory_symlink(root_ / ("kube-system_coredns-5d78c9869d-x7k2p_" + kUid),
                               root_ / ("default_link_" + kUid2));
  PodDirectory pods(root_.string(), options());
  EXPECT_FALSE(pods.lookup(kUid2).has_value());
  EXPECT_EQ(pods.stats().ignored, 7u);
  EXPECT_FALSE(pods.lookup("not-a-uid").has_value());
  EXPECT_EQ(pods.stats().scans, 1u); // malformed uids never scan

  PodDirectory missing((base_ / "nope").string(), options());
  EXPECT_FALSE(missing.lookup(kUid).has_value());
}

TEST_F(PodDirectoryTest, MissRescansAtMostOncePerInterval) {
  PodDirectory pods(root_.string(), options());
  EXPECT_FALSE(pods.lookup(kUid2).has_value());
  EXPECT_EQ(pods.stats().scans, 1u);
  fs::create_directories(root_ / ("shop_cart-7f9c_" + kUid2));
  for (int i = 0; i < 50; ++i)
    EXPECT_FALSE(pods.lookup(kUid2).has_value());
  now_ms_ += 999;
  EXPECT_FALSE(pods.lookup(kUid2).has_value());
  EXPECT_EQ(pods.stats().scans, 1u);
  now_ms_ += 1;
  EXPECT_EQ(pods.lookup(kUid2), (PodName{"cart-7f9c", "shop"}));
  EXPECT_EQ(pods.stats().scans, 2u);
  now_ms_ += 100000;
  EXPECT_TRUE(pods.lookup(kUid2).has_value()); // hits never scan
  EXPECT_EQ(pods.stats().scans, 2u);
}

TEST_F(PodDirectoryTest, RemovedPodsKeepTheirNamesAndEntriesAreBounded) {
  PodDirectory pods(root_.string(), options());
  ASSERT_TRUE(pods.lookup(kUid).has_value());
  fs::remove_all(root_ / ("kube-system_coredns-5d78c9869d-x7k2p_" + kUid));
  pods.rescan();
  EXPECT_TRUE(pods.lookup(kUid).has_value());

  PodDirectory small(root_.string(), options(1));
  small.rescan();
  EXPECT_EQ(small.size(), 1u);
  fs::create_directories(root_ / ("shop_cart-7f9c_" + kUid2));
  small.rescan();
  EXPECT_EQ(small.size(), 1u);
  EXPECT_GE(small.stats().overflowed, 1u);
}

TEST(CgroupIdentityCache, CachesAndFillsPodNames) {
  std::map<uint64_t, std::string> paths = {
      {10, "/kubepods.slice/kubepods-pod" + kUidUnderscored + ".slice/cri-containerd-" + kIdA + ".scope"},
      {11, "/system.slice/nginx.service"},
      {12, "/kubepods/besteffort/pod" + kUid2 + "/" + kIdB},
  };
  int calls = 0;
  auto path_of = [&](uint64_t id) -> std::optional<std::string> {
    ++calls;
    auto it = paths.find(id);
    return it == paths.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  std::string tmpl = (fs::temp_directory_path() / "tt_identity_pods_XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  fs::create_directories(fs::path(tmpl) / ("kube-system_coredns-x_" + kUid));
  uint64_t now = 0;
  PodDirectory::Options pod_options;
  pod_options.now_ms = [&] { return now; };
  PodDirectory pods(tmpl, pod_options);
  IdentityCache cache(path_of, &pods);

  auto a = cache.lookup(10);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->container_id, kIdA);
  EXPECT_EQ(a->pod_name, "coredns-x");
  EXPECT_EQ(a->pod_namespace, "kube-system");
  EXPECT_EQ(cache.lookup(10), a);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.lookup(11)->systemd_unit, "nginx.service");

  // The pod's log directory appears after its first process.
  EXPECT_EQ(cache.lookup(12)->pod_name, "");
  fs::create_directories(fs::path(tmpl) / ("shop_cart_" + kUid2));
  now += 1000;
  EXPECT_EQ(cache.lookup(12)->pod_name, "cart");
  EXPECT_EQ(calls, 3);

  // Unknown ids are not cached: the path lookup may learn them later.
  EXPECT_FALSE(cache.lookup(99).has_value());
  paths[99] = "/docker/" + kIdC;
  EXPECT_EQ(cache.lookup(99)->container_runtime, "docker");
  EXPECT_EQ(cache.stats().path_misses, 1u);
  fs::remove_all(tmpl);
}

TEST(CgroupIdentityCache, BoundedWithoutPodDirectory) {
  IdentityCache cache(
      [](uint64_t id) { return std::optional<std::string>("/system.slice/u" + std::to_string(id) + ".service"); },
      nullptr, IdentityCache::Options{3});
  for (uint64_t id = 0; id < 10; ++id)
    EXPECT_EQ(cache.lookup(id)->systemd_unit, "u" + std::to_string(id) + ".service");
  EXPECT_LE(cache.size(), 3u);
  EXPECT_EQ(cache.stats().resets, 3u);
  IdentityCache no_lookup(nullptr);
  EXPECT_FALSE(no_lookup.lookup(1).has_value());
}

class CgroupIdentityFind : public TempTree {
protected:
  void SetUp() override {
    TempTree::SetUp();
    mount_ = base_ / "cgroup";
    pod_ = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidUnderscored + ".slice";
    for (const std::string &dir : std::vector<std::string>{
             pod_ + "/cri-containerd-" + kIdA + ".scope/container", pod_ + "/cri-containerd-" + kIdB + ".scope",
             pod_ + "/crio-conmon-" + kIdC + ".scope",
             "/kubepods.slice/kubepods-pod" + kUid2Underscored + ".slice/cri-containerd-" + kIdC + ".scope",
             "/system.slice/docker-" + kIdD + ".scope", "/system.slice/nginx.service",
             "/docker/" + kIdD.substr(0, 8) + kIdA.substr(8)})
      fs::create_directories(mount_.string() + dir);
    std::ofstream(mount_ / "cgroup.procs") << "1\n";
    // A symlink is never followed, even to a matching tree.
    fs::create_directory_symlink(mount_ / "system.slice", mount_ / "link");
  }
  std::vector<std::string> found(Result<std::vector<std::string>> r) {
    if (!r) {
      ADD_FAILURE() << r.error();
      return {};
    }
    return *r;
  }
  std::string error(Result<std::vector<std::string>> r) {
    if (!r)
      return r.error();
    ADD_FAILURE() << "found " << r->size() << " cgroups";
    return {};
  }
  fs::path mount_;
  std::string pod_;
};

TEST_F(CgroupIdentityFind, ContainerByPrefix) {
  const std::string m = mount_.string();
  const std::vector<std::string> a = {pod_ + "/cri-containerd-" + kIdA + ".scope"};
  EXPECT_EQ(found(find_container_cgroups(m, kIdA)), a); // topmost: not its "container" child
  EXPECT_EQ(found(find_container_cgroups(m, kIdA.substr(0, 12))), a);
  EXPECT_EQ(found(find_container_cgroups(m, "BEE9D169")), a);
  EXPECT_EQ(found(find_container_cgroups(m + "/", "bee9")), a);
  // One prefix, two containers: both, sorted.
  EXPECT_EQ(found(find_container_cgroups(m, kIdD.substr(0, 8))),
            (std::vector<std::string>{"/docker/" + kIdD.substr(0, 8) + kIdA.substr(8),
                                      "/system.slice/docker-" + kIdD + ".scope"}));
  // conmon is not its container.
  EXPECT_EQ(found(find_container_cgroups(m, kIdC)),
            (std::vector<std::string>{"/kubepods.slice/kubepods-pod" + kUid2Underscored + ".slice/cri-containerd-" +
                                      kIdC + ".scope"}));
}

TEST_F(CgroupIdentityFind, ContainerErrors) {
  const std::string m = mount_.string();
  EXPECT_EQ(error(find_container_cgroups(m, "")), "--container: empty container id");
  EXPECT_EQ(error(find_container_cgroups(m, "nginx")),
            "--container nginx: a container id has only hex digits (0-9, a-f)");
  EXPECT_EQ(error(find_container_cgroups(m, "bee9\n")),
            "--container bee9?: a container id has only hex digits (0-9, a-f)");
  EXPECT_EQ(error(find_container_cgroups(m, kIdA + "0")),
            "--container " + kIdA + "0: longer than a container id (64 hex digits)");
  EXPECT_EQ(error(find_container_cgroups(m, "fff")),
            "--container fff: no cgroup under " + m + " belongs to a container whose id starts with fff");
  const std::string missing = (base_ / "missing").string();
  EXPECT_EQ(error(find_container_cgroups(missing, "bee9")),
            "--container bee9: cannot read cgroup mount " + missing + ": No such file or directory");
  EXPECT_EQ(error(find_container_cgroups("relative", "bee9")),
            "--container bee9: invalid cgroup mount point 'relative'");
}

TEST_F(CgroupIdentityFind, PodInAnySpelling) {
  const std::string m = mount_.string();
  for (const std::string &uid : {kUid, kUidUnderscored, std::string("5FE60BCD-083B-43D7-BBCC-2DAA1F0E5F75")})
    EXPECT_EQ(found(find_pod_cgroups(m, uid)), std::vector<std::string>{pod_}) << uid;
  EXPECT_EQ(found(find_pod_cgroups(m, kUid2)),
            std::vector<std::string>{"/kubepods.slice/kubepods-pod" + kUid2Underscored + ".slice"});
  EXPECT_EQ(error(find_pod_cgroups(m, "79bf8ef8-e52e-4afd-a297-a0f20b109327")),
            "--pod 79bf8ef8-e52e-4afd-a297-a0f20b109327: no cgroup under " + m + " belongs to this pod");
  EXPECT_EQ(error(find_pod_cgroups(m, "coredns")),
            "--pod coredns: not a pod UID (8-4-4-4-12 hex digits like 5f0c2a1e-7b3d-4c9a-8e6f-1a2b3c4d5e6f, or 32 "
            "for a static pod)");
}

TEST_F(CgroupIdentityFind, WalkIsBounded) {
  const std::string m = mount_.string();
  CgroupWalkLimits shallow{2, 1000}; // pods sit at depth 3
  EXPECT_EQ(error(find_pod_cgroups(m, kUid, shallow)),
            "--pod " + kUid + ": no cgroup under " + m + " (searched 1000 cgroups up to depth 2) belongs to this pod");
  CgroupWalkLimits few{32, 3};
  EXPECT_NE(error(find_pod_cgroups(m, kUid, few)).find("(searched 3 cgroups up to depth 32)"), std::string::npos);
  EXPECT_EQ(found(find_pod_cgroups(m, kUid, CgroupWalkLimits{3, 1000})), std::vector<std::string>{pod_});
}

TEST_F(CgroupIdentityFind, MountIsAFileOrTheContainerItself) {
  EXPECT_EQ(error(find_pod_cgroups((mount_ / "cgroup.procs").string(), kUid)),
            "--pod " + kUid + ": cgroup mount " + (mount_ / "cgroup.procs").string() + " is not a directory");
  // Searching from inside the pod's own directory: paths are relative to it
  // and carry no pod name, so nothing matches; say so rather than guess.
  EXPECT_FALSE(error(find_pod_cgroups(mount_.string() + pod_, kUid)).empty());
}

} // namespace
} // namespace treetrace

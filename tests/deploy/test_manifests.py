#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Holds the deploy files to what docs/operations.md says about them.

The Kubernetes manifests: the DaemonSet's host access, privileges,
resources and ports; the PodMonitor and the annotations agree with the
port treetrace listens on; kubectl renders the kustomization. The systemd
unit: the hardening settings, the same capabilities as the DaemonSet, and
`systemd-analyze verify` with ExecStart pointed at a real file. No root
and no cluster needed.

    tests/deploy/test_manifests.py [TREETRACE_BINARY]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(REPO, "deploy", "kubernetes")
UNIT = os.path.join(REPO, "deploy", "systemd", "treetrace.service")
OPERATIONS = os.path.join(REPO, "docs", "operations.md")
BINARY = None  # argv[1]: ExecStart for systemd-analyze verify

try:
    import yaml
except ImportError:
    sys.exit("FAIL: python3-yaml is not installed (scripts/setup-deps.sh installs it)")

# The mounts of issue #10: host path -> why it is needed (docs/operations.md).
HOST_MOUNTS = {"/sys/kernel/btf", "/sys/fs/cgroup", "/var/log/pods"}


def load_all(name):
    with open(os.path.join(K8S, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def one(docs, kind):
    found = [d for d in docs if d.get("kind") == kind]
    assert len(found) == 1, f"{len(found)} {kind} documents, want 1"
    return found[0]


def unit_settings(path=UNIT):
    """[Section] Key=value lines as {key: [values]} (all sections)."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def unit_caps():
    """The capability set, as the unit's AmbientCapabilities= names it."""
    (line,) = unit_settings()["AmbientCapabilities"]
    return sorted(c.upper() for c in line.split())


def listen_port(args):
    """The port of --listen [ADDR:]PORT in an argument list."""
    i = args.index("--listen")
    return int(args[i + 1].rsplit(":", 1)[-1])


def listen_addr(args):
    value = args[args.index("--listen") + 1]
    return value.rsplit(":", 1)[0] if ":" in value else "127.0.0.1"


class DaemonSet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ds = one(load_all("daemonset.yaml"), "DaemonSet")
        cls.pod = cls.ds["spec"]["template"]["spec"]
        (cls.c,) = cls.pod["containers"]
        cls.sc = cls.c["securityContext"]

    def test_host_pid_and_no_host_network(self):
        self.assertIs(self.pod.get("hostPID"), True)
        self.assertFalse(self.pod.get("hostNetwork", False), "the pod must not share the node's network")
        self.assertFalse(self.pod.get("hostIPC", False))

    def test_selector_matches_template(self):
        labels = self.ds["spec"]["template"]["metadata"]["labels"]
        for k, v in self.ds["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v)

    def test_the_three_host_mounts_read_only_and_nothing_else(self):
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        host = {}
        for m in self.c["volumeMounts"]:
            v = volumes[m["name"]]
            self.assertIn("hostPath", v, f"volume {m['name']} is not a hostPath")
            self.assertIs(m.get("readOnly"), True, f"{m['mountPath']} is not mounted read-only")
            self.assertEqual(m["mountPath"], v["hostPath"]["path"], "host paths are mounted where treetrace looks")
            host[v["hostPath"]["path"]] = m
        self.assertEqual(set(host), HOST_MOUNTS)
        self.assertEqual(len(volumes), len(HOST_MOUNTS), "a volume that is not mounted")

    def test_capabilities_drop_all_add_exactly_the_set(self):
        caps = self.sc["capabilities"]
        self.assertEqual(caps["drop"], ["ALL"])
        # Kubernetes spells them without CAP_; the unit with it.
        self.assertEqual(sorted("CAP_" + c.upper() for c in caps["add"]), unit_caps())
        self.assertNotIn("SYS_ADMIN", [c.upper() for c in caps["add"]])

    def test_not_privileged_read_only_no_escalation(self):
        self.assertFalse(self.sc.get("privileged", False))
        self.assertIs(self.sc.get("allowPrivilegeEscalation"), False)
        self.assertIs(self.sc.get("readOnlyRootFilesystem"), True)
        # uid 0 is required: Kubernetes sets no ambient capabilities, so a
        # non-root process would hold none (docs/operations.md).
        self.assertEqual(self.sc.get("runAsUser"), 0)
        self.assertNotIn("securityContext", self.pod, "pod-level settings would hide the container's")

    def test_requests_and_limits(self):
        res = self.c["resources"]
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                self.assertIn(r, res.get(kind, {}), f"resources.{kind}.{r} is not set")

    def test_runs_the_node_agent(self):
        args = self.c.get("command", []) + self.c["args"]
        self.assertEqual(args[0], "/usr/local/bin/treetrace")
        self.assertEqual(args[args.index("--group-by") + 1], "pod")
        self.assertEqual(args[args.index("--events") + 1], "none")
        self.assertEqual(listen_addr(args), "0.0.0.0", "the pod IP, so Prometheus can reach it")

    def test_port_annotations_probes_agree_with_listen(self):
        port = listen_port(self.c["args"])
        (cport,) = self.c["ports"]
        self.assertEqual(cport["containerPort"], port)
        self.assertEqual(cport.get("protocol", "TCP"), "TCP")
        ann = self.ds["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(ann["prometheus.io/scrape"], "true")
        self.assertEqual(ann["prometheus.io/port"], str(port))
        self.assertEqual(ann["prometheus.io/path"], "/metrics")
        for probe in ("readinessProbe", "livenessProbe"):
            p = self.c[probe]["httpGet"]["port"]
            self.assertIn(p, (port, cport["name"]), f"{probe} is not on the metrics port")

    def test_namespace_allows_it(self):
        ns = one(load_all("namespace.yaml"), "Namespace")
        self.assertEqual(ns["metadata"]["name"], self.ds["metadata"]["namespace"])
        # hostPID and hostPath volumes pass only the "privileged" level.
        self.assertEqual(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged")

    def test_podmonitor_scrapes_the_same_port(self):
        pm = one(load_all("podmonitor.yaml"), "PodMonitor")
        self.assertEqual(pm["metadata"]["namespace"], self.ds["metadata"]["namespace"])
        labels = self.ds["spec"]["template"]["metadata"]["labels"]
        for k, v in pm["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v, "the PodMonitor does not select the DaemonSet's pods")
        (ep,) = pm["spec"]["podMetricsEndpoints"]
        self.assertEqual(ep["port"], self.c["ports"][0]["name"])
        self.assertEqual(ep["path"], "/metrics")
        # The series' own pod/namespace labels name the traced pods; the
        # operator's target labels of the same names must not replace them.
        dropped = [r for r in ep.get("relabelings", []) if r.get("action") == "labeldrop"]
        self.assertTrue(dropped and all(re.fullmatch(dropped[0]["regex"], l) for l in ("pod", "namespace")))

    def test_kustomization_names_existing_files(self):
        (k,) = load_all("kustomization.yaml")
        for r in k["resources"]:
            self.assertTrue(os.path.isfile(os.path.join(K8S, r)), r)
        self.assertLess(k["resources"].index("namespace.yaml"), k["resources"].index("daemonset.yaml"))

    def test_kubectl_renders_it(self):
        # kubectl's client-side dry run and validation both need an API
        # server (for discovery); rendering the kustomization does not.
        kubectl = shutil.which("kubectl")
        if not kubectl:
            self.skipTest("kubectl is not installed (scripts/setup-deps.sh installs kubernetes-client "
                          "where no kubectl is): the kustomization is not rendered")
        out = subprocess.run([kubectl, "kustomize", K8S], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        kinds = sorted(d["kind"] for d in yaml.safe_load_all(out.stdout) if d)
        self.assertEqual(kinds, ["DaemonSet", "Namespace"])


class SystemdUnit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = unit_settings()

    def value(self, key):
        self.assertIn(key, self.s, f"{key}= is not set")
        return self.s[key][-1]

    def test_exec_start(self):
        args = self.value("ExecStart").split()
        self.assertEqual(args[0], "/usr/local/bin/treetrace")
        self.assertEqual(args[args.index("--listen") + 1], "127.0.0.1:10025")
        self.assertEqual(args[args.index("--group-by") + 1], "unit")
        self.assertEqual(args[args.index("--events") + 1], "none")

    def test_non_root_with_exactly_the_set(self):
        self.assertTrue(self.value("DynamicUser") == "yes" or self.value("User") not in ("", "root", "0"))
        caps = unit_caps()
        self.assertEqual(sorted(self.value("CapabilityBoundingSet").upper().split()), caps)
        self.assertIn("CAP_BPF", caps)
        self.assertNotIn("CAP_SYS_ADMIN", caps)

    def test_hardening(self):
        for key, want in {
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "ProtectKernelModules": "yes",
            "ProtectKernelTunables": "yes",
            "ProtectControlGroups": "yes",
        }.items():
            self.assertEqual(self.value(key), want, key)
        self.assertEqual(self.value("RestrictAddressFamilies").split(), ["AF_INET", "AF_INET6", "AF_UNIX"])
        self.assertRegex(self.value("MemoryMax"), r"^[0-9]+[KMG]?$")
        self.assertIn("bpf", self.value("SystemCallFilter").split(), "bpf() is not in @system-service")

    def test_nothing_that_breaks_treetrace(self):
        # Each of these was considered and would stop treetrace working.
        self.assertNotIn(self.s.get("ProtectProc", ["default"])[-1], ("invisible", "ptraceable", "noaccess"),
                         "hides other users' processes from /proc")
        self.assertNotEqual(self.s.get("ProcSubset", ["all"])[-1], "pid", "hides /proc/cgroups")
        self.assertNotEqual(self.s.get("PrivateUsers", ["no"])[-1], "yes",
                            "capabilities in a user namespace do not allow loading BPF programs")
        self.assertNotEqual(self.s.get("PrivateNetwork", ["no"])[-1], "yes", "the endpoint would be unreachable")

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed (package systemd)")
        with tempfile.TemporaryDirectory() as tmp:
            # verify checks that ExecStart's file exists and is executable:
            # the unit's own text, pointed at a copy of the binary (or of
            # /bin/true) instead of the installed path.
            exe = os.path.join(tmp, "treetrace")
            shutil.copy(BINARY if BINARY else "/bin/true", exe)
            with open(UNIT) as f:
                text = f.read()
            text = text.replace("ExecStart=/usr/local/bin/treetrace", "ExecStart=" + exe)
            unit = os.path.join(tmp, "treetrace.service")
            with open(unit, "w") as f:
                f.write(text)
            out = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertNotIn("treetrace.service", out.stdout + out.stderr, "a warning about the unit")
            # The exposure score, for the log: 1.9 when written.
            sec = subprocess.run([analyze, "security", "--offline=yes", unit], capture_output=True, text=True,
                                 timeout=60)
            m = re.search(r"Overall exposure level for treetrace.service: ([0-9.]+)", sec.stdout)
            self.assertTrue(m, sec.stdout[-500:] + sec.stderr)
            print(f"systemd-analyze security: exposure {m.group(1)}", file=sys.stderr)
            self.assertLess(float(m.group(1)), 3.0)


class Documentation(unittest.TestCase):
    def test_operations_names_the_set(self):
        with open(OPERATIONS) as f:
            text = f.read()
        m = re.search(r"^## Running as a node agent\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        self.assertTrue(m, "docs/operations.md has no section 'Running as a node agent'")
        for cap in unit_caps():
            self.assertIn(cap, m.group(1))
        for path in sorted(HOST_MOUNTS):
            self.assertIn(path, m.group(1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        BINARY = sys.argv.pop(1)
    unittest.main(verbosity=2)

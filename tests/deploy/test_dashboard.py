#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""Holds deploy/grafana/treetrace-dashboard.json to the exported metrics.

Every metric name in every PromQL expression (and variable query) is a
family that docs/metrics.md lists, spelled as listed (a counter with its
_total, no _sum/_count/_bucket); counters are only read through rate() or
increase(), gauges never; the panels issue #10 asks for exist with the
expression they are for; promtool parses every expression.

    tests/deploy/test_dashboard.py [METRICS_DOC]    (default docs/metrics.md)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "treetrace-dashboard.json")
METRICS_DOC = os.path.join(REPO, "docs", "metrics.md")

METRIC = re.compile(r"\btreetrace_[a-z_]+")
# docs/metrics.md: one table row per family, the backticked name first:
# | `treetrace_group_cpu_seconds_total` | counter | ...
FAMILY_ROW = re.compile(r"^\|\s*`(treetrace_[a-z0-9_]+)`\s*\|\s*([^|]*?)\s*\|", re.M)

# Title -> a pattern its expression must match (issue #10's panels).
REQUIRED_PANELS = {
    "CPU by group": r"\brate\(treetrace_group_cpu_seconds_total\{",
    "CPU by command": r"\brate\(treetrace_group_command_cpu_seconds_total\{",
    "RSS by group": r"\btreetrace_group_memory_rss_bytes\{",
    "PSS by group": r"\btreetrace_group_memory_pss_bytes\{",
    "Peak RSS by group": r"\btreetrace_group_memory_rss_peak_bytes\{",
    "OOM kills": r"\bincrease\(treetrace_group_oom_kills_total\{",
    "Lost records": r"\bby \([^)]*\bcause\b[^)]*\) \(rate\(treetrace_records_lost_total\{",
    "Series dropped": r"\btreetrace_series_dropped_total\{",
}


def families(path):
    with open(path) as f:
        rows = FAMILY_ROW.findall(f.read())
    return {name: kind.strip().lower() for name, kind in rows}


def panels(dashboard):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])  # a collapsed row holds its panels


def expressions(dashboard):
    """(where, PromQL) for every target and every query variable."""
    for p in panels(dashboard):
        for t in p.get("targets", []):
            yield f"panel '{p['title']}' {t['refId']}", t["expr"]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            yield f"variable {v['name']}", q
            yield f"variable {v['name']} definition", v["definition"]


def to_promql(expr):
    """Grafana's variables replaced by what they expand to, for promtool."""
    m = re.fullmatch(r"label_values\((.+),\s*\w+\)", expr.strip())
    if m:
        expr = m.group(1)
    for var, value in (("$__rate_interval", "2m"), ("$__interval", "30s"), ("$__range", "1h")):
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(METRICS_DOC):
            raise AssertionError(f"{METRICS_DOC} does not exist: the exported families are listed there")
        cls.families = families(METRICS_DOC)
        assert cls.families, f"no `treetrace_...` table rows in {METRICS_DOC}"
        with open(DASHBOARD) as f:
            cls.d = json.load(f)

    def test_schema_and_datasource_variable(self):
        self.assertGreaterEqual(self.d["schemaVersion"], 36)
        self.assertLessEqual(self.d["schemaVersion"], 39)
        (ds,) = [v for v in self.d["templating"]["list"] if v["type"] == "datasource"]
        self.assertEqual(ds["query"], "prometheus")
        ref = "${" + ds["name"] + "}"
        for p in panels(self.d):
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"]["uid"], ref, p["title"])
            for t in p["targets"]:
                self.assertEqual(t.get("datasource", p["datasource"])["uid"], ref, p["title"])

    def test_group_variable(self):
        (g,) = [v for v in self.d["templating"]["list"] if v["name"] == "group"]
        self.assertEqual(g["type"], "query")
        self.assertEqual(re.sub(r"\s", "", g["definition"]), "label_values(treetrace_group_cpu_seconds_total,group)")
        self.assertEqual(g["definition"], g["query"]["query"])

    def test_every_metric_is_an_exported_family(self):
        for where, expr in expressions(self.d):
            for name in METRIC.findall(expr):
                self.assertIn(name, self.families, f"{where}: {name} is not a family in {METRICS_DOC}: {expr}")

    def test_counters_are_rated_and_gauges_are_not(self):
        for where, expr in expressions(self.d):
            if expr.startswith("label_values("):
                continue
            for m in METRIC.finditer(expr):
                kind = self.families.get(m.group(0))
                rated = re.search(r"\b(rate|irate|increase)\($", expr[: m.start()]) is not None
                if kind == "counter":
                    self.assertTrue(rated, f"{where}: counter {m.group(0)} not inside rate()/increase(): {expr}")
                elif kind == "gauge":
                    self.assertFalse(rated, f"{where}: gauge {m.group(0)} inside rate()/increase(): {expr}")

    def test_the_panels_of_issue_10(self):
        by_title = {p["title"]: p for p in panels(self.d)}
        for title, pattern in REQUIRED_PANELS.items():
            self.assertIn(title, by_title, f"no panel '{title}'")
            exprs = [t["expr"] for t in by_title[title]["targets"]]
            self.assertTrue(any(re.search(pattern, e) for e in exprs), f"'{title}': no expression matches {pattern}: {exprs}")

    def test_group_panels_follow_the_variable(self):
        for p in panels(self.d):
            for t in p.get("targets", []):
                if "treetrace_group_" in t["expr"]:
                    self.assertIn('group=~"$group"', t["expr"], p["title"])

    def test_ids_and_layout(self):
        ids = [p["id"] for p in panels(self.d)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        cells = set()
        for p in panels(self.d):
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            self.assertFalse(cells & mine, f"'{p['title']}' overlaps another panel")
            cells |= mine

    def test_promtool_parses_every_expression(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool is not installed (Debian package prometheus, in scripts/setup-deps.sh)")
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"tt_dashboard:expr{i}", "expr": to_promql(e)} for i, (_, e) in enumerate(expressions(self.d))]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(rules, f)  # JSON is YAML: promtool reads it
        try:
            out = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        METRICS_DOC = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Builds the reports of trees, groups and processes from the aggregator's
// tables, read-only. Pure C++.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/account.h"
#include "core/aggregator.h"
#include "core/process.h"
#include "core/ring.h"

namespace treetrace {

class ReportBuilder {
public:
  ReportBuilder(const ProcMap<Process> &live, const Ring<ExitedReport> &exited, size_t max_comms)
      : live_(live), exited_(exited), max_comms_(max_comms) {}

  ProcessReport process(const Process &p, uint64_t now_ns) const;
  // The same into an existing report, every field rewritten, reusing its
  // buffers.
  void process_into(ProcessReport &r, const Process &p, uint64_t now_ns) const;
  // Kept reports of exited processes by tree or by group, built only for
  // reports that list processes (nullopt otherwise).
  std::optional<ExitedByTree> exited_by_tree(bool with_processes) const;
  std::optional<ExitedByGroup> exited_by_group(bool with_processes) const;
  // One row: a tree, or a group when is_group.
  TreeReport account(const Account &a, uint64_t now_ns, const std::optional<ExitedByTree> &exited,
                     const std::optional<ExitedByGroup> &exited_groups, bool is_group) const;

private:
  std::vector<CommUsage> by_comm(const Account &a, bool is_group) const;
  // Live members by CPU, then the retained reports of exited ones in exit order.
  std::vector<ProcessReport> processes(const Account &a, uint64_t now_ns,
                                       const std::vector<const ProcessReport *> *exited) const;

  const ProcMap<Process> &live_;
  const Ring<ExitedReport> &exited_;
  size_t max_comms_;
};

} // namespace treetrace

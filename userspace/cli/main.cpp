// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// treetrace: per-process-tree CPU and memory accounting from the kernel.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "cli/options.h"
#include "cli/recording_setup.h"
#include "cli/runner.h"

int main(int argc, char **argv) {
  // Diagnostics go to stderr as "treetrace: message": stdout is for data.
  auto logger = spdlog::stderr_logger_st("treetrace");
  logger->set_pattern("treetrace: %v");
  spdlog::set_default_logger(logger);

  auto parsed = treetrace::parse_options(argc, argv);
  if (auto *exit = std::get_if<treetrace::OptionsExit>(&parsed)) {
    if (exit->code == 0)
      fputs(exit->message.c_str(), stdout);
    else
      fprintf(stderr, "treetrace: %s\n", exit->message.c_str());
    return exit->code;
  }
  const auto &options = std::get<treetrace::Options>(parsed);
  spdlog::set_level(options.log_verbosity > 0 ? spdlog::level::debug : spdlog::level::info);
  try {
    if (options.mode == treetrace::Mode::Report)
      return treetrace::run_report(options);
    return treetrace::run(options);
  } catch (const std::exception &e) {
    fprintf(stderr, "treetrace: %s\n", e.what());
    return 1;
  }
}

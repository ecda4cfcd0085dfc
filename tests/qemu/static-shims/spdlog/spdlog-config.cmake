# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# spdlog as a header-only INTERFACE target (on top of header-only fmt), for
# the static build of tests/qemu/run-kernel.sh: Debian's libspdlog-dev
# ships no libspdlog.a.
include(CMakeFindDependencyMacro)
find_dependency(fmt)
if(NOT TARGET spdlog::spdlog)
  add_library(spdlog::spdlog INTERFACE IMPORTED)
  set_target_properties(spdlog::spdlog PROPERTIES
    INTERFACE_COMPILE_DEFINITIONS "SPDLOG_HEADER_ONLY;SPDLOG_FMT_EXTERNAL"
    INTERFACE_LINK_LIBRARIES "fmt::fmt")
endif()
set(spdlog_FOUND TRUE)

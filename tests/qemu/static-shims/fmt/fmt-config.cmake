# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# fmt as a header-only INTERFACE target, for the static build of
# tests/qemu/run-kernel.sh: Debian's libfmt-dev ships no libfmt.a.
if(NOT TARGET fmt::fmt)
  add_library(fmt::fmt INTERFACE IMPORTED)
  set_target_properties(fmt::fmt PROPERTIES INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1")
endif()
set(fmt_FOUND TRUE)

# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# Build rules for BPF objects and their libbpf skeletons.
#
# tt_add_bpf_skeleton(<name> <source.bpf.c> [DEFINES <macro>...]) compiles
# the program with clang (with -D<macro> for each DEFINES entry)
# (tracking headers through a depfile, not a glob), links it with
# `bpftool gen object`, generates <name>.skel.h (struct <name>_bpf) with
# `bpftool gen skeleton`,
# and exposes an INTERFACE target <name>_skel whose include directory holds
# the skeleton.

find_program(TT_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(TT_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

execute_process(COMMAND ${TT_CLANG} --version OUTPUT_VARIABLE _clang_version_out)
string(REGEX MATCH "clang version ([0-9]+)" _m "${_clang_version_out}")
if(NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 LESS 12)
  message(FATAL_ERROR "BPF CO-RE needs clang >= 12 (found: ${CMAKE_MATCH_1}) at ${TT_CLANG}")
endif()
set(TT_CLANG_MAJOR ${CMAKE_MATCH_1})

execute_process(COMMAND ${TT_BPFTOOL} version OUTPUT_VARIABLE _bpftool_out RESULT_VARIABLE _bpftool_rc)
string(REGEX MATCH "v([0-9]+)\\.([0-9]+)" _m "${_bpftool_out}")
if(NOT _bpftool_rc EQUAL 0 OR NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 LESS 5)
  message(FATAL_ERROR "bpftool >= 5 with 'gen skeleton' is required (found: '${_bpftool_out}')")
endif()
message(STATUS "BPF toolchain: clang ${TT_CLANG_MAJOR} (${TT_CLANG}), bpftool ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")

# Only architectures with a pinned vmlinux/<arch>/vmlinux.h build: the BPF
# programs' CO-RE types come from it, and one generated on the build host
# would tie the build to that host's kernel.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(TT_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(TT_BPF_ARCH arm64)
else()
  set(TT_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()
if(NOT EXISTS ${PROJECT_SOURCE_DIR}/vmlinux/${TT_BPF_ARCH}/vmlinux.h)
  message(FATAL_ERROR "treetrace builds only where a vmlinux.h is pinned (vmlinux/<arch>/vmlinux.h): "
                      "there is none for ${CMAKE_SYSTEM_PROCESSOR}. scripts/gen-vmlinux.sh makes one from a "
                      "kernel of that architecture with BTF.")
endif()

function(tt_add_bpf_skeleton name source)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "DEFINES")
  list(TRANSFORM arg_DEFINES PREPEND -D OUTPUT_VARIABLE defines)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf)
  set(obj ${out_dir}/${name}.tmp.bpf.o)
  set(linked ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  set(dep ${out_dir}/${name}.bpf.d)
  file(MAKE_DIRECTORY ${out_dir})

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${TT_CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${TT_BPF_ARCH} ${defines}
            -Wall -Werror -Wno-unused-function
            -I${PROJECT_SOURCE_DIR}/vmlinux/${TT_BPF_ARCH}
            -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
            -MD -MF ${dep}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source}
    DEPFILE ${dep}
    COMMENT "BPF ${source}"
    VERBATIM)

  add_custom_command(
    OUTPUT ${linked} ${skel}
    COMMAND ${TT_BPFTOOL} gen object ${linked} ${obj}
    COMMAND ${TT_BPFTOOL} gen skeleton ${linked} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)

  add_custom_target(${name}_skel_gen DEPENDS ${skel} ${linked})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir})
  set_property(TARGET ${name}_skel PROPERTY TT_BPF_OBJECT ${linked})
endfunction()

# One helper per kind of test program, so every test is built the same way.

# CMocka: Debian's libcmocka-dev (found by header and library so cross
# builds can point CMAKE_FIND_ROOT_PATH at a sysroot).
find_path(CMOCKA_INCLUDE_DIR cmocka.h)
find_library(CMOCKA_LIBRARY cmocka)
if(NOT CMOCKA_INCLUDE_DIR OR NOT CMOCKA_LIBRARY)
  message(FATAL_ERROR "CMocka not found: install it with 'apt-get install libcmocka-dev' "
                      "(or configure with -DVTIO_BUILD_TESTS=OFF)")
endif()
find_package(Threads REQUIRED)

# vtio_add_test(<name> SOURCES <files...> [LABELS <labels...>] [LIBS <libs...>] [TIMEOUT <s>])
# Builds a CMocka test program linked with the library and registers it with ctest.
function(vtio_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LABELS;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${CMOCKA_INCLUDE_DIR} ${PROJECT_SOURCE_DIR}/tests/common)
  target_link_libraries(${name} PRIVATE vtio ${CMOCKA_LIBRARY} Threads::Threads ${T_LIBS})
  if(TARGET vtio_test_common)
    target_link_libraries(${name} PRIVATE vtio_test_common) # tests/common
  endif()
  set_target_properties(${name} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  vtio_program_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;${T_LABELS}")
endfunction()

# vtio_add_interop_test(<name> COMMAND <cmd> [args...] [TIMEOUT <s>] [LABELS <labels...>]
#                       [DEPENDS <targets...>])
# A test against an implementation nobody here wrote (QEMU's device models, DPDK,
# a Linux guest, qemu-storage-daemon). It is an ordinary ctest test labelled
# `interop` (and not `unit`), registered only with VTIO_INTEROP (on when
# top-level; the sanitizer and cross stages of .ci/run turn it off so each peer
# runs once). Rules every such test follows:
#  - it installs its Debian packages itself with scripts/interop-deps.sh and
#    exits 77 (ctest: skipped) only when a package cannot be installed, after a
#    message naming the package;
#  - every external process runs under `timeout` and is reaped on every path,
#    so a hung peer fails the test instead of hanging CI (TIMEOUT is ctest's
#    last resort, default 240 s);
#  - it checks content and counts, never speed; scratch files (images,
#    initramfs, sockets) go under $VTIO_INTEROP_DIR/<name>, in the build tree.
# The command sees VTIO_SOURCE_DIR, VTIO_BINARY_DIR and VTIO_INTEROP_DIR.
function(vtio_add_interop_test name)
  if(NOT VTIO_INTEROP)
    return()
  endif()
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;LABELS;DEPENDS" ${ARGN})
  if(NOT T_COMMAND)
    message(FATAL_ERROR "vtio_add_interop_test(${name}): COMMAND is required")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 240)
  endif()
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS "interop;${T_LABELS}"
    SKIP_RETURN_CODE 77
    ENVIRONMENT "VTIO_SOURCE_DIR=${PROJECT_SOURCE_DIR};VTIO_BINARY_DIR=${PROJECT_BINARY_DIR};VTIO_INTEROP_DIR=${PROJECT_BINARY_DIR}/interop")
  if(T_DEPENDS)
    # Nothing to do at test time: the targets are built by the ordinary build;
    # listed so a reader sees what the test runs.
    foreach(d ${T_DEPENDS})
      if(NOT TARGET ${d})
        message(FATAL_ERROR "vtio_add_interop_test(${name}): no target ${d}")
      endif()
    endforeach()
  endif()
endfunction()

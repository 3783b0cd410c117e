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
  set_target_properties(${name} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  vtio_program_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;${T_LABELS}")
endfunction()

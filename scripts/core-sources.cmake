# Print the portable core's source files, one per line, relative to the
# project root, exactly as the CMake build lists them (src/sources.cmake and
# the per-component src/*/sources.cmake it includes; host-only sources are not
# part of it). Used by check-freestanding.sh, size-report.sh, static-analysis.sh
# and cross-sources.sh (sources.mk), so no script keeps a copy of the list.
# Usage: cmake -P scripts/core-sources.cmake
get_filename_component(_root ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
include(${_root}/src/sources.cmake)
foreach(_s IN LISTS VTIO_CORE_SOURCES)
  # Relative entries mean what add_library() makes of them: the project root.
  get_filename_component(_abs "${_s}" ABSOLUTE BASE_DIR "${_root}")
  file(RELATIVE_PATH _rel "${_root}" "${_abs}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo "${_rel}")
endforeach()

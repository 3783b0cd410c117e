# The portable core: builds freestanding, no libc beyond what port.h names.
# Each component lists its files in its own sources.cmake; paths are
# relative to the project root so sources.mk can mirror them.
set(VTIO_CORE_SOURCES "")
foreach(_vtio_comp core ring dma bounce transport)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${_vtio_comp}/sources.cmake)
    include(${CMAKE_CURRENT_LIST_DIR}/${_vtio_comp}/sources.cmake)
  endif()
endforeach()

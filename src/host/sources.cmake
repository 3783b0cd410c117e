# Host-only helpers (Linux/POSIX: eventfd, threads, clock). Not part of the
# freestanding core: src/sources.cmake never includes this file (the top
# CMakeLists does, with VTIO_BUILD_HOST), so scripts/core-sources.cmake and
# the freestanding check never see it. Tests, benchmarks and examples link
# vtio_host.
find_package(Threads REQUIRED)
set(VTIO_HOST_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(vtio_host STATIC ${VTIO_HOST_DIR}/host_event.c)
target_sources(vtio_host PRIVATE ${VTIO_HOST_DIR}/host_msgq.c)
target_include_directories(vtio_host PUBLIC ${VTIO_HOST_DIR})
target_link_libraries(vtio_host PUBLIC vtio Threads::Threads)
set_target_properties(vtio_host PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
# Shared-memory window, eventfd doorbells, fd passing (host_shm.h).
target_sources(vtio_host PRIVATE ${VTIO_HOST_DIR}/host_shm.c)
vtio_target_warnings(vtio_host)
vtio_target_sanitize(vtio_host)
# The message-queue transport between two processes over the shm link.
target_sources(vtio_host PRIVATE ${VTIO_HOST_DIR}/host_msgq_link.c)

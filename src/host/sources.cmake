# Host-only helpers (Linux/POSIX: eventfd, threads, clock). Not part of the
# freestanding core (scripts/check-freestanding.sh reads only
# ${CMAKE_CURRENT_LIST_DIR}/*.c paths, so this file names its directory
# through another variable); tests, benchmarks and examples link vtio_host.
find_package(Threads REQUIRED)
set(VTIO_HOST_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(vtio_host STATIC ${VTIO_HOST_DIR}/host_event.c)
target_include_directories(vtio_host PUBLIC ${VTIO_HOST_DIR})
target_link_libraries(vtio_host PUBLIC vtio Threads::Threads)
set_target_properties(vtio_host PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
vtio_target_warnings(vtio_host)
vtio_target_sanitize(vtio_host)

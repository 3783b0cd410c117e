# vhost-user transport (both roles): host-only (sockets, memfd, epoll), its
# own target so firmware never compiles it. Included by the top CMakeLists
# with VTIO_BUILD_HOST, like src/host/sources.cmake.
set(VTIO_VHOST_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(vtio_vhost STATIC
  ${VTIO_VHOST_DIR}/vhost_msg.c
  ${VTIO_VHOST_DIR}/vhost_be.c
  ${VTIO_VHOST_DIR}/vhost_fe.c)
target_include_directories(vtio_vhost PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_include_directories(vtio_vhost PRIVATE ${VTIO_VHOST_DIR})
target_link_libraries(vtio_vhost PUBLIC vtio)
set_target_properties(vtio_vhost PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                      POSITION_INDEPENDENT_CODE ON)
vtio_target_warnings(vtio_vhost)
vtio_target_sanitize(vtio_vhost)
if(VTIO_LIBFUZZER)
  target_compile_options(vtio_vhost PRIVATE -fsanitize=fuzzer-no-link)
endif()

# Portable transports (freestanding core): ops table helpers and loopback.
list(APPEND VTIO_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/transport_core.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_loopback.c)
# Shared-memory + doorbell transport (directory, register block, both roles).
# Its device role drives the device core (dev_core.c): built when the tree has it.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/dev_core.c)
  list(APPEND VTIO_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/transport_shm.c)
endif()

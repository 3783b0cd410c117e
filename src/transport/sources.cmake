# Portable transports (freestanding core): ops table helpers and loopback.
list(APPEND VTIO_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/transport_core.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_loopback.c)
# Shared-memory + doorbell transport (directory, register block, both roles).
list(APPEND VTIO_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/transport_shm.c)

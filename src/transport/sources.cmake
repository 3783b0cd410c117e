# Portable transports (freestanding core): ops table helpers and loopback.
list(APPEND VTIO_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/transport_core.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_loopback.c)
# Message-queue transport (codec, driver and device sides).
list(APPEND VTIO_CORE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/transport_msgq.c)

# Portable transports (freestanding core): ops table helpers, the device
# core, loopback, virtio-mmio (both roles), shared memory + doorbell.
list(APPEND VTIO_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/transport_core.c
  ${CMAKE_CURRENT_LIST_DIR}/dev_core.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_loopback.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_mmio.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_mmio_dev.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_shm.c
  ${CMAKE_CURRENT_LIST_DIR}/transport_msgq.c)

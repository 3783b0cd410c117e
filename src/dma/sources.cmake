list(APPEND VTIO_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/dma_stack.c
  ${CMAKE_CURRENT_LIST_DIR}/dma_direct.c
  ${CMAKE_CURRENT_LIST_DIR}/dma_window.c
  ${CMAKE_CURRENT_LIST_DIR}/dma_debug.c
  ${CMAKE_CURRENT_LIST_DIR}/dma_iommu.c)

list(APPEND VTIO_CORE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/bounce_pool.c
  ${CMAKE_CURRENT_LIST_DIR}/bounce_set.c
  ${CMAKE_CURRENT_LIST_DIR}/bounce_layer.c
  ${CMAKE_CURRENT_LIST_DIR}/bounce_cache.c)

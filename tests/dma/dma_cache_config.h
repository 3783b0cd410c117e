/* Config for test_dma_cache: record every cache-maintenance call of the DMA
 * sources compiled into the test. */
#ifndef DMA_CACHE_CONFIG_H
#define DMA_CACHE_CONFIG_H
#include <stddef.h>
void dma_cache_record(char op, const void *p, size_t n);
#define VTIO_CACHE_FLUSH(p, n)	    dma_cache_record('F', (p), (n))
#define VTIO_CACHE_INVALIDATE(p, n) dma_cache_record('I', (p), (n))
#endif

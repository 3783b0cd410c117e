/* User configuration for test_bounce_hooks (named with -DVTIO_CONFIG_FILE):
 * the bounce sources are compiled into the test with counting cache hooks
 * and a CPU-id hook the test sets. The invalidate hook also runs an
 * optional test callback: it is called by unmap between its checks and the
 * release of the slots, so a test can put other calls in that window. */
#ifndef BOUNCE_TEST_CONFIG_H
#define BOUNCE_TEST_CONFIG_H

#include <stddef.h>

extern unsigned bt_flushes, bt_invalidates;
/* Bytes the bounce code zeroed through VTIO_MEMSET (all of its memsets zero). */
extern size_t bt_zeroed;
void *bt_memset(void *d, int c, size_t n);
extern _Thread_local unsigned bt_cpu;
void bt_invalidate(void *p, size_t n);

#define VTIO_CACHE_FLUSH(p, n)	    ((void)(p), (void)(n), (void)bt_flushes++)
#define VTIO_CACHE_INVALIDATE(p, n) bt_invalidate((void *)(p), (size_t)(n))
#define VTIO_BOUNCE_CPU_ID()	    (bt_cpu)
#define VTIO_MEMSET(d, c, n)	    bt_memset((d), (c), (n))

#endif

/* User configuration for test_bounce_hooks (named with -DVTIO_CONFIG_FILE):
 * the bounce sources are compiled into the test with counting cache hooks
 * and a CPU-id hook the test sets. */
#ifndef BOUNCE_TEST_CONFIG_H
#define BOUNCE_TEST_CONFIG_H

extern unsigned bt_flushes, bt_invalidates;
extern _Thread_local unsigned bt_cpu;

#define VTIO_CACHE_FLUSH(p, n)	    ((void)(p), (void)(n), (void)bt_flushes++)
#define VTIO_CACHE_INVALIDATE(p, n) ((void)(p), (void)(n), (void)bt_invalidates++)
#define VTIO_BOUNCE_CPU_ID()	    (bt_cpu)

#endif

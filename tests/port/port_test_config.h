/* User configuration header for test_port_config (named with -DVTIO_CONFIG_FILE). */
#ifndef PORT_TEST_CONFIG_H
#define PORT_TEST_CONFIG_H

#include <stddef.h>

/* Build options: the user file wins over config.h's defaults. */
#define VTIO_CONFIG_DMA_MAX_LAYERS   3
#define VTIO_CONFIG_BOUNCE_MAX_POOLS 2
#define VTIO_CONFIG_EVENT_IDX	     0

/* Port hooks: counted, so the test sees they were used. */
extern unsigned port_test_asserts_failed;
extern unsigned port_test_flushes;
extern unsigned port_test_memcpys;
extern unsigned port_test_locks;
void *port_test_memcpy(void *d, const void *s, size_t n);

#define VTIO_ASSERT(cond)      ((cond) ? (void)0 : (void)port_test_asserts_failed++)
#define VTIO_CACHE_FLUSH(p, n) ((void)(p), (void)(n), (void)port_test_flushes++)
#define VTIO_MEMCPY(d, s, n)   port_test_memcpy((d), (s), (n))

/* A firmware-style lock: a plain counter standing in for IRQ masking. */
#define VTIO_LOCK_T	  int
#define VTIO_LOCK_INIT(l) (*(l) = 0)
#define VTIO_LOCK(l)	  ((void)(*(l))++, (void)port_test_locks++)
#define VTIO_UNLOCK(l)	  ((void)(*(l))--)

#endif

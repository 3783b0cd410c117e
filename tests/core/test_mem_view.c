/* Memory views: region table fast and slow paths, permissions, ranges that
 * cross regions, accessor-op fallback, and the counting view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/mem.h"

static unsigned char a[256], b[256], c[256];

static void test_init_rejects_bad_tables(void **state)
{
	(void)state;
	struct vtio_mem m;
	struct vtio_mem_region overlap[2] = {{0x1000, 0x100, a, VTIO_MEM_RW},
					     {0x10ff, 0x100, b, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&m, overlap, 2), VTIO_EINVAL);
	struct vtio_mem_region unsorted[2] = {{0x2000, 0x100, a, VTIO_MEM_RW},
					      {0x1000, 0x100, b, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&m, unsorted, 2), VTIO_EINVAL);
	struct vtio_mem_region empty[1] = {{0x1000, 0, a, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&m, empty, 1), VTIO_EINVAL);
	struct vtio_mem_region wrap[1] = {{UINT64_MAX - 10, 100, a, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&m, wrap, 1), VTIO_EINVAL);
	assert_int_equal(vtio_mem_init(&m, NULL, 3), VTIO_EINVAL);
	assert_int_equal(vtio_mem_init(&m, NULL, 0), 0);
}

static void test_translate_regions_and_perms(void **state)
{
	(void)state;
	struct vtio_mem m;
	struct vtio_mem_region r[3] = {{0x1000, 256, a, VTIO_MEM_RW},
				       {0x1100, 256, b, VTIO_MEM_READ},
				       {0x9000, 256, c, VTIO_MEM_WRITE}};
	assert_int_equal(vtio_mem_init(&m, r, 3), 0);
	void *p;
	uint64_t n;
	/* Fast path (first region). */
	assert_int_equal(vtio_mem_translate(&m, 0x1010, 16, VTIO_MEM_READ, &p, &n), 0);
	assert_ptr_equal(p, a + 0x10);
	assert_int_equal(n, 16);
	/* A range running past the first region is cut at its end. */
	assert_int_equal(vtio_mem_translate(&m, 0x10f0, 64, VTIO_MEM_READ, &p, &n), 0);
	assert_ptr_equal(p, a + 0xf0);
	assert_int_equal(n, 16);
	/* Slow path finds later regions. */
	assert_int_equal(vtio_mem_translate(&m, 0x9004, 4, VTIO_MEM_WRITE, &p, &n), 0);
	assert_ptr_equal(p, c + 4);
	/* Permissions. */
	assert_int_equal(vtio_mem_translate(&m, 0x1100, 4, VTIO_MEM_WRITE, &p, &n), VTIO_EACCES);
	assert_int_equal(vtio_mem_translate(&m, 0x9000, 4, VTIO_MEM_READ, &p, &n), VTIO_EACCES);
	/* Holes and addresses below every region. */
	assert_int_equal(vtio_mem_translate(&m, 0x1200, 4, VTIO_MEM_READ, &p, &n), VTIO_EFAULT);
	assert_int_equal(vtio_mem_translate(&m, 0x0, 4, VTIO_MEM_READ, &p, &n), VTIO_EFAULT);
	assert_int_equal(vtio_mem_translate(&m, UINT64_MAX, 1, VTIO_MEM_READ, &p, &n), VTIO_EFAULT);
}

static void test_read_write_across_regions(void **state)
{
	(void)state;
	struct vtio_mem m;
	struct vtio_mem_region r[2] = {{0x1000, 256, a, VTIO_MEM_RW},
				       {0x1100, 256, b, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&m, r, 2), 0);
	unsigned char src[64], dst[64];
	for (int i = 0; i < 64; i++)
		src[i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(vtio_mem_write(&m, 0x10e0, src, 64), 0);
	assert_memory_equal(a + 0xe0, src, 32);
	assert_memory_equal(b, src + 32, 32);
	assert_int_equal(vtio_mem_read(&m, 0x10e0, dst, 64), 0);
	assert_memory_equal(dst, src, 64);
	/* Running off the end of the last region faults. */
	assert_int_equal(vtio_mem_read(&m, 0x11f0, dst, 32), VTIO_EFAULT);
	/* A range wrapping past 2^64 faults rather than wrapping. */
	assert_int_equal(vtio_mem_read(&m, UINT64_MAX - 3, dst, 8), VTIO_EFAULT);
}

/* Accessor ops: a "remote" memory reachable only by copies. */
static unsigned char remote[128];
static int remote_reads, remote_writes;

static int remote_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	(void)ctx;
	if (addr < 0x80000 || addr - 0x80000 + len > sizeof(remote))
		return VTIO_EFAULT;
	remote_reads++;
	memcpy(dst, remote + (addr - 0x80000), len);
	return 0;
}

static int remote_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	(void)ctx;
	if (addr < 0x80000 || addr - 0x80000 + len > sizeof(remote))
		return VTIO_EFAULT;
	remote_writes++;
	memcpy(remote + (addr - 0x80000), src, len);
	return 0;
}

static const struct vtio_mem_ops remote_ops = {remote_read, remote_write, NULL};

static void test_ops_fallback(void **state)
{
	(void)state;
	struct vtio_mem m;
	struct vtio_mem_region r[1] = {{0x1000, 256, a, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&m, r, 1), 0);
	assert_int_equal(vtio_mem_set_ops(&m, NULL, NULL), VTIO_EINVAL);
	assert_int_equal(vtio_mem_set_ops(&m, &remote_ops, NULL), 0);
	void *p;
	uint64_t n;
	assert_int_equal(vtio_mem_translate(&m, 0x80000, 4, VTIO_MEM_READ, &p, &n), VTIO_ENOTSUP);
	remote_reads = remote_writes = 0;
	uint32_t v = 0xdeadbeef, w = 0;
	assert_int_equal(vtio_mem_write(&m, 0x80010, &v, 4), 0);
	assert_int_equal(vtio_mem_read(&m, 0x80010, &w, 4), 0);
	assert_int_equal(w, 0xdeadbeef);
	assert_int_equal(remote_reads, 1);
	assert_int_equal(remote_writes, 1);
	assert_int_equal(vtio_mem_read(&m, 0x90000, &w, 4), VTIO_EFAULT);
	/* Mapped addresses still go to the region. */
	assert_int_equal(vtio_mem_write(&m, 0x1000, &v, 4), 0);
	assert_int_equal(remote_writes, 1);
	assert_memory_equal(a, &v, 4);
}

static void test_counting_view(void **state)
{
	(void)state;
	struct vtio_mem inner;
	struct vtio_mem_region r[1] = {{0x1000, 256, a, VTIO_MEM_RW}};
	assert_int_equal(vtio_mem_init(&inner, r, 1), 0);
	struct vtio_mem_counter cnt;
	assert_int_equal(vtio_mem_counter_init(&cnt, &inner), 0);
	assert_int_equal(vtio_mem_counter_watch(&cnt, 0x1000, 16), 0);
	assert_int_equal(vtio_mem_counter_watch(&cnt, 0x1010, 16), 1);
	void *p;
	uint64_t n;
	/* No translate: every access goes through the counted ops. */
	assert_int_equal(vtio_mem_translate(&cnt.view, 0x1000, 4, VTIO_MEM_READ, &p, &n),
			 VTIO_ENOTSUP);
	uint64_t x = 42;
	assert_int_equal(vtio_mem_write(&cnt.view, 0x1008, &x, 8), 0);
	assert_int_equal(vtio_mem_read(&cnt.view, 0x100c, &x, 8), 0); /* touches both ranges */
	assert_int_equal(vtio_mem_read(&cnt.view, 0x1040, &x, 8), 0); /* touches neither */
	assert_int_equal(cnt.ranges[0].writes, 1);
	assert_int_equal(cnt.ranges[0].reads, 1);
	assert_int_equal(cnt.ranges[1].writes, 0);
	assert_int_equal(cnt.ranges[1].reads, 1);
	assert_int_equal(cnt.reads, 2);
	assert_int_equal(cnt.writes, 1);
	for (int i = 2; i < VTIO_MEM_COUNT_RANGES; i++)
		assert_int_equal(vtio_mem_counter_watch(&cnt, 0, 1), i);
	assert_int_equal(vtio_mem_counter_watch(&cnt, 0, 1), VTIO_ENOSPC);
}

static void test_identity_view(void **state)
{
	(void)state;
	static const struct vtio_mem_region id = {0, UINTPTR_MAX, NULL, VTIO_MEM_RW};
	struct vtio_mem m;
	assert_int_equal(vtio_mem_init(&m, &id, 1), 0);
	void *p;
	uint64_t n;
	assert_int_equal(vtio_mem_translate(&m, (uintptr_t)a + 3, 8, VTIO_MEM_WRITE, &p, &n), 0);
	assert_ptr_equal(p, a + 3);
	assert_int_equal(n, 8);
	uint32_t v = 0x01020304, w = 0;
	assert_int_equal(vtio_mem_write(&m, (uintptr_t)b, &v, 4), 0);
	assert_int_equal(vtio_mem_read(&m, (uintptr_t)b, &w, 4), 0);
	assert_int_equal(w, v);
	/* A region longer than what its host pointer can reach is refused. */
	struct vtio_mem_region too_long = {0x1000, UINTPTR_MAX, a, VTIO_MEM_RW};
	assert_int_equal(vtio_mem_init(&m, &too_long, 1), VTIO_EINVAL);
}

/* A translate op that breaks the contract: maplen 0 or past the request. */
static uint64_t bad_maplen;
static unsigned char bad_buf[64];

static int bad_translate(void *ctx, uint64_t addr, uint64_t len, uint32_t perm, void **ptr,
			 uint64_t *maplen)
{
	(void)ctx;
	(void)addr;
	(void)len;
	(void)perm;
	*ptr = bad_buf;
	*maplen = bad_maplen;
	return 0;
}

static const struct vtio_mem_ops bad_ops = {remote_read, remote_write, bad_translate};

static void test_translate_maplen_contract(void **state)
{
	(void)state;
	struct vtio_mem m;
	assert_int_equal(vtio_mem_init(&m, NULL, 0), 0);
	assert_int_equal(vtio_mem_set_ops(&m, &bad_ops, NULL), 0);
	void *p;
	uint64_t n;
	unsigned char tmp[16];
	/* maplen 0 would make every range walk spin: reported as a fault. */
	bad_maplen = 0;
	assert_int_equal(vtio_mem_translate(&m, 0x5000, 16, VTIO_MEM_READ, &p, &n), VTIO_EFAULT);
	assert_int_equal(vtio_mem_read(&m, 0x5000, tmp, sizeof(tmp)), VTIO_EFAULT);
	/* maplen past the request would underflow the caller's count. */
	bad_maplen = 17;
	assert_int_equal(vtio_mem_translate(&m, 0x5000, 16, VTIO_MEM_READ, &p, &n), VTIO_EFAULT);
	bad_maplen = 16;
	assert_int_equal(vtio_mem_translate(&m, 0x5000, 16, VTIO_MEM_READ, &p, &n), 0);
	assert_int_equal(n, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rejects_bad_tables),
	    cmocka_unit_test(test_translate_regions_and_perms),
	    cmocka_unit_test(test_read_write_across_regions),
	    cmocka_unit_test(test_ops_fallback),
	    cmocka_unit_test(test_counting_view),
	    cmocka_unit_test(test_identity_view),
	    cmocka_unit_test(test_translate_maplen_contract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

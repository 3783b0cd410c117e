/*
 * An outside program using the installed library: one split queue, driver
 * and device side in one process, one request answered. Built by
 * scripts/consumer-test.sh three ways (find_package, pkg-config,
 * add_subdirectory); exits 0 and prints "consumer: ok" when the round trip
 * works.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vtio.h>

#define QSIZE 8u

static _Alignas(16) unsigned char shm[4096];
static _Alignas(16) unsigned char vq_state[4096];
static _Alignas(16) unsigned char dq_state[4096];

static int no_notify(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ < 0) {                                                                     \
			fprintf(stderr, "consumer: %s: %s\n", #expr, vtio_strerror(rc_));          \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

int main(void)
{
	unsigned char *ring = shm, *req = shm + 2048, *resp = shm + 2048 + 64;
	struct vtio_vq_areas areas;
	if (vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, QSIZE, 16) > 2048)
		return 1;
	CHECK(vtio_vq_areas_in(VTIO_LAYOUT_SPLIT, QSIZE, 16, ring, (uint64_t)(uintptr_t)ring,
			       &areas));

	struct vtio_vq *vq;
	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = VTIO_LAYOUT_SPLIT;
	vc.num = QSIZE;
	vc.features = VTIO_FEATURE(VTIO_F_VERSION_1);
	vc.areas = areas;
	vc.notify = no_notify;
	CHECK(vtio_vq_init(&vq, vq_state, sizeof(vq_state), &vc));

	struct vtio_mem_region region = {(uint64_t)(uintptr_t)shm, sizeof(shm), shm, VTIO_MEM_RW};
	struct vtio_mem mem;
	CHECK(vtio_mem_init(&mem, &region, 1));
	struct vtio_devq *dq;
	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = VTIO_LAYOUT_SPLIT;
	dc.num = QSIZE;
	dc.features = vc.features;
	dc.desc_addr = areas.desc_addr;
	dc.driver_addr = areas.driver_addr;
	dc.device_addr = areas.device_addr;
	dc.mem = &mem;
	dc.notify = no_notify;
	CHECK(vtio_devq_init(&dq, dq_state, sizeof(dq_state), &dc));

	memcpy(req, "ping", 5);
	struct vtio_sg sg[2] = {vtio_sg_of(req, 5), vtio_sg_of(resp, 16)};
	CHECK(vtio_vq_add(vq, sg, 1, 1, resp));
	CHECK(vtio_vq_kick(vq));

	struct vtio_iov rd[2], wr[2];
	struct vtio_devq_chain c;
	memset(&c, 0, sizeof(c));
	c.rd = rd;
	c.rd_max = 2;
	c.wr = wr;
	c.wr_max = 2;
	CHECK(vtio_devq_pop(dq, &c));
	int64_t n = vtio_devq_write(dq, &c, 0, "pong", 5);
	CHECK((int)(n < 0 ? n : 0));
	CHECK(vtio_devq_push(dq, &c, (uint32_t)n));

	uint32_t len = 0;
	void *tok = vtio_vq_get_used(vq, &len);
	if (tok != resp || len != 5 || memcmp(resp, "pong", 5) != 0) {
		fprintf(stderr, "consumer: round trip failed\n");
		return 1;
	}
	printf("consumer: ok\n");
	return 0;
}

/*
 * Fuzz the DMA stack (debug -> IOMMU -> direct arena) with API sequences,
 * against a reference model of live mappings: every map the IOMMU accepts
 * translates back to the buffer for the device with the permissions of its
 * direction, nothing else translates, misuse (double unmap, wrong size,
 * syncs past a mapping) is reported by the debug layer and corrupts nothing,
 * and at the end every page, arena byte and table entry is returned.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"

#include "fuzz_common.h"

#define NSLOT  16
#define NALLOC 4
#define NPAGES 64
#define PAGE   4096u
#define IOBASE 0x10000000ull
#define BUFSZ  65536u

struct slot {
	uint64_t iova;
	uint32_t off, len;
	enum vtio_dma_dir dir;
	int live, was;
};

static _Alignas(4096) unsigned char mem[BUFSZ];
static _Alignas(4096) unsigned char arena[32768];
static uint32_t amap[32];
static uint64_t ptes[NPAGES];
static struct vtio_dma_debug_entry tab[64];

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned next8(struct in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static unsigned next16(struct in *in)
{
	return next8(in) | (next8(in) << 8);
}

/* Live coherent allocations (their IOVA pages are mapped read/write). */
static struct {
	void *cpu;
	uint64_t bus;
	size_t size;
} al[NALLOC];

/* Model: which live slot's IOVA pages cover addr, NSLOT + k for allocation k, or -1. */
static int covering(const struct slot *s, uint64_t addr)
{
	for (int k = 0; k < NALLOC; k++) {
		if (al[k].cpu == NULL)
			continue;
		uint64_t lo = al[k].bus & ~(uint64_t)(PAGE - 1);
		uint64_t hi = (al[k].bus + al[k].size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		if (addr >= lo && addr < hi)
			return NSLOT + k;
	}
	for (int i = 0; i < NSLOT; i++) {
		if (!s[i].live)
			continue;
		uint64_t lo = s[i].iova & ~(uint64_t)(PAGE - 1);
		uint64_t hi = (s[i].iova + s[i].len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		if (addr >= lo && addr < hi)
			return i;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vtio_dma_direct direct;
	struct vtio_dma_iommu mmu;
	struct vtio_dma_debug dbg;
	struct vtio_dma_dev dev;
	struct vtio_dma_direct_config dc;
	struct vtio_dma_iommu_config mc;
	memset(&dc, 0, sizeof(dc));
	dc.arena = arena;
	dc.arena_size = sizeof(arena);
	dc.arena_map = amap;
	CHECK(vtio_dma_direct_init(&direct, &dc) == 0);
	memset(&mc, 0, sizeof(mc));
	mc.iova_base = IOBASE;
	mc.npages = NPAGES;
	mc.table = ptes;
	CHECK(vtio_dma_iommu_init(&mmu, &mc) == 0);
	struct vtio_dma_debug_config c = {tab, sizeof(tab), NULL, NULL};
	CHECK(vtio_dma_debug_init(&dbg, &c) == 0);
	vtio_dma_dev_init(&dev);
	CHECK(vtio_dma_dev_push(&dev, &direct.layer) == 0);
	CHECK(vtio_dma_dev_push(&dev, &mmu.layer) == 0);
	CHECK(vtio_dma_dev_push(&dev, &dbg.layer) == 0);
	CHECK(vtio_dma_dev_build(&dev) == 0);

	struct slot s[NSLOT];
	memset(s, 0, sizeof(s));
	memset(al, 0, sizeof(al));
	struct in in = {data, size};
	uint64_t bus, ml;

	while (in.n > 0) {
		unsigned op = next8(&in);
		struct slot *x = &s[(op >> 3) % NSLOT];
		switch (op & 7) {
		case 0: { /* map */
			if (x->live)
				break;
			uint32_t off = next16(&in) % (BUFSZ - 1);
			uint32_t len = 1 + next16(&in) % 9000;
			if (off + len > BUFSZ)
				len = BUFSZ - off;
			enum vtio_dma_dir dir = (enum vtio_dma_dir)(next8(&in) % 3);
			uint64_t iova;
			int err = vtio_dma_map(&dev, mem + off, len, dir, 0, &iova);
			if (err != 0) {
				CHECK(err == VTIO_ENOMEM);
				break;
			}
			CHECK(iova >= IOBASE && iova + len <= IOBASE + NPAGES * (uint64_t)PAGE);
			CHECK((iova & (PAGE - 1)) == ((uintptr_t)(mem + off) & (PAGE - 1)));
			uint32_t perm =
			    dir == VTIO_DMA_FROM_DEVICE ? VTIO_MEM_WRITE : VTIO_MEM_READ;
			CHECK(vtio_dma_iommu_translate(&mmu, iova, len, perm, &bus, &ml) == 0);
			CHECK(bus == (uint64_t)(uintptr_t)(mem + off) && ml == len);
			x->iova = iova, x->off = off, x->len = len, x->dir = dir;
			x->live = x->was = 1;
			break;
		}
		case 1: /* unmap, or a double unmap */
			if (x->live) {
				CHECK(vtio_dma_unmap(&dev, x->iova, x->len, x->dir, 0) == 0);
				x->live = 0;
				if (covering(s, x->iova) < 0)
					CHECK(vtio_dma_iommu_translate(
						  &mmu, x->iova, 1, VTIO_MEM_READ, &bus, &ml) != 0);
			} else if (x->was && covering(s, x->iova) < 0) {
				uint64_t before = vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK);
				int err = vtio_dma_unmap(&dev, x->iova, x->len, x->dir, 0);
				CHECK(err == VTIO_EALREADY || err == VTIO_ENOENT);
				CHECK(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK) == before + 1);
			}
			break;
		case 2: { /* sync inside, or running past the end */
			if (!x->live)
				break;
			uint32_t o = next16(&in) % x->len;
			uint32_t l = 1 + next16(&in) % (x->len + 16);
			int err = vtio_dma_sync_for_cpu(&dev, x->iova + o, l, x->dir);
			CHECK(o + l <= x->len ? err == 0 : err == VTIO_ERANGE);
			break;
		}
		case 3: { /* device access anywhere in the space */
			uint64_t a = IOBASE + next16(&in) * 5u % (NPAGES * PAGE);
			uint32_t perm = (next8(&in) & 1) ? VTIO_MEM_WRITE : VTIO_MEM_READ;
			int w = covering(s, a);
			int err = vtio_dma_iommu_translate(&mmu, a, 1, perm, &bus, &ml);
			if (w < 0) {
				CHECK(err == VTIO_EFAULT);
			} else if (w >= NSLOT) {
				CHECK(err == 0);
				CHECK(bus == (uint64_t)(uintptr_t)al[w - NSLOT].cpu +
						 (a - al[w - NSLOT].bus));
			} else {
				int ok =
				    s[w].dir == VTIO_DMA_BIDIRECTIONAL ||
				    (s[w].dir == VTIO_DMA_TO_DEVICE) == (perm == VTIO_MEM_READ);
				if (!ok) {
					CHECK(err == VTIO_EACCES);
				} else {
					uint64_t pg = (uint64_t)(uintptr_t)(mem + s[w].off) -
						      (s[w].iova & (PAGE - 1));
					CHECK(err == 0);
					CHECK(bus ==
					      pg + (a - (s[w].iova & ~(uint64_t)(PAGE - 1))));
				}
			}
			break;
		}
		case 4: { /* coherent alloc / free */
			unsigned k = (op >> 3) % NALLOC;
			if (al[k].cpu != NULL) {
				CHECK(vtio_dma_free(&dev, al[k].size, al[k].cpu, al[k].bus) == 0);
				al[k].cpu = NULL;
			} else {
				size_t sz = 1 + next16(&in) % 8192;
				int err = vtio_dma_alloc(&dev, sz, &al[k].cpu, &al[k].bus);
				if (err != 0) {
					CHECK(err == VTIO_ENOMEM);
					al[k].cpu = NULL;
					break;
				}
				al[k].size = sz;
				memset(al[k].cpu, 0x5a, sz);
				CHECK(vtio_dma_iommu_translate(&mmu, al[k].bus, sz, VTIO_MEM_RW,
							       &bus, &ml) == 0);
				CHECK(bus == (uint64_t)(uintptr_t)al[k].cpu);
			}
			break;
		}
		case 5: { /* unmap with the wrong size: reported, books stay right */
			if (!x->live)
				break;
			uint64_t before = vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_UNMAP_SIZE);
			int err = vtio_dma_unmap(&dev, x->iova, x->len + 1, x->dir, 0);
			CHECK(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_UNMAP_SIZE) == before + 1);
			if (err == 0)
				x->live = 0;
			else
				CHECK(err == VTIO_EINVAL);
			break;
		}
		default: /* unknown address */
			if (covering(s, IOBASE - PAGE) < 0) {
				int err =
				    vtio_dma_unmap(&dev, IOBASE - PAGE, 64, VTIO_DMA_TO_DEVICE, 0);
				CHECK(err == VTIO_ENOENT);
			}
			break;
		}
	}
	for (int i = 0; i < NSLOT; i++)
		if (s[i].live)
			CHECK(vtio_dma_unmap(&dev, s[i].iova, s[i].len, s[i].dir, 0) == 0);
	for (int k = 0; k < NALLOC; k++)
		if (al[k].cpu != NULL)
			CHECK(vtio_dma_free(&dev, al[k].size, al[k].cpu, al[k].bus) == 0);
	CHECK(vtio_dma_debug_check_leaks(&dbg) == 0);
	CHECK(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_TABLE_FULL) == 0);
	CHECK(vtio_dma_iommu_pages_used(&mmu) == 0);
	CHECK(vtio_dma_direct_arena_in_use(&direct) == 0);
	return 0;
}

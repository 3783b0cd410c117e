/* Proof that include/vtio/spec.h matches Linux's uapi virtio headers
 * (linux-libc-dev) and the spec tables of ../shared/spec/CHECKLIST.md
 * section 1: every layout offset and size, every constant, the legacy ring
 * size and layout (LEG-5, section 3 point 14), and vtio_need_event() against
 * vring_need_event() over a sampled 16-bit space (section 3 point 4, EVT).
 *
 * The Linux values come from spec_linux_values.c, a separate translation
 * unit that includes only the Linux headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/spec.h"
#include "vtio/vq.h"

#include "spec_linux_values.h"

/* Our value for each Linux name of spec_linux_values.c. */
struct vtio_name_value {
	const char *lx_name;
	uint64_t value;
};

#define SZ(T, f) ((uint64_t)sizeof(((T *)0)->f))

/* Built at run time: some rows call spec.h's inline offset functions. */
static size_t ours_table(const struct vtio_name_value **out)
{
	static struct vtio_name_value t[200];
	const struct vtio_name_value ours[] = {
	    {"VRING_DESC_F_NEXT", VTIO_DESC_F_NEXT},
	    {"VRING_DESC_F_WRITE", VTIO_DESC_F_WRITE},
	    {"VRING_DESC_F_INDIRECT", VTIO_DESC_F_INDIRECT},
	    {"VRING_PACKED_DESC_F_AVAIL", VTIO_DESC_F_AVAIL_SHIFT},
	    {"VRING_PACKED_DESC_F_USED", VTIO_DESC_F_USED_SHIFT},
	    {"1u << VRING_PACKED_DESC_F_AVAIL", VTIO_DESC_F_AVAIL},
	    {"1u << VRING_PACKED_DESC_F_USED", VTIO_DESC_F_USED},
	    {"VRING_USED_F_NO_NOTIFY", VTIO_USED_F_NO_NOTIFY},
	    {"VRING_AVAIL_F_NO_INTERRUPT", VTIO_AVAIL_F_NO_INTERRUPT},
	    {"VRING_PACKED_EVENT_FLAG_ENABLE", VTIO_RING_EVENT_FLAGS_ENABLE},
	    {"VRING_PACKED_EVENT_FLAG_DISABLE", VTIO_RING_EVENT_FLAGS_DISABLE},
	    {"VRING_PACKED_EVENT_FLAG_DESC", VTIO_RING_EVENT_FLAGS_DESC},
	    {"VRING_PACKED_EVENT_F_WRAP_CTR", VTIO_RING_EVENT_WRAP_SHIFT},
	    {"VIRTIO_RING_F_INDIRECT_DESC", VTIO_F_INDIRECT_DESC},
	    {"VIRTIO_RING_F_EVENT_IDX", VTIO_F_EVENT_IDX},
	    {"VRING_AVAIL_ALIGN_SIZE", VTIO_SPLIT_AVAIL_ALIGN},
	    {"VRING_USED_ALIGN_SIZE", VTIO_SPLIT_USED_ALIGN},
	    {"VRING_DESC_ALIGN_SIZE", VTIO_SPLIT_DESC_ALIGN},

	    {"sizeof(struct vring_desc)", sizeof(struct vtio_split_desc)},
	    {"offsetof(struct vring_desc, addr)", offsetof(struct vtio_split_desc, addr)},
	    {"offsetof(struct vring_desc, len)", offsetof(struct vtio_split_desc, len)},
	    {"offsetof(struct vring_desc, flags)", offsetof(struct vtio_split_desc, flags)},
	    {"offsetof(struct vring_desc, next)", offsetof(struct vtio_split_desc, next)},
	    {"sizeof(((struct vring_desc *)0)->addr)", SZ(struct vtio_split_desc, addr)},
	    {"sizeof(((struct vring_desc *)0)->len)", SZ(struct vtio_split_desc, len)},
	    {"sizeof(((struct vring_desc *)0)->flags)", SZ(struct vtio_split_desc, flags)},
	    {"sizeof(((struct vring_desc *)0)->next)", SZ(struct vtio_split_desc, next)},
	    {"sizeof(struct vring_avail)", sizeof(struct vtio_split_avail)},
	    {"offsetof(struct vring_avail, flags)", offsetof(struct vtio_split_avail, flags)},
	    {"offsetof(struct vring_avail, idx)", offsetof(struct vtio_split_avail, idx)},
	    {"offsetof(struct vring_avail, ring)", vtio_split_avail_ring_off(0)},
	    {"sizeof(((struct vring_avail *)0)->ring[0])",
	     vtio_split_avail_ring_off(1) - vtio_split_avail_ring_off(0)},
	    {"sizeof(struct vring_used_elem)", sizeof(struct vtio_split_used_elem)},
	    {"offsetof(struct vring_used_elem, id)", offsetof(struct vtio_split_used_elem, id)},
	    {"offsetof(struct vring_used_elem, len)", offsetof(struct vtio_split_used_elem, len)},
	    {"sizeof(((struct vring_used_elem *)0)->id)", SZ(struct vtio_split_used_elem, id)},
	    {"sizeof(((struct vring_used_elem *)0)->len)", SZ(struct vtio_split_used_elem, len)},
	    {"sizeof(struct vring_used)", sizeof(struct vtio_split_used)},
	    {"offsetof(struct vring_used, flags)", offsetof(struct vtio_split_used, flags)},
	    {"offsetof(struct vring_used, idx)", offsetof(struct vtio_split_used, idx)},
	    {"offsetof(struct vring_used, ring)", vtio_split_used_ring_off(0)},

	    {"sizeof(struct vring_packed_desc)", sizeof(struct vtio_packed_desc)},
	    {"offsetof(struct vring_packed_desc, addr)", offsetof(struct vtio_packed_desc, addr)},
	    {"offsetof(struct vring_packed_desc, len)", offsetof(struct vtio_packed_desc, len)},
	    {"offsetof(struct vring_packed_desc, id)", offsetof(struct vtio_packed_desc, id)},
	    {"offsetof(struct vring_packed_desc, flags)", offsetof(struct vtio_packed_desc, flags)},
	    {"sizeof(((struct vring_packed_desc *)0)->addr)", SZ(struct vtio_packed_desc, addr)},
	    {"sizeof(((struct vring_packed_desc *)0)->len)", SZ(struct vtio_packed_desc, len)},
	    {"sizeof(((struct vring_packed_desc *)0)->id)", SZ(struct vtio_packed_desc, id)},
	    {"sizeof(((struct vring_packed_desc *)0)->flags)", SZ(struct vtio_packed_desc, flags)},
	    {"sizeof(struct vring_packed_desc_event)", sizeof(struct vtio_packed_event)},
	    {"offsetof(struct vring_packed_desc_event, off_wrap)",
	     offsetof(struct vtio_packed_event, off_wrap)},
	    {"offsetof(struct vring_packed_desc_event, flags)",
	     offsetof(struct vtio_packed_event, flags)},
	    {"sizeof(((struct vring_packed_desc_event *)0)->off_wrap)",
	     SZ(struct vtio_packed_event, off_wrap)},
	    {"sizeof(((struct vring_packed_desc_event *)0)->flags)",
	     SZ(struct vtio_packed_event, flags)},

	    {"VIRTIO_CONFIG_S_ACKNOWLEDGE", VTIO_STATUS_ACKNOWLEDGE},
	    {"VIRTIO_CONFIG_S_DRIVER", VTIO_STATUS_DRIVER},
	    {"VIRTIO_CONFIG_S_DRIVER_OK", VTIO_STATUS_DRIVER_OK},
	    {"VIRTIO_CONFIG_S_FEATURES_OK", VTIO_STATUS_FEATURES_OK},
	    {"VIRTIO_CONFIG_S_NEEDS_RESET", VTIO_STATUS_DEVICE_NEEDS_RESET},
	    {"VIRTIO_CONFIG_S_FAILED", VTIO_STATUS_FAILED},
	    {"VIRTIO_CONFIG_S_SUSPEND", VTIO_STATUS_SUSPEND},

	    {"VIRTIO_TRANSPORT_F_START", VTIO_TRANSPORT_F_START},
	    /* VIRTIO_TRANSPORT_F_END: see test_transport_range below. */
	    {"VIRTIO_F_NOTIFY_ON_EMPTY", VTIO_F_NOTIFY_ON_EMPTY},
	    {"VIRTIO_F_ANY_LAYOUT", VTIO_F_ANY_LAYOUT},
	    {"VIRTIO_F_VERSION_1", VTIO_F_VERSION_1},
	    {"VIRTIO_F_ACCESS_PLATFORM", VTIO_F_ACCESS_PLATFORM},
	    {"VIRTIO_F_IOMMU_PLATFORM", VTIO_F_IOMMU_PLATFORM},
	    {"VIRTIO_F_RING_PACKED", VTIO_F_RING_PACKED},
	    {"VIRTIO_F_IN_ORDER", VTIO_F_IN_ORDER},
	    {"VIRTIO_F_ORDER_PLATFORM", VTIO_F_ORDER_PLATFORM},
	    {"VIRTIO_F_SR_IOV", VTIO_F_SR_IOV},
	    {"VIRTIO_F_NOTIFICATION_DATA", VTIO_F_NOTIFICATION_DATA},
	    {"VIRTIO_F_NOTIF_CONFIG_DATA", VTIO_F_NOTIF_CONFIG_DATA},
	    {"VIRTIO_F_RING_RESET", VTIO_F_RING_RESET},
	    {"VIRTIO_F_ADMIN_VQ", VTIO_F_ADMIN_VQ},

	    {"VIRTIO_MMIO_MAGIC_VALUE", VTIO_MMIO_MAGIC_VALUE},
	    {"VIRTIO_MMIO_VERSION", VTIO_MMIO_VERSION},
	    {"VIRTIO_MMIO_DEVICE_ID", VTIO_MMIO_DEVICE_ID},
	    {"VIRTIO_MMIO_VENDOR_ID", VTIO_MMIO_VENDOR_ID},
	    {"VIRTIO_MMIO_DEVICE_FEATURES", VTIO_MMIO_DEVICE_FEATURES},
	    {"VIRTIO_MMIO_DEVICE_FEATURES_SEL", VTIO_MMIO_DEVICE_FEATURES_SEL},
	    {"VIRTIO_MMIO_DRIVER_FEATURES", VTIO_MMIO_DRIVER_FEATURES},
	    {"VIRTIO_MMIO_DRIVER_FEATURES_SEL", VTIO_MMIO_DRIVER_FEATURES_SEL},
	    {"VIRTIO_MMIO_GUEST_PAGE_SIZE", VTIO_MMIO_GUEST_PAGE_SIZE},
	    {"VIRTIO_MMIO_QUEUE_SEL", VTIO_MMIO_QUEUE_SEL},
	    {"VIRTIO_MMIO_QUEUE_NUM_MAX", VTIO_MMIO_QUEUE_NUM_MAX},
	    {"VIRTIO_MMIO_QUEUE_NUM", VTIO_MMIO_QUEUE_NUM},
	    {"VIRTIO_MMIO_QUEUE_ALIGN", VTIO_MMIO_QUEUE_ALIGN},
	    {"VIRTIO_MMIO_QUEUE_PFN", VTIO_MMIO_QUEUE_PFN},
	    {"VIRTIO_MMIO_QUEUE_READY", VTIO_MMIO_QUEUE_READY},
	    {"VIRTIO_MMIO_QUEUE_NOTIFY", VTIO_MMIO_QUEUE_NOTIFY},
	    {"VIRTIO_MMIO_INTERRUPT_STATUS", VTIO_MMIO_INTERRUPT_STATUS},
	    {"VIRTIO_MMIO_INTERRUPT_ACK", VTIO_MMIO_INTERRUPT_ACK},
	    {"VIRTIO_MMIO_STATUS", VTIO_MMIO_STATUS},
	    {"VIRTIO_MMIO_QUEUE_DESC_LOW", VTIO_MMIO_QUEUE_DESC_LOW},
	    {"VIRTIO_MMIO_QUEUE_DESC_HIGH", VTIO_MMIO_QUEUE_DESC_HIGH},
	    {"VIRTIO_MMIO_QUEUE_AVAIL_LOW", VTIO_MMIO_QUEUE_AVAIL_LOW},
	    {"VIRTIO_MMIO_QUEUE_AVAIL_HIGH", VTIO_MMIO_QUEUE_AVAIL_HIGH},
	    {"VIRTIO_MMIO_QUEUE_USED_LOW", VTIO_MMIO_QUEUE_USED_LOW},
	    {"VIRTIO_MMIO_QUEUE_USED_HIGH", VTIO_MMIO_QUEUE_USED_HIGH},
	    {"VIRTIO_MMIO_SHM_SEL", VTIO_MMIO_SHM_SEL},
	    {"VIRTIO_MMIO_SHM_LEN_LOW", VTIO_MMIO_SHM_LEN_LOW},
	    {"VIRTIO_MMIO_SHM_LEN_HIGH", VTIO_MMIO_SHM_LEN_HIGH},
	    {"VIRTIO_MMIO_SHM_BASE_LOW", VTIO_MMIO_SHM_BASE_LOW},
	    {"VIRTIO_MMIO_SHM_BASE_HIGH", VTIO_MMIO_SHM_BASE_HIGH},
	    {"VIRTIO_MMIO_QUEUE_RESET", VTIO_MMIO_QUEUE_RESET},
	    {"VIRTIO_MMIO_CONFIG_GENERATION", VTIO_MMIO_CONFIG_GENERATION},
	    {"VIRTIO_MMIO_CONFIG", VTIO_MMIO_CONFIG},
	    {"VIRTIO_MMIO_INT_VRING", VTIO_MMIO_INT_VRING},
	    {"VIRTIO_MMIO_INT_CONFIG", VTIO_MMIO_INT_CONFIG},

	    {"VIRTIO_ID_BLOCK", VTIO_ID_BLOCK},
	    {"VIRTIO_BLK_F_SIZE_MAX", VTIO_BLK_F_SIZE_MAX},
	    {"VIRTIO_BLK_F_SEG_MAX", VTIO_BLK_F_SEG_MAX},
	    {"VIRTIO_BLK_F_RO", VTIO_BLK_F_RO},
	    {"VIRTIO_BLK_F_BLK_SIZE", VTIO_BLK_F_BLK_SIZE},
	    {"VIRTIO_BLK_F_FLUSH", VTIO_BLK_F_FLUSH},
	    {"VIRTIO_BLK_T_IN", VTIO_BLK_T_IN},
	    {"VIRTIO_BLK_T_OUT", VTIO_BLK_T_OUT},
	    {"VIRTIO_BLK_T_FLUSH", VTIO_BLK_T_FLUSH},
	    {"VIRTIO_BLK_T_GET_ID", VTIO_BLK_T_GET_ID},
	    {"VIRTIO_BLK_S_OK", VTIO_BLK_S_OK},
	    {"VIRTIO_BLK_S_IOERR", VTIO_BLK_S_IOERR},
	    {"VIRTIO_BLK_S_UNSUPP", VTIO_BLK_S_UNSUPP},
	    {"VIRTIO_BLK_ID_BYTES", VTIO_BLK_ID_BYTES},
	    {"sizeof(struct virtio_blk_outhdr)", sizeof(struct vtio_blk_req_hdr)},
	    {"offsetof(struct virtio_blk_outhdr, type)", offsetof(struct vtio_blk_req_hdr, type)},
	    {"offsetof(struct virtio_blk_outhdr, sector)",
	     offsetof(struct vtio_blk_req_hdr, sector)},
	    {"offsetof(struct virtio_blk_config, capacity)", VTIO_BLK_CFG_CAPACITY},
	    {"offsetof(struct virtio_blk_config, size_max)", VTIO_BLK_CFG_SIZE_MAX},
	    {"offsetof(struct virtio_blk_config, seg_max)", VTIO_BLK_CFG_SEG_MAX},
	    {"offsetof(struct virtio_blk_config, blk_size)", VTIO_BLK_CFG_BLK_SIZE},
	};
	size_t n = sizeof(ours) / sizeof(ours[0]);
	assert_true(n <= sizeof(t) / sizeof(t[0]));
	memcpy(t, ours, sizeof(ours));
	*out = t;
	return n;
}

static const struct vtio_name_value *find_ours(const char *lx_name)
{
	const struct vtio_name_value *ours;
	size_t n = ours_table(&ours);
	for (size_t i = 0; i < n; i++)
		if (strcmp(ours[i].lx_name, lx_name) == 0)
			return &ours[i];
	return NULL;
}

static const struct vtio_test_lx_value *find_lx(const char *lx_name)
{
	for (size_t i = 0; i < vtio_test_lx_nvalues; i++)
		if (strcmp(vtio_test_lx_values[i].name, lx_name) == 0)
			return &vtio_test_lx_values[i];
	return NULL;
}

/* Every value Linux exports has a counterpart in spec.h with the same value
 * (sections 1.2-1.8 of CHECKLIST.md). Values this linux-libc-dev does not
 * define yet are checked against the spec in test_spec_only_values. */
static void test_every_linux_value_matches(void **state)
{
	(void)state;
	unsigned checked = 0, bad = 0;
	for (size_t i = 0; i < vtio_test_lx_nvalues; i++) {
		const struct vtio_test_lx_value *lx = &vtio_test_lx_values[i];
		if (strcmp(lx->name, "VIRTIO_TRANSPORT_F_END") == 0)
			continue;
		const struct vtio_name_value *o = find_ours(lx->name);
		if (o == NULL) {
			printf("no spec.h counterpart for Linux %s\n", lx->name);
			bad++;
			continue;
		}
		if (!lx->defined)
			continue;
		if (o->value != lx->value) {
			printf("%s: Linux %llu, spec.h %llu\n", lx->name,
			       (unsigned long long)lx->value, (unsigned long long)o->value);
			bad++;
		}
		checked++;
	}
	printf("checked %u Linux values\n", checked);
	assert_int_equal(bad, 0);
	assert_true(checked >= 100);
}

/* Every row of our table names a value the Linux TU exports (no typo can
 * make a row silently unchecked). */
static void test_every_row_has_linux_value(void **state)
{
	(void)state;
	const struct vtio_name_value *ours;
	size_t n = ours_table(&ours);
	for (size_t i = 0; i < n; i++) {
		if (find_lx(ours[i].lx_name) == NULL)
			fail_msg("row %s has no Linux value", ours[i].lx_name);
	}
}

/* Linux's VIRTIO_TRANSPORT_F_END is one past the last transport bit it knows:
 * 41 before VIRTIO_F_ADMIN_VQ (bit 41, spec 1.3) was added, 42 after. spec.h
 * covers spec 1.3, so it must equal Linux's when Linux knows ADMIN_VQ and be
 * exactly one more otherwise. */
static void test_transport_range(void **state)
{
	(void)state;
	const struct vtio_test_lx_value *end = find_lx("VIRTIO_TRANSPORT_F_END");
	const struct vtio_test_lx_value *admin = find_lx("VIRTIO_F_ADMIN_VQ");
	assert_non_null(end);
	assert_non_null(admin);
	if (admin->defined)
		assert_int_equal(VTIO_TRANSPORT_F_END, end->value);
	else
		assert_int_equal(VTIO_TRANSPORT_F_END, end->value + 1);
	assert_int_equal(VTIO_F_ADMIN_VQ, VTIO_TRANSPORT_F_END - 1);
}

/* Constants Linux's uapi headers do not (all) carry: checked against the spec
 * tables of CHECKLIST.md sections 1.2-1.8. */
static void test_spec_only_values(void **state)
{
	(void)state;
	/* 1.2 / 1.4: queue sizes and alignments. */
	assert_int_equal(VTIO_SPLIT_MAX_SIZE, 32768);
	assert_int_equal(VTIO_PACKED_MAX_SIZE, 32768);
	assert_int_equal(VTIO_LEGACY_ALIGN, 4096);
	assert_int_equal(VTIO_PACKED_DESC_ALIGN, 16);
	assert_int_equal(VTIO_PACKED_EVENT_ALIGN, 4);
	/* 1.4: event suppression. */
	assert_int_equal(VTIO_RING_EVENT_FLAGS_MASK, 0x3);
	/* 1.3: packed bits as masks and shifts agree. */
	assert_int_equal(VTIO_DESC_F_AVAIL, 1u << VTIO_DESC_F_AVAIL_SHIFT);
	assert_int_equal(VTIO_DESC_F_USED, 1u << VTIO_DESC_F_USED_SHIFT);
	/* 1.6: features missing from older Linux headers. */
	assert_int_equal(VTIO_F_BAD_FEATURE, 30);
	assert_int_equal(VTIO_F_NOTIFICATION_DATA, 38);
	assert_int_equal(VTIO_F_NOTIF_CONFIG_DATA, 39);
	assert_int_equal(VTIO_F_RING_RESET, 40);
	assert_int_equal(VTIO_F_ADMIN_VQ, 41);
	assert_int_equal(VTIO_F_SUSPEND, 43);
	assert_true(VTIO_FEATURE(VTIO_F_VERSION_1) == 0x100000000ull);
	assert_true(VTIO_FEATURE(63) == 0x8000000000000000ull);
	/* 1.7: status. */
	assert_int_equal(VTIO_STATUS_SUSPEND, 16);
	/* 1.8: MMIO. */
	assert_int_equal(VTIO_MMIO_MAGIC, 0x74726976u);
	const char magic[4] = {
	    (char)(VTIO_MMIO_MAGIC & 0xff), (char)((VTIO_MMIO_MAGIC >> 8) & 0xff),
	    (char)((VTIO_MMIO_MAGIC >> 16) & 0xff), (char)(VTIO_MMIO_MAGIC >> 24)};
	assert_memory_equal(magic, "virt", 4);
	assert_int_equal(VTIO_MMIO_QUEUE_RESET, 0x0c0);
	/* 1.5: notification data: vq | next_off << 16 | next_wrap << 31. */
	assert_int_equal(vtio_notification_data(3, 0x1234), 0x12340003u);
	assert_int_equal(vtio_notification_data(0xffff, (uint16_t)(0x7ffe | 0x8000)), 0xfffeffffu);
	assert_int_equal(vtio_notification_data(0, 0x8000) >> 31, 1);
}

/* 1.2: avail = 6 + 2*QS, used = 6 + 8*QS, and the event words at the end
 * (section 3 point 5); QS=256 gives 4096 / 518 / 2054 (CHECKLIST example). */
static void test_split_area_sizes(void **state)
{
	(void)state;
	assert_int_equal(vtio_split_desc_size(256), 4096);
	assert_int_equal(vtio_split_avail_size(256), 518);
	assert_int_equal(vtio_split_used_size(256), 2054);
	for (uint32_t num = 1; num <= 32768; num <<= 1) {
		assert_int_equal(vtio_split_avail_ring_off(num - 1) + 2,
				 vtio_split_used_event_off(num));
		assert_int_equal(vtio_split_used_event_off(num) + 2, vtio_split_avail_size(num));
		assert_int_equal(vtio_split_used_ring_off(num - 1) + 8,
				 vtio_split_avail_event_off(num));
		assert_int_equal(vtio_split_avail_event_off(num) + 2, vtio_split_used_size(num));
	}
	/* Legacy example of section 1.2: QS=256, align 4096 -> used at 8192, total 10246. */
	assert_int_equal(vtio_split_legacy_used_off(256, 4096), 8192);
	assert_int_equal(vtio_split_legacy_size(256, 4096), 10246);
}

/* LEG-5, section 3 point 14: vtio_split_legacy_size() == Linux vring_size()
 * and the legacy layout (avail, used, used_event, avail_event) where Linux
 * vring_init() / vring_used_event() / vring_avail_event() put it, for every
 * power-of-2 size and a range of alignments. */
static void test_legacy_layout_vs_vring_init(void **state)
{
	(void)state;
	static const unsigned long aligns[] = {1, 2, 4, 16, 64, 128, 512, 4096, 8192, 16384};
	unsigned compared = 0;
	for (uint32_t num = 1; num <= 32768; num <<= 1) {
		for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
			unsigned long al = aligns[a];
			uint64_t lx_size = vtio_test_lx_vring_size(num, al);
			assert_int_equal(vtio_split_legacy_size(num, al), lx_size);
			uint64_t av, us, ue, ae;
			if (vtio_test_lx_vring_layout(num, al, &av, &us, &ue, &ae) != 0)
				continue;
			assert_int_equal(av, vtio_split_desc_size(num));
			assert_int_equal(us, vtio_split_legacy_used_off(num, al));
			assert_int_equal(ue - av, vtio_split_used_event_off(num));
			assert_int_equal(ae - us, vtio_split_avail_event_off(num));
			assert_int_equal(us + vtio_split_used_size(num), lx_size);
			compared++;
		}
	}
	assert_true(compared >= 120);
}

/* LEG-5: a driver queue carved from one block by vtio_vq_ring_size() /
 * vtio_vq_areas_in() with the legacy alignment is Linux's vring_init()
 * layout, so a legacy device (QueuePFN / QueueAlign) finds every part. */
static void test_vq_legacy_block_vs_vring_init(void **state)
{
	(void)state;
	static const size_t aligns[] = {4, 64, 4096, 16384};
	static _Alignas(16384) unsigned char block[1u << 20];
	for (uint32_t num = 1; num <= 32768; num <<= 1) {
		for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
			uint64_t av, us, ue, ae;
			if (vtio_test_lx_vring_layout(num, aligns[a], &av, &us, &ue, &ae) != 0)
				continue;
			size_t sz = vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, num, aligns[a]);
			if (sz != vtio_test_lx_vring_size(num, aligns[a]))
				fail_msg(
				    "num %u align %zu: vtio_vq_ring_size %zu, vring_size %llu", num,
				    aligns[a], sz,
				    (unsigned long long)vtio_test_lx_vring_size(num, aligns[a]));
			struct vtio_vq_areas ar;
			assert_int_equal(vtio_vq_areas_in(VTIO_LAYOUT_SPLIT, num, aligns[a], block,
							  0x100000, &ar),
					 0);
			assert_ptr_equal(ar.desc, block);
			assert_int_equal((unsigned char *)ar.driver - block, av);
			assert_int_equal((unsigned char *)ar.device - block, us);
			assert_int_equal(ar.driver_addr, 0x100000 + av);
			assert_int_equal(ar.device_addr, 0x100000 + us);
		}
	}
}

/* SPLIT-DRV-1/3, PACKED-DRV-1/2: the ring areas a driver queue asks for are
 * the spec's sizes and alignments (event words included), for every size. */
static void test_vq_area_sizes_match_spec(void **state)
{
	(void)state;
	struct vtio_vq_area_sizes a;
	for (uint32_t num = 1; num <= 32768; num <<= 1) {
		assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, num, &a), 0);
		assert_int_equal(a.desc, vtio_split_desc_size(num));
		assert_int_equal(a.driver, vtio_split_avail_size(num));
		assert_int_equal(a.device, vtio_split_used_size(num));
		assert_int_equal(a.desc_align, VTIO_SPLIT_DESC_ALIGN);
		assert_int_equal(a.driver_align, VTIO_SPLIT_AVAIL_ALIGN);
		assert_int_equal(a.device_align, VTIO_SPLIT_USED_ALIGN);
	}
	/* Split sizes are powers of 2 up to 32768; packed any 1..32768. */
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 0, &a), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 6, &a), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 65536, &a), VTIO_EINVAL);
	static const uint32_t pk[] = {1, 2, 3, 6, 255, 256, 1000, 32767, 32768};
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, pk[i], &a), 0);
		assert_int_equal(a.desc, 16u * pk[i]);
		assert_int_equal(a.driver, sizeof(struct vtio_packed_event));
		assert_int_equal(a.device, sizeof(struct vtio_packed_event));
		assert_int_equal(a.desc_align, VTIO_PACKED_DESC_ALIGN);
		assert_int_equal(a.driver_align, VTIO_PACKED_EVENT_ALIGN);
		assert_int_equal(a.device_align, VTIO_PACKED_EVENT_ALIGN);
	}
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, 0, &a), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, 32769, &a), VTIO_EINVAL);
}

/* Section 3 point 4 vectors (EVT-*): vring_need_event at the 16-bit wrap. */
static void test_need_event_vectors(void **state)
{
	(void)state;
	assert_true(vtio_need_event(5, 6, 5));
	assert_false(vtio_need_event(5, 7, 6));
	assert_true(vtio_need_event(0xffff, 0x0001, 0xfffe));
	for (unsigned v = 0; v < 65536; v += 97)
		assert_false(vtio_need_event((uint16_t)v, (uint16_t)(v * 3), (uint16_t)(v * 3)));
	/* used_event = 0 notifies after the first buffer and again after the 65536th. */
	unsigned hits = 0;
	uint16_t idx = 0;
	for (unsigned n = 0; n < 65536 + 1; n++) {
		uint16_t old = idx++;
		if (vtio_need_event(0, idx, old))
			hits++;
	}
	assert_int_equal(hits, 2);
}

/* vtio_need_event == Linux vring_need_event over a sampled 16-bit space:
 * every event value against a grid of (new, old) pairs that includes both
 * sides of every wrap, plus a pseudo-random sweep of whole triples. */
static void test_need_event_vs_linux(void **state)
{
	(void)state;
	static const uint16_t edges[] = {0,	 1,	 2,	 0x7ffe, 0x7fff,
					 0x8000, 0x8001, 0xfffd, 0xfffe, 0xffff};
	uint16_t grid[64];
	unsigned ng = 0;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		grid[ng++] = edges[i];
	for (unsigned g = 0; ng < 64; g++)
		grid[ng++] = (uint16_t)(g * 1237u + 11u);
	uint64_t compared = 0;
	for (uint32_t ev = 0; ev < 65536; ev++) {
		for (unsigned i = 0; i < ng; i++) {
			for (unsigned j = 0; j < 8; j++) {
				uint16_t nw = grid[i];
				uint16_t old = (uint16_t)(nw - grid[(i + j) % ng]);
				int a = vtio_need_event((uint16_t)ev, nw, old);
				int b = vtio_test_lx_need_event((uint16_t)ev, nw, old);
				if ((a != 0) != (b != 0))
					fail_msg("event %u new %u old %u: vtio %d linux %d", ev, nw,
						 old, a, b);
				compared++;
			}
		}
	}
	/* Random triples (xorshift32, fixed seed: deterministic). */
	uint32_t x = 2463534242u;
	for (unsigned n = 0; n < 4000000; n++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		uint16_t ev = (uint16_t)x, nw = (uint16_t)(x >> 16);
		uint16_t old = (uint16_t)(nw - (x % 600u)); /* realistic batch distances */
		if (n & 1)
			old = (uint16_t)(x >> 8);
		if ((vtio_need_event(ev, nw, old) != 0) !=
		    (vtio_test_lx_need_event(ev, nw, old) != 0))
			fail_msg("event %u new %u old %u differ", ev, nw, old);
		compared++;
	}
	assert_true(compared > 30000000u);
}

/* vtio_mmio_reg_access() against the register table of virtio 1.2 section
 * 4.2.2 (version 2), written out here as the spec prints it: every other
 * 32-bit aligned offset below the config space (gaps and the legacy-only
 * GuestPageSize, QueueAlign, QueuePFN) and every misaligned one is 0. */
static void test_mmio_reg_access_table(void **state)
{
	(void)state;
	static const struct {
		uint32_t off;
		const char *access;
	} spec[] = {
	    {0x000, "R"},  /* MagicValue */
	    {0x004, "R"},  /* Version */
	    {0x008, "R"},  /* DeviceID */
	    {0x00c, "R"},  /* VendorID */
	    {0x010, "R"},  /* DeviceFeatures */
	    {0x014, "W"},  /* DeviceFeaturesSel */
	    {0x020, "W"},  /* DriverFeatures */
	    {0x024, "W"},  /* DriverFeaturesSel */
	    {0x030, "W"},  /* QueueSel */
	    {0x034, "R"},  /* QueueNumMax */
	    {0x038, "W"},  /* QueueNum */
	    {0x044, "RW"}, /* QueueReady */
	    {0x050, "W"},  /* QueueNotify */
	    {0x060, "R"},  /* InterruptStatus */
	    {0x064, "W"},  /* InterruptACK */
	    {0x070, "RW"}, /* Status */
	    {0x080, "W"},  /* QueueDescLow */
	    {0x084, "W"},  /* QueueDescHigh */
	    {0x090, "W"},  /* QueueDriverLow */
	    {0x094, "W"},  /* QueueDriverHigh */
	    {0x0a0, "W"},  /* QueueDeviceLow */
	    {0x0a4, "W"},  /* QueueDeviceHigh */
	    {0x0ac, "W"},  /* SHMSel */
	    {0x0b0, "R"},  /* SHMLenLow */
	    {0x0b4, "R"},  /* SHMLenHigh */
	    {0x0b8, "R"},  /* SHMBaseLow */
	    {0x0bc, "R"},  /* SHMBaseHigh */
	    {0x0c0, "RW"}, /* QueueReset */
	    {0x0fc, "R"},  /* ConfigGeneration */
	};
	unsigned listed = 0;
	for (uint32_t off = 0; off < VTIO_MMIO_CONFIG + 8; off++) {
		unsigned want = 0;
		for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
			if (spec[i].off != off)
				continue;
			want = (strchr(spec[i].access, 'R') ? VTIO_MMIO_REG_R : 0u) |
			       (strchr(spec[i].access, 'W') ? VTIO_MMIO_REG_W : 0u);
			listed++;
		}
		if (vtio_mmio_reg_access(off) != want)
			fail_msg("offset 0x%03x: access %u, spec %u", off,
				 vtio_mmio_reg_access(off), want);
	}
	assert_int_equal(listed, sizeof(spec) / sizeof(spec[0]));
	assert_int_equal(vtio_mmio_reg_access(VTIO_MMIO_QUEUE_PFN), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_linux_value_matches),
	    cmocka_unit_test(test_every_row_has_linux_value),
	    cmocka_unit_test(test_transport_range),
	    cmocka_unit_test(test_spec_only_values),
	    cmocka_unit_test(test_split_area_sizes),
	    cmocka_unit_test(test_legacy_layout_vs_vring_init),
	    cmocka_unit_test(test_vq_legacy_block_vs_vring_init),
	    cmocka_unit_test(test_vq_area_sizes_match_spec),
	    cmocka_unit_test(test_need_event_vectors),
	    cmocka_unit_test(test_need_event_vs_linux),
	    cmocka_unit_test(test_mmio_reg_access_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

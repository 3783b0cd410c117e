/* The Linux side of the spec.h proof (see spec_linux_values.h). This file
 * includes Debian's <linux/virtio_*.h> and nothing from include/vtio, so the
 * comparison cannot be satisfied by one header quietly including the other.
 * Constants that only newer kernels define are exported with defined = 0. */
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "spec_linux_values.h"

#define LX(x)                                                                                      \
	{                                                                                          \
#x, (uint64_t)(x), 1                                                               \
	}
#define LX_UNDEF(x)                                                                                \
	{                                                                                          \
#x, 0, 0                                                                           \
	}

const struct vtio_test_lx_value vtio_test_lx_values[] = {
    /* <linux/virtio_ring.h>: descriptor and ring flags. */
    LX(VRING_DESC_F_NEXT),
    LX(VRING_DESC_F_WRITE),
    LX(VRING_DESC_F_INDIRECT),
    LX(VRING_PACKED_DESC_F_AVAIL), /* a shift count, not a mask */
    LX(VRING_PACKED_DESC_F_USED),  /* a shift count, not a mask */
    LX(1u << VRING_PACKED_DESC_F_AVAIL),
    LX(1u << VRING_PACKED_DESC_F_USED),
    LX(VRING_USED_F_NO_NOTIFY),
    LX(VRING_AVAIL_F_NO_INTERRUPT),
    LX(VRING_PACKED_EVENT_FLAG_ENABLE),
    LX(VRING_PACKED_EVENT_FLAG_DISABLE),
    LX(VRING_PACKED_EVENT_FLAG_DESC),
    LX(VRING_PACKED_EVENT_F_WRAP_CTR), /* a shift count */
    LX(VIRTIO_RING_F_INDIRECT_DESC),
    LX(VIRTIO_RING_F_EVENT_IDX),
    LX(VRING_AVAIL_ALIGN_SIZE),
    LX(VRING_USED_ALIGN_SIZE),
    LX(VRING_DESC_ALIGN_SIZE),

    /* Split ring layouts. */
    LX(sizeof(struct vring_desc)),
    LX(offsetof(struct vring_desc, addr)),
    LX(offsetof(struct vring_desc, len)),
    LX(offsetof(struct vring_desc, flags)),
    LX(offsetof(struct vring_desc, next)),
    LX(sizeof(((struct vring_desc *)0)->addr)),
    LX(sizeof(((struct vring_desc *)0)->len)),
    LX(sizeof(((struct vring_desc *)0)->flags)),
    LX(sizeof(((struct vring_desc *)0)->next)),
    LX(sizeof(struct vring_avail)),
    LX(offsetof(struct vring_avail, flags)),
    LX(offsetof(struct vring_avail, idx)),
    LX(offsetof(struct vring_avail, ring)),
    LX(sizeof(((struct vring_avail *)0)->ring[0])),
    LX(sizeof(struct vring_used_elem)),
    LX(offsetof(struct vring_used_elem, id)),
    LX(offsetof(struct vring_used_elem, len)),
    LX(sizeof(((struct vring_used_elem *)0)->id)),
    LX(sizeof(((struct vring_used_elem *)0)->len)),
    LX(sizeof(struct vring_used)),
    LX(offsetof(struct vring_used, flags)),
    LX(offsetof(struct vring_used, idx)),
    LX(offsetof(struct vring_used, ring)),

    /* Packed ring layouts. */
    LX(sizeof(struct vring_packed_desc)),
    LX(offsetof(struct vring_packed_desc, addr)),
    LX(offsetof(struct vring_packed_desc, len)),
    LX(offsetof(struct vring_packed_desc, id)),
    LX(offsetof(struct vring_packed_desc, flags)),
    LX(sizeof(((struct vring_packed_desc *)0)->addr)),
    LX(sizeof(((struct vring_packed_desc *)0)->len)),
    LX(sizeof(((struct vring_packed_desc *)0)->id)),
    LX(sizeof(((struct vring_packed_desc *)0)->flags)),
    LX(sizeof(struct vring_packed_desc_event)),
    LX(offsetof(struct vring_packed_desc_event, off_wrap)),
    LX(offsetof(struct vring_packed_desc_event, flags)),
    LX(sizeof(((struct vring_packed_desc_event *)0)->off_wrap)),
    LX(sizeof(((struct vring_packed_desc_event *)0)->flags)),

    /* <linux/virtio_config.h>: status bits. */
    LX(VIRTIO_CONFIG_S_ACKNOWLEDGE),
    LX(VIRTIO_CONFIG_S_DRIVER),
    LX(VIRTIO_CONFIG_S_DRIVER_OK),
    LX(VIRTIO_CONFIG_S_FEATURES_OK),
    LX(VIRTIO_CONFIG_S_NEEDS_RESET),
    LX(VIRTIO_CONFIG_S_FAILED),
#ifdef VIRTIO_CONFIG_S_SUSPEND
    LX(VIRTIO_CONFIG_S_SUSPEND),
#else
    LX_UNDEF(VIRTIO_CONFIG_S_SUSPEND),
#endif

    /* Feature bits. */
    LX(VIRTIO_TRANSPORT_F_START),
    LX(VIRTIO_TRANSPORT_F_END),
    LX(VIRTIO_F_NOTIFY_ON_EMPTY),
    LX(VIRTIO_F_ANY_LAYOUT),
    LX(VIRTIO_F_VERSION_1),
    LX(VIRTIO_F_ACCESS_PLATFORM),
    LX(VIRTIO_F_IOMMU_PLATFORM),
    LX(VIRTIO_F_RING_PACKED),
    LX(VIRTIO_F_IN_ORDER),
    LX(VIRTIO_F_ORDER_PLATFORM),
    LX(VIRTIO_F_SR_IOV),
#ifdef VIRTIO_F_NOTIFICATION_DATA
    LX(VIRTIO_F_NOTIFICATION_DATA),
#else
    LX_UNDEF(VIRTIO_F_NOTIFICATION_DATA),
#endif
#ifdef VIRTIO_F_NOTIF_CONFIG_DATA
    LX(VIRTIO_F_NOTIF_CONFIG_DATA),
#else
    LX_UNDEF(VIRTIO_F_NOTIF_CONFIG_DATA),
#endif
    LX(VIRTIO_F_RING_RESET),
#ifdef VIRTIO_F_ADMIN_VQ
    LX(VIRTIO_F_ADMIN_VQ),
#else
    LX_UNDEF(VIRTIO_F_ADMIN_VQ),
#endif

    /* <linux/virtio_mmio.h>: registers. */
    LX(VIRTIO_MMIO_MAGIC_VALUE),
    LX(VIRTIO_MMIO_VERSION),
    LX(VIRTIO_MMIO_DEVICE_ID),
    LX(VIRTIO_MMIO_VENDOR_ID),
    LX(VIRTIO_MMIO_DEVICE_FEATURES),
    LX(VIRTIO_MMIO_DEVICE_FEATURES_SEL),
    LX(VIRTIO_MMIO_DRIVER_FEATURES),
    LX(VIRTIO_MMIO_DRIVER_FEATURES_SEL),
    LX(VIRTIO_MMIO_GUEST_PAGE_SIZE),
    LX(VIRTIO_MMIO_QUEUE_SEL),
    LX(VIRTIO_MMIO_QUEUE_NUM_MAX),
    LX(VIRTIO_MMIO_QUEUE_NUM),
    LX(VIRTIO_MMIO_QUEUE_ALIGN),
    LX(VIRTIO_MMIO_QUEUE_PFN),
    LX(VIRTIO_MMIO_QUEUE_READY),
    LX(VIRTIO_MMIO_QUEUE_NOTIFY),
    LX(VIRTIO_MMIO_INTERRUPT_STATUS),
    LX(VIRTIO_MMIO_INTERRUPT_ACK),
    LX(VIRTIO_MMIO_STATUS),
    LX(VIRTIO_MMIO_QUEUE_DESC_LOW),
    LX(VIRTIO_MMIO_QUEUE_DESC_HIGH),
    LX(VIRTIO_MMIO_QUEUE_AVAIL_LOW),
    LX(VIRTIO_MMIO_QUEUE_AVAIL_HIGH),
    LX(VIRTIO_MMIO_QUEUE_USED_LOW),
    LX(VIRTIO_MMIO_QUEUE_USED_HIGH),
    LX(VIRTIO_MMIO_SHM_SEL),
    LX(VIRTIO_MMIO_SHM_LEN_LOW),
    LX(VIRTIO_MMIO_SHM_LEN_HIGH),
    LX(VIRTIO_MMIO_SHM_BASE_LOW),
    LX(VIRTIO_MMIO_SHM_BASE_HIGH),
#ifdef VIRTIO_MMIO_QUEUE_RESET
    LX(VIRTIO_MMIO_QUEUE_RESET),
#else
    LX_UNDEF(VIRTIO_MMIO_QUEUE_RESET),
#endif
    LX(VIRTIO_MMIO_CONFIG_GENERATION),
    LX(VIRTIO_MMIO_CONFIG),
    LX(VIRTIO_MMIO_INT_VRING),
    LX(VIRTIO_MMIO_INT_CONFIG),

    /* <linux/virtio_blk.h>, <linux/virtio_ids.h>: the block device. */
    LX(VIRTIO_ID_BLOCK),
    LX(VIRTIO_BLK_F_SIZE_MAX),
    LX(VIRTIO_BLK_F_SEG_MAX),
    LX(VIRTIO_BLK_F_RO),
    LX(VIRTIO_BLK_F_BLK_SIZE),
    LX(VIRTIO_BLK_F_FLUSH),
    LX(VIRTIO_BLK_T_IN),
    LX(VIRTIO_BLK_T_OUT),
    LX(VIRTIO_BLK_T_FLUSH),
    LX(VIRTIO_BLK_T_GET_ID),
    LX(VIRTIO_BLK_S_OK),
    LX(VIRTIO_BLK_S_IOERR),
    LX(VIRTIO_BLK_S_UNSUPP),
    LX(VIRTIO_BLK_ID_BYTES),
    LX(sizeof(struct virtio_blk_outhdr)),
    LX(offsetof(struct virtio_blk_outhdr, type)),
    LX(offsetof(struct virtio_blk_outhdr, sector)),
    LX(offsetof(struct virtio_blk_config, capacity)),
    LX(offsetof(struct virtio_blk_config, size_max)),
    LX(offsetof(struct virtio_blk_config, seg_max)),
    LX(offsetof(struct virtio_blk_config, blk_size)),
};

const size_t vtio_test_lx_nvalues = sizeof(vtio_test_lx_values) / sizeof(vtio_test_lx_values[0]);

int vtio_test_lx_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return vring_need_event(event, new_idx, old_idx);
}

uint64_t vtio_test_lx_vring_size(unsigned num, unsigned long align)
{
	return vring_size(num, align);
}

/* Big enough for vring_size(32768, 16384). */
static _Alignas(16384) unsigned char lx_block[1u << 20];

int vtio_test_lx_vring_layout(unsigned num, unsigned long align, uint64_t *avail_off,
			      uint64_t *used_off, uint64_t *used_event_off,
			      uint64_t *avail_event_off)
{
	/* Below 4 the used ring would be misaligned for Linux's own accessors. */
	if (align < 4 || align > 16384 || vring_size(num, align) > sizeof(lx_block))
		return -1;
	struct vring vr;
	vring_init(&vr, num, lx_block, align);
	const unsigned char *base = lx_block;
	*avail_off = (uint64_t)((const unsigned char *)vr.avail - base);
	*used_off = (uint64_t)((const unsigned char *)vr.used - base);
	*used_event_off = (uint64_t)((const unsigned char *)&vring_used_event(&vr) - base);
	*avail_event_off = (uint64_t)((const unsigned char *)&vring_avail_event(&vr) - base);
	return 0;
}

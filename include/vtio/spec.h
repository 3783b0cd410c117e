/**
 * @file spec.h
 * @brief Wire layouts and constants of the virtio specification (1.2/1.3).
 *
 * Every multi-byte field on the wire is little-endian when VIRTIO_F_VERSION_1
 * is negotiated (guest-native for legacy queues); the structs below give the
 * layout only, so access their fields through vtio_le16()/vtio_le32()/
 * vtio_le64(). Bit-fields are never used: the spec lists them from the least
 * significant bit, which C bit-fields do not guarantee on big-endian hosts.
 *
 * Variable-length parts (the avail and used rings and their event words) are
 * described by offset functions rather than flexible array members, so the
 * header is also valid C++.
 */
#ifndef VTIO_SPEC_H
#define VTIO_SPEC_H

#include <stdint.h>
#include <stddef.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_spec Virtio wire format
 * @{
 */

/* ---- Descriptor flags (split and packed) --------------------------------- */

#define VTIO_DESC_F_NEXT	0x0001u /**< Chain continues (split: via next; packed: next slot). */
#define VTIO_DESC_F_WRITE	0x0002u /**< Device-writable buffer. */
#define VTIO_DESC_F_INDIRECT	0x0004u /**< Buffer is an indirect descriptor table. */
#define VTIO_DESC_F_AVAIL	0x0080u /**< Packed: avail bit (mask, bit 7). */
#define VTIO_DESC_F_USED	0x8000u /**< Packed: used bit (mask, bit 15). */
#define VTIO_DESC_F_AVAIL_SHIFT 7	/**< Packed: bit number of the avail flag. */
#define VTIO_DESC_F_USED_SHIFT	15	/**< Packed: bit number of the used flag. */

#define VTIO_AVAIL_F_NO_INTERRUPT 0x0001u /**< Split avail->flags: driver wants no interrupts. */
#define VTIO_USED_F_NO_NOTIFY	  0x0001u /**< Split used->flags: device wants no notifications. */

/* ---- Split ring ------------------------------------------------------------ */

/** Split descriptor (16 bytes): addr, len, flags, next. */
struct vtio_split_desc {
	uint64_t addr;	/**< Buffer address (guest-physical, or bus/IOVA with ACCESS_PLATFORM). */
	uint32_t len;	/**< Buffer length in bytes. */
	uint16_t flags; /**< VTIO_DESC_F_NEXT / _WRITE / _INDIRECT. */
	uint16_t next;	/**< Next descriptor index, valid with VTIO_DESC_F_NEXT. */
};

/** Split available ring header; `ring[num]` and `used_event` follow. */
struct vtio_split_avail {
	uint16_t flags; /**< VTIO_AVAIL_F_NO_INTERRUPT. */
	uint16_t idx;	/**< Free-running index of the next slot the driver will fill. */
};

/** One element of the split used ring (8 bytes). */
struct vtio_split_used_elem {
	uint32_t id;  /**< Head index of the used chain (32-bit for padding). */
	uint32_t len; /**< Bytes written into the device-writable part. */
};

/** Split used ring header; `ring[num]` and `avail_event` follow. */
struct vtio_split_used {
	uint16_t flags; /**< VTIO_USED_F_NO_NOTIFY. */
	uint16_t idx;	/**< Free-running index of the next slot the device will fill. */
};

#define VTIO_SPLIT_DESC_ALIGN  16u    /**< Descriptor table alignment (bytes). */
#define VTIO_SPLIT_AVAIL_ALIGN 2u     /**< Available ring alignment (bytes). */
#define VTIO_SPLIT_USED_ALIGN  4u     /**< Used ring alignment (bytes). */
#define VTIO_SPLIT_MAX_SIZE    32768u /**< Largest split queue size (a power of two). */
#define VTIO_LEGACY_ALIGN      4096u  /**< Legacy PCI used-ring alignment. */

/** Bytes of a split descriptor table of @p num entries. */
VTIO_INLINE size_t vtio_split_desc_size(uint32_t num)
{
	return (size_t)16 * num;
}
/** Bytes of a split available ring of @p num entries, used_event included. */
VTIO_INLINE size_t vtio_split_avail_size(uint32_t num)
{
	return 6 + (size_t)2 * num;
}
/** Bytes of a split used ring of @p num entries, avail_event included. */
VTIO_INLINE size_t vtio_split_used_size(uint32_t num)
{
	return 6 + (size_t)8 * num;
}
/** Offset of `avail->ring[i]` from the start of the available ring. */
VTIO_INLINE size_t vtio_split_avail_ring_off(uint32_t i)
{
	return 4 + (size_t)2 * i;
}
/** Offset of `used_event` from the start of the available ring. */
VTIO_INLINE size_t vtio_split_used_event_off(uint32_t num)
{
	return 4 + (size_t)2 * num;
}
/** Offset of `used->ring[i]` from the start of the used ring. */
VTIO_INLINE size_t vtio_split_used_ring_off(uint32_t i)
{
	return 4 + (size_t)8 * i;
}
/** Offset of `avail_event` from the start of the used ring. */
VTIO_INLINE size_t vtio_split_avail_event_off(uint32_t num)
{
	return 4 + (size_t)8 * num;
}
/**
 * Bytes of a legacy contiguous split ring (Linux `vring_size()`):
 * descriptors, avail ring, padding to @p align, used ring.
 * @p align must be a power of two.
 */
VTIO_INLINE size_t vtio_split_legacy_size(uint32_t num, size_t align)
{
	size_t used_off =
	    (vtio_split_desc_size(num) + vtio_split_avail_size(num) + align - 1) & ~(align - 1);
	return used_off + vtio_split_used_size(num);
}

/**
 * Offset of the used ring inside a legacy contiguous split ring (where Linux
 * `vring_init()` puts it): descriptors and the avail ring (used_event
 * included), rounded up to @p align, a power of two.
 */
VTIO_INLINE size_t vtio_split_legacy_used_off(uint32_t num, size_t align)
{
	return (vtio_split_desc_size(num) + vtio_split_avail_size(num) + align - 1) & ~(align - 1);
}

/* ---- Packed ring ------------------------------------------------------------ */

/** Packed descriptor (16 bytes): addr, len, id, flags (note: not split's order). */
struct vtio_packed_desc {
	uint64_t addr;	/**< Buffer address. */
	uint32_t len;	/**< Length (available) or bytes written (used). */
	uint16_t id;	/**< Buffer ID. */
	uint16_t flags; /**< Descriptor flags incl. VTIO_DESC_F_AVAIL / _USED. */
};

/** Packed event suppression structure (driver area and device area, 4 bytes). */
struct vtio_packed_event {
	uint16_t off_wrap; /**< Bits 0-14 descriptor offset, bit 15 wrap counter. */
	uint16_t flags;	   /**< Bits 0-1: VTIO_RING_EVENT_FLAGS_*. */
};

#define VTIO_RING_EVENT_FLAGS_ENABLE  0x0u   /**< Notify on every event. */
#define VTIO_RING_EVENT_FLAGS_DISABLE 0x1u   /**< No notifications. */
#define VTIO_RING_EVENT_FLAGS_DESC    0x2u   /**< Notify at a specific descriptor (EVENT_IDX). */
#define VTIO_RING_EVENT_FLAGS_MASK    0x3u   /**< Valid bits of the flags field. */
#define VTIO_RING_EVENT_WRAP_SHIFT    15     /**< Bit number of the wrap counter in off_wrap. */
#define VTIO_PACKED_DESC_ALIGN	      16u    /**< Descriptor ring alignment. */
#define VTIO_PACKED_EVENT_ALIGN	      4u     /**< Event suppression area alignment. */
#define VTIO_PACKED_MAX_SIZE	      32768u /**< Largest packed queue size (any value 1..32768). */

/* ---- Notification data (VIRTIO_F_NOTIFICATION_DATA) -------------------------- */

/**
 * Build the 32-bit driver notification value:
 * `vq_index | next_off << 16 | next_wrap << 31`.
 * For a split ring pass the new avail idx as @p next_off_wrap (all 16 bits);
 * for a packed ring pass `next_off | wrap << 15`.
 */
VTIO_INLINE uint32_t vtio_notification_data(uint16_t vq_index, uint16_t next_off_wrap)
{
	return (uint32_t)vq_index | ((uint32_t)next_off_wrap << 16);
}

/* ---- EVENT_IDX arithmetic ------------------------------------------------------ */

/**
 * True when moving an index from @p old_idx to @p new_idx passed @p event:
 * the spec's `vring_need_event`, every subtraction taken modulo 2^16.
 */
VTIO_INLINE int vtio_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* ---- Feature bits ------------------------------------------------------------ */

#define VTIO_F_NOTIFY_ON_EMPTY	 24 /**< Legacy: notify when the avail ring empties. */
#define VTIO_F_ANY_LAYOUT	 27 /**< Legacy: any message framing. */
#define VTIO_F_INDIRECT_DESC	 28 /**< Indirect descriptor tables. */
#define VTIO_F_EVENT_IDX	 29 /**< used_event / avail_event (packed: DESC mode). */
#define VTIO_F_BAD_FEATURE	 30 /**< Unused bit QEMU probes with; never negotiate. */
#define VTIO_F_VERSION_1	 32 /**< Modern interface, little-endian everywhere. */
#define VTIO_F_ACCESS_PLATFORM	 33 /**< Device addresses go through platform DMA translation. */
#define VTIO_F_RING_PACKED	 34 /**< Packed ring layout. */
#define VTIO_F_IN_ORDER		 35 /**< Buffers used in the order made available. */
#define VTIO_F_ORDER_PLATFORM	 36 /**< Platform (DMA-grade) memory ordering. */
#define VTIO_F_SR_IOV		 37 /**< PCI SR-IOV. */
#define VTIO_F_NOTIFICATION_DATA 38 /**< Extra data in driver notifications. */
#define VTIO_F_NOTIF_CONFIG_DATA 39 /**< PCI: notify with queue_notif_config_data. */
#define VTIO_F_RING_RESET	 40 /**< Per-queue reset. */
#define VTIO_F_ADMIN_VQ		 41 /**< Administration virtqueue (PCI). */
#define VTIO_F_SUSPEND		 43 /**< Device suspend (1.4; SUSPEND status bit). */
#define VTIO_TRANSPORT_F_START	 28 /**< First transport/ring feature bit. */
#define VTIO_TRANSPORT_F_END	 42 /**< One past the last transport/ring feature bit. */

/** Old (pre-1.1) name of VTIO_F_ACCESS_PLATFORM, as Linux keeps it. */
#define VTIO_F_IOMMU_PLATFORM VTIO_F_ACCESS_PLATFORM

/** Feature mask of bit @p b. */
#define VTIO_FEATURE(b) ((uint64_t)1 << (b))

/** Ring capabilities: both ends of one ring must implement them. */
#define VTIO_FEATURES_RING_CAPS                                                                    \
	(VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |                     \
	 VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_IN_ORDER) |                        \
	 VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) | VTIO_FEATURE(VTIO_F_RING_RESET))

/** Platform properties of the device's memory access (a device offers them
 *  because it needs them: translated addresses, hardware-grade ordering). */
#define VTIO_FEATURES_PLATFORM                                                                     \
	(VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM) | VTIO_FEATURE(VTIO_F_ORDER_PLATFORM))

/** Ring/transport bits this library honours on every transport. */
#define VTIO_FEATURES_RING                                                                         \
	(VTIO_FEATURES_RING_CAPS | VTIO_FEATURES_PLATFORM | VTIO_FEATURE(VTIO_F_VERSION_1))

/** Bits 24..49: reserved for the transport/ring and future extensions;
 *  everything outside (0..23, 50..63) belongs to the device type. */
#define VTIO_FEATURES_TRANSPORT_RANGE ((((uint64_t)1 << 50) - 1) & ~(((uint64_t)1 << 24) - 1))

/* ---- Device status bits ---------------------------------------------------------- */

#define VTIO_STATUS_ACKNOWLEDGE	       1u   /**< Driver found the device. */
#define VTIO_STATUS_DRIVER	       2u   /**< Driver knows how to drive it. */
#define VTIO_STATUS_DRIVER_OK	       4u   /**< Driver is ready. */
#define VTIO_STATUS_FEATURES_OK	       8u   /**< Feature negotiation complete. */
#define VTIO_STATUS_SUSPEND	       16u  /**< Device suspended (1.4). */
#define VTIO_STATUS_DEVICE_NEEDS_RESET 64u  /**< Device hit an error it cannot recover from. */
#define VTIO_STATUS_FAILED	       128u /**< Driver gave up on the device. */

/* ---- virtio-mmio registers (version 2; legacy ones marked) ----------------------- */

#define VTIO_MMIO_MAGIC_VALUE	      0x000u /**< R: 0x74726976 ("virt"). */
#define VTIO_MMIO_VERSION	      0x004u /**< R: 2 (legacy: 1). */
#define VTIO_MMIO_DEVICE_ID	      0x008u /**< R: device type, 0 = placeholder. */
#define VTIO_MMIO_VENDOR_ID	      0x00cu /**< R: vendor ID. */
#define VTIO_MMIO_DEVICE_FEATURES     0x010u /**< R: feature word selected below. */
#define VTIO_MMIO_DEVICE_FEATURES_SEL 0x014u /**< W: device feature word select. */
#define VTIO_MMIO_DRIVER_FEATURES     0x020u /**< W: accepted feature word. */
#define VTIO_MMIO_DRIVER_FEATURES_SEL 0x024u /**< W: driver feature word select. */
#define VTIO_MMIO_GUEST_PAGE_SIZE     0x028u /**< W: legacy only. */
#define VTIO_MMIO_QUEUE_SEL	      0x030u /**< W: queue select. */
#define VTIO_MMIO_QUEUE_NUM_MAX	      0x034u /**< R: maximum queue size (QueueSizeMax). */
#define VTIO_MMIO_QUEUE_NUM	      0x038u /**< W: queue size (QueueSize). */
#define VTIO_MMIO_QUEUE_ALIGN	      0x03cu /**< W: legacy only. */
#define VTIO_MMIO_QUEUE_PFN	      0x040u /**< RW: legacy only. */
#define VTIO_MMIO_QUEUE_READY	      0x044u /**< RW: queue ready. */
#define VTIO_MMIO_QUEUE_NOTIFY	      0x050u /**< W: queue notifier. */
#define VTIO_MMIO_INTERRUPT_STATUS    0x060u /**< R: interrupt status. */
#define VTIO_MMIO_INTERRUPT_ACK	      0x064u /**< W: interrupt acknowledge. */
#define VTIO_MMIO_STATUS	      0x070u /**< RW: device status. */
#define VTIO_MMIO_QUEUE_DESC_LOW      0x080u /**< W: descriptor area, low 32 bits. */
#define VTIO_MMIO_QUEUE_DESC_HIGH     0x084u /**< W: descriptor area, high 32 bits. */
#define VTIO_MMIO_QUEUE_AVAIL_LOW     0x090u /**< W: driver area, low 32 bits. */
#define VTIO_MMIO_QUEUE_AVAIL_HIGH    0x094u /**< W: driver area, high 32 bits. */
#define VTIO_MMIO_QUEUE_USED_LOW      0x0a0u /**< W: device area, low 32 bits. */
#define VTIO_MMIO_QUEUE_USED_HIGH     0x0a4u /**< W: device area, high 32 bits. */
#define VTIO_MMIO_SHM_SEL	      0x0acu /**< W: shared memory region select. */
#define VTIO_MMIO_SHM_LEN_LOW	      0x0b0u /**< R: region length, low. */
#define VTIO_MMIO_SHM_LEN_HIGH	      0x0b4u /**< R: region length, high. */
#define VTIO_MMIO_SHM_BASE_LOW	      0x0b8u /**< R: region base, low. */
#define VTIO_MMIO_SHM_BASE_HIGH	      0x0bcu /**< R: region base, high. */
#define VTIO_MMIO_QUEUE_RESET	      0x0c0u /**< RW: RING_RESET queue reset. */
#define VTIO_MMIO_CONFIG_GENERATION   0x0fcu /**< R: configuration atomicity value. */
#define VTIO_MMIO_CONFIG	      0x100u /**< Device-specific configuration space. */

/** vtio_mmio_reg_access(): the driver may read the register. */
#define VTIO_MMIO_REG_R 1u
/** vtio_mmio_reg_access(): the driver may write the register. */
#define VTIO_MMIO_REG_W 2u

/**
 * How a driver may access a version-2 virtio-mmio control register (virtio
 * 1.2 section 4.2.2, the R/W marks above): VTIO_MMIO_REG_R and/or
 * VTIO_MMIO_REG_W, 0 for a legacy-only register, a gap, a misaligned offset
 * or the configuration space (VTIO_MMIO_CONFIG and up, which has rules of
 * its own). One table for the device transport, which refuses every other
 * access, and for tests and fuzzers that check a driver never makes one.
 *
 * Context: any.
 */
VTIO_INLINE unsigned vtio_mmio_reg_access(uint32_t off)
{
	switch (off) {
	case VTIO_MMIO_MAGIC_VALUE:
	case VTIO_MMIO_VERSION:
	case VTIO_MMIO_DEVICE_ID:
	case VTIO_MMIO_VENDOR_ID:
	case VTIO_MMIO_DEVICE_FEATURES:
	case VTIO_MMIO_QUEUE_NUM_MAX:
	case VTIO_MMIO_INTERRUPT_STATUS:
	case VTIO_MMIO_SHM_LEN_LOW:
	case VTIO_MMIO_SHM_LEN_HIGH:
	case VTIO_MMIO_SHM_BASE_LOW:
	case VTIO_MMIO_SHM_BASE_HIGH:
	case VTIO_MMIO_CONFIG_GENERATION:
		return VTIO_MMIO_REG_R;
	case VTIO_MMIO_DEVICE_FEATURES_SEL:
	case VTIO_MMIO_DRIVER_FEATURES:
	case VTIO_MMIO_DRIVER_FEATURES_SEL:
	case VTIO_MMIO_QUEUE_SEL:
	case VTIO_MMIO_QUEUE_NUM:
	case VTIO_MMIO_QUEUE_NOTIFY:
	case VTIO_MMIO_INTERRUPT_ACK:
	case VTIO_MMIO_QUEUE_DESC_LOW:
	case VTIO_MMIO_QUEUE_DESC_HIGH:
	case VTIO_MMIO_QUEUE_AVAIL_LOW:
	case VTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VTIO_MMIO_QUEUE_USED_LOW:
	case VTIO_MMIO_QUEUE_USED_HIGH:
	case VTIO_MMIO_SHM_SEL:
		return VTIO_MMIO_REG_W;
	case VTIO_MMIO_QUEUE_READY:
	case VTIO_MMIO_STATUS:
	case VTIO_MMIO_QUEUE_RESET:
		return VTIO_MMIO_REG_R | VTIO_MMIO_REG_W;
	default:
		return 0;
	}
}

#define VTIO_MMIO_MAGIC	     0x74726976u /**< MagicValue ("virt" little-endian). */
#define VTIO_MMIO_INT_VRING  0x1u	 /**< InterruptStatus: used buffer notification. */
#define VTIO_MMIO_INT_CONFIG 0x2u	 /**< InterruptStatus: configuration change. */

/* ---- Block device (virtio spec 5.2) ---------------------------------------------------- */

#define VTIO_ID_BLOCK 2u /**< Device ID of a block device. */

#define VTIO_BLK_F_SIZE_MAX 1 /**< size_max in config is valid. */
#define VTIO_BLK_F_SEG_MAX  2 /**< seg_max in config is valid. */
#define VTIO_BLK_F_RO	    5 /**< Device is read-only. */
#define VTIO_BLK_F_BLK_SIZE 6 /**< blk_size in config is valid. */
#define VTIO_BLK_F_FLUSH    9 /**< FLUSH requests are supported. */

#define VTIO_BLK_T_IN	  0u /**< Read sectors (device writes the data). */
#define VTIO_BLK_T_OUT	  1u /**< Write sectors. */
#define VTIO_BLK_T_FLUSH  4u /**< Flush the write cache. */
#define VTIO_BLK_T_GET_ID 8u /**< Device id string (VTIO_BLK_ID_BYTES bytes). */

#define VTIO_BLK_S_OK	  0u /**< Status byte: success. */
#define VTIO_BLK_S_IOERR  1u /**< Status byte: I/O error. */
#define VTIO_BLK_S_UNSUPP 2u /**< Status byte: request type not supported. */

#define VTIO_BLK_SECTOR_SIZE 512u /**< Sector numbers count 512-byte units. */
#define VTIO_BLK_ID_BYTES    20u  /**< Length of the GET_ID string. */

/** Request header, the first (device-readable) 16 bytes of every request;
 *  data follows, then one device-writable status byte. Little-endian. */
struct vtio_blk_req_hdr {
	uint32_t type;	   /**< VTIO_BLK_T_*. */
	uint32_t reserved; /**< Was ioprio. */
	uint64_t sector;   /**< First sector (512-byte units) for IN / OUT. */
};

/** Offsets in the block device's config space (little-endian fields). */
#define VTIO_BLK_CFG_CAPACITY 0u  /**< le64: capacity in 512-byte sectors. */
#define VTIO_BLK_CFG_SIZE_MAX 8u  /**< le32: largest segment (SIZE_MAX). */
#define VTIO_BLK_CFG_SEG_MAX  12u /**< le32: most segments per request (SEG_MAX). */
#define VTIO_BLK_CFG_BLK_SIZE 20u /**< le32: block size (BLK_SIZE). */
#define VTIO_BLK_CFG_LEN      24u /**< Config bytes up to and including blk_size. */

/* ---- Layout checks ------------------------------------------------------------------ */

/** @cond VTIO_INTERNAL */
VTIO_STATIC_ASSERT(sizeof(struct vtio_split_desc) == 16, "split desc is 16 bytes");
VTIO_STATIC_ASSERT(offsetof(struct vtio_split_desc, len) == 8, "split desc len at 8");
VTIO_STATIC_ASSERT(offsetof(struct vtio_split_desc, flags) == 12, "split desc flags at 12");
VTIO_STATIC_ASSERT(offsetof(struct vtio_split_desc, next) == 14, "split desc next at 14");
VTIO_STATIC_ASSERT(sizeof(struct vtio_split_avail) == 4, "avail header is 4 bytes");
VTIO_STATIC_ASSERT(sizeof(struct vtio_split_used) == 4, "used header is 4 bytes");
VTIO_STATIC_ASSERT(sizeof(struct vtio_split_used_elem) == 8, "used elem is 8 bytes");
VTIO_STATIC_ASSERT(offsetof(struct vtio_split_used_elem, len) == 4, "used elem len at 4");
VTIO_STATIC_ASSERT(sizeof(struct vtio_packed_desc) == 16, "packed desc is 16 bytes");
VTIO_STATIC_ASSERT(offsetof(struct vtio_packed_desc, id) == 12, "packed desc id at 12");
VTIO_STATIC_ASSERT(offsetof(struct vtio_packed_desc, flags) == 14, "packed desc flags at 14");
VTIO_STATIC_ASSERT(sizeof(struct vtio_packed_event) == 4, "packed event is 4 bytes");
VTIO_STATIC_ASSERT(sizeof(struct vtio_blk_req_hdr) == 16, "blk request header is 16 bytes");
VTIO_STATIC_ASSERT(offsetof(struct vtio_blk_req_hdr, sector) == 8, "blk sector at 8");

/** @endcond */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_SPEC_H */

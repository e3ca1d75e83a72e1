/* virtio.h - constants of the virtio specification (v1.2) that vqsim uses.
 *
 * Only numbers fixed by the specification live here: status bits, reserved
 * feature bits, device ids, split-ring flags and layouts, mmio registers.
 */
#ifndef VQSIM_VIRTIO_H
#define VQSIM_VIRTIO_H

#include <stdint.h>

/* Device status field (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1u
#define VIRTIO_STATUS_DRIVER             2u
#define VIRTIO_STATUS_DRIVER_OK          4u
#define VIRTIO_STATUS_FEATURES_OK        8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED             128u

/* Reserved feature bits (spec 6). */
#define VIRTIO_F_INDIRECT_DESC      28
#define VIRTIO_F_EVENT_IDX          29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_ACCESS_PLATFORM    33
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_IN_ORDER           35
#define VIRTIO_F_ORDER_PLATFORM     36
#define VIRTIO_F_SR_IOV             37
#define VIRTIO_F_NOTIFICATION_DATA  38
#define VIRTIO_F_NOTIF_CONFIG_DATA  39
#define VIRTIO_F_RING_RESET         40

/* Device ids (spec 5). */
#define VIRTIO_ID_NET      1
#define VIRTIO_ID_BLOCK    2
#define VIRTIO_ID_CONSOLE  3
#define VIRTIO_ID_RNG      4
#define VIRTIO_ID_BALLOON  5

/* Split virtqueue (spec 2.7). */
#define VIRTQ_DESC_F_NEXT      1u
#define VIRTQ_DESC_F_WRITE     2u
#define VIRTQ_DESC_F_INDIRECT  4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u
#define VIRTQ_MAX_SIZE         32768u

/* Guest-memory layout of the split ring, all fields little-endian. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Byte sizes and alignments of the three split-ring areas for a queue of n. */
#define VIRTQ_DESC_SIZE(n)   (16u * (uint64_t)(n))
#define VIRTQ_AVAIL_SIZE(n)  (6u + 2u * (uint64_t)(n))  /* flags, idx, ring[n], used_event */
#define VIRTQ_USED_SIZE(n)   (6u + 8u * (uint64_t)(n))  /* flags, idx, ring[n], avail_event */
#define VIRTQ_DESC_ALIGN   16u
#define VIRTQ_AVAIL_ALIGN  2u
#define VIRTQ_USED_ALIGN   4u

/* vring_need_event (spec 2.7.7.2): has idx moved past event since old? */
static inline int virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* virtio-mmio version 2 registers (spec 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100
#define VIRTIO_MMIO_SIZE                0x200

#define VIRTIO_MMIO_MAGIC     0x74726976u /* "virt" */
#define VIRTIO_MMIO_INT_VRING  1u
#define VIRTIO_MMIO_INT_CONFIG 2u

/* Packed virtqueues (spec 2.8): descriptor {le64 addr; le32 len; le16 id;
 * le16 flags}, and the event suppression structure {le16 off_wrap; le16
 * flags} of the driver and device areas. */
#define VIRTQ_DESC_F_AVAIL          (1u << 7)
#define VIRTQ_DESC_F_USED           (1u << 15)
#define VIRTQ_PACKED_EVENT_ENABLE   0u
#define VIRTQ_PACKED_EVENT_DISABLE  1u
#define VIRTQ_PACKED_EVENT_DESC     2u  /* only with VIRTIO_F_EVENT_IDX */
#define VIRTQ_PACKED_EVENT_RESERVED 3u
#define VIRTQ_PACKED_EVENT_WRAP     (1u << 15) /* in off_wrap */
#define VIRTQ_PACKED_DESC_SIZE(n)   (16u * (uint64_t)(n))
#define VIRTQ_PACKED_EVENT_SIZE     4u
#define VIRTQ_PACKED_DESC_ALIGN     16u
#define VIRTQ_PACKED_EVENT_ALIGN    4u

#endif

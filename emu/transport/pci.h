/* pci.h - the virtio-pci modern transport (spec 4.1): one PCI function with
 * a type-0 configuration space, vendor capabilities that locate the virtio
 * structures in one 64-bit memory BAR, MSI-X with its table and PBA in the
 * same BAR, and INTx + ISR when MSI-X is off.
 *
 * BAR 0 layout (VQ_PCI_BAR_SIZE bytes): common cfg at VQ_PCI_COMMON_OFF,
 * ISR at VQ_PCI_ISR_OFF, device cfg at VQ_PCI_DEVICE_OFF, notifications at
 * VQ_PCI_NOTIFY_OFF + queue * VQ_PCI_NOTIFY_MULT, MSI-X table at
 * VQ_PCI_MSIX_TABLE_OFF and PBA at VQ_PCI_MSIX_PBA_OFF. A driver must still
 * find them through the capabilities. Refusals are traced, counted and
 * ignored as in mmio.c: reads return 0.
 */
#ifndef VQSIM_TRANSPORT_PCI_H
#define VQSIM_TRANSPORT_PCI_H

#include "../transport.h"

#define VQ_PCI_VENDOR_ID 0x1af4u
#define VQ_PCI_DEVICE_ID_BASE 0x1040u    /* + virtio device id (spec 4.1.2) */
#define VQ_PCI_SUBSYS_ID 0x1100u
#define VQ_PCI_NO_VECTOR 0xffffu
#define VQ_PCI_CFG_SIZE 0x100u           /* type-0 header + capabilities */
#define VQ_PCI_ECAM_FN_SIZE 0x1000u      /* config space per function in ECAM */

/* config space registers */
#define VQ_PCI_VENDOR 0x00
#define VQ_PCI_DEVICE 0x02
#define VQ_PCI_COMMAND 0x04
#define VQ_PCI_STATUS 0x06
#define VQ_PCI_REVISION 0x08
#define VQ_PCI_CLASS_PROG 0x09
#define VQ_PCI_HEADER_TYPE 0x0e
#define VQ_PCI_BAR0 0x10
#define VQ_PCI_SUBSYS_VENDOR 0x2c
#define VQ_PCI_SUBSYS 0x2e
#define VQ_PCI_CAP_PTR 0x34
#define VQ_PCI_INT_LINE 0x3c
#define VQ_PCI_INT_PIN 0x3d
#define VQ_PCI_CMD_MEMORY 0x0002u
#define VQ_PCI_CMD_MASTER 0x0004u
#define VQ_PCI_CMD_INTX_DISABLE 0x0400u
#define VQ_PCI_STATUS_INTX 0x0008u
#define VQ_PCI_STATUS_CAPS 0x0010u

/* capabilities */
#define VQ_PCI_CAP_ID_VNDR 0x09
#define VQ_PCI_CAP_ID_MSIX 0x11
#define VQ_PCI_CAP_COMMON_CFG 1
#define VQ_PCI_CAP_NOTIFY_CFG 2
#define VQ_PCI_CAP_ISR_CFG 3
#define VQ_PCI_CAP_DEVICE_CFG 4
#define VQ_PCI_CAP_PCI_CFG 5
/* where our capabilities sit (a driver walks the list from VQ_PCI_CAP_PTR) */
#define VQ_PCI_CAP_COMMON_AT 0x40
#define VQ_PCI_CAP_NOTIFY_AT 0x50
#define VQ_PCI_CAP_ISR_AT 0x64
#define VQ_PCI_CAP_DEVICE_AT 0x74
#define VQ_PCI_CAP_PCICFG_AT 0x84
#define VQ_PCI_CAP_MSIX_AT 0x98
#define VQ_PCI_MSIX_CTRL_ENABLE 0x8000u
#define VQ_PCI_MSIX_CTRL_MASKALL 0x4000u

/* BAR 0 */
#define VQ_PCI_BAR_SIZE 0x8000u
#define VQ_PCI_COMMON_OFF 0x0000u
#define VQ_PCI_COMMON_LEN 0x3cu
#define VQ_PCI_ISR_OFF 0x1000u
#define VQ_PCI_DEVICE_OFF 0x2000u
#define VQ_PCI_DEVICE_MAX 0x1000u
#define VQ_PCI_NOTIFY_OFF 0x3000u
#define VQ_PCI_NOTIFY_MULT 4u
#define VQ_PCI_MSIX_TABLE_OFF 0x4000u
#define VQ_PCI_MSIX_PBA_OFF 0x5000u
#define VQ_PCI_MSIX_MAX (VQ_DEV_MAX_QUEUES + 1)

/* common cfg fields (spec 4.1.4.3) */
#define VQ_PCI_CC_DFSELECT 0x00
#define VQ_PCI_CC_DF 0x04
#define VQ_PCI_CC_GFSELECT 0x08
#define VQ_PCI_CC_GF 0x0c
#define VQ_PCI_CC_MSIX 0x10
#define VQ_PCI_CC_NUMQ 0x12
#define VQ_PCI_CC_STATUS 0x14
#define VQ_PCI_CC_CFGGEN 0x15
#define VQ_PCI_CC_Q_SELECT 0x16
#define VQ_PCI_CC_Q_SIZE 0x18
#define VQ_PCI_CC_Q_MSIX 0x1a
#define VQ_PCI_CC_Q_ENABLE 0x1c
#define VQ_PCI_CC_Q_NOFF 0x1e
#define VQ_PCI_CC_Q_DESCLO 0x20
#define VQ_PCI_CC_Q_DESCHI 0x24
#define VQ_PCI_CC_Q_AVAILLO 0x28
#define VQ_PCI_CC_Q_AVAILHI 0x2c
#define VQ_PCI_CC_Q_USEDLO 0x30
#define VQ_PCI_CC_Q_USEDHI 0x34
#define VQ_PCI_CC_Q_NDATA 0x38
#define VQ_PCI_CC_Q_RESET 0x3a

struct vq_pci_stats {
	uint64_t reads, writes, bad_accesses, notifies, interrupts;
	uint64_t msi_sent, msi_pended, msi_dropped; /* MSI-X messages */
	uint64_t isr_reads;              /* reads of ISR status (spec 4.1.4.5.2) */
};

struct vq_pci {
	struct vq_dev *dev;
	struct vq_transport_host host;
	struct vq_tracer *tracer;
	uint8_t cfg[VQ_PCI_CFG_SIZE];    /* config space as the driver sees it */
	uint8_t wmask[VQ_PCI_CFG_SIZE];  /* bits the driver may write */
	uint32_t device_features_sel, driver_features_sel;
	uint16_t queue_sel;
	uint16_t config_vector;
	uint16_t queue_vector[VQ_DEV_MAX_QUEUES];
	uint8_t isr;                     /* bit 0 queue, bit 1 config */
	uint32_t notify_data;            /* value of the last notification accepted */
	bool irq_level;
	unsigned nvectors;               /* MSI-X table size */
	uint32_t msix_table[VQ_PCI_MSIX_MAX][4];
	uint64_t pba[(VQ_PCI_MSIX_MAX + 63) / 64];
	struct vq_pci_stats stats;
	uint8_t quirk_next;              /* first config byte free for quirk capabilities */
};

/* Attach t to device d (installs d->host) with the host's callbacks
 * (host->msi receives MSI-X messages). Returns 0 or -VQ_E_INVAL. */
int vq_pci_init(struct vq_pci *t, struct vq_dev *d, const struct vq_transport_host *host,
		struct vq_tracer *tracer);
/* Config space access of width 1, 2 or 4 at off (0..0xfff; past 0xff reads
 * 0). 0, or -VQ_E_BAD_ACCESS (odd width or misaligned; traced, *val = 0). */
int vq_pci_cfg_read(struct vq_pci *t, uint32_t off, unsigned width, uint32_t *val);
/* Write config space: read-only bits stay; BAR, command, MSI-X control and
 * the PCI_CFG_ACCESS window act. 0, -VQ_E_BAD_ACCESS, or the error of the
 * BAR access the window made. */
int vq_pci_cfg_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val);
/* Set config-space bytes as the function's hardware presents them, read-only
 * ones included (the driver's write mask is unchanged): another vendor,
 * device or revision id, extra or duplicate capabilities, a reserved BAR or
 * cfg_type, a longer cap_len... to try a driver against a device laid out
 * otherwise (spec 4.1.2.2, 4.1.4.1). Traced. 0, or -VQ_E_INVAL (width not
 * 1, 2 or 4, off not aligned to it, or past the 256-byte config space). */
int vq_pci_cfg_strap(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val);
/* Where BAR 0 is decoded: its address, or UINT64_MAX when memory decoding
 * is off or the BAR is unplaced (0). */
uint64_t vq_pci_bar_base(const struct vq_pci *t);
/* Access BAR 0 at offset off. 0, -VQ_E_BAD_ACCESS, or the device's error
 * for a refused operation (as vq_mmio_write). */
int vq_pci_bar_read(struct vq_pci *t, uint32_t off, unsigned width, uint32_t *val);
int vq_pci_bar_write(struct vq_pci *t, uint32_t off, unsigned width, uint32_t val);
/* Reset transport state kept for the device (selectors, vectors, ISR);
 * done on a device reset. Config space and MSI-X table stay. */
void vq_pci_reset(struct vq_pci *t);
/* Is MSI-X enabled in its capability? */
bool vq_pci_msix_enabled(const struct vq_pci *t);
/* The common-cfg field (offset inside common cfg, and width) standing for virtio-mmio
 * register mmio_off (VIRTIO_MMIO_*): 0, or -VQ_E_INVAL when the pci
 * transport has no such field. QueueNotify, InterruptStatus and config
 * space are not here (notify area, ISR, device cfg). */
int vq_pci_common_field(uint32_t mmio_off, uint32_t *off, unsigned *width);


/* ---- quirks (pci_quirk.c): a function presenting hostile or unusual
 * identification and capabilities to a driver. Only config space changes:
 * the register file behind BAR 0 stays where pci.h puts it. Quirks last
 * until the device is removed (a device reset keeps config space). */

/* Identification registers (spec 4.1.2). */
struct vq_pci_ids {
	uint16_t vendor, device, subsys_vendor, subsys;
	uint8_t revision;
};
/* The function's identification as a driver reads it. */
void vq_pci_get_ids(const struct vq_pci *t, struct vq_pci_ids *ids);
/* Present ids instead (another vendor, a transitional device id, ...). */
void vq_pci_quirk_ids(struct vq_pci *t, const struct vq_pci_ids *ids);

/* A capability vq_pci_quirk_add_cap() puts on the list: struct
 * virtio_pci_cap (spec 4.1.4) with any field values, reserved ones
 * included. */
struct vq_pci_cap_quirk {
	uint8_t vndr;     /* cap_vndr; 0 stands for VQ_PCI_CAP_ID_VNDR */
	uint8_t cap_len;  /* 0 stands for 16 (20 for NOTIFY_CFG) */
	uint8_t type;     /* cfg_type */
	uint8_t bar, id;
	uint32_t offset, length;
	uint32_t extra;   /* le32 at byte 16 (notify_off_multiplier) if cap_len >= 20 */
	bool last;        /* append to the list instead of putting it first */
};
/* Room for quirk capabilities: config bytes after the transport's own. */
#define VQ_PCI_QUIRK_FIRST 0xa4u
/* Add capability c at the head (or the tail) of the capability list, in
 * max(cap_len, 16) bytes of free config space (bytes 16..cap_len-1 hold
 * extra, then 0xff). Returns its config offset, -VQ_E_NOSPC when no room
 * is left, -VQ_E_INVAL for a NULL argument. */
int vq_pci_quirk_add_cap(struct vq_pci *t, const struct vq_pci_cap_quirk *c);
/* Take the capability at config offset at off the list (it stays in
 * config space and, for the transport's own, keeps working: a driver just
 * does not find it). 0, or -VQ_E_INVAL when no capability on the list
 * starts at at. */
int vq_pci_quirk_unlink_cap(struct vq_pci *t, unsigned at);

#endif

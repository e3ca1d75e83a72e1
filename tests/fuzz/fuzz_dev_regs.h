/* fuzz_dev_regs.h - what fuzz_dev.c's register operations aim at: the
 * registers of virtio-mmio (offsets of the v2 layout, config space) and of
 * virtio-pci (common cfg fields, notification addresses, ISR, device cfg,
 * MSI-X table and PBA in BAR 0, the function's config space through
 * ECAM), biased to the real ones, and their names for the reproducer's
 * comments. Included by fuzz_dev.c only. */
#ifndef VQSIM_FUZZ_DEV_REGS_H
#define VQSIM_FUZZ_DEV_REGS_H

#include "fuzz.h"
#include "transport/pci.h"
#include "virtio.h"

/* An mmio offset: mostly a register of the v2 layout or config space. */
static uint32_t pick_reg(struct fuzz_in *in)
{
	static const uint16_t regs[] = {
		VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
		VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM,
		VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK,
		VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
		VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
		VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_QUEUE_RESET,
		VIRTIO_MMIO_SHM_SEL, VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_INTERRUPT_STATUS,
		VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_DEVICE_FEATURES,
	};
	uint8_t b = fuzz_u8(in);

	if (b < 200)
		return regs[b % (sizeof(regs) / sizeof(regs[0]))];
	if (b < 240)
		return VIRTIO_MMIO_CONFIG + (fuzz_u8(in) & 0x7f);
	return fuzz_u16(in) & 0x1ff;
}

/* A pci register: a common cfg field, a notification address, the ISR,
 * device config, the MSI-X table or PBA (all in BAR 0), the function's
 * config space (header and capabilities), or anything in either. An
 * absolute address; *name says what for the reproducer's comment. */
static uint64_t pick_pci_reg(struct fuzz_in *in, uint64_t pci_cfg, uint64_t pci_bar,
			     const char **name)
{
	static const struct {
		uint8_t off;
		const char *name;
	} cc[] = {
		{VQ_PCI_CC_DFSELECT, "device_feature_select"}, {VQ_PCI_CC_DF, "device_feature"},
		{VQ_PCI_CC_GFSELECT, "driver_feature_select"}, {VQ_PCI_CC_GF, "driver_feature"},
		{VQ_PCI_CC_MSIX, "config_msix_vector"}, {VQ_PCI_CC_NUMQ, "num_queues"},
		{VQ_PCI_CC_STATUS, "device_status"}, {VQ_PCI_CC_CFGGEN, "config_generation"},
		{VQ_PCI_CC_Q_SELECT, "queue_select"}, {VQ_PCI_CC_Q_SIZE, "queue_size"},
		{VQ_PCI_CC_Q_MSIX, "queue_msix_vector"}, {VQ_PCI_CC_Q_ENABLE, "queue_enable"},
		{VQ_PCI_CC_Q_NOFF, "queue_notify_off"}, {VQ_PCI_CC_Q_DESCLO, "queue_desc lo"},
		{VQ_PCI_CC_Q_DESCHI, "queue_desc hi"}, {VQ_PCI_CC_Q_AVAILLO, "queue_driver lo"},
		{VQ_PCI_CC_Q_AVAILHI, "queue_driver hi"}, {VQ_PCI_CC_Q_USEDLO, "queue_device lo"},
		{VQ_PCI_CC_Q_USEDHI, "queue_device hi"}, {VQ_PCI_CC_Q_NDATA, "queue_notify_data"},
		{VQ_PCI_CC_Q_RESET, "queue_reset"},
	};
	static const struct {
		uint8_t off;
		const char *name;
	} cs[] = {
		{VQ_PCI_COMMAND, "config space: command"}, {VQ_PCI_STATUS, "config space: status"},
		{VQ_PCI_BAR0, "config space: BAR 0"}, {VQ_PCI_BAR0 + 4, "config space: BAR 0 hi"},
		{VQ_PCI_INT_LINE, "config space: interrupt line"},
		{VQ_PCI_CAP_MSIX_AT + 2, "config space: MSI-X control"},
		{VQ_PCI_CAP_PCICFG_AT + 4, "config space: pci_cfg_data window's cap"},
		{VQ_PCI_CAP_PCICFG_AT + 8, "config space: pci_cfg offset"},
		{VQ_PCI_CAP_PCICFG_AT + 12, "config space: pci_cfg length"},
		{VQ_PCI_CAP_PCICFG_AT + 16, "config space: pci_cfg data"},
	};
	uint8_t b = fuzz_u8(in);

	switch (b % 8) {
	case 0:
	case 1:
	case 2: {
		unsigned i = fuzz_u8(in) % (sizeof(cc) / sizeof(cc[0]));

		*name = cc[i].name;
		return pci_bar + VQ_PCI_COMMON_OFF + cc[i].off;
	}
	case 3:
		*name = "a queue's notification address";
		return pci_bar + VQ_PCI_NOTIFY_OFF + VQ_PCI_NOTIFY_MULT * (fuzz_u8(in) % 8u);
	case 4:
		*name = "device config";
		return pci_bar + VQ_PCI_DEVICE_OFF + (fuzz_u8(in) & 0x7f);
	case 5: {
		uint8_t v = fuzz_u8(in);

		*name = b & 8 ? "ISR" : b & 16 ? "MSI-X PBA" : "MSI-X table";
		return pci_bar + (b & 8    ? VQ_PCI_ISR_OFF
				  : b & 16 ? VQ_PCI_MSIX_PBA_OFF + (v & 7)
					   : VQ_PCI_MSIX_TABLE_OFF + v % (16u * VQ_PCI_MSIX_MAX));
	}
	case 6: {
		unsigned i = fuzz_u8(in) % (sizeof(cs) / sizeof(cs[0]));

		*name = cs[i].name;
		return pci_cfg + cs[i].off;
	}
	default: {
		uint16_t off = fuzz_u16(in);

		*name = b & 8 ? "config space" : "BAR 0";
		return b & 8 ? pci_cfg + (off & 0xff) : pci_bar + off % VQ_PCI_BAR_SIZE;
	}
	}
}

/* A register's name, for the reproducer's comments. */
static const char *reg_name(uint32_t off)
{
	static const struct {
		uint16_t off;
		const char *name;
	} names[] = {
		{VIRTIO_MMIO_MAGIC_VALUE, "MagicValue"}, {VIRTIO_MMIO_VERSION, "Version"},
		{VIRTIO_MMIO_DEVICE_ID, "DeviceID"}, {VIRTIO_MMIO_VENDOR_ID, "VendorID"},
		{VIRTIO_MMIO_DEVICE_FEATURES, "DeviceFeatures"},
		{VIRTIO_MMIO_DEVICE_FEATURES_SEL, "DeviceFeaturesSel"},
		{VIRTIO_MMIO_DRIVER_FEATURES, "DriverFeatures"},
		{VIRTIO_MMIO_DRIVER_FEATURES_SEL, "DriverFeaturesSel"},
		{VIRTIO_MMIO_QUEUE_SEL, "QueueSel"}, {VIRTIO_MMIO_QUEUE_NUM_MAX, "QueueNumMax"},
		{VIRTIO_MMIO_QUEUE_NUM, "QueueNum"}, {VIRTIO_MMIO_QUEUE_READY, "QueueReady"},
		{VIRTIO_MMIO_QUEUE_NOTIFY, "QueueNotify"},
		{VIRTIO_MMIO_INTERRUPT_STATUS, "InterruptStatus"},
		{VIRTIO_MMIO_INTERRUPT_ACK, "InterruptACK"}, {VIRTIO_MMIO_STATUS, "Status"},
		{VIRTIO_MMIO_QUEUE_DESC_LOW, "QueueDescLow"},
		{VIRTIO_MMIO_QUEUE_DESC_HIGH, "QueueDescHigh"},
		{VIRTIO_MMIO_QUEUE_DRIVER_LOW, "QueueDriverLow"},
		{VIRTIO_MMIO_QUEUE_DRIVER_HIGH, "QueueDriverHigh"},
		{VIRTIO_MMIO_QUEUE_DEVICE_LOW, "QueueDeviceLow"},
		{VIRTIO_MMIO_QUEUE_DEVICE_HIGH, "QueueDeviceHigh"},
		{VIRTIO_MMIO_SHM_SEL, "SHMSel"}, {VIRTIO_MMIO_QUEUE_RESET, "QueueReset"},
		{VIRTIO_MMIO_CONFIG_GENERATION, "ConfigGeneration"},
	};

	if (off >= VIRTIO_MMIO_CONFIG)
		return "config space";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].off == off)
			return names[i].name;
	return "no register";
}

#endif

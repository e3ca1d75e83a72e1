/* test_pci.c - unit tests for the virtio-pci modern transport (spec 4.1):
 * emu/transport/pci*.c on a machine, reached through ECAM and BAR 0. */
#include <string.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define BAR 0x20000000ull
#define MSI_ADDR 0xfee00000u

static struct vq_machine *m;
static struct vq_dev *dev;
static uint64_t ecam;

static uint32_t cfgr(uint32_t off, unsigned w)
{
	uint32_t v = 0xdeadbeef;
	ck_assert_int_eq(vq_machine_read(m, ecam + off, w, &v), 0);
	return v;
}

static void cfgw(uint32_t off, unsigned w, uint32_t v)
{
	ck_assert_int_eq(vq_machine_write(m, ecam + off, w, v), 0);
}

static uint32_t barr(uint32_t off, unsigned w)
{
	uint32_t v = 0xdeadbeef;
	ck_assert_int_eq(vq_machine_read(m, BAR + off, w, &v), 0);
	return v;
}

static int barw(uint32_t off, unsigned w, uint32_t v)
{
	return vq_machine_write(m, BAR + off, w, v);
}

static void setup_dev(const char *type)
{
	char err[256];

	m = vq_machine_new(1);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_machine_add_ram(m, RAM, 1 << 20), 0);
	dev = vq_machine_add_pci(m, type, "d0", NULL, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	ecam = VQ_MACHINE_ECAM_BASE + (1u << 15); /* 00:01.0 */
}

/* Size, place and enable BAR 0 as a firmware would. */
static void place_bar(void)
{
	cfgw(VQ_PCI_BAR0, 4, (uint32_t)BAR);
	cfgw(VQ_PCI_BAR0 + 4, 4, 0);
	cfgw(VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_MASTER);
}

/* ACKNOWLEDGE .. FEATURES_OK with VERSION_1 and (optionally) RING_RESET,
 * which the test makes the device offer. */
static void features_ok(bool ring_reset)
{
	if (ring_reset)
		dev->host_features[0] |= 1ull << VIRTIO_F_RING_RESET;
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 1), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 3), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_GFSELECT, 4, 1), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_GF, 4, 1 | (ring_reset ? 1u << 8 : 0)), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 0xb), 0);
	ck_assert_int_eq(barr(VQ_PCI_CC_STATUS, 1), 0xb);
}

static void driver_ok(bool ring_reset)
{
	features_ok(ring_reset);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 0xf), 0);
}

static void teardown(void)
{
	vq_machine_free(m);
	m = NULL;
}

START_TEST(test_ids_and_capability_walk)
{
	unsigned seen[6] = {0}, msix = 0, n = 0;
	uint8_t at;

	setup_dev("blk");
	ck_assert_uint_eq(cfgr(VQ_PCI_VENDOR, 2), 0x1af4);
	ck_assert_uint_eq(cfgr(VQ_PCI_DEVICE, 2), 0x1040 + 2);
	ck_assert_uint_eq(cfgr(VQ_PCI_REVISION, 1), 1);
	ck_assert_uint_eq(cfgr(VQ_PCI_REVISION, 4) >> 16, 0x0100); /* storage */
	ck_assert_uint_eq(cfgr(VQ_PCI_SUBSYS_VENDOR, 2), 0x1af4);
	ck_assert_uint_ge(cfgr(VQ_PCI_SUBSYS, 2), 0x40);
	ck_assert_uint_eq(cfgr(VQ_PCI_HEADER_TYPE, 1), 0);
	ck_assert(cfgr(VQ_PCI_STATUS, 2) & VQ_PCI_STATUS_CAPS);
	ck_assert_uint_eq(cfgr(VQ_PCI_INT_PIN, 1), 1);
	/* an empty slot reads all-ones, as PCI enumeration expects */
	uint32_t v = 0;
	ck_assert_int_eq(vq_machine_read(m, VQ_MACHINE_ECAM_BASE + (5u << 15), 2, &v), 0);
	ck_assert_uint_eq(v, 0xffff);
	for (at = (uint8_t)cfgr(VQ_PCI_CAP_PTR, 1); at; at = (uint8_t)cfgr(at + 1, 1)) {
		ck_assert_uint_lt(++n, 16); /* no loop */
		if (cfgr(at, 1) == VQ_PCI_CAP_ID_MSIX) {
			msix++;
			ck_assert_uint_eq(cfgr(at + 2, 2) & 0x7ff, dev->nqueues); /* size - 1 */
			ck_assert_uint_eq(cfgr(at + 4, 4), VQ_PCI_MSIX_TABLE_OFF); /* BIR 0 */
			continue;
		}
		ck_assert_uint_eq(cfgr(at, 1), VQ_PCI_CAP_ID_VNDR);
		unsigned type = cfgr(at + 3, 1);
		ck_assert_uint_ge(type, 1);
		ck_assert_uint_le(type, 5);
		seen[type]++;
		if (type == VQ_PCI_CAP_NOTIFY_CFG) {
			ck_assert_uint_eq(cfgr(at + 2, 1), 20);
			ck_assert_uint_eq(cfgr(at + 16, 4), VQ_PCI_NOTIFY_MULT);
		}
		if (type == VQ_PCI_CAP_DEVICE_CFG)
			ck_assert_uint_eq(cfgr(at + 12, 4), dev->config_len);
	}
	for (unsigned t = 1; t <= 5; t++)
		ck_assert_uint_eq(seen[t], 1);
	ck_assert_uint_eq(msix, 1);
	/* read-only header: vendor id does not move */
	cfgw(VQ_PCI_VENDOR, 2, 0x1234);
	ck_assert_uint_eq(cfgr(VQ_PCI_VENDOR, 2), 0x1af4);
	teardown();
}
END_TEST

START_TEST(test_bar_sizing_and_decode)
{
	struct vq_machine_stats st;
	uint32_t v;

	setup_dev("rng");
	ck_assert_uint_eq(cfgr(VQ_PCI_BAR0, 4), 0x4); /* 64-bit memory BAR */
	cfgw(VQ_PCI_BAR0, 4, 0xffffffff);
	cfgw(VQ_PCI_BAR0 + 4, 4, 0xffffffff);
	ck_assert_uint_eq(cfgr(VQ_PCI_BAR0, 4), (~(VQ_PCI_BAR_SIZE - 1) & 0xfffffff0u) | 4);
	ck_assert_uint_eq(cfgr(VQ_PCI_BAR0 + 4, 4), 0xffffffff);
	ck_assert_uint_eq(~(cfgr(VQ_PCI_BAR0, 4) & ~0xfu) + 1, VQ_PCI_BAR_SIZE);
	cfgw(VQ_PCI_BAR0, 4, (uint32_t)BAR | 0x7ff); /* low bits are not the driver's */
	cfgw(VQ_PCI_BAR0 + 4, 4, 0);
	ck_assert_uint_eq(cfgr(VQ_PCI_BAR0, 4), (uint32_t)BAR | 4);
	/* placed but memory decoding off: nobody answers */
	ck_assert_err(vq_machine_read(m, BAR + VQ_PCI_CC_NUMQ, 2, &v), VQ_E_BAD_ACCESS);
	vq_machine_get_stats(m, &st);
	ck_assert_uint_eq(st.bad_accesses, 1);
	cfgw(VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY);
	ck_assert_uint_eq(barr(VQ_PCI_CC_NUMQ, 2), 1);
	ck_assert_uint_eq(vq_pci_bar_base(&vq_machine_find(m, "d0")->pci), BAR);
	cfgw(VQ_PCI_COMMAND, 2, 0);
	ck_assert_err(vq_machine_read(m, BAR + VQ_PCI_CC_NUMQ, 2, &v), VQ_E_BAD_ACCESS);
	teardown();
}
END_TEST

#define WIN VQ_PCI_CAP_PCICFG_AT

START_TEST(test_config_access_window)
{
	struct vq_pci *p;
	uint32_t v;

	setup_dev("blk");
	p = &vq_machine_find(m, "d0")->pci;
	/* no memory decoding: the window still reaches the BAR */
	cfgw(WIN + 4, 1, 0);
	cfgw(WIN + 8, 4, VQ_PCI_CC_NUMQ);
	cfgw(WIN + 12, 4, 2);
	ck_assert_uint_eq(cfgr(WIN + 16, 4) & 0xffff, dev->nqueues);
	/* write through it: queue_select */
	cfgw(WIN + 8, 4, VQ_PCI_CC_Q_SELECT);
	cfgw(WIN + 16, 4, 7);
	ck_assert_uint_eq(p->queue_sel, 7);
	/* a bad BAR, an offset past the BAR, odd lengths, misalignment: refused */
	cfgw(WIN + 4, 1, 1);
	ck_assert_err(vq_machine_read(m, ecam + WIN + 16, 4, &v), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(v, 0);
	cfgw(WIN + 4, 1, 0);
	cfgw(WIN + 8, 4, VQ_PCI_BAR_SIZE - 2);
	cfgw(WIN + 12, 4, 4);
	ck_assert_err(vq_machine_read(m, ecam + WIN + 16, 4, &v), VQ_E_BAD_ACCESS);
	cfgw(WIN + 8, 4, 0xfffffffc);
	ck_assert_err(vq_machine_write(m, ecam + WIN + 16, 4, 1), VQ_E_BAD_ACCESS);
	cfgw(WIN + 8, 4, VQ_PCI_CC_Q_SELECT);
	cfgw(WIN + 12, 4, 3);
	ck_assert_err(vq_machine_write(m, ecam + WIN + 16, 4, 0), VQ_E_BAD_ACCESS);
	cfgw(WIN + 8, 4, VQ_PCI_CC_Q_SELECT + 1);
	cfgw(WIN + 12, 4, 2);
	ck_assert_err(vq_machine_write(m, ecam + WIN + 16, 4, 0), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(p->queue_sel, 7); /* nothing reached the BAR */
	ck_assert_uint_ge(p->stats.bad_accesses, 5);
	/* odd config widths are refused too */
	ck_assert_err(vq_machine_read(m, ecam + 1, 2, &v), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_machine_read(m, ecam, 3, &v), VQ_E_BAD_ACCESS);
	teardown();
}
END_TEST

static void msix_entry(unsigned v, uint32_t data, bool masked)
{
	uint32_t e = VQ_PCI_MSIX_TABLE_OFF + 16 * v;

	ck_assert_int_eq(barw(e, 4, MSI_ADDR), 0);
	ck_assert_int_eq(barw(e + 4, 4, 0), 0);
	ck_assert_int_eq(barw(e + 8, 4, data), 0);
	ck_assert_int_eq(barw(e + 12, 4, masked), 0);
}

START_TEST(test_msix_vectors_masking)
{
	uint32_t ctl = VQ_PCI_CAP_MSIX_AT + 2;
	unsigned nvec;

	setup_dev("blk");
	place_bar();
	nvec = (cfgr(ctl, 2) & 0x7ff) + 1;
	/* every entry starts masked */
	ck_assert_uint_eq(barr(VQ_PCI_MSIX_TABLE_OFF + 12, 4), 1);
	cfgw(ctl, 2, VQ_PCI_MSIX_CTRL_ENABLE);
	ck_assert(cfgr(ctl, 2) & VQ_PCI_MSIX_CTRL_ENABLE);
	ck_assert_uint_eq(cfgr(ctl, 2) & 0x7ff, nvec - 1); /* table size is read-only */
	msix_entry(0, 0x40, false);
	msix_entry(1, 0x41, false);
	/* NO_VECTOR rules (spec 4.1.5.1.2) */
	ck_assert_uint_eq(barr(VQ_PCI_CC_MSIX, 2), VQ_PCI_NO_VECTOR);
	ck_assert_int_eq(barw(VQ_PCI_CC_MSIX, 2, nvec), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_MSIX, 2), VQ_PCI_NO_VECTOR);
	ck_assert_int_eq(barw(VQ_PCI_CC_MSIX, 2, 0), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_MSIX, 2), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_SELECT, 2, 0), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_MSIX, 2), VQ_PCI_NO_VECTOR);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_MSIX, 2, 1), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_MSIX, 2), 1);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_MSIX, 2, 0x7ff), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_MSIX, 2), VQ_PCI_NO_VECTOR);
	driver_ok(false);
	/* a config change goes out on vector 0 */
	vq_dev_config_changed(dev);
	ck_assert_uint_eq(vq_machine_msi_count(m), 1);
	ck_assert_uint_eq(vq_machine_msi_match(m, MSI_ADDR, 0x40), 1);
	ck_assert(!vq_machine_irq_level(m, vq_machine_find(m, "d0")->irq)); /* no INTx */
	/* ... and the ISR's configuration bit is set all the same (4.1.4.5.1) */
	ck_assert_uint_eq(barr(VQ_PCI_ISR_OFF, 1), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(barr(VQ_PCI_ISR_OFF, 1), 0); /* read to clear */
	/* per-vector mask: pending, fires on unmask */
	ck_assert_int_eq(barw(VQ_PCI_MSIX_TABLE_OFF + 12, 4, 1), 0);
	vq_dev_config_changed(dev);
	ck_assert_uint_eq(vq_machine_msi_count(m), 1);
	ck_assert_uint_eq(barr(VQ_PCI_MSIX_PBA_OFF, 4) & 1, 1);
	ck_assert_int_eq(barw(VQ_PCI_MSIX_PBA_OFF, 4, 0), -VQ_E_BAD_ACCESS); /* PBA is RO */
	ck_assert_int_eq(barw(VQ_PCI_MSIX_TABLE_OFF + 12, 4, 0), 0);
	ck_assert_uint_eq(vq_machine_msi_count(m), 2);
	ck_assert_uint_eq(barr(VQ_PCI_MSIX_PBA_OFF, 4) & 1, 0);
	/* function mask: same, fires when the function is unmasked */
	cfgw(ctl, 2, VQ_PCI_MSIX_CTRL_ENABLE | VQ_PCI_MSIX_CTRL_MASKALL);
	vq_dev_config_changed(dev);
	ck_assert_uint_eq(vq_machine_msi_count(m), 2);
	ck_assert_uint_eq(barr(VQ_PCI_MSIX_PBA_OFF, 4) & 1, 1);
	cfgw(ctl, 2, VQ_PCI_MSIX_CTRL_ENABLE);
	ck_assert_uint_eq(vq_machine_msi_count(m), 3);
	ck_assert_uint_eq(vq_machine_msi_match(m, MSI_ADDR, 0x40), 3);
	/* NO_VECTOR: the interrupt is lost, nothing pending */
	ck_assert_int_eq(barw(VQ_PCI_CC_MSIX, 2, VQ_PCI_NO_VECTOR), 0);
	vq_dev_config_changed(dev);
	ck_assert_uint_eq(vq_machine_msi_count(m), 3);
	ck_assert_uint_eq(barr(VQ_PCI_MSIX_PBA_OFF, 4), 0);
	/* reset sets the vectors back to NO_VECTOR */
	ck_assert_int_eq(barw(VQ_PCI_CC_MSIX, 2, 1), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 0), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_MSIX, 2), VQ_PCI_NO_VECTOR);
	teardown();
}
END_TEST

START_TEST(test_intx_isr_read_to_clear)
{
	struct vq_slot *s;

	setup_dev("blk");
	s = vq_machine_find(m, "d0");
	place_bar();
	ck_assert_uint_eq(cfgr(VQ_PCI_INT_LINE, 1), s->irq);
	driver_ok(false);
	vq_dev_config_changed(dev);
	ck_assert(vq_machine_irq_level(m, s->irq));
	ck_assert_uint_eq(vq_machine_irq_count(m, s->irq), 1);
	ck_assert(cfgr(VQ_PCI_STATUS, 2) & VQ_PCI_STATUS_INTX);
	ck_assert_uint_eq(barr(VQ_PCI_ISR_OFF, 1), 2); /* config change bit */
	ck_assert(!vq_machine_irq_level(m, s->irq));
	ck_assert_uint_eq(barr(VQ_PCI_ISR_OFF, 1), 0); /* cleared by the read */
	ck_assert(!(cfgr(VQ_PCI_STATUS, 2) & VQ_PCI_STATUS_INTX));
	ck_assert_int_eq(barw(VQ_PCI_ISR_OFF, 1, 3), -VQ_E_BAD_ACCESS);
	/* INTx disable keeps the line low, ISR still set */
	cfgw(VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY | VQ_PCI_CMD_INTX_DISABLE);
	vq_dev_config_changed(dev);
	ck_assert(!vq_machine_irq_level(m, s->irq));
	cfgw(VQ_PCI_COMMAND, 2, VQ_PCI_CMD_MEMORY);
	ck_assert(vq_machine_irq_level(m, s->irq));
	ck_assert_uint_eq(barr(VQ_PCI_ISR_OFF, 1), 2);
	ck_assert_uint_eq(vq_machine_msi_count(m), 0);
	teardown();
}
END_TEST

START_TEST(test_common_cfg_rules)
{
	struct vq_slot *s;
	uint32_t numq;

	setup_dev("blk");
	s = vq_machine_find(m, "d0");
	place_bar();
	numq = barr(VQ_PCI_CC_NUMQ, 2);
	ck_assert_uint_eq(numq, dev->nqueues);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_SIZE, 2), dev->queues[0].num_max);
	/* queue_select past num_queues: queue_size 0, writes ignored */
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_SELECT, 2, numq), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_SIZE, 2), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 0);
	ck_assert_err(barw(VQ_PCI_CC_Q_SIZE, 2, 8), VQ_E_INVAL);
	ck_assert_err(barw(VQ_PCI_CC_Q_ENABLE, 2, 1), VQ_E_INVAL);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_SIZE, 2), 0);
	/* read-only fields stay read-only */
	ck_assert_err(barw(VQ_PCI_CC_NUMQ, 2, 9), VQ_E_BAD_ACCESS);
	ck_assert_err(barw(VQ_PCI_CC_DF, 4, 0), VQ_E_BAD_ACCESS);
	ck_assert_err(barw(VQ_PCI_CC_CFGGEN, 1, 5), VQ_E_BAD_ACCESS);
	ck_assert_err(barw(VQ_PCI_CC_Q_NOFF, 2, 3), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(barr(VQ_PCI_CC_NUMQ, 2), numq);
	/* a field is accessed with its width */
	uint32_t v;
	ck_assert_err(vq_machine_read(m, BAR + VQ_PCI_CC_NUMQ, 4, &v), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_machine_read(m, BAR + VQ_PCI_CC_STATUS, 2, &v), VQ_E_BAD_ACCESS);
	/* queue 0: set up and enable, then queue_enable 0 is refused */
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_SELECT, 2, 0), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_NOFF, 2), 0);
	features_ok(true);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_SIZE, 2, 16), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_DESCLO, 4, (uint32_t)RAM), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_DESCHI, 4, 0), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_AVAILLO, 4, (uint32_t)RAM + 0x1000), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_AVAILHI, 4, 0), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_USEDLO, 4, (uint32_t)RAM + 0x2000), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_USEDHI, 4, 0), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_AVAILLO, 4), (uint32_t)RAM + 0x1000);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_ENABLE, 2, 1), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 0xf), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 1);
	ck_assert_err(barw(VQ_PCI_CC_Q_ENABLE, 2, 0), VQ_E_INVAL);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 1);
	ck_assert(dev->queues[0].ready);
	ck_assert_err(barw(VQ_PCI_CC_Q_SIZE, 2, 8), VQ_E_STATE); /* while enabled */
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_SIZE, 2), 16);
	/* queue_reset (RING_RESET negotiated) stops the queue */
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_RESET, 2, 1), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_RESET, 2), 0);
	/* a notification's value must name its queue */
	ck_assert_err(barw(VQ_PCI_NOTIFY_OFF, 2, 1), VQ_E_INVAL);
	ck_assert_int_eq(barw(VQ_PCI_NOTIFY_OFF, 2, 0), 0);
	ck_assert_uint_eq(s->pci.stats.notifies, 1);
	ck_assert_err(barw(VQ_PCI_NOTIFY_OFF + VQ_PCI_NOTIFY_MULT * numq, 2, numq),
		      VQ_E_BAD_ACCESS);
	teardown();
}
END_TEST

/* The reference driver over pci: capabilities, BAR placement, blk I/O. */
static void driver_blk(bool msix)
{
	struct vq_slot *s;
	struct vq_drv drv;
	uint8_t out[512], in[512];
	uint64_t before;

	setup_dev("blk");
	s = vq_machine_find(m, "d0");
	ck_assert_int_eq(vq_drv_attach_pci(&drv, m, s->base, BAR + 0x123, msix, RAM, 1 << 20), 0);
	ck_assert_uint_eq(drv.device_id, 2);
	ck_assert_uint_eq(drv.pci.bar, BAR + VQ_PCI_BAR_SIZE); /* rounded up to its size */
	ck_assert_uint_eq(vq_pci_bar_base(&s->pci), drv.pci.bar);
	ck_assert_int_eq(vq_pci_msix_enabled(&s->pci), msix);
	ck_assert_int_eq(vq_drv_init(&drv, NULL, VQ_DRV_ALL_QUEUES), 0);
	ck_assert_uint_eq(vq_drv_status(&drv) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
	ck_assert_int_gt(vq_drv_blk_capacity(&drv), 0);
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	before = vq_machine_msi_count(m);
	ck_assert_int_eq(vq_drv_blk_write(&drv, 3, out, sizeof(out)), 0);
	memset(in, 0, sizeof(in));
	ck_assert_int_eq(vq_drv_blk_read(&drv, 3, in, sizeof(in)), 0);
	ck_assert_mem_eq(in, out, sizeof(in));
	if (msix) { /* queue 0 completes on vector 1, config stays on 0 */
		ck_assert_uint_ge(vq_machine_msi_count(m) - before, 2);
		ck_assert_uint_ge(vq_machine_msi_match(m, VQ_DRV_MSI_ADDR, 1u << 8 | 1), 2);
		ck_assert_uint_eq(vq_machine_irq_count(m, s->irq), 0);
		ck_assert_uint_eq(s->pci.config_vector, 0);
		ck_assert_uint_eq(s->pci.queue_vector[0], 1);
	} else {
		ck_assert_uint_eq(vq_machine_msi_count(m), 0);
		ck_assert_uint_ge(vq_machine_irq_count(m, s->irq), 2);
		ck_assert(!vq_machine_irq_level(m, s->irq)); /* the handler read the ISR */
	}
	ck_assert_uint_ge(drv.vring_irqs, 2);
	ck_assert_uint_eq(s->pci.stats.bad_accesses, 0);
	vq_drv_detach(&drv);
	teardown();
}

START_TEST(test_driver_blk_msix)
{
	driver_blk(true);
}
END_TEST

START_TEST(test_driver_blk_intx)
{
	driver_blk(false);
}
END_TEST

/* NOTIFICATION_DATA over pci: a 32-bit notification carrying vqn and the
 * next avail position (spec 4.1.5.2, 2.9). */
START_TEST(test_notification_data)
{
	uint64_t want[VQ_FEATURE_WORDS] = {0};
	struct vq_slot *s;
	struct vq_drv drv;
	uint8_t buf[512];

	setup_dev("blk");
	s = vq_machine_find(m, "d0");
	dev->host_features[0] |= 1ull << VIRTIO_F_NOTIFICATION_DATA; /* offer it */
	want[0] = 1ull << VIRTIO_F_NOTIFICATION_DATA;
	ck_assert_int_eq(vq_drv_attach_pci(&drv, m, s->base, BAR, true, RAM, 1 << 20), 0);
	ck_assert_int_eq(vq_drv_init(&drv, want, VQ_DRV_ALL_QUEUES), 0);
	ck_assert(vq_drv_has_feature(&drv, VIRTIO_F_NOTIFICATION_DATA));
	ck_assert_int_eq(vq_drv_blk_read(&drv, 0, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(s->pci.notify_data, 0u | 1u << 16); /* queue 0, next avail 1 */
	ck_assert_int_eq(vq_drv_blk_read(&drv, 1, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(s->pci.notify_data, 0u | 2u << 16);
	/* 32-bit is only for NOTIFICATION_DATA; the vqn must still match */
	ck_assert_err(vq_machine_write(m, BAR + VQ_PCI_NOTIFY_OFF, 4, 1u | 5u << 16), VQ_E_INVAL);
	ck_assert_uint_eq(s->pci.notify_data, 0u | 2u << 16);
	vq_drv_detach(&drv);
	teardown();
	/* without the feature a 32-bit notification is a bad access */
	setup_dev("blk");
	ck_assert_int_eq(vq_drv_attach_pci(&drv, m, vq_machine_find(m, "d0")->base, BAR, false,
					   RAM, 1 << 20), 0);
	ck_assert_int_eq(vq_drv_init(&drv, NULL, VQ_DRV_ALL_QUEUES), 0);
	ck_assert_err(vq_machine_write(m, BAR + VQ_PCI_NOTIFY_OFF, 4, 0), VQ_E_BAD_ACCESS);
	vq_drv_detach(&drv);
	teardown();
}
END_TEST

/* Set up queue 0 as a split ring of num at base (desc, avail +0x400, used
 * +0x800) and enable it. */
static void queue_at(uint16_t num, uint64_t base)
{
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_SELECT, 2, 0), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_SIZE, 2, num), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_DESCLO, 4, (uint32_t)base), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_DESCHI, 4, 0), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_AVAILLO, 4, (uint32_t)base + 0x400), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_AVAILHI, 4, 0), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_USEDLO, 4, (uint32_t)base + 0x800), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_USEDHI, 4, 0), 0);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_ENABLE, 2, 1), 0);
}

/* Make a 16-byte writable buffer at buf available as chain (head 0) number
 * idx of the split ring at base, and notify queue 0. */
static void offer_at(uint64_t base, uint16_t idx, uint16_t num, uint64_t buf)
{
	struct vq_mem *mem = vq_machine_mem(m);

	ck_assert_int_eq(vq_mem_write64(mem, base, buf), 0);
	ck_assert_int_eq(vq_mem_write32(mem, base + 8, 16), 0);
	ck_assert_int_eq(vq_mem_write16(mem, base + 12, VIRTQ_DESC_F_WRITE), 0);
	ck_assert_int_eq(vq_mem_write16(mem, base + 0x400 + 4 + 2 * (idx % num), 0), 0);
	ck_assert_int_eq(vq_mem_write16(mem, base + 0x400 + 2, (uint16_t)(idx + 1)), 0);
	ck_assert_int_eq(barw(VQ_PCI_NOTIFY_OFF, 2, 0), 0);
	vq_machine_run(m, 100);
}

static uint16_t mem16(uint64_t gpa)
{
	uint16_t v = 0xdead;

	ck_assert_int_eq(vq_mem_read16(vq_machine_mem(m), gpa, &v), 0);
	return v;
}

/* VIRTIO_F_RING_RESET over pci (spec 4.1.4.3, 2.6.1): queue_reset 1 resets
 * the selected queue: queue_reset and queue_enable read 0 once done, size
 * back to the maximum, addresses 0, notifications ignored; the driver
 * re-enables it with another size and other addresses after DRIVER_OK. */
START_TEST(test_queue_reset_reenable)
{
	const uint64_t old = RAM + 0x10000, new = RAM + 0x20000;
	uint64_t chains, ignored;
	uint16_t max;

	setup_dev("rng");
	place_bar();
	max = dev->queues[0].num_max;
	features_ok(true);
	queue_at(8, old);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 0xf), 0);
	offer_at(old, 0, 8, RAM + 0x8000);
	ck_assert_uint_eq(mem16(old + 0x800 + 2), 1); /* served */
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_RESET, 2), 0);
	/* only 1 resets */
	ck_assert_err(barw(VQ_PCI_CC_Q_RESET, 2, 2), VQ_E_INVAL);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 1);
	ck_assert_int_eq(barw(VQ_PCI_CC_Q_RESET, 2, 1), 0);
	/* complete within the write: 0 in queue_reset and queue_enable */
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_RESET, 2), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_SIZE, 2), max);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_DESCLO, 4), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_AVAILLO, 4), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_USEDLO, 4), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_STATUS, 1), 0xf); /* the device runs on */
	/* a chain made available on the old ring is not served */
	chains = dev->queues[0].chains;
	ignored = dev->stats.notifies_ignored;
	offer_at(old, 1, 8, RAM + 0x8100);
	ck_assert_uint_eq(dev->queues[0].chains, chains);
	ck_assert_uint_eq(dev->stats.notifies_ignored, ignored + 1);
	ck_assert_uint_eq(mem16(old + 0x800 + 2), 1);
	/* re-enabled after DRIVER_OK: size 4 at new addresses, a new ring */
	queue_at(4, new);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 1);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_RESET, 2), 0);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_SIZE, 2), 4);
	ck_assert_uint_eq(dev->queues[0].ring.last_avail, 0);
	offer_at(new, 0, 4, RAM + 0x8200);
	ck_assert_uint_eq(mem16(new + 0x800 + 2), 1);
	ck_assert_uint_eq(mem16(new + 0x800 + 4), 0); /* used id: head 0 */
	ck_assert_uint_eq(mem16(old + 0x800 + 2), 1);   /* old ring untouched */
	ck_assert_uint_eq(dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	teardown();
	/* without VIRTIO_F_RING_RESET: refused, the queue keeps running */
	setup_dev("rng");
	place_bar();
	features_ok(false);
	queue_at(8, old);
	ck_assert_int_eq(barw(VQ_PCI_CC_STATUS, 1, 0xf), 0);
	ck_assert_err(barw(VQ_PCI_CC_Q_RESET, 2, 1), VQ_E_STATE);
	ck_assert_uint_eq(barr(VQ_PCI_CC_Q_ENABLE, 2), 1);
	offer_at(old, 0, 8, RAM + 0x8000);
	ck_assert_uint_eq(mem16(old + 0x800 + 2), 1);
	teardown();
}
END_TEST

/* vq_pci_cfg_strap(): read-only config bytes set as the hardware presents
 * them (the guest's writes still cannot change them), bad arguments
 * refused; the reference driver refuses a function that is not a virtio
 * one (spec 4.1.2.2) and takes the first COMMON_CFG of the list while
 * ignoring one that names a reserved BAR (spec 4.1.4.1). */
START_TEST(test_cfg_strap)
{
	struct vq_slot *s;
	struct vq_drv drv;

	setup_dev("rng");
	s = vq_machine_find(m, "d0");
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, VQ_PCI_REVISION, 1, 0x42), 0);
	ck_assert_uint_eq(cfgr(VQ_PCI_REVISION, 1), 0x42);
	cfgw(VQ_PCI_REVISION, 1, 0x07);                 /* read-only to the guest */
	ck_assert_uint_eq(cfgr(VQ_PCI_REVISION, 1), 0x42);
	ck_assert_err(vq_pci_cfg_strap(&s->pci, 0x41, 2, 0), VQ_E_INVAL);   /* misaligned */
	ck_assert_err(vq_pci_cfg_strap(&s->pci, 0xfe, 4, 0), VQ_E_INVAL);   /* past 256 */
	ck_assert_err(vq_pci_cfg_strap(&s->pci, 0x40, 3, 0), VQ_E_INVAL);   /* width */
	/* any revision: still a virtio device */
	ck_assert_int_eq(vq_drv_attach_pci(&drv, m, s->base, BAR, false, RAM, 1 << 20), 0);
	vq_drv_detach(&drv);
	/* a COMMON_CFG naming reserved BAR 6 ahead of the list: ignored */
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, 0xb0, 4, 0x01104009), 0); /* vndr, next 0x40, len 16, common */
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, 0xb4, 4, 6), 0);
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, 0xb8, 4, 0x7000), 0);
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, 0xbc, 4, 0x38), 0);
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, VQ_PCI_CAP_PTR, 1, 0xb0), 0);
	ck_assert_int_eq(vq_drv_attach_pci(&drv, m, s->base, BAR, false, RAM, 1 << 20), 0);
	ck_assert_uint_eq(drv.pci.common, BAR + VQ_PCI_COMMON_OFF);
	vq_drv_detach(&drv);
	/* the same with BAR 0: it is the first COMMON_CFG now, and taken */
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, 0xb4, 4, 0), 0);
	ck_assert_int_eq(vq_drv_attach_pci(&drv, m, s->base, BAR, false, RAM, 1 << 20), 0);
	ck_assert_uint_eq(drv.pci.common, BAR + 0x7000);
	vq_drv_detach(&drv);
	/* another vendor: not a virtio device */
	ck_assert_int_eq(vq_pci_cfg_strap(&s->pci, VQ_PCI_VENDOR, 2, 0x1234), 0);
	ck_assert_err(vq_drv_attach_pci(&drv, m, s->base, BAR, false, RAM, 1 << 20),
		      VQ_E_NO_DEVICE);
	ck_assert_ptr_nonnull(strstr(drv.pci.refused, "vendor id 0x1234"));
	teardown();
}
END_TEST

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ids_and_capability_walk);
	tcase_add_test(tc, test_bar_sizing_and_decode);
	tcase_add_test(tc, test_config_access_window);
	tcase_add_test(tc, test_msix_vectors_masking);
	tcase_add_test(tc, test_intx_isr_read_to_clear);
	tcase_add_test(tc, test_common_cfg_rules);
	tcase_add_test(tc, test_driver_blk_msix);
	tcase_add_test(tc, test_driver_blk_intx);
	tcase_add_test(tc, test_notification_data);
	tcase_add_test(tc, test_queue_reset_reenable);
	tcase_add_test(tc, test_cfg_strap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(pci_suite());
}

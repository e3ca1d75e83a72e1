/* test_mmio.c - unit tests for emu/transport/mmio.c: the virtio-mmio
 * version 2 register file (spec 4.2.2). */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define RAM_SIZE (1u << 20)
#define QMAX 16
#define RING_BASE 0x1000u
#define BUF_BASE 0x40000u
#define DEVICE_ID 26
#define VENDOR_VQSM 0x4d535156u /* "VQSM" */

#define S_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV VIRTIO_STATUS_DRIVER
#define S_FOK VIRTIO_STATUS_FEATURES_OK
#define S_DOK VIRTIO_STATUS_DRIVER_OK

#define BIT(n) (1ull << (n))
#define OFFER_LO (BIT(3) | BIT(VIRTIO_F_EVENT_IDX) | BIT(VIRTIO_F_RING_RESET))
#define OFFER_HI BIT(1) /* feature bit 65 */

/* ---- fakes: class, transport host, tracer ---- */

static struct fake {
	int class_notify, cfg_read, cfg_write;
	bool serve;
	int host_notify;
	unsigned notify_q;
	struct vq_dev *notify_dev;
	int set_irq_calls;
	bool level;
	int trace[VQ_EV__COUNT];
	char last_reg[256];
	char last_error[512];
} fk;

static uint8_t cfg[8];

static void fake_notify(struct vq_dev *d, unsigned q)
{
	struct vq_chain c;
	int rc;

	fk.class_notify++;
	if (!fk.serve)
		return;
	vq_chain_init(&c);
	while ((rc = vq_dev_pop(d, q, &c)) == 1)
		vq_dev_push(d, q, &c, (uint32_t)vq_chain_write(&c, 0, "pong", 4));
	if (rc == 0)
		vq_dev_publish(d, q);
	vq_chain_release(&c);
}

static void fake_cfg_read(struct vq_dev *d, uint32_t off, uint32_t len)
{
	(void)d;
	(void)off;
	(void)len;
	fk.cfg_read++;
}

static void fake_cfg_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	(void)d;
	(void)off;
	(void)len;
	fk.cfg_write++;
}

static const struct vq_dev_class fake_class = {
	.name = "fake",
	.device_id = DEVICE_ID,
	.queue_notify = fake_notify,
	.config_read = fake_cfg_read,
	.config_write = fake_cfg_write,
};

static void host_notify(void *ctx, struct vq_dev *d, unsigned q)
{
	(void)ctx;
	fk.host_notify++;
	fk.notify_q = q;
	fk.notify_dev = d;
}

static void host_set_irq(void *ctx, bool level)
{
	(void)ctx;
	fk.set_irq_calls++;
	fk.level = level;
}

static void trace_emit(void *ctx, enum vq_ev kind, const char *who, int queue, const char *text)
{
	(void)ctx;
	(void)who;
	(void)queue;
	fk.trace[kind]++;
	if (kind == VQ_EV_REG)
		snprintf(fk.last_reg, sizeof(fk.last_reg), "%s", text);
	if (kind == VQ_EV_ERROR)
		snprintf(fk.last_error, sizeof(fk.last_error), "%s", text);
}

/* ---- fixture ---- */

static struct vq_mem *mem;
static struct vq_dev dev;
static struct vq_mmio t;
static struct vq_tracer tracer = {.on = true, .emit = trace_emit};
static const struct vq_transport_host host = {.notify = host_notify, .set_irq = host_set_irq};

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
	for (unsigned i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)(0x10 + i);
	mem = vq_mem_new();
	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(vq_mem_add_region(mem, "ram", 0, RAM_SIZE), 0);
	ck_assert_int_eq(vq_dev_init(&dev, &fake_class, "m0", mem, 2, QMAX, OFFER_LO, OFFER_HI), 0);
	dev.config = cfg;
	dev.config_len = sizeof(cfg);
	dev.tracer = &tracer;
	tracer.on = true;
	ck_assert_int_eq(vq_mmio_init(&t, &dev, &host, &tracer), 0);
}

static void teardown(void)
{
	vq_dev_destroy(&dev);
	vq_mem_free(mem);
}

static uint32_t rd(uint32_t off)
{
	uint32_t v = 0xdeadbeef;

	ck_assert_int_eq(vq_mmio_read(&t, off, 4, &v), 0);
	return v;
}

static void wr(uint32_t off, uint32_t v)
{
	int rc = vq_mmio_write(&t, off, 4, v);
	ck_assert_msg(rc == 0, "write 0x%03x=0x%x: %s (%s)", off, v, vq_errname(rc),
		      dev.last_error_msg);
}

/* Read refused: -VQ_E_BAD_ACCESS, value 0, counted. */
static void rd_bad(uint32_t off, unsigned width)
{
	uint32_t v = 0xdeadbeef;
	uint64_t bad = t.stats.bad_accesses;

	ck_assert_err(vq_mmio_read(&t, off, width, &v), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(t.stats.bad_accesses, bad + 1);
}

static void wr_bad(uint32_t off, unsigned width, uint32_t val)
{
	uint64_t bad = t.stats.bad_accesses;

	ck_assert_err(vq_mmio_write(&t, off, width, val), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(t.stats.bad_accesses, bad + 1);
}

static void set_addr(uint32_t low, uint64_t a)
{
	wr(low, (uint32_t)a);
	wr(low + 4, (uint32_t)(a >> 32));
}

/* Through registers: reset, ACK, DRIVER, features (lo, hi words), FEATURES_OK. */
static void negotiate(uint64_t lo, uint64_t hi)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	for (uint32_t sel = 0; sel < 4; sel++) {
		uint64_t w = sel < 2 ? lo : hi;
		wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(w >> (32 * (sel & 1))));
	}
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
}

/* Through registers: queue q of size num placed from base, QueueReady=1. */
static void setup_queue(unsigned q, uint16_t num, uint64_t base, struct vq_ring_addr *a)
{
	uint64_t bytes;

	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, num, base, a, &bytes), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	set_addr(VIRTIO_MMIO_QUEUE_DESC_LOW, a->desc);
	set_addr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, a->driver);
	set_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, a->device);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
}

/* ---- identification ---- */

START_TEST(test_id_registers)
{
	ck_assert_uint_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_ID), DEVICE_ID);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VENDOR_ID), VENDOR_VQSM);
	ck_assert_uint_eq(t.vendor_id, VENDOR_VQSM);
	t.vendor_id = 0x1af4;
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VENDOR_ID), 0x1af4);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	ck_assert_uint_eq(t.stats.reads, 8);
	ck_assert_uint_eq(t.stats.bad_accesses, 0);
	ck_assert_ptr_eq(dev.host.ctx, &t);
	ck_assert_ptr_nonnull(dev.host.interrupt);
	ck_assert_err(vq_mmio_init(NULL, &dev, &host, NULL), VQ_E_INVAL);
	ck_assert_err(vq_mmio_init(&t, NULL, &host, NULL), VQ_E_INVAL);
}
END_TEST

/* ---- access rules ---- */

static const uint32_t read_only[] = {
	VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_DEVICE_ID,
	VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM_MAX,
	VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_SHM_LEN_HIGH,
	VIRTIO_MMIO_SHM_BASE_LOW, VIRTIO_MMIO_SHM_BASE_HIGH, VIRTIO_MMIO_CONFIG_GENERATION,
};

static const uint32_t write_only[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
	VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM,
	VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_QUEUE_DESC_LOW,
	VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
	VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_SHM_SEL,
};

static const uint32_t read_write[] = {
	VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_RESET,
};

START_TEST(test_write_read_only)
{
	uint32_t before[sizeof(read_only) / sizeof(read_only[0])];
	unsigned n = sizeof(read_only) / sizeof(read_only[0]);

	for (unsigned i = 0; i < n; i++)
		before[i] = rd(read_only[i]);
	for (unsigned i = 0; i < n; i++) {
		wr_bad(read_only[i], 4, 0x5a5a5a5a);
		ck_assert_ptr_nonnull(strstr(fk.last_error, "read-only"));
	}
	for (unsigned i = 0; i < n; i++)
		ck_assert_uint_eq(rd(read_only[i]), before[i]);
	ck_assert_ptr_nonnull(strstr(fk.last_error, "ConfigGeneration"));
	ck_assert_uint_eq(t.stats.bad_accesses, n);
	ck_assert_uint_eq(t.stats.writes, 0);
	ck_assert_int_eq(dev.last_error, -VQ_E_BAD_ACCESS);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "ConfigGeneration"));
	ck_assert_uint_eq(dev.status, 0);
}
END_TEST

START_TEST(test_read_write_only)
{
	unsigned n = sizeof(write_only) / sizeof(write_only[0]);

	for (unsigned i = 0; i < n; i++) {
		rd_bad(write_only[i], 4);
		ck_assert_ptr_nonnull(strstr(fk.last_error, "write-only"));
	}
	ck_assert_ptr_nonnull(strstr(fk.last_error, "SHMSel"));
	ck_assert_uint_eq(t.stats.bad_accesses, n);
	ck_assert_uint_eq(t.stats.reads, 0);
	/* read-write registers read fine */
	for (unsigned i = 0; i < sizeof(read_write) / sizeof(read_write[0]); i++)
		ck_assert_uint_eq(rd(read_write[i]), 0);
}
END_TEST

START_TEST(test_widths_and_alignment)
{
	static const uint32_t regs[] = {VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_STATUS,
					 VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_CONFIG_GENERATION};
	uint32_t v;

	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		rd_bad(regs[i], 1);
		rd_bad(regs[i], 2);
		rd_bad(regs[i] + 2, 2);
		rd_bad(regs[i] + 1, 1);
		rd_bad(regs[i], 8);
		rd_bad(regs[i], 0);
		wr_bad(regs[i], 1, 1);
		wr_bad(regs[i], 2, 1);
		wr_bad(regs[i] + 3, 1, 1);
	}
	ck_assert_ptr_nonnull(strstr(fk.last_error, "32-bit"));
	/* width 4 but misaligned */
	rd_bad(VIRTIO_MMIO_STATUS + 1, 4);
	ck_assert_ptr_nonnull(strstr(fk.last_error, "misaligned"));
	wr_bad(VIRTIO_MMIO_STATUS + 2, 4, 1);
	rd_bad(VIRTIO_MMIO_MAGIC_VALUE + 3, 4);
	/* a refused 1-byte Status write did not reach the device */
	ck_assert_uint_eq(dev.status, 0);
	ck_assert_uint_eq(t.queue_sel, 0);
	ck_assert_int_eq(vq_mmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE, 4, &v), 0);
	ck_assert_uint_eq(t.stats.bad_accesses, 4 * 9 + 3);
}
END_TEST

START_TEST(test_unknown_offsets)
{
	static const uint32_t unknown[] = {0x018, 0x01c, 0x028, 0x02c, 0x03c, 0x040, 0x048,
					    0x04c, 0x054, 0x05c, 0x068, 0x074, 0x07c, 0x088,
					    0x098, 0x0a8, 0x0c4, 0x0f0, 0x0f8};

	for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		rd_bad(unknown[i], 4);
		wr_bad(unknown[i], 4, 1);
	}
	rd_bad(0x028, 4);
	ck_assert_ptr_nonnull(strstr(fk.last_error, "GuestPageSize"));
	ck_assert_ptr_nonnull(strstr(fk.last_error, "legacy"));
	wr_bad(0x040, 4, 1);
	ck_assert_ptr_nonnull(strstr(fk.last_error, "QueuePFN"));
	rd_bad(0x018, 4);
	ck_assert_ptr_nonnull(strstr(fk.last_error, "no register"));
	ck_assert_ptr_nonnull(strstr(fk.last_error, "0x018"));
	/* beyond config space and beyond the window */
	rd_bad(0x100 + sizeof(cfg), 1);
	rd_bad(0x100 + sizeof(cfg) - 2, 4);
	rd_bad(0x1fc, 4);
	rd_bad(0x200, 4);
	rd_bad(0x204, 1);
	rd_bad(0x1000, 4);
	rd_bad(0xfffffffcu, 4);
	rd_bad(0xffffffffu, 1);
	wr_bad(0x108, 1, 0);
	wr_bad(0x200, 4, 0);
	wr_bad(0xfffffffcu, 4, 0);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "write"));
	ck_assert_uint_eq(dev.status, 0);
	ck_assert_int_eq(fk.trace[VQ_EV_ERROR], (int)t.stats.bad_accesses);
}
END_TEST

/* ---- features ---- */

START_TEST(test_feature_registers)
{
	static const uint32_t offered[4] = {
		(uint32_t)OFFER_LO, 1u | (1u << (VIRTIO_F_RING_RESET - 32)), (uint32_t)OFFER_HI, 0};

	for (uint32_t sel = 0; sel < 4; sel++) {
		wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), offered[sel]);
	}
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffffu);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* driver features before DRIVER: refused by the device */
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_DRIVER_FEATURES, 4, 1), VQ_E_STATE);
	ck_assert_uint_eq(t.stats.bad_accesses, 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 2);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 8);
	ck_assert_uint_eq(dev.driver_features[0], BIT(32) | BIT(3));
	ck_assert_uint_eq(dev.driver_features[1], 2);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 7);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_DRIVER_FEATURES, 4, 1), VQ_E_INVAL);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_DRIVER_FEATURES, 4, 0), VQ_E_STATE);
	ck_assert_uint_eq(dev.driver_features[0], BIT(32) | BIT(3));
}
END_TEST

START_TEST(test_features_ok_refused)
{
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << 4); /* not offered, and no VERSION_1 */
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_STATUS, 4, S_ACK | S_DRV | S_FOK),
		      VQ_E_FEATURES);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV);
	ck_assert_ptr_nonnull(strstr(fk.last_reg, "Status"));
}
END_TEST

/* ---- status ---- */

START_TEST(test_status_register)
{
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_STATUS, 4, S_DRV), VQ_E_STATUS);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_STATUS, 4, 0x101), VQ_E_INVAL);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "8-bit"));
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), S_ACK);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_STATUS, 4, S_ACK | S_DRV | S_DOK), VQ_E_STATUS);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), S_ACK);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "DRIVER_OK written without FEATURES_OK"));
	/* reset clears selectors */
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_SHM_SEL, 3);
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_uint_eq(t.queue_sel, 0);
	ck_assert_uint_eq(t.device_features_sel, 0);
	ck_assert_uint_eq(t.driver_features_sel, 0);
	ck_assert_uint_eq(t.shm_sel, 0);
	ck_assert_uint_eq(dev.stats.resets, 1);
}
END_TEST

/* ---- queues ---- */

START_TEST(test_queue_registers)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	ck_assert_uint_eq(dev.queues[1].num, 4);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x89abcdef);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x01234567);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0x2);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x1000);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0xfffff000);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0xffffffff);
	ck_assert_uint_eq(dev.queues[1].addr.desc, 0x0123456789abcdefull);
	ck_assert_uint_eq(dev.queues[1].addr.driver, 0x200001000ull);
	ck_assert_uint_eq(dev.queues[1].addr.device, 0xfffffffffffff000ull);
	/* halves replace only their own half */
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10);
	ck_assert_uint_eq(dev.queues[1].addr.desc, 0x0123456700000010ull);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	ck_assert_uint_eq(dev.queues[1].addr.desc, 0x10);
	/* queue 0 untouched */
	ck_assert_uint_eq(dev.queues[0].addr.desc, 0);
	ck_assert_uint_eq(dev.queues[0].num, QMAX);

	/* a queue that does not exist */
	for (uint32_t q = 2; q < 70; q += 67) {
		wr(VIRTIO_MMIO_QUEUE_SEL, q);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_RESET), 0);
		ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_NUM, 4, 4), VQ_E_INVAL);
		ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0), VQ_E_INVAL);
		ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 1), VQ_E_INVAL);
		ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "no such queue"));
	}
	wr(VIRTIO_MMIO_QUEUE_SEL, 0xffffffffu);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	/* QueueNum too large for the register's meaning */
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_NUM, 4, 0x10004), VQ_E_INVAL);
	ck_assert_uint_eq(dev.queues[1].num, 4);
	ck_assert_uint_eq(t.stats.bad_accesses, 0);
}
END_TEST

START_TEST(test_queue_ready)
{
	struct vq_ring_addr a;
	uint64_t bytes;

	/* QueueReady=1 before FEATURES_OK: refused, reads back 0 */
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 1), VQ_E_STATE);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	negotiate(BIT(32), 0);
	/* bad size: refused, reads back 0 */
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, 8, RING_BASE, &a, &bytes), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 6);
	set_addr(VIRTIO_MMIO_QUEUE_DESC_LOW, a.desc);
	set_addr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, a.driver);
	set_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, a.device);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 1), VQ_E_RING_LAYOUT);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 32);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 1), VQ_E_RING_LAYOUT);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* outside memory */
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	set_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x100000000ull);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 1), VQ_E_RING_LAYOUT);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* only 0 and 1 mean something */
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 2), VQ_E_INVAL);
	/* good */
	set_addr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, a.device);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert(dev.queues[0].ready);
	/* while ready: size and addresses refused and unchanged (spec 4.2.2.2) */
	static const uint32_t locked[] = {
		VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
		VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
		VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH};
	for (unsigned i = 0; i < sizeof(locked) / sizeof(locked[0]); i++) {
		ck_assert_err(vq_mmio_write(&t, locked[i], 4, 0x4000), VQ_E_STATE);
		ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "while queue 0 is ready"));
	}
	ck_assert_uint_eq(dev.queues[0].num, 8);
	ck_assert_uint_eq(dev.queues[0].addr.desc, a.desc);
	ck_assert_uint_eq(dev.queues[0].addr.driver, a.driver);
	ck_assert_uint_eq(dev.queues[0].addr.device, a.device);
	/* ready twice */
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_READY, 4, 1), VQ_E_STATE);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	/* stop: reads back 0, queue back to its initial configuration */
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert_uint_eq(dev.queues[0].addr.desc, 0);
	ck_assert_uint_eq(dev.queues[0].num, QMAX);
	/* QueueReady=0 on a stopped queue keeps what the driver wrote */
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	ck_assert_uint_eq(dev.queues[0].num, 4);
	/* set up again before DRIVER_OK */
	setup_queue(0, 8, RING_BASE, &a);
	/* reset drops every ready bit */
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
}
END_TEST

START_TEST(test_queue_notify)
{
	struct vq_ring_addr a;

	negotiate(BIT(32), 0);
	setup_queue(0, 8, RING_BASE, &a);
	setup_queue(1, 4, 0x8000, &a);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(fk.host_notify, 1);
	ck_assert_uint_eq(fk.notify_q, 1);
	ck_assert_ptr_eq(fk.notify_dev, &dev);
	/* nothing ran synchronously */
	ck_assert_int_eq(fk.class_notify, 0);
	ck_assert_uint_eq(dev.stats.notifies, 0);
	ck_assert_uint_eq(t.stats.notifies, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(fk.notify_q, 0);
	/* an index without a queue is passed on; the device refuses it when delivered */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 5);
	ck_assert_int_eq(fk.host_notify, 3);
	ck_assert_uint_eq(fk.notify_q, 5);
	ck_assert_err(vq_dev_notify(fk.notify_dev, fk.notify_q), VQ_E_INVAL);
	ck_assert_int_eq(fk.class_notify, 0);
	/* without a host notify hook nothing happens at all */
	t.host.notify = NULL;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(fk.host_notify, 3);
	ck_assert_int_eq(fk.class_notify, 0);
}
END_TEST

/* VIRTIO_F_NOTIFICATION_DATA (spec 2.9): vqn in bits 0-15, the split
 * ring's avail idx in bits 16-31 (next_off 0-14, next_wrap 15). */
START_TEST(test_notification_data)
{
	struct vq_ring_addr a;

	dev.host_features[0] |= BIT(VIRTIO_F_NOTIFICATION_DATA);
	negotiate(BIT(32) | BIT(VIRTIO_F_NOTIFICATION_DATA), 0);
	setup_queue(0, 8, RING_BASE, &a);
	setup_queue(1, 4, 0x8000, &a);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1u | 7u << 16);
	ck_assert_uint_eq(fk.notify_q, 1);
	ck_assert_uint_eq(dev.queues[1].notify_datas, 1);
	ck_assert_uint_eq(dev.queues[1].notify_next_off, 7);
	ck_assert(!dev.queues[1].notify_next_wrap);
	ck_assert_uint_eq(dev.queues[0].notify_datas, 0);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0u | 0x8003u << 16);
	ck_assert_uint_eq(fk.notify_q, 0);
	ck_assert_uint_eq(dev.queues[0].notify_next_off, 3);
	ck_assert(dev.queues[0].notify_next_wrap);
	/* a vqn with no queue: passed on as the index, nothing recorded */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 9u | 1u << 16);
	ck_assert_uint_eq(fk.notify_q, 9);
	ck_assert_int_eq(fk.host_notify, 3);
	/* the decode is the device's: the same value without the feature is
	 * one (nonexistent) queue index */
	negotiate(BIT(32), 0);
	ck_assert_uint_eq(vq_dev_notify_decode(&dev, 1u | 7u << 16), 1u | 7u << 16);
}
END_TEST

/* ---- interrupts ---- */

START_TEST(test_interrupts)
{
	struct vq_ring_addr a;
	struct vq_ring_drv drv;
	struct vq_buf b = {.gpa = BUF_BASE, .len = 16, .writable = true};

	negotiate(BIT(32), 0);
	setup_queue(0, 8, RING_BASE, &a);
	ck_assert_int_eq(vq_ring_drv_init(&drv, mem, VQ_RING_SPLIT, 8, &a, 0), 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_int_eq(fk.set_irq_calls, 0);

	/* config change: bit 1, line up */
	vq_dev_config_changed(&dev);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(fk.set_irq_calls, 1);
	ck_assert(fk.level);
	/* used buffer: bit 0 too, line already up */
	fk.serve = true;
	ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 9), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_dev_notify(&dev, 0), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS),
			  VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
	ck_assert_int_eq(fk.set_irq_calls, 1);
	ck_assert_uint_eq(t.stats.interrupts, 2);
	/* ACK one bit: line stays up; undefined bits refused; ACK the rest: down */
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(fk.set_irq_calls, 1);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_INTERRUPT_ACK, 4, 0x6), VQ_E_INVAL);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	ck_assert_int_eq(fk.set_irq_calls, 2);
	ck_assert(!fk.level);
	/* ACK of nothing pending: no change of level */
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert_int_eq(fk.set_irq_calls, 2);

	/* pending interrupt, then device reset: status cleared, line down */
	vq_dev_config_changed(&dev);
	ck_assert(fk.level);
	ck_assert_int_eq(fk.set_irq_calls, 3);
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	ck_assert(!fk.level);
	ck_assert_int_eq(fk.set_irq_calls, 4);
	vq_ring_drv_free(&drv);
}
END_TEST

START_TEST(test_needs_reset_interrupt)
{
	struct vq_ring_addr a;
	struct vq_chain c;

	vq_chain_init(&c);
	negotiate(BIT(32), 0);
	setup_queue(0, 8, RING_BASE, &a);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	/* head index out of range written raw */
	ck_assert_int_eq(vq_mem_write16(mem, a.driver + 4, 99), 0);
	ck_assert_int_eq(vq_mem_write16(mem, a.driver + 2, 1), 0);
	ck_assert_err(vq_dev_pop(&dev, 0, &c), VQ_E_RING_HEAD);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET,
			  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	ck_assert(fk.level);
	vq_chain_release(&c);
}
END_TEST

/* ---- config space ---- */

START_TEST(test_config_space)
{
	uint32_t v;

	ck_assert_uint_eq(rd(0x100), 0x13121110);
	ck_assert_uint_eq(rd(0x104), 0x17161514);
	ck_assert_int_eq(vq_mmio_read(&t, 0x101, 1, &v), 0);
	ck_assert_uint_eq(v, 0x11);
	ck_assert_int_eq(vq_mmio_read(&t, 0x107, 1, &v), 0);
	ck_assert_uint_eq(v, 0x17);
	ck_assert_int_eq(vq_mmio_read(&t, 0x102, 2, &v), 0);
	ck_assert_uint_eq(v, 0x1312);
	ck_assert_int_eq(vq_mmio_read(&t, 0x106, 2, &v), 0);
	ck_assert_uint_eq(v, 0x1716);
	ck_assert_int_eq(fk.cfg_read, 6);
	/* misaligned */
	rd_bad(0x101, 2);
	rd_bad(0x102, 4);
	rd_bad(0x103, 4);
	wr_bad(0x105, 2, 0xffff);
	ck_assert_ptr_nonnull(strstr(fk.last_error, "aligned"));
	rd_bad(0x100, 3);
	rd_bad(0x100, 8);
	ck_assert_int_eq(fk.cfg_read, 6);

	/* writes, little-endian */
	ck_assert_int_eq(vq_mmio_write(&t, 0x100, 1, 0xaa), 0);
	ck_assert_uint_eq(cfg[0], 0xaa);
	ck_assert_uint_eq(cfg[1], 0x11);
	ck_assert_int_eq(vq_mmio_write(&t, 0x102, 2, 0xbbcc), 0);
	ck_assert_uint_eq(cfg[2], 0xcc);
	ck_assert_uint_eq(cfg[3], 0xbb);
	ck_assert_int_eq(vq_mmio_write(&t, 0x104, 4, 0x01020304), 0);
	ck_assert_uint_eq(cfg[4], 0x04);
	ck_assert_uint_eq(cfg[7], 0x01);
	ck_assert_int_eq(fk.cfg_write, 3);
	ck_assert_uint_eq(rd(0x100), 0xbbcc11aa);
	wr_bad(0x106, 4, 0);
	ck_assert_uint_eq(cfg[7], 0x01);
	ck_assert_int_eq(fk.cfg_write, 3);

	/* a device with no config space at all */
	dev.config_len = 0;
	rd_bad(0x100, 1);
	wr_bad(0x100, 1, 0);
}
END_TEST

START_TEST(test_config_generation)
{
	uint32_t g = rd(VIRTIO_MMIO_CONFIG_GENERATION);

	vq_dev_config_changed(&dev);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_CONFIG_GENERATION), g);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), g + 1);
	/* before DRIVER_OK: no interrupt */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* a reset keeps the generation */
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), g + 1);
}
END_TEST

/* ---- shared memory, queue reset ---- */

START_TEST(test_shm_registers)
{
	for (uint32_t sel = 0; sel < 3; sel++) {
		wr(VIRTIO_MMIO_SHM_SEL, sel);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffffu);
		ck_assert_uint_eq(rd(VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffffu);
	}
	ck_assert_uint_eq(t.shm_sel, 2);
}
END_TEST

START_TEST(test_queue_reset)
{
	struct vq_ring_addr a;

	/* without VIRTIO_F_RING_RESET negotiated: refused */
	negotiate(BIT(32), 0);
	setup_queue(0, 8, RING_BASE, &a);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_RESET), 0);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_RESET, 4, 1), VQ_E_STATE);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "RING_RESET"));
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);

	/* with it: the queue resets at once, QueueReset and QueueReady read 0 */
	negotiate(BIT(32) | BIT(VIRTIO_F_RING_RESET), 0);
	setup_queue(0, 8, RING_BASE, &a);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_RESET, 4, 2), VQ_E_INVAL);
	wr(VIRTIO_MMIO_QUEUE_RESET, 0); /* no-op */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_QUEUE_RESET, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_RESET), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert_uint_eq(dev.queues[0].addr.desc, 0);
	ck_assert_uint_eq(dev.queues[0].num, QMAX);
	/* and may be enabled again after DRIVER_OK */
	setup_queue(0, 4, 0x9000, &a);
	ck_assert_uint_eq(dev.queues[0].ring.num, 4);
	wr(VIRTIO_MMIO_QUEUE_SEL, 9);
	ck_assert_err(vq_mmio_write(&t, VIRTIO_MMIO_QUEUE_RESET, 4, 1), VQ_E_INVAL);
}
END_TEST

/* ---- tracing and counters ---- */

START_TEST(test_trace_and_counters)
{
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	ck_assert_str_eq(fk.last_reg, "write Status=0x1");
	(void)rd(VIRTIO_MMIO_MAGIC_VALUE);
	ck_assert_str_eq(fk.last_reg, "read MagicValue=0x74726976");
	ck_assert_int_eq(vq_mmio_write(&t, 0x104, 2, 0xbeef), 0);
	ck_assert_ptr_nonnull(strstr(fk.last_reg, "Config"));
	ck_assert_uint_eq(t.stats.reads, 1);
	ck_assert_uint_eq(t.stats.writes, 2);
	ck_assert_int_eq(fk.trace[VQ_EV_REG], 3);

	tracer.on = false;
	memset(fk.trace, 0, sizeof(fk.trace));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	(void)rd(VIRTIO_MMIO_STATUS);
	rd_bad(0x018, 4);
	for (int k = 0; k < VQ_EV__COUNT; k++)
		ck_assert_int_eq(fk.trace[k], 0);
	ck_assert_uint_eq(t.stats.reads, 2);
	ck_assert_uint_eq(t.stats.writes, 3);
	ck_assert_uint_eq(t.stats.bad_accesses, 1);
	/* the rule is still recorded for whoever asks */
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "0x018"));
}
END_TEST

/* ---- the whole spec 3.1.1 sequence through registers only ---- */

START_TEST(test_full_init_sequence)
{
	struct vq_ring_addr a;
	struct vq_ring_drv drv;
	struct vq_buf b = {.gpa = BUF_BASE, .len = 32, .writable = true};
	uint32_t feat[2];
	uint64_t token;
	uint32_t len;
	char out[4];

	ck_assert_uint_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_DEVICE_ID), 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		feat[sel] = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	}
	ck_assert_uint_eq(feat[1] & 1, 1); /* VERSION_1 offered */
	/* the driver takes VERSION_1 and EVENT_IDX */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, feat[0] & (1u << VIRTIO_F_EVENT_IDX));
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & S_FOK, S_FOK);
	setup_queue(0, 8, RING_BASE, &a);
	ck_assert_uint_eq(dev.queues[0].ring.features, VQ_RING_F_EVENT_IDX);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0xf);

	/* one request: add, kick through QueueNotify, the "machine" delivers */
	ck_assert_int_eq(vq_ring_drv_init(&drv, mem, VQ_RING_SPLIT, 8, &a, VQ_RING_F_EVENT_IDX), 0);
	fk.serve = true;
	ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 5), 0);
	ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(fk.class_notify, 0);
	ck_assert_int_eq(vq_dev_notify(fk.notify_dev, fk.notify_q), 0);
	ck_assert_int_eq(fk.class_notify, 1);
	ck_assert(fk.level);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert(!fk.level);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &token, &len), 1);
	ck_assert_uint_eq(token, 5);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(vq_mem_read(mem, BUF_BASE, out, 4), 0);
	ck_assert_int_eq(memcmp(out, "pong", 4), 0);
	ck_assert_uint_eq(t.stats.bad_accesses, 0);
	ck_assert_uint_eq(dev.stats.errors, 0);
	vq_ring_drv_free(&drv);
}
END_TEST

static Suite *mmio_suite(void)
{
	Suite *s = suite_create("mmio");
	TCase *tc = tcase_create("mmio");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_id_registers);
	tcase_add_test(tc, test_write_read_only);
	tcase_add_test(tc, test_read_write_only);
	tcase_add_test(tc, test_widths_and_alignment);
	tcase_add_test(tc, test_unknown_offsets);
	tcase_add_test(tc, test_feature_registers);
	tcase_add_test(tc, test_features_ok_refused);
	tcase_add_test(tc, test_status_register);
	tcase_add_test(tc, test_queue_registers);
	tcase_add_test(tc, test_queue_ready);
	tcase_add_test(tc, test_queue_notify);
	tcase_add_test(tc, test_interrupts);
	tcase_add_test(tc, test_needs_reset_interrupt);
	tcase_add_test(tc, test_config_space);
	tcase_add_test(tc, test_config_generation);
	tcase_add_test(tc, test_shm_registers);
	tcase_add_test(tc, test_queue_reset);
	tcase_add_test(tc, test_notification_data);
	tcase_add_test(tc, test_trace_and_counters);
	tcase_add_test(tc, test_full_init_sequence);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(mmio_suite());
}

/* test_device.c - unit tests for emu/device: status machine, features,
 * queues, notifications, ring failure -> DEVICE_NEEDS_RESET, config space. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define RAM_SIZE (1u << 20)
#define QMAX 16
#define RING_BASE 0x1000u
#define BUF_BASE 0x40000u

#define S_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV VIRTIO_STATUS_DRIVER
#define S_FOK VIRTIO_STATUS_FEATURES_OK
#define S_DOK VIRTIO_STATUS_DRIVER_OK
#define S_NR VIRTIO_STATUS_DEVICE_NEEDS_RESET
#define S_FAIL VIRTIO_STATUS_FAILED

#define BIT(n) (1ull << (n))
#define V1 BIT(VIRTIO_F_VERSION_1)
/* offered: bit 5 (device-specific), INDIRECT, EVENT_IDX (+ VERSION_1 by init); bit 70 */
#define OFFER_LO (BIT(5) | BIT(VIRTIO_F_INDIRECT_DESC) | BIT(VIRTIO_F_EVENT_IDX))
#define OFFER_HI BIT(70 - 64)

/* ---- fake class, host and tracer ---- */

static struct fake {
	int validate, driver_ok, notify, cfg_read, cfg_write, reset, destroy;
	int refuse_bit;           /* validate_features refuses this bit (-1: none) */
	bool serve;               /* queue_notify pops, fills, pushes, publishes */
	unsigned last_q;
	uint32_t last_off, last_len;
	int irq_vring, irq_config;
	unsigned irq_q;
	int trace[VQ_EV__COUNT];
	char last_error_text[512];
} fk;

static uint8_t cfg[8];

static int fake_validate(struct vq_dev *d, const uint64_t *f)
{
	(void)d;
	fk.validate++;
	if (fk.refuse_bit >= 0 && (f[fk.refuse_bit / 64] >> (fk.refuse_bit % 64)) & 1)
		return -VQ_E_FEATURES;
	return 0;
}

static void fake_driver_ok(struct vq_dev *d)
{
	(void)d;
	fk.driver_ok++;
}

static void fake_notify(struct vq_dev *d, unsigned q)
{
	struct vq_chain c;
	int rc;

	fk.notify++;
	fk.last_q = q;
	if (!fk.serve)
		return;
	vq_chain_init(&c);
	while ((rc = vq_dev_pop(d, q, &c)) == 1) {
		static const char msg[] = "hello";
		size_t n = vq_chain_write(&c, 0, msg, sizeof(msg));
		vq_dev_push(d, q, &c, (uint32_t)n);
	}
	if (rc == 0)
		vq_dev_publish(d, q);
	vq_chain_release(&c);
}

static void fake_cfg_read(struct vq_dev *d, uint32_t off, uint32_t len)
{
	(void)d;
	fk.cfg_read++;
	fk.last_off = off;
	fk.last_len = len;
}

static void fake_cfg_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	(void)d;
	fk.cfg_write++;
	fk.last_off = off;
	fk.last_len = len;
}

static void fake_reset(struct vq_dev *d)
{
	(void)d;
	fk.reset++;
}

static void fake_destroy(struct vq_dev *d)
{
	(void)d;
	fk.destroy++;
}

static const struct vq_dev_class fake_class = {
	.name = "fake",
	.device_id = 42,
	.validate_features = fake_validate,
	.driver_ok = fake_driver_ok,
	.queue_notify = fake_notify,
	.config_read = fake_cfg_read,
	.config_write = fake_cfg_write,
	.reset = fake_reset,
	.destroy = fake_destroy,
};

static void host_interrupt(void *ctx, enum vq_irq_kind kind, unsigned q)
{
	(void)ctx;
	if (kind == VQ_IRQ_VRING)
		fk.irq_vring++;
	else
		fk.irq_config++;
	fk.irq_q = q;
}

static void trace_emit(void *ctx, enum vq_ev kind, const char *who, int queue, const char *text)
{
	(void)ctx;
	(void)who;
	(void)queue;
	fk.trace[kind]++;
	if (kind == VQ_EV_ERROR)
		snprintf(fk.last_error_text, sizeof(fk.last_error_text), "%s", text);
}

/* ---- fixture ---- */

static struct vq_mem *mem;
static struct vq_dev dev;
static struct vq_tracer tracer = {.on = true, .emit = trace_emit};

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.refuse_bit = -1;
	memset(cfg, 0, sizeof(cfg));
	mem = vq_mem_new();
	ck_assert_ptr_nonnull(mem);
	ck_assert_int_eq(vq_mem_add_region(mem, "ram", 0, RAM_SIZE), 0);
	ck_assert_int_eq(vq_dev_init(&dev, &fake_class, "fake0", mem, 2, QMAX, OFFER_LO,
				     OFFER_HI), 0);
	dev.config = cfg;
	dev.config_len = sizeof(cfg);
	dev.host.interrupt = host_interrupt;
	dev.tracer = &tracer;
	tracer.on = true;
}

static void teardown(void)
{
	vq_dev_destroy(&dev);
	vq_mem_free(mem);
}

/* ACKNOWLEDGE, DRIVER, features lo/hi, FEATURES_OK. */
static int negotiate(uint64_t lo, uint64_t hi)
{
	int rc;

	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV), 0);
	for (uint32_t sel = 0; sel < 4; sel++) {
		uint64_t w = sel < 2 ? lo : hi;
		uint32_t word = (uint32_t)(w >> (32 * (sel & 1)));

		ck_assert_int_eq(vq_dev_write_driver_features(&dev, sel, word), 0);
	}
	rc = vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK);
	return rc;
}

/* Place queue q of d, size num, at its natural layout from base. */
static void place_queue_of(struct vq_dev *d, unsigned q, uint16_t num, uint64_t base)
{
	uint64_t bytes;

	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, num, base, &d->queues[q].addr, &bytes), 0);
	d->queues[q].num = num;
}

static void place_queue(unsigned q, uint16_t num, uint64_t base)
{
	place_queue_of(&dev, q, num, base);
}

/* Negotiated, queue 0 of size 8 ready, DRIVER_OK; the driver side in drv. */
static void bring_up(struct vq_ring_drv *drv, uint64_t lo)
{
	ck_assert_int_eq(negotiate(lo, 0), 0);
	place_queue(0, 8, RING_BASE);
	ck_assert_int_eq(vq_ring_drv_init(drv, mem, VQ_RING_SPLIT, 8, &dev.queues[0].addr, 0), 0);
	ck_assert_int_eq(vq_dev_queue_enable(&dev, 0), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK), 0);
}

/* Driver posts one writable buffer on queue 0. */
static void post_buffer(struct vq_ring_drv *drv, uint64_t token)
{
	struct vq_buf b = {.gpa = BUF_BASE, .len = 64, .writable = true};

	ck_assert_int_ge(vq_ring_drv_add(drv, &b, 1, token), 0);
	vq_ring_drv_publish(drv);
}

/* ---- init ---- */

START_TEST(test_init)
{
	struct vq_dev d2;
	char longname[64];

	ck_assert_str_eq(dev.name, "fake0");
	ck_assert_ptr_eq(dev.cls, &fake_class);
	ck_assert_uint_eq(dev.host_features[0], OFFER_LO | V1);
	ck_assert_uint_eq(dev.host_features[1], OFFER_HI);
	ck_assert_uint_eq(dev.status, 0);
	ck_assert_uint_eq(dev.nqueues, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(dev.queues[i].num_max, QMAX);
		ck_assert_uint_eq(dev.queues[i].num, QMAX);
		ck_assert(!dev.queues[i].ready);
	}
	ck_assert_uint_eq(dev.queues[2].num_max, 0);
	ck_assert_ptr_nonnull(vq_dev_queue(&dev, 1));
	ck_assert_ptr_null(vq_dev_queue(&dev, 2));
	ck_assert_ptr_null(vq_dev_queue(&dev, 1000));

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(vq_dev_init(&d2, &fake_class, longname, mem, 1, 8, 0, 0), 0);
	ck_assert_uint_eq(strlen(d2.name), VQ_DEV_NAME_MAX - 1);
	ck_assert_uint_eq(d2.host_features[0], V1);
	ck_assert_int_eq(vq_dev_init(&d2, &fake_class, NULL, mem, VQ_DEV_MAX_QUEUES, 32768, 0,
				     0), 0);
	ck_assert_str_eq(d2.name, "fake");

	ck_assert_err(vq_dev_init(&d2, &fake_class, "x", mem, VQ_DEV_MAX_QUEUES + 1, 8, 0, 0),
		      VQ_E_INVAL);
	ck_assert_err(vq_dev_init(&d2, NULL, "x", mem, 1, 8, 0, 0), VQ_E_INVAL);
	ck_assert_err(vq_dev_init(NULL, &fake_class, "x", mem, 1, 8, 0, 0), VQ_E_INVAL);
	ck_assert_err(vq_dev_init(&d2, &fake_class, "x", NULL, 1, 8, 0, 0), VQ_E_INVAL);
	ck_assert_err(vq_dev_init(&d2, &fake_class, "x", mem, 1, 0, 0, 0), VQ_E_INVAL);
	ck_assert_err(vq_dev_init(&d2, &fake_class, "x", mem, 1, 12, 0, 0), VQ_E_INVAL);
	ck_assert_err(vq_dev_init(&d2, &fake_class, "x", mem, 1, 65535, 0, 0), VQ_E_INVAL);
}
END_TEST

START_TEST(test_destroy_calls_hook)
{
	vq_dev_destroy(&dev);
	ck_assert_int_eq(fk.destroy, 1);
	fk.destroy = 0;
	/* teardown destroys again: must be harmless */
}
END_TEST

/* ---- status machine ---- */

START_TEST(test_status_legal)
{
	uint64_t traces;

	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK), 0);
	ck_assert_uint_eq(dev.status, S_ACK);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV), 0);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 1, 1), 0); /* VERSION_1 */
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK), 0);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV | S_FOK);
	ck_assert_int_eq(fk.validate, 1);
	ck_assert_int_eq(fk.driver_ok, 0);
	/* writing the same value again is no change */
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK), 0);
	ck_assert_int_eq(fk.validate, 1);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK), 0);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_int_eq(fk.driver_ok, 1);
	traces = (uint64_t)fk.trace[VQ_EV_STATUS];
	ck_assert_uint_eq(traces, 4);
	/* FAILED may be set at any time */
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK | S_FAIL), 0);
	ck_assert_uint_eq(dev.status, 0x8f);
	ck_assert_uint_eq(dev.stats.errors, 0);
	ck_assert_int_eq(dev.last_error, 0);

	/* several bits in one write, in a legal combination */
	ck_assert_int_eq(vq_dev_write_status(&dev, 0), 0);
	ck_assert_int_eq(fk.reset, 1);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_FAIL | S_ACK | S_DRV), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, 0), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_FAIL), 0);
	ck_assert_uint_eq(dev.status, S_FAIL);
	ck_assert_uint_eq(dev.stats.resets, 2);
}
END_TEST

static const struct {
	uint8_t from, to;
	const char *rule;
} bad_status[] = {
	{0, S_DRV, "DRIVER written without ACKNOWLEDGE"},
	{0, S_ACK | S_FOK, "FEATURES_OK written without DRIVER"},
	{S_ACK, S_ACK | S_FOK, "FEATURES_OK written without DRIVER"},
	{S_ACK | S_DRV, S_ACK | S_DRV | S_DOK,
	 "DRIVER_OK written without FEATURES_OK (spec 3.1.1)"},
	{S_ACK | S_DRV, S_ACK, "cleared"},
	{S_ACK | S_DRV | S_FOK, S_ACK | S_DRV, "cleared"},
	{S_ACK | S_DRV | S_FOK | S_DOK, S_ACK | S_DRV | S_DOK, "cleared"},
	{S_ACK, S_ACK | S_NR, "DEVICE_NEEDS_RESET"},
	{0, S_NR, "DEVICE_NEEDS_RESET"},
	{S_ACK, S_ACK | 0x10, "reserved"},
	{S_ACK, S_ACK | 0x20, "reserved"},
	{S_ACK | S_FAIL, S_ACK | S_DRV | S_FAIL, "after FAILED"},
	{S_ACK | S_DRV | S_FOK | S_DOK | S_FAIL, S_ACK | S_DRV | S_FOK | S_DOK | S_FAIL | S_NR,
	 "DEVICE_NEEDS_RESET"},
};

/* Walk a legal path to from (features accepted on the way). */
static void reach(uint8_t from)
{
	static const uint8_t order[] = {S_ACK, S_DRV, S_FOK, S_DOK};
	uint8_t s = 0;

	ck_assert_int_eq(vq_dev_write_status(&dev, 0), 0);
	for (unsigned i = 0; i < 4; i++) {
		if (!(from & order[i]))
			break;
		if (order[i] == S_FOK)
			ck_assert_int_eq(vq_dev_write_driver_features(&dev, 1, 1), 0);
		s |= order[i];
		ck_assert_int_eq(vq_dev_write_status(&dev, s), 0);
	}
	if (from & S_FAIL)
		ck_assert_int_eq(vq_dev_write_status(&dev, s | S_FAIL), 0);
	ck_assert_uint_eq(dev.status, from);
}

START_TEST(test_status_illegal)
{
	unsigned i = (unsigned)_i;
	uint64_t errors;
	int traced;

	reach(bad_status[i].from);
	errors = dev.stats.errors;
	traced = fk.trace[VQ_EV_ERROR];
	ck_assert_err(vq_dev_write_status(&dev, bad_status[i].to), VQ_E_STATUS);
	ck_assert_uint_eq(dev.status, bad_status[i].from);
	ck_assert_uint_eq(dev.stats.errors, errors + 1);
	ck_assert_int_eq(fk.trace[VQ_EV_ERROR], traced + 1);
	ck_assert_int_eq(dev.last_error, -VQ_E_STATUS);
	ck_assert_msg(strstr(dev.last_error_msg, bad_status[i].rule), "msg '%s' lacks '%s'",
		      dev.last_error_msg, bad_status[i].rule);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "spec"));
	ck_assert_ptr_nonnull(strstr(fk.last_error_text, bad_status[i].rule));
	ck_assert_int_eq(fk.driver_ok, bad_status[i].from & S_DOK ? 1 : 0);
}
END_TEST

START_TEST(test_features_ok_unoffered)
{
	ck_assert_err(negotiate(V1 | BIT(7), 0), VQ_E_FEATURES);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV);
	ck_assert_int_eq(dev.last_error, -VQ_E_FEATURES);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "bit 7"));
	/* an unoffered bit in the high word too */
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 0, 0), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 3, 1u << 31), 0);
	ck_assert_err(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK), VQ_E_FEATURES);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "bit 127"));
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV);
	/* offered bits only: accepted */
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 3, 0), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 2, 1u << 6), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK), 0);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV | S_FOK);
	ck_assert(vq_dev_has_feature(&dev, 70));
}
END_TEST

START_TEST(test_features_ok_no_version1)
{
	ck_assert_err(negotiate(BIT(5), 0), VQ_E_FEATURES);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "VERSION_1"));
	ck_assert_uint_eq(dev.stats.errors, 1);
}
END_TEST

START_TEST(test_features_ok_class_refuses)
{
	fk.refuse_bit = 5;
	ck_assert_err(negotiate(V1 | BIT(5), 0), VQ_E_FEATURES);
	ck_assert_int_eq(fk.validate, 1);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "fake"));
	/* DRIVER_OK in the same write cannot stand without FEATURES_OK; FAILED does */
	ck_assert_err(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK | S_FAIL),
		      VQ_E_FEATURES);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV | S_FAIL);
	ck_assert_int_eq(fk.driver_ok, 0);
	/* after FAILED only a reset helps (spec 2.1.1) */
	ck_assert_err(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_FAIL), VQ_E_STATUS);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "after FAILED"));
	ck_assert_int_eq(fk.validate, 2);
	/* reset, drop the refused bit: accepted */
	ck_assert_int_eq(vq_dev_write_status(&dev, 0), 0);
	ck_assert_int_eq(negotiate(V1, 0), 0);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV | S_FOK);
	ck_assert_int_eq(fk.validate, 3);
}
END_TEST

START_TEST(test_feature_writes)
{
	/* before DRIVER */
	ck_assert_err(vq_dev_write_driver_features(&dev, 0, 1), VQ_E_STATE);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK), 0);
	ck_assert_err(vq_dev_write_driver_features(&dev, 0, 1), VQ_E_STATE);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV), 0);
	/* four 32-bit windows over 128 bits */
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 0, 0x11111111), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 1, 0x22222222), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 2, 0x33333333), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 3, 0x44444444), 0);
	ck_assert_uint_eq(dev.driver_features[0], 0x2222222211111111ull);
	ck_assert_uint_eq(dev.driver_features[1], 0x4444444433333333ull);
	ck_assert_uint_eq(vq_dev_driver_features_word(&dev, 2), 0x33333333);
	ck_assert_uint_eq(vq_dev_driver_features_word(&dev, 4), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 1, 0xabcd0001), 0);
	ck_assert_uint_eq(dev.driver_features[0], 0xabcd000111111111ull);
	ck_assert(vq_dev_has_feature(&dev, 0));
	ck_assert(!vq_dev_has_feature(&dev, 1));
	ck_assert(vq_dev_has_feature(&dev, 32));
	ck_assert(vq_dev_has_feature(&dev, 64));
	ck_assert(vq_dev_has_feature(&dev, 126));
	ck_assert(!vq_dev_has_feature(&dev, 127));
	ck_assert(!vq_dev_has_feature(&dev, 128));
	ck_assert(!vq_dev_has_feature(&dev, 5000));
	ck_assert_err(vq_dev_write_driver_features(&dev, 4, 1), VQ_E_INVAL);
	ck_assert_err(vq_dev_write_driver_features(&dev, 0xffffffffu, 1), VQ_E_INVAL);
	/* offered windows */
	ck_assert_uint_eq(vq_dev_host_features_word(&dev, 0), (uint32_t)OFFER_LO);
	ck_assert_uint_eq(vq_dev_host_features_word(&dev, 1), 1);
	ck_assert_uint_eq(vq_dev_host_features_word(&dev, 2), 1u << 6);
	ck_assert_uint_eq(vq_dev_host_features_word(&dev, 3), 0);
	ck_assert_uint_eq(vq_dev_host_features_word(&dev, 4), 0);
	/* after FEATURES_OK: refused */
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 0, 0), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 1, 1), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 2, 0), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 3, 0), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK), 0);
	ck_assert_err(vq_dev_write_driver_features(&dev, 0, BIT(5)), VQ_E_STATE);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "after FEATURES_OK"));
	ck_assert_ptr_nonnull(strstr(fk.last_error_text, "after FEATURES_OK"));
	ck_assert_uint_eq(dev.driver_features[0], V1);
}
END_TEST

/* ---- reset ---- */

START_TEST(test_reset)
{
	struct vq_ring_drv drv;

	bring_up(&drv, V1 | BIT(VIRTIO_F_EVENT_IDX));
	place_queue(1, 4, 0x8000);
	vq_dev_config_changed(&dev);
	ck_assert_uint_eq(dev.config_generation, 1);
	fk.serve = true;
	post_buffer(&drv, 1);
	ck_assert_int_eq(vq_dev_notify(&dev, 0), 0);
	ck_assert_uint_eq(dev.queues[0].chains, 1);

	ck_assert_int_eq(vq_dev_write_status(&dev, 0), 0);
	ck_assert_uint_eq(dev.status, 0);
	ck_assert_uint_eq(dev.driver_features[0], 0);
	ck_assert_uint_eq(dev.driver_features[1], 0);
	ck_assert_uint_eq(dev.host_features[0], OFFER_LO | V1);
	for (unsigned i = 0; i < 2; i++) {
		struct vq_queue *q = &dev.queues[i];
		ck_assert(!q->ready);
		ck_assert_uint_eq(q->num, QMAX);
		ck_assert_uint_eq(q->num_max, QMAX);
		ck_assert_uint_eq(q->addr.desc, 0);
		ck_assert_uint_eq(q->addr.driver, 0);
		ck_assert_uint_eq(q->addr.device, 0);
	}
	/* statistics and the generation survive a reset */
	ck_assert_uint_eq(dev.queues[0].chains, 1);
	ck_assert_uint_eq(dev.queues[0].notifies, 1);
	ck_assert_uint_eq(dev.config_generation, 1);
	ck_assert_uint_eq(dev.stats.resets, 1);
	ck_assert_int_eq(fk.reset, 1);
	ck_assert_err(vq_dev_notify(&dev, 0), VQ_E_NOT_READY);
	/* reset through vq_dev_reset directly too */
	vq_dev_reset(&dev);
	ck_assert_uint_eq(dev.stats.resets, 2);
	ck_assert_int_eq(fk.reset, 2);
	vq_ring_drv_free(&drv);
}
END_TEST

/* ---- queues ---- */

START_TEST(test_queue_enable_validation)
{
	/* before FEATURES_OK */
	place_queue(0, 8, RING_BASE);
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_STATE);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "before FEATURES_OK"));
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV), 0);
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_STATE);
	ck_assert_int_eq(vq_dev_write_driver_features(&dev, 1, 1), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK), 0);

	/* sizes */
	static const uint16_t bad_num[] = {0, 3, 12, 32, 15};
	for (unsigned i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		dev.queues[0].num = bad_num[i];
		ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_RING_LAYOUT);
		ck_assert(!dev.queues[0].ready);
		ck_assert_int_eq(dev.last_error, -VQ_E_RING_LAYOUT);
	}
	/* misaligned areas */
	place_queue(0, 8, RING_BASE);
	dev.queues[0].addr.desc += 8;
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_RING_LAYOUT);
	place_queue(0, 8, RING_BASE);
	dev.queues[0].addr.driver += 1;
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_RING_LAYOUT);
	place_queue(0, 8, RING_BASE);
	dev.queues[0].addr.device += 2;
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_RING_LAYOUT);
	/* outside guest memory, and straddling its end */
	place_queue(0, 8, RAM_SIZE + 0x1000);
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_RING_LAYOUT);
	place_queue(0, 8, RING_BASE);
	dev.queues[0].addr.device = RAM_SIZE - 8;
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_RING_LAYOUT);
	ck_assert(!dev.queues[0].ready);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "queue 0"));
	/* no such queue */
	ck_assert_err(vq_dev_queue_enable(&dev, 2), VQ_E_INVAL);
	ck_assert_err(vq_dev_queue_enable(&dev, 99), VQ_E_INVAL);

	/* good, then twice */
	place_queue(0, 8, RING_BASE);
	ck_assert_int_eq(vq_dev_queue_enable(&dev, 0), 0);
	ck_assert(dev.queues[0].ready);
	ck_assert_uint_eq(dev.queues[0].ring.num, 8);
	ck_assert_err(vq_dev_queue_enable(&dev, 0), VQ_E_STATE);
	ck_assert(dev.queues[0].ready);
	/* max size is fine */
	place_queue(1, QMAX, 0x8000);
	ck_assert_int_eq(vq_dev_queue_enable(&dev, 1), 0);

	/* after DRIVER_OK without RING_RESET: refused */
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK), 0);
	ck_assert_int_eq(vq_dev_queue_reset(&dev, 1), 0);
	ck_assert(!dev.queues[1].ready);
	ck_assert_uint_eq(dev.queues[1].num, QMAX);
	ck_assert_uint_eq(dev.queues[1].addr.desc, 0);
	place_queue(1, QMAX, 0x8000);
	ck_assert_err(vq_dev_queue_enable(&dev, 1), VQ_E_STATE);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "RING_RESET"));
	ck_assert_err(vq_dev_queue_reset(&dev, 2), VQ_E_INVAL);
}
END_TEST

START_TEST(test_queue_enable_features_and_ring_reset)
{
	struct vq_dev d2;

	ck_assert_int_eq(vq_dev_init(&d2, &fake_class, "rr", mem, 1, 8,
				     BIT(VIRTIO_F_EVENT_IDX) | BIT(VIRTIO_F_INDIRECT_DESC) |
					     BIT(VIRTIO_F_RING_RESET),
				     0),
			 0);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&d2, 0, (uint32_t)(
				BIT(VIRTIO_F_EVENT_IDX) | BIT(VIRTIO_F_INDIRECT_DESC))), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&d2, 1,
						      1 | (1u << (VIRTIO_F_RING_RESET - 32))), 0);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV | S_FOK), 0);
	place_queue_of(&d2, 0, 8, RING_BASE);
	ck_assert_int_eq(vq_dev_queue_enable(&d2, 0), 0);
	ck_assert_uint_eq(d2.queues[0].ring.features, VQ_RING_F_EVENT_IDX | VQ_RING_F_INDIRECT);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV | S_FOK | S_DOK), 0);
	/* with RING_RESET a reset queue may be re-enabled after DRIVER_OK */
	ck_assert_int_eq(vq_dev_queue_reset(&d2, 0), 0);
	ck_assert(!d2.queues[0].ready);
	place_queue_of(&d2, 0, 4, 0x9000);
	ck_assert_int_eq(vq_dev_queue_enable(&d2, 0), 0);
	ck_assert_uint_eq(d2.queues[0].ring.num, 4);
	/* but not while the device needs reset */
	ck_assert_int_eq(vq_dev_queue_reset(&d2, 0), 0);
	vq_dev_needs_reset(&d2, -VQ_E_SYS, "backend gone");
	place_queue_of(&d2, 0, 4, 0x9000);
	ck_assert_err(vq_dev_queue_enable(&d2, 0), VQ_E_STATE);
	ck_assert_ptr_nonnull(strstr(d2.last_error_msg, "needs reset"));
	vq_dev_destroy(&d2);
}
END_TEST

/* A packed queue's size need not be a power of two (spec 2.8: "Queue
 * Size ... up to 2^15", with no power-of-two rule, unlike split's 2.7):
 * the device refused 12 and 100 with RING_LAYOUT and needed a reset. */
START_TEST(test_queue_enable_packed_any_size)
{
	struct vq_dev d2;
	uint64_t bytes;

	ck_assert_int_eq(vq_dev_init(&d2, &fake_class, "pk", mem, 1, 128,
				     BIT(VIRTIO_F_RING_PACKED), 0),
			 0);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&d2, 1,
						      1 | (1u << (VIRTIO_F_RING_PACKED - 32))), 0);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV | S_FOK), 0);
	ck_assert_int_eq(vq_ring_size(VQ_RING_PACKED, 100, RING_BASE, &d2.queues[0].addr, &bytes),
			 0);
	d2.queues[0].num = 100;
	ck_assert_int_eq(vq_dev_queue_enable(&d2, 0), 0);
	ck_assert(d2.queues[0].ready);
	ck_assert_uint_eq(d2.queues[0].ring.layout, VQ_RING_PACKED);
	ck_assert_uint_eq(d2.queues[0].ring.num, 100);
	ck_assert(!(d2.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* still at most the device's maximum, and never 0 */
	vq_dev_reset(&d2);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV), 0);
	ck_assert_int_eq(vq_dev_write_driver_features(&d2, 1,
						      1 | (1u << (VIRTIO_F_RING_PACKED - 32))), 0);
	ck_assert_int_eq(vq_dev_write_status(&d2, S_ACK | S_DRV | S_FOK), 0);
	static const uint16_t bad_num[] = {0, 129};
	for (unsigned i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		ck_assert_int_eq(vq_ring_size(VQ_RING_PACKED, 100, RING_BASE, &d2.queues[0].addr,
					      &bytes), 0);
		d2.queues[0].num = bad_num[i];
		ck_assert_err(vq_dev_queue_enable(&d2, 0), VQ_E_RING_LAYOUT);
		ck_assert(!d2.queues[0].ready);
	}
	vq_dev_destroy(&d2);
}
END_TEST

START_TEST(test_notify_refused)
{
	struct vq_ring_drv drv;

	/* before DRIVER_OK */
	ck_assert_err(vq_dev_notify(&dev, 0), VQ_E_NOT_READY);
	ck_assert_int_eq(negotiate(V1, 0), 0);
	place_queue(0, 8, RING_BASE);
	ck_assert_int_eq(vq_ring_drv_init(&drv, mem, VQ_RING_SPLIT, 8, &dev.queues[0].addr, 0), 0);
	ck_assert_int_eq(vq_dev_queue_enable(&dev, 0), 0);
	ck_assert_err(vq_dev_notify(&dev, 0), VQ_E_NOT_READY);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK), 0);
	/* no such queue, queue not ready */
	ck_assert_err(vq_dev_notify(&dev, 2), VQ_E_INVAL);
	ck_assert_err(vq_dev_notify(&dev, 64), VQ_E_INVAL);
	ck_assert_err(vq_dev_notify(&dev, 1), VQ_E_NOT_READY);
	ck_assert_int_eq(fk.notify, 0);
	ck_assert_uint_eq(dev.stats.notifies_ignored, 5);
	ck_assert_uint_eq(dev.stats.notifies, 0);
	ck_assert_int_eq(fk.trace[VQ_EV_NOTIFY], 5);
	/* delivered */
	ck_assert_int_eq(vq_dev_notify(&dev, 0), 0);
	ck_assert_int_eq(fk.notify, 1);
	ck_assert_uint_eq(fk.last_q, 0);
	ck_assert_uint_eq(dev.stats.notifies, 1);
	ck_assert_uint_eq(dev.queues[0].notifies, 1);
	/* device needs reset (not tied to this queue) */
	vq_dev_needs_reset(&dev, -VQ_E_SYS, "backend gone");
	ck_assert_uint_eq(dev.status & S_NR, S_NR);
	ck_assert_int_eq(fk.irq_config, 1);
	ck_assert_err(vq_dev_notify(&dev, 0), VQ_E_NOT_READY);
	ck_assert_int_eq(fk.notify, 1);
	ck_assert_uint_eq(dev.stats.notifies_ignored, 6);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "backend gone"));
	/* a second failure does not interrupt again */
	vq_dev_needs_reset(&dev, -VQ_E_SYS, "still gone");
	ck_assert_int_eq(fk.irq_config, 1);
	/* the driver keeps NEEDS_RESET when it adds FAILED */
	ck_assert_int_eq(vq_dev_write_status(&dev, dev.status | S_FAIL), 0);
	vq_ring_drv_free(&drv);
}
END_TEST

START_TEST(test_ring_error_needs_reset)
{
	struct vq_ring_drv drv;
	struct vq_chain c;
	uint64_t token;
	uint32_t len;
	int configs;

	vq_chain_init(&c);
	bring_up(&drv, V1);
	ck_assert_int_eq(fk.irq_config, 0);
	/* the driver writes a head index past the queue size straight into memory */
	ck_assert_int_eq(vq_mem_write16(mem, dev.queues[0].addr.driver + 4, 200), 0);
	ck_assert_int_eq(vq_mem_write16(mem, dev.queues[0].addr.driver + 2, 1), 0);
	ck_assert_err(vq_dev_pop(&dev, 0, &c), VQ_E_RING_HEAD);
	ck_assert_uint_eq(dev.status, S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	ck_assert_int_eq(fk.irq_config, 1);
	ck_assert_int_eq(fk.irq_vring, 0);
	ck_assert_int_eq(dev.last_error, -VQ_E_RING_HEAD);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "RING_HEAD"));
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "queue 0"));
	ck_assert_ptr_nonnull(strstr(fk.last_error_text, "RING_HEAD"));
	ck_assert_uint_eq(dev.queues[0].errors, 1);
	ck_assert_uint_eq(dev.stats.errors, 1);
	ck_assert_uint_eq(dev.stats.interrupts, 1);
	/* broken until reset: no second interrupt, notifies refused */
	ck_assert_err(vq_dev_pop(&dev, 0, &c), VQ_E_RING_BROKEN);
	ck_assert_err(vq_dev_publish(&dev, 0), VQ_E_RING_BROKEN);
	ck_assert_err(vq_dev_notify(&dev, 0), VQ_E_RING_BROKEN);
	ck_assert_int_eq(fk.notify, 0);
	ck_assert_int_eq(fk.irq_config, 1);
	ck_assert_uint_eq(dev.stats.errors, 1);
	/* the driver may not clear NEEDS_RESET itself */
	ck_assert_err(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK), VQ_E_STATUS);
	vq_ring_drv_free(&drv);

	/* reset, set up again: the queue works */
	configs = fk.irq_config;
	ck_assert_int_eq(vq_dev_write_status(&dev, 0), 0);
	bring_up(&drv, V1);
	fk.serve = true;
	post_buffer(&drv, 77);
	ck_assert_int_eq(vq_dev_notify(&dev, 0), 0);
	ck_assert_int_eq(fk.notify, 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &token, &len), 1);
	ck_assert_uint_eq(token, 77);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(fk.irq_vring, 1);
	ck_assert_int_eq(fk.irq_config, configs);
	ck_assert_uint_eq(dev.status & S_NR, 0);
	vq_ring_drv_free(&drv);
	vq_chain_release(&c);
}
END_TEST

START_TEST(test_fail_queue_by_class)
{
	struct vq_ring_drv drv;
	struct vq_chain c;

	vq_chain_init(&c);
	/* before DRIVER_OK: NEEDS_RESET but no interrupt */
	ck_assert_int_eq(negotiate(V1, 0), 0);
	place_queue(0, 8, RING_BASE);
	ck_assert_int_eq(vq_ring_drv_init(&drv, mem, VQ_RING_SPLIT, 8, &dev.queues[0].addr, 0), 0);
	ck_assert_int_eq(vq_dev_queue_enable(&dev, 0), 0);
	vq_dev_fail_queue(&dev, 0, -VQ_E_RING_DESC_MEM);
	ck_assert_uint_eq(dev.status & S_NR, S_NR);
	ck_assert_int_eq(fk.irq_config, 0);
	ck_assert_int_eq(dev.last_error, -VQ_E_RING_DESC_MEM);
	ck_assert_err(vq_dev_pop(&dev, 0, &c), VQ_E_RING_BROKEN);
	/* DRIVER_OK while NEEDS_RESET is legal but the queue stays broken */
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK | S_NR), 0);
	ck_assert_err(vq_dev_notify(&dev, 0), VQ_E_RING_BROKEN);
	/* a queue that does not exist: device-level failure */
	vq_dev_fail_queue(&dev, 9, -VQ_E_RING_LOOP);
	ck_assert_int_eq(dev.last_error, -VQ_E_RING_LOOP);
	vq_ring_drv_free(&drv);
	vq_chain_release(&c);
}
END_TEST

START_TEST(test_pop_push_not_ready)
{
	struct vq_chain c;

	vq_chain_init(&c);
	ck_assert_err(vq_dev_pop(&dev, 0, &c), VQ_E_NOT_READY);
	ck_assert_err(vq_dev_pop(&dev, 5, &c), VQ_E_INVAL);
	ck_assert_err(vq_dev_push(&dev, 0, &c, 0), VQ_E_NOT_READY);
	ck_assert_err(vq_dev_publish(&dev, 0), VQ_E_NOT_READY);
	ck_assert_uint_eq(dev.status, 0);
	ck_assert_uint_eq(dev.stats.errors, 0);
	vq_chain_release(&c);
}
END_TEST

START_TEST(test_publish_interrupt_vs_suppressed)
{
	struct vq_ring_drv drv;
	struct vq_chain c;
	uint64_t token;
	uint32_t len;

	vq_chain_init(&c);
	bring_up(&drv, V1);
	tracer.on = (_i == 1); /* same behaviour with tracing off */
	post_buffer(&drv, 1);
	ck_assert_int_eq(vq_dev_pop(&dev, 0, &c), 1);
	ck_assert_uint_eq(c.write_bytes, 64);
	ck_assert_int_eq(vq_dev_push(&dev, 0, &c, 10), 0);
	ck_assert_int_eq(vq_dev_publish(&dev, 0), 1);
	ck_assert_int_eq(fk.irq_vring, 1);
	ck_assert_uint_eq(fk.irq_q, 0);
	ck_assert_uint_eq(dev.stats.interrupts, 1);
	ck_assert_uint_eq(dev.queues[0].interrupts, 1);
	ck_assert_uint_eq(dev.stats.chains, 1);
	ck_assert_uint_eq(dev.stats.used, 1);
	ck_assert_uint_eq(dev.queues[0].used, 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &token, &len), 1);
	ck_assert_uint_eq(len, 10);

	/* the driver asks for no interrupts */
	vq_ring_drv_set_interrupts(&drv, false);
	post_buffer(&drv, 2);
	ck_assert_int_eq(vq_dev_pop(&dev, 0, &c), 1);
	ck_assert_int_eq(vq_dev_push(&dev, 0, &c, 0), 0);
	ck_assert_int_eq(vq_dev_publish(&dev, 0), 0);
	ck_assert_int_eq(fk.irq_vring, 1);
	ck_assert_uint_eq(dev.stats.suppressed, 1);
	ck_assert_uint_eq(dev.stats.interrupts, 1);
	ck_assert_int_eq(vq_dev_pop(&dev, 0, &c), 0);
	ck_assert_int_eq(fk.trace[VQ_EV_CHAIN], _i == 1 ? 2 : 0);
	ck_assert_int_eq(fk.trace[VQ_EV_USED], _i == 1 ? 2 : 0);

	/* a class that claims more bytes than the chain can hold: its own bug,
	 * recorded, element pushed clamped, queue still usable */
	post_buffer(&drv, 3);
	ck_assert_int_eq(vq_dev_pop(&dev, 0, &c), 1);
	ck_assert_err(vq_dev_push(&dev, 0, &c, 65), VQ_E_RING_USED_LEN);
	ck_assert_int_eq(dev.last_error, -VQ_E_RING_USED_LEN);
	ck_assert_uint_eq(dev.stats.errors, 1);
	ck_assert_uint_eq(dev.status & S_NR, 0);
	ck_assert_uint_eq(dev.stats.used, 3);
	ck_assert_int_eq(vq_dev_publish(&dev, 0), 0);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &token, &len), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &token, &len), 1);
	ck_assert_uint_eq(token, 3);
	ck_assert_uint_eq(len, 64);
	vq_ring_drv_free(&drv);
	vq_chain_release(&c);
}
END_TEST

/* With EVENT_IDX a drained queue re-arms avail_event, so the driver keeps
 * kicking for every new batch (spec 2.7.10). */
START_TEST(test_event_idx_rearms_notifications)
{
	struct vq_ring_drv drv;
	struct vq_chain c;
	uint16_t avail_event;
	uint64_t ev_gpa;

	vq_chain_init(&c);
	ck_assert_int_eq(negotiate(V1 | BIT(VIRTIO_F_EVENT_IDX), 0), 0);
	place_queue(0, 8, RING_BASE);
	ck_assert_int_eq(vq_ring_drv_init(&drv, mem, VQ_RING_SPLIT, 8, &dev.queues[0].addr,
					  VQ_RING_F_EVENT_IDX), 0);
	ck_assert_int_eq(vq_dev_queue_enable(&dev, 0), 0);
	ck_assert_int_eq(vq_dev_write_status(&dev, S_ACK | S_DRV | S_FOK | S_DOK), 0);
	ev_gpa = dev.queues[0].addr.device + 4 + 8 * 8;
	for (unsigned round = 1; round <= 3; round++) {
		struct vq_buf b = {.gpa = BUF_BASE, .len = 8, .writable = true};

		ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, round), 0);
		ck_assert_int_eq(vq_ring_drv_publish(&drv), 1);
		ck_assert_int_eq(vq_dev_pop(&dev, 0, &c), 1);
		ck_assert_int_eq(vq_dev_push(&dev, 0, &c, 0), 0);
		ck_assert_int_eq(vq_dev_pop(&dev, 0, &c), 0);
		ck_assert_int_eq(vq_mem_read16(mem, ev_gpa, &avail_event), 0);
		ck_assert_uint_eq(avail_event, round);
		ck_assert_int_eq(vq_dev_publish(&dev, 0), 1);
		{
			uint64_t token;
			uint32_t len;
			ck_assert_int_eq(vq_ring_drv_get_used(&drv, &token, &len), 1);
			ck_assert_uint_eq(token, round);
			/* the driver re-arms used_event for the next round */
			ck_assert_int_eq(vq_ring_drv_set_interrupts(&drv, true), 0);
		}
	}
	vq_ring_drv_free(&drv);
	vq_chain_release(&c);
}
END_TEST

/* ---- config ---- */

START_TEST(test_config_access)
{
	uint8_t b[8];
	static const uint8_t pat[4] = {1, 2, 3, 4};

	for (unsigned i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)(0xa0 + i);
	ck_assert_int_eq(vq_dev_config_read(&dev, 2, b, 4), 0);
	ck_assert_uint_eq(b[0], 0xa2);
	ck_assert_uint_eq(b[3], 0xa5);
	ck_assert_int_eq(fk.cfg_read, 1);
	ck_assert_uint_eq(fk.last_off, 2);
	ck_assert_uint_eq(fk.last_len, 4);
	ck_assert_int_eq(vq_dev_config_read(&dev, 0, b, 8), 0);
	ck_assert_int_eq(vq_dev_config_read(&dev, 8, b, 0), 0);
	ck_assert_int_eq(vq_dev_config_write(&dev, 4, pat, 4), 0);
	ck_assert_uint_eq(cfg[4], 1);
	ck_assert_uint_eq(cfg[7], 4);
	ck_assert_int_eq(fk.cfg_write, 1);
	ck_assert_uint_eq(fk.last_off, 4);

	ck_assert_err(vq_dev_config_read(&dev, 6, b, 4), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_dev_config_read(&dev, 8, b, 1), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_dev_config_read(&dev, 0, b, 9), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_dev_config_read(&dev, 0xfffffffeu, b, 4), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_dev_config_read(&dev, 4, b, 0xfffffffeu), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_dev_config_write(&dev, 7, pat, 2), VQ_E_BAD_ACCESS);
	ck_assert_err(vq_dev_config_write(&dev, 0xffffffffu, pat, 2), VQ_E_BAD_ACCESS);
	ck_assert_uint_eq(cfg[7], 4);
	ck_assert_int_eq(fk.cfg_read, 3);
	ck_assert_int_eq(fk.cfg_write, 1);
	ck_assert_uint_eq(dev.stats.errors, 7);
	ck_assert_ptr_nonnull(strstr(dev.last_error_msg, "config"));

	/* a device with no config space */
	dev.config = NULL;
	dev.config_len = 0;
	ck_assert_err(vq_dev_config_read(&dev, 0, b, 1), VQ_E_BAD_ACCESS);
}
END_TEST

START_TEST(test_config_changed)
{
	struct vq_ring_drv drv;

	vq_dev_config_changed(&dev);
	ck_assert_uint_eq(dev.config_generation, 1);
	ck_assert_int_eq(fk.irq_config, 0); /* not before DRIVER_OK */
	bring_up(&drv, V1);
	vq_dev_config_changed(&dev);
	ck_assert_uint_eq(dev.config_generation, 2);
	ck_assert_int_eq(fk.irq_config, 1);
	ck_assert_uint_eq(dev.stats.interrupts, 1);
	ck_assert_int_ge(fk.trace[VQ_EV_CONFIG], 2);
	vq_ring_drv_free(&drv);
}
END_TEST

START_TEST(test_status_str)
{
	char b[128];

	ck_assert_str_eq(vq_dev_status_str(0, b, sizeof(b)), "0");
	ck_assert_str_eq(vq_dev_status_str(S_ACK, b, sizeof(b)), "ACKNOWLEDGE");
	ck_assert_str_eq(vq_dev_status_str(0xff & (S_ACK | S_DRV | S_FOK | S_DOK), b, sizeof(b)),
			 "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK");
	ck_assert_str_eq(vq_dev_status_str(0xcf, b, sizeof(b)),
			 "ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK|NEEDS_RESET|FAILED");
	ck_assert_str_eq(vq_dev_status_str(S_FAIL, b, sizeof(b)), "FAILED");
	ck_assert_str_eq(vq_dev_status_str(0x11, b, sizeof(b)), "ACKNOWLEDGE|0x10");
	ck_assert_str_eq(vq_dev_status_str(0x30, b, sizeof(b)), "0x30");
	/* truncation is safe */
	ck_assert_str_eq(vq_dev_status_str(0xff, b, 8), "ACKNOWL");
	ck_assert_str_eq(vq_dev_status_str(0xff, b, 1), "");
}
END_TEST

static Suite *device_suite(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("device");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_destroy_calls_hook);
	tcase_add_test(tc, test_status_legal);
	tcase_add_loop_test(tc, test_status_illegal, 0,
			    (int)(sizeof(bad_status) / sizeof(bad_status[0])));
	tcase_add_test(tc, test_features_ok_unoffered);
	tcase_add_test(tc, test_features_ok_no_version1);
	tcase_add_test(tc, test_features_ok_class_refuses);
	tcase_add_test(tc, test_feature_writes);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_queue_enable_validation);
	tcase_add_test(tc, test_queue_enable_features_and_ring_reset);
	tcase_add_test(tc, test_queue_enable_packed_any_size);
	tcase_add_test(tc, test_notify_refused);
	tcase_add_test(tc, test_ring_error_needs_reset);
	tcase_add_test(tc, test_fail_queue_by_class);
	tcase_add_test(tc, test_pop_push_not_ready);
	tcase_add_loop_test(tc, test_publish_interrupt_vs_suppressed, 0, 2);
	tcase_add_test(tc, test_event_idx_rearms_notifications);
	tcase_add_test(tc, test_config_access);
	tcase_add_test(tc, test_config_changed);
	tcase_add_test(tc, test_status_str);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(device_suite());
}

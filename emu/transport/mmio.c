/* mmio.c - virtio-mmio version 2 register file (spec 4.2.2).
 *
 * Decodes 32-bit register accesses at 0x000-0x0ff and byte/half/word
 * accesses to config space at 0x100 into vq_dev calls. Two kinds of
 * refusal: the register file refuses an access (width, alignment,
 * direction, offset) -> -VQ_E_BAD_ACCESS, counted in stats.bad_accesses;
 * the device or the transport refuses an operation (status order, queue
 * fields written while ready, ...) -> that error. Both are traced, leave
 * the device as it was, and record the rule in dev->last_error_msg.
 * QueueNotify is handed to the host (the machine queues an event): the
 * device never runs inside a register write.
 */
#include <stdio.h>
#include <string.h>

#include "trace.h"
#include "transport.h"
#include "virtio.h"

/* "VQSM" in little-endian byte order: our own vendor id, not QEMU's. */
#define VQ_MMIO_VENDOR_ID 0x4d535156u
#define VQ_MMIO_VERSION 2u

enum { DIR_NONE = 0, DIR_R = 1, DIR_W = 2, DIR_RW = 3 };

struct mmio_reg {
	const char *name;
	unsigned dir;   /* DIR_NONE: a legacy (version 1) register, refused */
};

/* Indexed by offset / 4 over 0x000-0x0ff. */
static const struct mmio_reg regs[VIRTIO_MMIO_CONFIG / 4] = {
	[VIRTIO_MMIO_MAGIC_VALUE / 4] = {"MagicValue", DIR_R},
	[VIRTIO_MMIO_VERSION / 4] = {"Version", DIR_R},
	[VIRTIO_MMIO_DEVICE_ID / 4] = {"DeviceID", DIR_R},
	[VIRTIO_MMIO_VENDOR_ID / 4] = {"VendorID", DIR_R},
	[VIRTIO_MMIO_DEVICE_FEATURES / 4] = {"DeviceFeatures", DIR_R},
	[VIRTIO_MMIO_DEVICE_FEATURES_SEL / 4] = {"DeviceFeaturesSel", DIR_W},
	[VIRTIO_MMIO_DRIVER_FEATURES / 4] = {"DriverFeatures", DIR_W},
	[VIRTIO_MMIO_DRIVER_FEATURES_SEL / 4] = {"DriverFeaturesSel", DIR_W},
	[0x028 / 4] = {"GuestPageSize", DIR_NONE},
	[VIRTIO_MMIO_QUEUE_SEL / 4] = {"QueueSel", DIR_W},
	[VIRTIO_MMIO_QUEUE_NUM_MAX / 4] = {"QueueNumMax", DIR_R},
	[VIRTIO_MMIO_QUEUE_NUM / 4] = {"QueueNum", DIR_W},
	[0x03c / 4] = {"QueueAlign", DIR_NONE},
	[0x040 / 4] = {"QueuePFN", DIR_NONE},
	[VIRTIO_MMIO_QUEUE_READY / 4] = {"QueueReady", DIR_RW},
	[VIRTIO_MMIO_QUEUE_NOTIFY / 4] = {"QueueNotify", DIR_W},
	[VIRTIO_MMIO_INTERRUPT_STATUS / 4] = {"InterruptStatus", DIR_R},
	[VIRTIO_MMIO_INTERRUPT_ACK / 4] = {"InterruptACK", DIR_W},
	[VIRTIO_MMIO_STATUS / 4] = {"Status", DIR_RW},
	[VIRTIO_MMIO_QUEUE_DESC_LOW / 4] = {"QueueDescLow", DIR_W},
	[VIRTIO_MMIO_QUEUE_DESC_HIGH / 4] = {"QueueDescHigh", DIR_W},
	[VIRTIO_MMIO_QUEUE_DRIVER_LOW / 4] = {"QueueDriverLow", DIR_W},
	[VIRTIO_MMIO_QUEUE_DRIVER_HIGH / 4] = {"QueueDriverHigh", DIR_W},
	[VIRTIO_MMIO_QUEUE_DEVICE_LOW / 4] = {"QueueDeviceLow", DIR_W},
	[VIRTIO_MMIO_QUEUE_DEVICE_HIGH / 4] = {"QueueDeviceHigh", DIR_W},
	[VIRTIO_MMIO_SHM_SEL / 4] = {"SHMSel", DIR_W},
	[VIRTIO_MMIO_SHM_LEN_LOW / 4] = {"SHMLenLow", DIR_R},
	[VIRTIO_MMIO_SHM_LEN_HIGH / 4] = {"SHMLenHigh", DIR_R},
	[VIRTIO_MMIO_SHM_BASE_LOW / 4] = {"SHMBaseLow", DIR_R},
	[VIRTIO_MMIO_SHM_BASE_HIGH / 4] = {"SHMBaseHigh", DIR_R},
	[VIRTIO_MMIO_QUEUE_RESET / 4] = {"QueueReset", DIR_RW},
	[VIRTIO_MMIO_CONFIG_GENERATION / 4] = {"ConfigGeneration", DIR_R},
};

static bool tracing(const struct vq_mmio *t)
{
	return t->tracer && t->tracer->on;
}

/* Record a refusal in the device's last error and trace it. */
static void note_refusal(struct vq_mmio *t, int queue, int err, const char *msg)
{
	struct vq_dev *d = t->dev;

	d->last_error = err;
	snprintf(d->last_error_msg, sizeof(d->last_error_msg), "%s", msg);
	vq_trace(t->tracer, VQ_EV_ERROR, d->name, queue, "mmio: %s [%s]", msg, vq_errname(err));
}

/* The register file refuses an access (spec 4.2.2.2): counted, traced, read 0. */
static int bad_access(struct vq_mmio *t, bool write, uint32_t off, unsigned width,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int bad_access(struct vq_mmio *t, bool write, uint32_t off, unsigned width,
		      const char *fmt, ...)
{
	char why[112], msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s of width %u at 0x%03x refused: %s",
		 write ? "write" : "read", width, off, why);
	t->stats.bad_accesses++;
	note_refusal(t, -1, -VQ_E_BAD_ACCESS, msg);
	return -VQ_E_BAD_ACCESS;
}

/* The transport refuses an operation the access asked for. */
static int op_refused(struct vq_mmio *t, int queue, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int op_refused(struct vq_mmio *t, int queue, int err, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->dev->stats.errors++;
	note_refusal(t, queue, err, msg);
	return err;
}

/* Check a 0x000-0x0ff access; the register on success, NULL when refused. */
static const struct mmio_reg *reg_check(struct vq_mmio *t, bool write, uint32_t off,
					unsigned width, int *err)
{
	const struct mmio_reg *r;
	unsigned need = write ? DIR_W : DIR_R;

	*err = -VQ_E_BAD_ACCESS;
	if (off % 4 == 0)
		r = &regs[off / 4];
	else
		r = NULL;
	if (width != 4) {
		bad_access(t, write, off, width,
			   "%s takes only 32-bit aligned accesses (spec 4.2.2.2)",
			   r && r->name ? r->name : "register space 0x000-0x0ff");
		return NULL;
	}
	if (!r) {
		bad_access(t, write, off, width, "misaligned (spec 4.2.2.2)");
		return NULL;
	}
	if (!r->name) {
		bad_access(t, write, off, width, "no register at this offset (spec 4.2.2)");
		return NULL;
	}
	if (r->dir == DIR_NONE) {
		bad_access(t, write, off, width,
			   "%s is a legacy register, absent from virtio-mmio version 2", r->name);
		return NULL;
	}
	if (!(r->dir & need)) {
		bad_access(t, write, off, width, "%s of %s-only register %s (spec 4.2.2.2)",
			   write ? "write" : "read", write ? "read" : "write", r->name);
		return NULL;
	}
	if (t->dev->cls->device_id == 0 && off != VIRTIO_MMIO_MAGIC_VALUE &&
	    off != VIRTIO_MMIO_VERSION && off != VIRTIO_MMIO_DEVICE_ID &&
	    off != VIRTIO_MMIO_VENDOR_ID) {
		bad_access(t, write, off, width,
			   "%s: DeviceID is 0, no device behind this transport (spec 4.2.3.1.1: "
			   "a driver stops at DeviceID)", r->name);
		return NULL;
	}
	*err = 0;
	return r;
}

/* Check a config-space access; the config offset, or -1 when refused. */
static int64_t config_check(struct vq_mmio *t, bool write, uint32_t off, unsigned width)
{
	uint32_t coff = off - VIRTIO_MMIO_CONFIG;

	if (width != 1 && width != 2 && width != 4) {
		bad_access(t, write, off, width, "config space takes widths 1, 2 or 4");
		return -1;
	}
	if (off % width) {
		bad_access(t, write, off, width,
			   "config access not naturally aligned (spec 4.2.2.2)");
		return -1;
	}
	if (off >= VIRTIO_MMIO_SIZE || coff + width > t->dev->config_len) {
		bad_access(t, write, off, width, "beyond the %u-byte config space",
			   t->dev->config_len);
		return -1;
	}
	return coff;
}

static void mmio_interrupt(void *ctx, enum vq_irq_kind kind, unsigned q)
{
	struct vq_mmio *t = ctx;
	uint32_t old = t->interrupt_status;

	(void)q;
	t->interrupt_status |=
		kind == VQ_IRQ_VRING ? VIRTIO_MMIO_INT_VRING : VIRTIO_MMIO_INT_CONFIG;
	t->stats.interrupts++;
	if (tracing(t))
		vq_trace(t->tracer, VQ_EV_IRQ, t->dev->name, -1, "InterruptStatus 0x%x -> 0x%x",
			 old, t->interrupt_status);
	/* a level line: only a change of level is news for the host */
	if (!old && t->host.set_irq)
		t->host.set_irq(t->host.ctx, true);
}

static void set_interrupt_status(struct vq_mmio *t, uint32_t v)
{
	uint32_t old = t->interrupt_status;

	t->interrupt_status = v;
	if (old && !v && t->host.set_irq)
		t->host.set_irq(t->host.ctx, false);
}

int vq_mmio_init(struct vq_mmio *t, struct vq_dev *d, const struct vq_transport_host *host,
		 struct vq_tracer *tracer)
{
	if (!t || !d)
		return -VQ_E_INVAL;
	memset(t, 0, sizeof(*t));
	t->dev = d;
	if (host)
		t->host = *host;
	t->tracer = tracer;
	t->vendor_id = VQ_MMIO_VENDOR_ID;
	d->host.interrupt = mmio_interrupt;
	d->host.ctx = t;
	return 0;
}

void vq_mmio_reset(struct vq_mmio *t)
{
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->queue_sel = 0;
	t->shm_sel = 0;
	set_interrupt_status(t, 0);
}

/* ---- reads ---- */

static uint32_t reg_read(struct vq_mmio *t, uint32_t off)
{
	struct vq_dev *d = t->dev;
	struct vq_queue *q = vq_dev_queue(d, t->queue_sel);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VQ_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->cls ? d->cls->device_id : 0;
	case VIRTIO_MMIO_VENDOR_ID:
		return t->vendor_id;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return vq_dev_host_features_word(d, t->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? q->num_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q && q->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* no shared memory regions: length -1 and base ~0 (spec 4.2.2) */
		return 0xffffffffu;
	case VIRTIO_MMIO_QUEUE_RESET:
		/* a queue reset completes within the write, so it never reads 1 */
		return 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return d->config_generation;
	}
	return 0;
}

int vq_mmio_read(struct vq_mmio *t, uint32_t off, unsigned width, uint32_t *val)
{
	const struct mmio_reg *r;
	int rc;

	*val = 0;
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint8_t b[4] = {0};
		int64_t coff = config_check(t, false, off, width);

		if (coff < 0)
			return -VQ_E_BAD_ACCESS;
		rc = vq_dev_config_read(t->dev, (uint32_t)coff, b, width);
		if (rc < 0)
			return rc;
		t->stats.reads++;
		*val = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		       (uint32_t)b[3] << 24;
		if (tracing(t))
			vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
				 "read Config[0x%x]/%u=0x%x", (unsigned)coff, width, *val);
		return 0;
	}
	r = reg_check(t, false, off, width, &rc);
	if (!r)
		return rc;
	t->stats.reads++;
	*val = reg_read(t, off);
	if (tracing(t))
		vq_trace_args(t->tracer, VQ_EV_REG, t->dev->name, -1,
			      (struct vq_trace_arg[]){VQ_TA_S("op", "read"), VQ_TA_S("reg", r->name),
						      VQ_TA_U("off", off), VQ_TA_U("val", *val)}, 4,
			      "read %s=0x%x", r->name, *val);
	return 0;
}

/* ---- writes ---- */

/* The selected queue for a write of a queue register, or NULL (refused). */
static struct vq_queue *sel_queue(struct vq_mmio *t, const char *reg, int *err)
{
	struct vq_queue *q = vq_dev_queue(t->dev, t->queue_sel);

	if (!q)
		*err = op_refused(t, -1, -VQ_E_INVAL, "%s written for QueueSel %u: no such queue",
				  reg, t->queue_sel);
	return q;
}

/* QueueNum and the six address halves: spec 4.2.2.2 forbids them while ready. */
static struct vq_queue *setup_queue(struct vq_mmio *t, const char *reg, int *err)
{
	struct vq_queue *q = sel_queue(t, reg, err);

	if (q && q->ready) {
		*err = op_refused(t, (int)t->queue_sel, -VQ_E_STATE,
				  "%s written while queue %u is ready (spec 4.2.2.2)", reg,
				  t->queue_sel);
		return NULL;
	}
	return q;
}

static void set_half(uint64_t *a, bool high, uint32_t val)
{
	if (high)
		*a = (*a & 0xffffffffull) | (uint64_t)val << 32;
	else
		*a = (*a & ~0xffffffffull) | val;
}

static int write_queue_ready(struct vq_mmio *t, uint32_t val)
{
	struct vq_queue *q;
	int rc = 0;

	if (val > 1)
		return op_refused(t, (int)t->queue_sel, -VQ_E_INVAL,
				  "QueueReady written with 0x%x, only 0 or 1 (spec 4.2.2)", val);
	q = sel_queue(t, "QueueReady", &rc);
	if (!q)
		return rc;
	if (val)
		return vq_dev_queue_enable(t->dev, t->queue_sel);
	/* writing 0 stops the queue; on a stopped queue it changes nothing */
	return q->ready ? vq_dev_queue_reset(t->dev, t->queue_sel) : 0;
}

static int write_queue_reset(struct vq_mmio *t, uint32_t val)
{
	int rc = 0;

	if (val > 1)
		return op_refused(t, (int)t->queue_sel, -VQ_E_INVAL,
				  "QueueReset written with 0x%x, only 1 resets (spec 4.2.2)", val);
	if (!vq_dev_has_feature(t->dev, VIRTIO_F_RING_RESET))
		return op_refused(t, (int)t->queue_sel, -VQ_E_STATE,
				  "QueueReset written without VIRTIO_F_RING_RESET negotiated "
				  "(spec 4.2.2)");
	if (!sel_queue(t, "QueueReset", &rc))
		return rc;
	return val ? vq_dev_queue_reset(t->dev, t->queue_sel) : 0;
}

static int reg_write(struct vq_mmio *t, uint32_t off, uint32_t val)
{
	struct vq_dev *d = t->dev;
	struct vq_queue *q;
	const char *name = regs[off / 4].name;
	int rc = 0;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = val;
		return 0;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		return vq_dev_write_driver_features(d, t->driver_features_sel, val);
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = val;
		return 0;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		return 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (!(q = setup_queue(t, name, &rc)))
			return rc;
		/* store what fits; vq_dev_queue_enable() judges the size */
		if (val > 0xffff)
			return op_refused(t, (int)t->queue_sel, -VQ_E_INVAL,
					  "QueueNum 0x%x exceeds QueueNumMax %u (spec 4.2.2.2)",
					  val, q->num_max);
		q->num = (uint16_t)val;
		return 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return write_queue_ready(t, val);
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* with NOTIFICATION_DATA the queue index is the low 16 bits,
		 * the driver's next avail position the high ones */
		val = vq_dev_notify_decode(d, val);
		t->stats.notifies++;
		if (t->host.notify)
			t->host.notify(t->host.ctx, d, val);
		return 0;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		if (val & ~(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG))
			return op_refused(t, -1, -VQ_E_INVAL,
					  "InterruptACK 0x%x sets undefined bits (spec 4.2.2.2)",
					  val);
		set_interrupt_status(t, t->interrupt_status & ~val);
		return 0;
	case VIRTIO_MMIO_STATUS:
		if (val > 0xff)
			return op_refused(t, -1, -VQ_E_INVAL,
					  "Status 0x%x does not fit the 8-bit device status "
					  "(spec 2.1)", val);
		rc = vq_dev_write_status(d, (uint8_t)val);
		if (val == 0)
			vq_mmio_reset(t); /* spec 4.2.2.1: reset clears InterruptStatus */
		return rc;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (!(q = setup_queue(t, name, &rc)))
			return rc;
		set_half(&q->addr.desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		return 0;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (!(q = setup_queue(t, name, &rc)))
			return rc;
		set_half(&q->addr.driver, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, val);
		return 0;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (!(q = setup_queue(t, name, &rc)))
			return rc;
		set_half(&q->addr.device, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, val);
		return 0;
	case VIRTIO_MMIO_SHM_SEL:
		t->shm_sel = val;
		return 0;
	case VIRTIO_MMIO_QUEUE_RESET:
		return write_queue_reset(t, val);
	}
	return 0;
}

int vq_mmio_write(struct vq_mmio *t, uint32_t off, unsigned width, uint32_t val)
{
	const struct mmio_reg *r;
	int rc;

	if (off >= VIRTIO_MMIO_CONFIG) {
		uint8_t b[4] = {(uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
				(uint8_t)(val >> 24)};
		int64_t coff = config_check(t, true, off, width);

		if (coff < 0)
			return -VQ_E_BAD_ACCESS;
		t->stats.writes++;
		if (tracing(t))
			vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
				 "write Config[0x%x]/%u=0x%x", (unsigned)coff, width, val);
		return vq_dev_config_write(t->dev, (uint32_t)coff, b, width);
	}
	r = reg_check(t, true, off, width, &rc);
	if (!r)
		return rc;
	t->stats.writes++;
	if (tracing(t))
		vq_trace_args(t->tracer, VQ_EV_REG, t->dev->name, -1,
			      (struct vq_trace_arg[]){VQ_TA_S("op", "write"), VQ_TA_S("reg", r->name),
						      VQ_TA_U("off", off), VQ_TA_U("val", val)}, 4,
			      "write %s=0x%x", r->name, val);
	return reg_write(t, off, val);
}

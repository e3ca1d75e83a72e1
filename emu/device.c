/* device.c - the generic virtio device: status machine, features, queues,
 * config space, reset and DEVICE_NEEDS_RESET (spec 2.1-2.6, 3.1).
 *
 * Every rule the driver breaks is refused here, traced as VQ_EV_ERROR and
 * recorded in d->stats.errors / d->last_error with a message naming the
 * rule. Ring errors all go through vq_dev_fail_queue().
 */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "opts.h"
#include "trace.h"
#include "virtio.h"

#define STATUS_KNOWN                                                                    \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK |    \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)

static bool tracing(const struct vq_dev *d)
{
	return d->tracer && d->tracer->on;
}

/* Record a broken rule: message, counters, trace. Returns err. */
static int dev_error(struct vq_dev *d, int queue, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int dev_error(struct vq_dev *d, int queue, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->last_error_msg, sizeof(d->last_error_msg), fmt, ap);
	va_end(ap);
	d->last_error = err;
	d->stats.errors++;
	vq_trace_args(d->tracer, VQ_EV_ERROR, d->name, queue,
		      (struct vq_trace_arg[]){VQ_TA_S("err", vq_errname(err))}, 1, "%s [%s]",
		      d->last_error_msg, vq_errname(err));
	return err;
}

static void dev_irq(struct vq_dev *d, enum vq_irq_kind kind, unsigned q)
{
	d->stats.interrupts++;
	if (tracing(d))
		vq_trace_args(d->tracer, VQ_EV_IRQ, d->name, kind == VQ_IRQ_VRING ? (int)q : -1,
			      (struct vq_trace_arg[]){VQ_TA_S("cause", kind == VQ_IRQ_VRING
							  ? "vring" : "config")}, 1,
			      "%s interrupt", kind == VQ_IRQ_VRING ? "used-buffer" : "config");
	if (d->host.interrupt)
		d->host.interrupt(d->host.ctx, kind, q);
}

void vq_dev_interrupt(struct vq_dev *d, enum vq_irq_kind kind, unsigned q)
{
	dev_irq(d, kind, q);
}

static void trace_status(struct vq_dev *d, uint8_t old, uint8_t now)
{
	char a[96], b[96];

	if (!tracing(d))
		return;
	vq_trace_args(d->tracer, VQ_EV_STATUS, d->name, -1,
		      (struct vq_trace_arg[]){VQ_TA_U("from", old), VQ_TA_U("to", now)}, 2,
		      "status %s -> %s", vq_dev_status_str(old, a, sizeof(a)),
		      vq_dev_status_str(now, b, sizeof(b)));
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Put queue q back to what the driver sees after reset (spec 2.6 / 4.2.2). */
static void queue_clear(struct vq_queue *q)
{
	q->epoch++;
	vq_ring_reset(&q->ring);
	q->ready = false;
	q->num = q->num_max;
	memset(&q->addr, 0, sizeof(q->addr));
}

int vq_dev_init(struct vq_dev *d, const struct vq_dev_class *cls, const char *name,
		struct vq_mem *mem, unsigned nqueues, uint16_t queue_max, uint64_t features_lo,
		uint64_t features_hi)
{
	size_t n;

	if (!d || !cls || !mem || nqueues > VQ_DEV_MAX_QUEUES)
		return -VQ_E_INVAL;
	/* num starts at num_max, so num_max must itself be a valid split-ring size */
	if (nqueues && (!is_pow2(queue_max) || queue_max > VIRTQ_MAX_SIZE))
		return -VQ_E_INVAL;
	memset(d, 0, sizeof(*d));
	d->cls = cls;
	d->mem = mem;
	if (!name)
		name = cls->name ? cls->name : "dev";
	n = strlen(name);
	if (n >= sizeof(d->name))
		n = sizeof(d->name) - 1;
	memcpy(d->name, name, n);
	d->name[n] = '\0';
	d->host_features[0] = features_lo | (1ull << VIRTIO_F_VERSION_1);
	d->host_features[1] = features_hi;
	d->nqueues = nqueues;
	for (unsigned i = 0; i < nqueues; i++) {
		d->queues[i].num_max = queue_max;
		d->queues[i].num_max_init = queue_max;
		d->queues[i].num = queue_max;
	}
	return 0;
}

void vq_dev_destroy(struct vq_dev *d)
{
	if (!d)
		return;
	if (d->cls && d->cls->destroy)
		d->cls->destroy(d);
	for (unsigned i = 0; i < d->nqueues; i++)
		queue_clear(&d->queues[i]);
}

/* ---- features ---- */

bool vq_dev_has_feature(const struct vq_dev *d, unsigned bit)
{
	return bit < 64 * VQ_FEATURE_WORDS && (d->driver_features[bit / 64] >> (bit % 64)) & 1;
}

static uint32_t feature_word(const uint64_t *f, uint32_t sel)
{
	if (sel >= 2 * VQ_FEATURE_WORDS)
		return 0;
	return (uint32_t)(f[sel / 2] >> (32 * (sel & 1)));
}

uint32_t vq_dev_host_features_word(const struct vq_dev *d, uint32_t sel)
{
	return feature_word(d->host_features, sel);
}

uint32_t vq_dev_driver_features_word(const struct vq_dev *d, uint32_t sel)
{
	return feature_word(d->driver_features, sel);
}

int vq_dev_write_driver_features(struct vq_dev *d, uint32_t sel, uint32_t val)
{
	uint64_t *w;
	unsigned shift;

	if (sel >= 2 * VQ_FEATURE_WORDS)
		return dev_error(d, -1, -VQ_E_INVAL,
				 "features: window %u written, only 0..%u exist", sel,
				 2 * VQ_FEATURE_WORDS - 1);
	if (d->status & VIRTIO_STATUS_FEATURES_OK)
		return dev_error(d, -1, -VQ_E_STATE,
				 "features: written after FEATURES_OK (spec 3.1.1)");
	if (!(d->status & VIRTIO_STATUS_DRIVER))
		return dev_error(d, -1, -VQ_E_STATE,
				 "features: written before DRIVER (spec 3.1.1)");
	w = &d->driver_features[sel / 2];
	shift = 32 * (sel & 1);
	*w = (*w & ~(0xffffffffull << shift)) | ((uint64_t)val << shift);
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_FEATURES, d->name, -1,
			 "driver features[%u] = 0x%08x (offered 0x%08x)", sel, val,
			 vq_dev_host_features_word(d, sel));
	return 0;
}

/* FEATURES_OK check (spec 2.2.1, 3.1.1 step 5-6): 0 or -VQ_E_FEATURES. */
static int check_features(struct vq_dev *d)
{
	for (unsigned i = 0; i < VQ_FEATURE_WORDS; i++) {
		uint64_t extra = d->driver_features[i] & ~d->host_features[i];
		if (extra)
			return dev_error(d, -1, -VQ_E_FEATURES,
					 "status: FEATURES_OK refused, driver accepted feature "
					 "bit %u the device did not offer (spec 2.2.1)",
					 64 * i + (unsigned)__builtin_ctzll(extra));
	}
	/* vqsim devices are modern only: no legacy fallback (spec 7.1) */
	if (!vq_dev_has_feature(d, VIRTIO_F_VERSION_1))
		return dev_error(d, -1, -VQ_E_FEATURES,
				 "status: FEATURES_OK refused, VIRTIO_F_VERSION_1 not accepted "
				 "(modern-only device, spec 6.1)");
	if (d->cls->validate_features) {
		int rc = d->cls->validate_features(d, d->driver_features);
		if (rc < 0)
			return dev_error(d, -1, -VQ_E_FEATURES,
					 "status: FEATURES_OK refused by %s: %s",
					 d->cls->name ? d->cls->name : "device class",
					 vq_strerror(rc));
	}
	return 0;
}

/* ---- status ---- */

/* Spec 3.1.1 order on the value the driver wants: 0 or -VQ_E_STATUS. */
static int check_status_order(struct vq_dev *d, uint8_t old, uint8_t now)
{
	uint8_t added = now & ~old;

	if (old & ~now)
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: driver cleared bits 0x%02x without a reset (spec 2.1.1)",
				 old & ~now);
	if (added & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: driver set DEVICE_NEEDS_RESET, a device-owned bit "
				 "(spec 2.1)");
	if (added & ~STATUS_KNOWN)
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: reserved bits 0x%02x written (spec 2.1)",
				 added & ~STATUS_KNOWN);
	if ((old & VIRTIO_STATUS_FAILED) && added)
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: bits 0x%02x set after FAILED without a reset "
				 "(spec 2.1.1)", added);
	if ((now & VIRTIO_STATUS_DRIVER) && !(now & VIRTIO_STATUS_ACKNOWLEDGE))
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: DRIVER written without ACKNOWLEDGE (spec 3.1.1)");
	if ((now & VIRTIO_STATUS_FEATURES_OK) && !(now & VIRTIO_STATUS_DRIVER))
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: FEATURES_OK written without DRIVER (spec 3.1.1)");
	if ((now & VIRTIO_STATUS_DRIVER_OK) && !(now & VIRTIO_STATUS_FEATURES_OK))
		return dev_error(d, -1, -VQ_E_STATUS,
				 "status: DRIVER_OK written without FEATURES_OK (spec 3.1.1)");
	return 0;
}

int vq_dev_write_status(struct vq_dev *d, uint8_t status)
{
	uint8_t old = d->status, added;
	int rc = 0;

	if (status == 0) {
		vq_dev_reset(d);
		return 0;
	}
	rc = check_status_order(d, old, status);
	if (rc < 0)
		return rc;
	added = status & ~old;
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		rc = check_features(d);
		/* the device keeps FEATURES_OK clear; DRIVER_OK depends on it */
		if (rc < 0)
			status &= (uint8_t)~(VIRTIO_STATUS_FEATURES_OK |
					     (added & VIRTIO_STATUS_DRIVER_OK));
	}
	d->status = status;
	if (status != old)
		trace_status(d, old, status);
	if ((status & ~old & VIRTIO_STATUS_DRIVER_OK) && d->cls->driver_ok)
		d->cls->driver_ok(d);
	return rc;
}

void vq_dev_reset(struct vq_dev *d)
{
	uint8_t old = d->status;

	d->status = 0;
	memset(d->driver_features, 0, sizeof(d->driver_features));
	/* per-queue counters are statistics: kept, like d->stats */
	for (unsigned i = 0; i < d->nqueues; i++) {
		d->queues[i].num_max = d->queues[i].num_max_init; /* un-hide */
		queue_clear(&d->queues[i]);
	}
	if (d->cls->reset)
		d->cls->reset(d);
	d->stats.resets++;
	if (tracing(d)) {
		char a[96];
		vq_trace_args(d->tracer, VQ_EV_STATUS, d->name, -1,
			      (struct vq_trace_arg[]){VQ_TA_U("from", old), VQ_TA_U("to", 0)}, 2,
			      "status %s -> 0 (reset)", vq_dev_status_str(old, a, sizeof(a)));
	}
}

/* Set DEVICE_NEEDS_RESET once; the config interrupt tells a running driver. */
static void set_needs_reset(struct vq_dev *d)
{
	uint8_t old = d->status;

	if (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	trace_status(d, old, d->status);
	if (old & VIRTIO_STATUS_DRIVER_OK)
		dev_irq(d, VQ_IRQ_CONFIG, 0);
}

void vq_dev_needs_reset(struct vq_dev *d, int err, const char *why)
{
	dev_error(d, -1, err, "device needs reset: %s [%s: %s]", why ? why : "device failure",
		  vq_errname(err), vq_strerror(err));
	set_needs_reset(d);
}

/* ---- queues ---- */

struct vq_queue *vq_dev_queue(struct vq_dev *d, unsigned q)
{
	if (q >= d->nqueues || !d->queues[q].num_max)
		return NULL;
	return &d->queues[q];
}

/* live: a transport whose rings start one by one while the device runs
 * (vhost-user) may start a queue after DRIVER_OK. */
static int queue_enable(struct vq_dev *d, unsigned q, bool live)
{
	struct vq_queue *vq = vq_dev_queue(d, q);
	enum vq_ring_layout layout = VQ_RING_SPLIT;
	unsigned rf = 0;
	int rc;

	if (!vq)
		return dev_error(d, (int)q, -VQ_E_INVAL, "queue %u: enabled, but no such queue", q);
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return dev_error(d, (int)q, -VQ_E_STATE,
				 "queue %u: enabled while the device needs reset", q);
	if (vq->ready)
		return dev_error(d, (int)q, -VQ_E_STATE, "queue %u: enabled twice", q);
	if (!(d->status & VIRTIO_STATUS_FEATURES_OK))
		return dev_error(d, (int)q, -VQ_E_STATE,
				 "queue %u: enabled before FEATURES_OK (spec 3.1.1)", q);
	/* after DRIVER_OK only a queue reset (VIRTIO_F_RING_RESET) re-opens setup */
	if (!live && (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !vq_dev_has_feature(d, VIRTIO_F_RING_RESET))
		return dev_error(d, (int)q, -VQ_E_STATE,
				 "queue %u: enabled after DRIVER_OK without VIRTIO_F_RING_RESET "
				 "(spec 3.1.1)", q);
	if (vq_dev_has_feature(d, VIRTIO_F_RING_PACKED))
		layout = VQ_RING_PACKED;
	/* a packed queue's size need not be a power of two (spec 2.8) */
	if (layout == VQ_RING_PACKED ? vq->num == 0 || vq->num > vq->num_max
				     : !is_pow2(vq->num) || vq->num > vq->num_max)
		return dev_error(d, (int)q, -VQ_E_RING_LAYOUT,
				 layout == VQ_RING_PACKED
					 ? "queue %u: packed size %u is not in 1..%u (spec 2.8)"
					 : "queue %u: size %u is not a power of two in 1..%u (spec 2.7)",
				 q, vq->num, vq->num_max);
	if (vq_dev_has_feature(d, VIRTIO_F_EVENT_IDX))
		rf |= VQ_RING_F_EVENT_IDX;
	if (vq_dev_has_feature(d, VIRTIO_F_INDIRECT_DESC))
		rf |= VQ_RING_F_INDIRECT;
	/* IN_ORDER: each publish is one batch (no class offers it yet) */
	if (vq_dev_has_feature(d, VIRTIO_F_IN_ORDER))
		rf |= VQ_RING_F_IN_ORDER;
	/* ACCESS_PLATFORM: the queue's addresses are IOVAs (spec 6.1) */
	rc = vq_ring_init_iommu(&vq->ring, d->mem,
				vq_dev_has_feature(d, VIRTIO_F_ACCESS_PLATFORM) ? d->iommu : NULL,
				layout, vq->num, &vq->addr, rf);
	if (rc < 0) {
		/* an IOMMU refusal names the area and IOVA in the ring's detail */
		char detail[sizeof(vq->ring.error_detail)];

		memcpy(detail, vq->ring.error_detail, sizeof(detail));
		vq_ring_reset(&vq->ring);
		return dev_error(d, (int)q, rc,
				 "queue %u: enable refused, desc 0x%llx driver 0x%llx "
				 "device 0x%llx size %u: %s%s%s", q, (unsigned long long)vq->addr.desc,
				 (unsigned long long)vq->addr.driver,
				 (unsigned long long)vq->addr.device, vq->num, vq_strerror(rc),
				 rc == -VQ_E_RING_IOMMU ? ": " : "",
				 rc == -VQ_E_RING_IOMMU ? detail : "");
	}
	vq->ready = true;
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "queue ready size=%u desc=0x%llx driver=0x%llx device=0x%llx", vq->num,
			 (unsigned long long)vq->addr.desc, (unsigned long long)vq->addr.driver,
			 (unsigned long long)vq->addr.device);
	return 0;
}

int vq_dev_queue_enable(struct vq_dev *d, unsigned q)
{
	return queue_enable(d, q, false);
}

int vq_dev_queue_start(struct vq_dev *d, unsigned q, uint32_t base)
{
	int rc = queue_enable(d, q, true);

	if (rc < 0)
		return rc;
	if ((rc = vq_ring_set_base(&d->queues[q].ring, base)) < 0) {
		vq_dev_fail_queue(d, q, rc);
		return rc;
	}
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q, "queue resumed at avail %u",
			 base);
	return 0;
}

int vq_dev_queue_reset(struct vq_dev *d, unsigned q)
{
	struct vq_queue *vq = vq_dev_queue(d, q);

	if (!vq)
		return dev_error(d, (int)q, -VQ_E_INVAL, "queue %u: reset, but no such queue", q);
	/* the class forgets what it holds of q before the ring goes */
	if (d->cls->queue_stop)
		d->cls->queue_stop(d, q);
	queue_clear(vq);
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q, "queue reset");
	return 0;
}

/* Why a notification for q cannot be delivered now, or NULL. */
static const char *notify_refusal(struct vq_dev *d, unsigned q, int *err)
{
	const struct vq_queue *vq = vq_dev_queue(d, q);

	*err = -VQ_E_NOT_READY;
	if (!vq) {
		*err = -VQ_E_INVAL;
		return "no such queue";
	}
	if (!(d->status & VIRTIO_STATUS_DRIVER_OK))
		return "device not DRIVER_OK";
	if (!vq->ready)
		return "queue not ready";
	if (vq->ring.error) {
		*err = -VQ_E_RING_BROKEN;
		return "queue broken until reset";
	}
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return "device needs reset";
	return NULL;
}

int vq_dev_notify(struct vq_dev *d, unsigned q)
{
	int err;
	const char *why = notify_refusal(d, q, &err);

	/* Refusals are not counted as rule violations: a notification queued
	 * by the machine may legitimately arrive after a reset or a failure. */
	if (why) {
		d->stats.notifies_ignored++;
		vq_trace(d->tracer, VQ_EV_NOTIFY, d->name, (int)q, "ignored: %s", why);
		return err;
	}
	d->stats.notifies++;
	d->queues[q].notifies++;
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_NOTIFY, d->name, (int)q, "delivered");
	if (d->cls->queue_notify)
		d->cls->queue_notify(d, q);
	return 0;
}

unsigned vq_dev_notify_decode(struct vq_dev *d, uint32_t val)
{
	unsigned q = val & 0xffff;
	struct vq_queue *vq;

	if (!vq_dev_has_feature(d, VIRTIO_F_NOTIFICATION_DATA))
		return val;
	if ((vq = vq_dev_queue(d, q))) {
		vq->notify_datas++;
		vq->notify_next_off = (uint16_t)((val >> 16) & 0x7fff);
		vq->notify_next_wrap = val >> 31;
		if (tracing(d))
			vq_trace(d->tracer, VQ_EV_NOTIFY, d->name, (int)q,
				 "data 0x%08x: next_off %u, next_wrap %u", val,
				 vq->notify_next_off, vq->notify_next_wrap);
	}
	return q;
}

/* ---- config space ---- */

static bool config_range_ok(const struct vq_dev *d, uint32_t off, uint32_t len)
{
	return len <= d->config_len && off <= d->config_len - len;
}

int vq_dev_config_read(struct vq_dev *d, uint32_t off, void *buf, uint32_t len)
{
	if (!config_range_ok(d, off, len))
		return dev_error(d, -1, -VQ_E_BAD_ACCESS,
				 "config: read of %u bytes at 0x%x outside the %u-byte "
				 "config space",
				 len, off, d->config_len);
	if (d->cls->config_read)
		d->cls->config_read(d, off, len);
	if (len)
		memcpy(buf, d->config + off, len);
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_CONFIG, d->name, -1, "read %u bytes at 0x%x", len, off);
	return 0;
}

int vq_dev_config_write(struct vq_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	if (!config_range_ok(d, off, len))
		return dev_error(d, -1, -VQ_E_BAD_ACCESS,
				 "config: write of %u bytes at 0x%x outside the %u-byte "
				 "config space",
				 len, off, d->config_len);
	if (len)
		memcpy(d->config + off, buf, len);
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_CONFIG, d->name, -1, "write %u bytes at 0x%x", len, off);
	if (d->cls->config_write)
		d->cls->config_write(d, off, len);
	return 0;
}

void vq_dev_config_changed(struct vq_dev *d)
{
	d->config_generation++;
	if (tracing(d))
		vq_trace(d->tracer, VQ_EV_CONFIG, d->name, -1, "changed, generation %u",
			 d->config_generation);
	/* before DRIVER_OK the driver reads config anyway; no interrupt (spec 3.1.1) */
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		dev_irq(d, VQ_IRQ_CONFIG, 0);
}

/* ---- chains (hot path) ---- */

/* The queue a class may use right now, or NULL with *err set. */
static struct vq_queue *live_queue(struct vq_dev *d, unsigned q, int *err)
{
	struct vq_queue *vq = vq_dev_queue(d, q);

	if (!vq) {
		*err = -VQ_E_INVAL;
		return NULL;
	}
	if (!vq->ready) {
		*err = -VQ_E_NOT_READY;
		return NULL;
	}
	if (vq->ring.error) {
		*err = -VQ_E_RING_BROKEN;
		return NULL;
	}
	return vq;
}

/* Fault point "dev.pop" (fault.h): a chain was just popped from q. Returns
 * 1 to go on with the chain, 0 when the fault took the device away from
 * under the request (the chain is lost, as after a real reset). */
static int pop_fault(struct vq_dev *d, unsigned q)
{
	struct vq_fault_ctx c = {.who = d->name, .queue = (int)q};
	const struct vq_fault *f = vq_fault_check(d->faults, VQ_FP_DEV_POP, &c);

	if (!f)
		return 1;
	switch (f->spec.action) {
	case VQ_FA_RESET:
		vq_dev_reset(d);
		return 0;
	case VQ_FA_CONFIG:
		vq_dev_config_changed(d);
		return 1;
	case VQ_FA_NEEDS_RESET:
		vq_dev_needs_reset(d, -VQ_E_STATE, "injected fault at dev.pop");
		return 0;
	default:
		return 1;
	}
}

int vq_dev_pop(struct vq_dev *d, unsigned q, struct vq_chain *c)
{
	int rc;
	struct vq_queue *vq = live_queue(d, q, &rc);

	if (!vq)
		return rc;
	rc = vq_ring_pop(&vq->ring, c);
	/* EVENT_IDX: the driver kicks only when its avail idx passes
	 * avail_event, so re-arm it each time the queue runs dry (spec
	 * 2.7.10); a chain that slipped in meanwhile is popped now */
	if (rc == 0 && (vq->ring.features & VQ_RING_F_EVENT_IDX)) {
		rc = vq_ring_set_notify(&vq->ring, true);
		if (rc == 1)
			rc = vq_ring_pop(&vq->ring, c);
	}
	if (rc < 0) {
		vq_dev_fail_queue(d, q, rc);
		return rc;
	}
	if (rc == 1) {
		/* for vq_dev_chain_check(), should the class hold the chain */
		c->epoch = vq->epoch;
		c->mem_gen = vq_mem_generation(d->mem);
		vq->chains++;
		d->stats.chains++;
		if (tracing(d))
			vq_trace_args(d->tracer, VQ_EV_CHAIN, d->name, (int)q,
				      (struct vq_trace_arg[]){VQ_TA_U("head", c->head),
							      VQ_TA_U("nseg", c->nseg),
							      VQ_TA_U("read", c->read_bytes),
							      VQ_TA_U("write", c->write_bytes),
							      VQ_TA_SEGS(c)}, 5,
				      "head=%u nseg=%u read=%llu write=%llu", c->head, c->nseg,
				      (unsigned long long)c->read_bytes,
				      (unsigned long long)c->write_bytes);
	}
	if (rc == 1 && d->faults && d->faults->armed[VQ_FP_DEV_POP])
		rc = pop_fault(d, q);
	return rc;
}

int vq_dev_chain_check(struct vq_dev *d, unsigned q, struct vq_chain *c)
{
	int rc;
	uint32_t bad = 0;
	struct vq_queue *vq = live_queue(d, q, &rc);

	if (vq && c->epoch == vq->epoch &&
	    (rc = vq_chain_revalidate(d->mem, c, &bad)) == 0)
		return 0;
	if (vq && c->epoch != vq->epoch)
		rc = -VQ_E_STATE;
	if (vq_dev_queue(d, q))
		d->queues[q].held_dropped++;
	if (rc == -VQ_E_STATE || !vq) {
		if (tracing(d))
			vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
				 "held chain head=%u dropped: %s", c->head,
				 rc == -VQ_E_STATE ? "queue stopped or reset since it was popped"
						   : vq_strerror(rc));
		return rc;
	}
	/* guest memory under a held buffer went away: the guest's doing, as a
	 * bad address at pop time would have been */
	{
		const struct vq_seg *s = &c->seg[bad];

		if (!vq->ring.error) {
			vq->ring.error = -VQ_E_RING_DESC_MEM;
			snprintf(vq->ring.error_detail, sizeof(vq->ring.error_detail),
				 "held chain head=%u: %s buffer 0x%llx+%u: %s", c->head,
				 s->writable ? "writable" : "readable", (unsigned long long)s->gpa,
				 s->len, vq_strerror(rc));
		}
	}
	vq_dev_fail_queue(d, q, -VQ_E_RING_DESC_MEM);
	return -VQ_E_RING_DESC_MEM;
}

int vq_dev_push(struct vq_dev *d, unsigned q, const struct vq_chain *c, uint32_t written)
{
	int rc;
	struct vq_queue *vq = live_queue(d, q, &rc);

	if (!vq)
		return rc;
	rc = vq_ring_push(&vq->ring, c, written);
	if (rc < 0 && (rc != -VQ_E_RING_USED_LEN || vq->ring.error)) {
		vq_dev_fail_queue(d, q, rc);
		return rc;
	}
	/* USED_LEN is a device bug, not the driver's: element pushed clamped */
	if (rc == -VQ_E_RING_USED_LEN)
		dev_error(d, (int)q, rc,
			  "queue %u: head %u used length %u exceeds %llu writable bytes", q,
			  c->head, written, (unsigned long long)c->write_bytes);
	vq->used++;
	d->stats.used++;
	if (tracing(d))
		vq_trace_args(d->tracer, VQ_EV_USED, d->name, (int)q,
			      (struct vq_trace_arg[]){VQ_TA_U("head", c->head),
						      VQ_TA_U("len", written)}, 2,
			      "push head=%u len=%u", c->head, written);
	return rc;
}

int vq_dev_publish(struct vq_dev *d, unsigned q)
{
	int rc;
	struct vq_queue *vq = live_queue(d, q, &rc);

	if (!vq)
		return rc;
	rc = vq_ring_publish(&vq->ring);
	if (rc < 0) {
		vq_dev_fail_queue(d, q, rc);
		return rc;
	}
	/* spec 3.1.1: no used buffer notifications before DRIVER_OK */
	if (rc == 1 && (d->status & VIRTIO_STATUS_DRIVER_OK)) {
		vq->interrupts++;
		dev_irq(d, VQ_IRQ_VRING, q);
	} else {
		d->stats.suppressed++;
	}
	return rc;
}

void vq_dev_fail_queue(struct vq_dev *d, unsigned q, int err)
{
	struct vq_queue *vq = vq_dev_queue(d, q);

	if (err >= 0)
		err = -VQ_E_RING_BROKEN;
	if (!vq) {
		vq_dev_needs_reset(d, err, "failure on a queue that does not exist");
		return;
	}
	vq->errors++;
	/* chains completed before the failure were really served: let the
	 * driver reap them before the queue goes quiet */
	if (vq->ready && vq_ring_publish_broken(&vq->ring) == 1) {
		vq->interrupts++;
		dev_irq(d, VQ_IRQ_VRING, q);
	}
	/* a class may fail a queue for its own reasons: make the ring refuse too */
	if (!vq->ring.error)
		vq->ring.error = err;
	if (vq->ring.error == err && vq->ring.error_detail[0])
		dev_error(d, (int)q, err, "queue %u broken: %s: %s (%s)", q, vq_errname(err),
			  vq_strerror(err), vq->ring.error_detail);
	else
		dev_error(d, (int)q, err, "queue %u broken: %s: %s", q, vq_errname(err),
			  vq_strerror(err));
	set_needs_reset(d);
}

/* ---- names ---- */

const char *vq_dev_status_str(uint8_t status, char *buf, size_t len)
{
	/* spec 3.1.1 order, which is how a driver sets them */
	static const struct {
		uint8_t bit;
		const char *name;
	} bits[] = {
		{VIRTIO_STATUS_ACKNOWLEDGE, "ACKNOWLEDGE"},
		{VIRTIO_STATUS_DRIVER, "DRIVER"},
		{VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK"},
		{VIRTIO_STATUS_DRIVER_OK, "DRIVER_OK"},
		{VIRTIO_STATUS_DEVICE_NEEDS_RESET, "NEEDS_RESET"},
		{VIRTIO_STATUS_FAILED, "FAILED"},
	};
	size_t pos = 0;

	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	if (status == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && pos < len; i++) {
		if (status & bits[i].bit) {
			int n = snprintf(buf + pos, len - pos, "%s%s", pos ? "|" : "",
					 bits[i].name);
			pos += n > 0 ? (size_t)n : 0;
		}
	}
	if ((status & ~STATUS_KNOWN) && pos < len)
		snprintf(buf + pos, len - pos, "%s0x%02x", pos ? "|" : "", status & ~STATUS_KNOWN);
	return buf;
}

void vq_dev_limit_queues(struct vq_dev *d, unsigned n)
{
	for (unsigned q = n; q < d->nqueues; q++)
		d->queues[q].num_max = d->queues[q].num = 0;
}

/* ---- the machine's services, for classes and backends ---- */

uint64_t vq_dev_now(const struct vq_dev *d)
{
	return d->env.now ? d->env.now(d->env.ctx) : 0;
}

int vq_dev_schedule(struct vq_dev *d, uint64_t delay_ns, vq_dev_timer_fn fn, uint64_t data)
{
	if (!fn)
		return -VQ_E_INVAL;
	return d->env.schedule ? d->env.schedule(d->env.ctx, d, delay_ns, fn, data)
			       : -VQ_E_NOT_READY;
}

int vq_dev_watch_fd(struct vq_dev *d, int fd, unsigned events, vq_dev_fd_fn fn, void *arg)
{
	if (fd < 0 || !fn)
		return -VQ_E_INVAL;
	return d->env.watch ? d->env.watch(d->env.ctx, d, fd, events, fn, arg) : -VQ_E_NOT_READY;
}

void vq_dev_unwatch_fd(struct vq_dev *d, int fd)
{
	if (d->env.unwatch)
		d->env.unwatch(d->env.ctx, d, fd);
}

/* ---- generic device options ---- */

int vq_dev_generic_opts(struct vq_opts *o, struct vq_dev_generic *g, char *err, size_t errlen)
{
	int rc;

	g->packed = true;
	if ((rc = vq_opts_bool(o, "packed", &g->packed, err, errlen)) < 0)
		return rc;
	vq_opts_remove(o, "packed");
	return 0;
}

void vq_dev_generic_apply(struct vq_dev *d, const struct vq_dev_generic *g)
{
	uint64_t bit = 1ull << (VIRTIO_F_RING_PACKED % 64);

	if (g->packed)
		d->host_features[VIRTIO_F_RING_PACKED / 64] |= bit;
	else
		d->host_features[VIRTIO_F_RING_PACKED / 64] &= ~bit;
}

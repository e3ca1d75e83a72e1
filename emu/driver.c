/* driver.c - the reference guest driver: what Linux's virtio core and
 * virtio_mmio do, over the machine's bus and guest memory only.
 */
#include <string.h>

#include "driver.h"

/* Events a bounded wait may run before it gives up (no device answers). */
#define DRV_WAIT_MAX_EVENTS 1000000u
/* Config reads retried while the generation keeps changing (spec 2.5.1). */
#define DRV_CONFIG_RETRIES 16

/* ---- transports: virtio-mmio here, virtio-pci in driver_pci.c ---- */

static int mmio_rd(struct vq_drv *d, uint32_t off, uint32_t *val)
{
	return vq_machine_read(d->m, d->base + off, 4, val);
}

static int mmio_wr(struct vq_drv *d, uint32_t off, uint32_t val)
{
	return vq_machine_write(d->m, d->base + off, 4, val);
}

static int mmio_cfg_read(struct vq_drv *d, uint32_t off, unsigned width, uint32_t *val)
{
	return vq_machine_read(d->m, d->base + VIRTIO_MMIO_CONFIG + off, width, val);
}

static int mmio_cfg_write(struct vq_drv *d, uint32_t off, unsigned width, uint32_t val)
{
	return vq_machine_write(d->m, d->base + VIRTIO_MMIO_CONFIG + off, width, val);
}

static bool mmio_irq_pending(struct vq_drv *d)
{
	return vq_machine_irq_level(d->m, d->irq);
}

static const struct vq_drv_ops mmio_ops = {
	.rd = mmio_rd, .wr = mmio_wr, .cfg_read = mmio_cfg_read, .cfg_write = mmio_cfg_write,
	.irq_pending = mmio_irq_pending,
};

static const struct vq_drv_ops *drv_ops(const struct vq_drv *d)
{
	return d->ops ? d->ops : &mmio_ops;
}

int vq_drv_reg_read(struct vq_drv *d, uint32_t reg, uint32_t *val)
{
	return drv_ops(d)->rd(d, reg, val);
}

int vq_drv_reg_write(struct vq_drv *d, uint32_t reg, uint32_t val)
{
	return drv_ops(d)->wr(d, reg, val);
}

bool vq_drv_irq_pending(struct vq_drv *d)
{
	return drv_ops(d)->irq_pending(d);
}

static int rd32(struct vq_drv *d, uint32_t off, uint32_t *val)
{
	return drv_ops(d)->rd(d, off, val);
}

static int wr32(struct vq_drv *d, uint32_t off, uint32_t val)
{
	return drv_ops(d)->wr(d, off, val);
}

static uint32_t rd32v(struct vq_drv *d, uint32_t off)
{
	uint32_t v = 0;
	rd32(d, off, &v);
	return v;
}

int vq_drv_attach(struct vq_drv *d, struct vq_machine *m, uint64_t base, unsigned irq,
		  uint64_t heap, uint64_t heap_size)
{
	uint32_t magic = 0, version = 0, id = 0;

	if (!d || !m || heap_size == 0 || heap > UINT64_MAX - heap_size)
		return -VQ_E_INVAL;
	memset(d, 0, sizeof(*d));
	d->m = m;
	d->base = base;
	d->irq = irq;
	d->heap_start = d->heap_next = heap;
	d->heap_end = heap + heap_size;
	if (!vq_mem_translate(vq_machine_mem(m), heap, heap_size, VQ_ACC_RW, NULL))
		return -VQ_E_INVAL; /* the heap must be RAM */
	if (rd32(d, VIRTIO_MMIO_MAGIC_VALUE, &magic) < 0 || magic != VIRTIO_MMIO_MAGIC ||
	    rd32(d, VIRTIO_MMIO_VERSION, &version) < 0 || version != 2 ||
	    rd32(d, VIRTIO_MMIO_DEVICE_ID, &id) < 0 || id == 0)
		return -VQ_E_NO_DEVICE;
	d->device_id = id;
	return 0;
}

static void drv_free_queues(struct vq_drv *d)
{
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
		if (d->queues[q].active)
			vq_ring_drv_free(&d->queues[q].ring);
		d->queues[q].active = false;
	}
}

void vq_drv_detach(struct vq_drv *d)
{
	drv_free_queues(d);
	if (d->dev_state_free)
		d->dev_state_free(d);
	d->dev_state = NULL;
	d->dev_state_free = NULL;
}

uint64_t vq_drv_alloc(struct vq_drv *d, uint64_t size, uint64_t align)
{
	uint64_t at;

	if (align == 0 || (align & (align - 1)) || size == 0)
		return 0;
	at = (d->heap_next + align - 1) & ~(align - 1);
	if (at < d->heap_next || at > d->heap_end || size > d->heap_end - at)
		return 0;
	d->heap_next = at + size;
	return at;
}

uint8_t vq_drv_status(struct vq_drv *d)
{
	return (uint8_t)rd32v(d, VIRTIO_MMIO_STATUS);
}

/* Add bits to the status register and check that they stuck. */
static int drv_set_status(struct vq_drv *d, uint8_t bits)
{
	uint8_t want = vq_drv_status(d) | bits;
	int rc = wr32(d, VIRTIO_MMIO_STATUS, want);

	if (rc < 0 && rc != -VQ_E_FEATURES)
		return rc;
	return (vq_drv_status(d) & bits) == bits ? 0 : (rc < 0 ? rc : -VQ_E_STATUS);
}

int vq_drv_reset(struct vq_drv *d)
{
	int rc = wr32(d, VIRTIO_MMIO_STATUS, 0);

	drv_free_queues(d);
	memset(d->features, 0, sizeof(d->features));
	if (rc < 0)
		return rc;
	return vq_drv_status(d) == 0 ? 0 : -VQ_E_STATUS;
}

bool vq_drv_has_feature(const struct vq_drv *d, unsigned bit)
{
	return bit < 64 * VQ_FEATURE_WORDS && (d->features[bit / 64] >> (bit % 64)) & 1;
}

/* VIRTIO_F_ACCESS_PLATFORM: the device sees IOVAs. The driver maps its
 * heap (whole pages) through the machine's IOMMU at the same addresses, so
 * every address it writes stays valid; a mapping left from an earlier
 * negotiation is replaced. 0 or the IOMMU's error. */
static int drv_iommu_map_heap(struct vq_drv *d)
{
	struct vq_iommu *io = vq_machine_iommu(d->m);
	uint64_t lo = d->heap_start & ~(uint64_t)(VQ_PAGE_SIZE - 1);
	uint64_t hi = (d->heap_end + VQ_PAGE_SIZE - 1) & ~(uint64_t)(VQ_PAGE_SIZE - 1);
	long long rc = vq_iommu_unmap(io, lo, hi - lo);

	return rc < 0 ? (int)rc : vq_iommu_map(io, lo, lo, hi - lo, true);
}

int vq_drv_negotiate(struct vq_drv *d, const uint64_t *want)
{
	int rc;

	if ((rc = vq_drv_reset(d)) < 0 ||
	    (rc = drv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE)) < 0 ||
	    (rc = drv_set_status(d, VIRTIO_STATUS_DRIVER)) < 0)
		return rc;
	for (uint32_t sel = 0; sel < 2 * VQ_FEATURE_WORDS; sel++) {
		uint64_t word;

		if ((rc = wr32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel)) < 0)
			return rc;
		word = rd32v(d, VIRTIO_MMIO_DEVICE_FEATURES);
		d->offered[sel / 2] &= ~(0xffffffffull << (32 * (sel % 2)));
		d->offered[sel / 2] |= word << (32 * (sel % 2));
	}
	for (unsigned w = 0; w < VQ_FEATURE_WORDS; w++)
		d->features[w] = d->offered[w] & (want ? want[w] : 0);
	d->features[VIRTIO_F_VERSION_1 / 64] |=
		d->offered[VIRTIO_F_VERSION_1 / 64] & (1ull << (VIRTIO_F_VERSION_1 % 64));
	for (uint32_t sel = 0; sel < 2 * VQ_FEATURE_WORDS; sel++) {
		if ((rc = wr32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel)) < 0 ||
		    (rc = wr32(d, VIRTIO_MMIO_DRIVER_FEATURES,
			       (uint32_t)(d->features[sel / 2] >> (32 * (sel % 2))))) < 0)
			return rc;
	}
	rc = drv_set_status(d, VIRTIO_STATUS_FEATURES_OK);
	if (rc < 0) {
		drv_set_status(d, VIRTIO_STATUS_FAILED); /* spec 3.1.1 step 6 */
		return -VQ_E_FEATURES;
	}
	if (vq_drv_has_feature(d, VIRTIO_F_ACCESS_PLATFORM))
		return drv_iommu_map_heap(d);
	return 0;
}

int vq_drv_setup_queue(struct vq_drv *d, unsigned q, uint16_t num)
{
	struct vq_drv_queue *dq;
	struct vq_ring_addr addr;
	uint64_t bytes, at;
	uint32_t max;
	unsigned features = 0;
	/* the layout follows the negotiated features, as on the device */
	enum vq_ring_layout layout =
		vq_drv_has_feature(d, VIRTIO_F_RING_PACKED) ? VQ_RING_PACKED : VQ_RING_SPLIT;
	int rc;

	if (q >= VQ_DEV_MAX_QUEUES || d->queues[q].active)
		return -VQ_E_INVAL;
	dq = &d->queues[q];
	if ((rc = wr32(d, VIRTIO_MMIO_QUEUE_SEL, q)) < 0)
		return rc;
	if (rd32v(d, VIRTIO_MMIO_QUEUE_READY) != 0)
		return -VQ_E_STATE;
	max = rd32v(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0 || num > max)
		return -VQ_E_INVAL;
	if (num == 0)
		num = (uint16_t)max;
	if (vq_ring_size(layout, num, 0, &addr, &bytes) < 0)
		return -VQ_E_INVAL;
	at = vq_drv_alloc(d, bytes, VQ_PAGE_SIZE);
	if (!at)
		return -VQ_E_NOMEM;
	vq_ring_size(layout, num, at, &addr, &bytes);
	if (vq_drv_has_feature(d, VIRTIO_F_EVENT_IDX))
		features |= VQ_RING_F_EVENT_IDX;
	if (vq_drv_has_feature(d, VIRTIO_F_INDIRECT_DESC))
		features |= VQ_RING_F_INDIRECT;
	if (vq_drv_has_feature(d, VIRTIO_F_IN_ORDER))
		features |= VQ_RING_F_IN_ORDER;
	rc = vq_ring_drv_init(&dq->ring, vq_machine_mem(d->m), layout, num, &addr, features);
	if (rc < 0)
		return rc;
	if ((rc = wr32(d, VIRTIO_MMIO_QUEUE_NUM, num)) < 0 ||
	    (rc = wr32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)addr.desc)) < 0 ||
	    (rc = wr32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(addr.desc >> 32))) < 0 ||
	    (rc = wr32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)addr.driver)) < 0 ||
	    (rc = wr32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(addr.driver >> 32))) < 0 ||
	    (rc = wr32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)addr.device)) < 0 ||
	    (rc = wr32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(addr.device >> 32))) < 0)
		goto fail;
	rc = wr32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (rd32v(d, VIRTIO_MMIO_QUEUE_READY) != 1) {
		rc = rc < 0 ? rc : -VQ_E_RING_LAYOUT; /* the write's own refusal, if any */
		goto fail;
	}
	dq->active = true;
	dq->ring_gpa = at;
	return 0;
fail:
	vq_ring_drv_free(&dq->ring);
	return rc;
}

int vq_drv_driver_ok(struct vq_drv *d)
{
	return drv_set_status(d, VIRTIO_STATUS_DRIVER_OK);
}

int vq_drv_init(struct vq_drv *d, const uint64_t *want, unsigned nqueues)
{
	int rc = vq_drv_negotiate(d, want);

	for (unsigned q = 0; rc == 0 && q < nqueues; q++) {
		if (nqueues == VQ_DRV_ALL_QUEUES) {
			if (q >= VQ_DEV_MAX_QUEUES || wr32(d, VIRTIO_MMIO_QUEUE_SEL, q) < 0 ||
			    rd32v(d, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0)
				break;
		}
		rc = vq_drv_setup_queue(d, q, 0);
	}
	if (rc == 0)
		rc = vq_drv_driver_ok(d);
	return rc;
}

static struct vq_ring_drv *drv_ring(struct vq_drv *d, unsigned q)
{
	return q < VQ_DEV_MAX_QUEUES && d->queues[q].active ? &d->queues[q].ring : NULL;
}

int vq_drv_add(struct vq_drv *d, unsigned q, const struct vq_buf *bufs, unsigned n,
	       uint64_t token)
{
	struct vq_ring_drv *r = drv_ring(d, q);

	return r ? vq_ring_drv_add(r, bufs, n, token) : -VQ_E_NOT_READY;
}

int vq_drv_kick(struct vq_drv *d, unsigned q)
{
	struct vq_ring_drv *r = drv_ring(d, q);
	int rc;

	if (!r)
		return -VQ_E_NOT_READY;
	rc = vq_ring_drv_publish(r);
	if (rc == 1) {
		/* NOTIFICATION_DATA (spec 2.9): vqn | next_off << 16 |
		 * next_wrap << 31; split: the avail idx (next_off = bits 0-14,
		 * next_wrap = bit 15); packed: the next slot to make available
		 * and the driver's wrap counter */
		uint32_t val = q;

		if (vq_drv_has_feature(d, VIRTIO_F_NOTIFICATION_DATA)) {
			if (r->layout == VQ_RING_PACKED)
				val |= (uint32_t)(r->avail_idx & 0x7fffu) << 16 |
				       (uint32_t)r->avail_wrap << 31;
			else
				val |= (uint32_t)r->avail_idx << 16;
		}
		int wrc = wr32(d, VIRTIO_MMIO_QUEUE_NOTIFY, val);
		if (wrc < 0)
			return wrc;
	}
	return rc;
}

int vq_drv_get_used(struct vq_drv *d, unsigned q, uint64_t *token, uint32_t *len)
{
	struct vq_ring_drv *r = drv_ring(d, q);

	return r ? vq_ring_drv_get_used(r, token, len) : -VQ_E_NOT_READY;
}

uint32_t vq_drv_ack_interrupt(struct vq_drv *d)
{
	uint32_t isr = rd32v(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (isr) {
		wr32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		d->isr_seen |= isr;
		if (isr & VIRTIO_MMIO_INT_VRING)
			d->vring_irqs++;
		if (isr & VIRTIO_MMIO_INT_CONFIG)
			d->config_irqs++;
	}
	return isr;
}

/* Has the device published used elements the driver has not reaped? */
static bool drv_used_pending(const struct vq_ring_drv *r)
{
	return vq_ring_drv_has_used(r) == 1;
}

int vq_drv_wait_used(struct vq_drv *d, unsigned q)
{
	struct vq_ring_drv *r = drv_ring(d, q);

	if (!r)
		return -VQ_E_NOT_READY;
	uint64_t deadline = 0; /* for a device served outside (vhost-user) */

	for (unsigned n = 0; n < DRV_WAIT_MAX_EVENTS; n++) {
		if (vq_drv_irq_pending(d))
			vq_drv_ack_interrupt(d); /* what the interrupt handler does */
		if (drv_used_pending(r))
			return 1;
		if (vq_machine_step(d->m))
			continue;
		/* nothing queued: an outside device answers in its own time. Ask
		 * for its interrupt first (used_event / flags, as a Linux driver
		 * does before it sleeps), then wait for it. */
		if (!deadline && vq_machine_outside_count(d->m) &&
		    vq_ring_drv_set_interrupts(r, true) > 0)
			continue;
		if (!vq_machine_wait_outside(d->m, &deadline))
			break;
	}
	if (vq_drv_irq_pending(d))
		vq_drv_ack_interrupt(d);
	return drv_used_pending(r) ? 1 : 0;
}

/* Read len config bytes at off with accesses of the field's natural width. */
static int drv_config_bytes(struct vq_drv *d, uint32_t off, uint8_t *buf, uint32_t len)
{
	while (len) {
		unsigned w = (len >= 4 && off % 4 == 0) ? 4 : (len >= 2 && off % 2 == 0) ? 2 : 1;
		uint32_t v = 0;
		int rc = drv_ops(d)->cfg_read(d, off, w, &v);

		if (rc < 0)
			return rc;
		v = VQ_LE32(v);
		memcpy(buf, &v, w); /* little-endian register value -> bytes */
		buf += w;
		off += w;
		len -= w;
	}
	return 0;
}

int vq_drv_config_read(struct vq_drv *d, uint32_t off, void *buf, uint32_t len)
{
	for (int i = 0; i < DRV_CONFIG_RETRIES; i++) {
		uint32_t before = rd32v(d, VIRTIO_MMIO_CONFIG_GENERATION), after;
		int rc = drv_config_bytes(d, off, buf, len);

		if (rc < 0)
			return rc;
		after = rd32v(d, VIRTIO_MMIO_CONFIG_GENERATION);
		if (before == after)
			return 0;
	}
	return -VQ_E_TIMEOUT;
}

int vq_drv_submit(struct vq_drv *d, unsigned q, const struct vq_buf *bufs, unsigned n,
		  uint32_t *used_len)
{
	uint64_t token = ++d->next_token, got;
	uint32_t len = 0;
	int rc;

	if ((rc = vq_drv_add(d, q, bufs, n, token)) < 0 || (rc = vq_drv_kick(d, q)) < 0)
		return rc;
	if (vq_drv_wait_used(d, q) != 1)
		return (vq_drv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? -VQ_E_RING_BROKEN
									     : -VQ_E_TIMEOUT;
	rc = vq_drv_get_used(d, q, &got, &len);
	if (rc < 0)
		return rc;
	if (rc == 0 || got != token)
		return -VQ_E_RING_USED_ID;
	if (used_len)
		*used_len = len;
	return 0;
}

int vq_drv_config_write(struct vq_drv *d, uint32_t off, const void *buf, uint32_t len)
{
	const uint8_t *p = buf;

	while (len) {
		unsigned w = (len >= 4 && off % 4 == 0) ? 4 : (len >= 2 && off % 2 == 0) ? 2 : 1;
		uint32_t v = 0;
		int rc;

		memcpy(&v, p, w);
		rc = drv_ops(d)->cfg_write(d, off, w, VQ_LE32(v));
		if (rc < 0)
			return rc;
		p += w;
		off += w;
		len -= w;
	}
	return 0;
}

/* A guest buffer of at least len bytes, reused across helper calls. */
static uint64_t drv_scratch(struct vq_drv *d, uint32_t len)
{
	if (len > d->scratch_len) {
		uint64_t at = vq_drv_alloc(d, len, 64);
		if (!at)
			return 0;
		d->scratch_gpa = at;
		d->scratch_len = len;
	}
	return d->scratch_gpa;
}

long vq_drv_rng_read(struct vq_drv *d, void *out, uint32_t len)
{
	struct vq_buf buf;
	uint64_t token;
	uint32_t used_len;
	int rc;

	if (len == 0 || !out)
		return -VQ_E_INVAL;
	buf = (struct vq_buf){.gpa = drv_scratch(d, len), .len = len, .writable = true};
	if (!buf.gpa)
		return -VQ_E_NOMEM;
	if ((rc = vq_drv_add(d, 0, &buf, 1, buf.gpa)) < 0 || (rc = vq_drv_kick(d, 0)) < 0)
		return rc;
	if (vq_drv_wait_used(d, 0) != 1)
		return (vq_drv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? -VQ_E_RING_BROKEN
									     : -VQ_E_TIMEOUT;
	rc = vq_drv_get_used(d, 0, &token, &used_len);
	if (rc < 0)
		return rc;
	if (rc == 0 || token != buf.gpa)
		return -VQ_E_RING_USED_ID;
	if (used_len > len)
		used_len = len; /* device over-reported: trust only the buffer we gave */
	rc = vq_mem_read(vq_machine_mem(d->m), buf.gpa, out, used_len);
	return rc < 0 ? rc : (long)used_len;
}

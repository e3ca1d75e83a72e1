/* machine.c - memory, a bus of virtio-mmio and virtio-pci devices and one
 * deterministic event queue (a binary heap ordered by time, then
 * sequence). What the devices and transports call back into is apart:
 * notifications, interrupt lines, MSI and their fault points in
 * machine_irq.c; time, timers, fd watches and the waits for outside
 * devices in machine_env.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "machine_internal.h"

/* ---- trace sink ---- */

static void machine_emit(void *ctx, enum vq_ev kind, const char *who, int queue,
			 const char *text)
{
	struct vq_machine *m = ctx;
	struct vq_trace_event ev = {
		.time = m->now, .seq = m->trace_seq++, .kind = kind, .dev = who, .queue = queue,
		.text = text, .args = m->tracer.args, .nargs = m->tracer.nargs,
	};

	if (m->observer)
		m->observer(m->observer_ctx, &ev);
	if (!m->trace_out || !(m->trace_mask & (1u << kind)) ||
	    !vq_trace_filter_match(&m->trace_filter, &ev))
		return;
	vq_trace_write(m->trace_out, m->trace_fmt, &ev);
}

static void trace_sync(struct vq_machine *m)
{
	m->tracer.on = (m->trace_out != NULL && m->trace_mask != 0) || m->observer != NULL;
}

void vq_machine_trace_file(struct vq_machine *m, FILE *f, unsigned mask)
{
	m->trace_out = f;
	m->trace_mask = mask;
	m->trace_fmt = VQ_TRACE_TEXT;
	vq_trace_filter_all(&m->trace_filter);
	trace_sync(m);
}

void vq_machine_trace_sink(struct vq_machine *m, FILE *f, int fmt,
			   const struct vq_trace_filter *flt)
{
	m->trace_out = f;
	m->trace_mask = ~0u;
	m->trace_fmt = fmt;
	if (flt)
		m->trace_filter = *flt;
	else
		vq_trace_filter_all(&m->trace_filter);
	trace_sync(m);
}

void vq_machine_trace_observe(struct vq_machine *m, vq_trace_observer_fn fn, void *ctx)
{
	m->observer = fn;
	m->observer_ctx = ctx;
	trace_sync(m);
}

/* ---- life cycle ---- */

struct vq_machine *vq_machine_new(uint64_t seed)
{
	struct vq_machine *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->mem = vq_mem_new();
	if (m->mem)
		m->faults = vq_faults_new(m->mem, &m->prng, &m->tracer, &m->now);
	if (m->faults)
		m->iommu = vq_iommu_new();
	if (!m->iommu) {
		vq_faults_free(m->faults);
		vq_mem_free(m->mem);
		free(m);
		return NULL;
	}
	vq_prng_seed(&m->prng, seed);
	m->tracer.emit = machine_emit;
	m->tracer.ctx = m;
	m->trace_mask = ~0u;
	vq_trace_filter_all(&m->trace_filter);
	return m;
}

void vq_machine_free(struct vq_machine *m)
{
	if (!m)
		return;
	vq_machine_drop_timers(m);
	for (unsigned i = 0; i < m->nslots; i++)
		vq_machine_unserve_vhost(m, &m->slots[i]->dev);
	m->nwatches = 0;
	for (unsigned i = 0; i < m->nslots; i++) {
		vq_dev_destroy(&m->slots[i]->dev);
		free(m->slots[i]);
	}
	vq_faults_free(m->faults);
	vq_iommu_free(m->iommu);
	vq_mem_free(m->mem);
	free(m);
}

struct vq_mem *vq_machine_mem(struct vq_machine *m) { return m->mem; }
struct vq_prng *vq_machine_prng(struct vq_machine *m) { return &m->prng; }
struct vq_faults *vq_machine_faults(struct vq_machine *m) { return m->faults; }
struct vq_iommu *vq_machine_iommu(struct vq_machine *m) { return m->iommu; }
struct vq_tracer *vq_machine_tracer(struct vq_machine *m) { return &m->tracer; }
void vq_machine_seed(struct vq_machine *m, uint64_t seed) { vq_prng_seed(&m->prng, seed); }
uint64_t vq_machine_now(const struct vq_machine *m) { return m->now; }

int vq_machine_add_ram(struct vq_machine *m, uint64_t gpa, uint64_t size)
{
	int rc;

	for (unsigned i = 0; i < m->nslots; i++) /* RAM may not shadow a device window */
		if (size && m->slots[i]->base + VIRTIO_MMIO_SIZE > gpa &&
		    (m->slots[i]->base < gpa || m->slots[i]->base - gpa < size))
			return -VQ_E_INVAL;
	rc = vq_mem_add_region(m->mem, "ram", gpa, size);

	if (rc == 0)
		vq_trace(&m->tracer, VQ_EV_MACHINE, "mem", -1, "ram gpa=0x%" PRIx64 " size=0x%" PRIx64,
			 gpa, size);
	return rc;
}

/* ---- event queue ---- */

static bool event_before(const struct event *a, const struct event *b)
{
	return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

int vq_machine_schedule(struct vq_machine *m, uint64_t delay_ns, vq_event_fn fn, void *arg,
			uint64_t data)
{
	unsigned i;

	if (!fn)
		return -VQ_E_INVAL;
	if (m->nevents >= VQ_MACHINE_MAX_EVENTS)
		return -VQ_E_NOSPC;
	i = m->nevents++;
	m->heap[i] = (struct event){
		.time = delay_ns > UINT64_MAX - m->now ? UINT64_MAX : m->now + delay_ns,
		.seq = m->seq++, .fn = fn, .arg = arg, .data = data,
	};
	while (i > 0) { /* sift up */
		unsigned parent = (i - 1) / 2;
		struct event tmp;

		if (!event_before(&m->heap[i], &m->heap[parent]))
			break;
		tmp = m->heap[i];
		m->heap[i] = m->heap[parent];
		m->heap[parent] = tmp;
		i = parent;
	}
	return 0;
}

static struct event pop_earliest(struct vq_machine *m)
{
	struct event top = m->heap[0];
	unsigned i = 0;

	m->heap[0] = m->heap[--m->nevents];
	for (;;) { /* sift down */
		unsigned l = 2 * i + 1, r = l + 1, min = i;
		struct event tmp;

		if (l < m->nevents && event_before(&m->heap[l], &m->heap[min]))
			min = l;
		if (r < m->nevents && event_before(&m->heap[r], &m->heap[min]))
			min = r;
		if (min == i)
			break;
		tmp = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = tmp;
		i = min;
	}
	return top;
}

int vq_machine_step(struct vq_machine *m)
{
	struct event ev;

	if (m->nevents == 0)
		return 0;
	ev = pop_earliest(m);
	if (ev.time > m->now)
		m->now = ev.time;
	m->stats.events++;
	ev.fn(m, ev.arg, ev.data);
	return 1;
}

uint64_t vq_machine_run(struct vq_machine *m, uint64_t max_events)
{
	uint64_t n = 0;

	while (n < max_events && vq_machine_step(m))
		n++;
	return n;
}

unsigned vq_machine_pending(const struct vq_machine *m)
{
	return m->nevents;
}

/* ---- devices on the bus ---- */

struct vq_slot *vq_machine_find(struct vq_machine *m, const char *name)
{
	for (unsigned i = 0; i < m->nslots; i++)
		if (strcmp(m->slots[i]->dev.name, name) == 0)
			return m->slots[i];
	return NULL;
}

unsigned vq_machine_device_count(const struct vq_machine *m)
{
	return m->nslots;
}

struct vq_slot *vq_machine_slot(struct vq_machine *m, unsigned i)
{
	return i < m->nslots ? m->slots[i] : NULL;
}

struct vq_dev *vq_machine_add_mmio(struct vq_machine *m, const char *type, const char *name,
				   const char *opts, uint64_t base, unsigned irq, char *err,
				   size_t errlen)
{
	const struct vq_dev_type *t = vq_dev_type_find(type);
	struct vq_opts *o;
	struct vq_dev *d;

	if (!t) /* reported there */
		return vq_machine_add_mmio_opts(m, type, name, NULL, base, irq, err, errlen);
	o = vq_opts_from_string(opts, t->name, err, errlen);
	if (!o)
		return NULL;
	d = vq_machine_add_mmio_opts(m, type, name, o, base, irq, err, errlen);
	vq_opts_free(o);
	return d;
}

static struct vq_dev *add_slot(struct vq_machine *m, const char *type, const char *name,
			       struct vq_opts *o, int transport, uint64_t base, unsigned irq,
			       char *err, size_t errlen);

struct vq_dev *vq_machine_add_mmio_opts(struct vq_machine *m, const char *type,
					const char *name, struct vq_opts *o, uint64_t base,
					unsigned irq, char *err, size_t errlen)
{
	return add_slot(m, type, name, o, VQ_SLOT_MMIO, base, irq, err, errlen);
}

struct vq_dev *vq_machine_add_pci(struct vq_machine *m, const char *type, const char *name,
				  const char *opts, char *err, size_t errlen)
{
	const struct vq_dev_type *t = vq_dev_type_find(type);
	struct vq_opts *o;
	struct vq_dev *d;

	if (!t)
		return vq_machine_add_pci_opts(m, type, name, NULL, err, errlen);
	o = vq_opts_from_string(opts, t->name, err, errlen);
	if (!o)
		return NULL;
	d = vq_machine_add_pci_opts(m, type, name, o, err, errlen);
	vq_opts_free(o);
	return d;
}

struct vq_dev *vq_machine_add_pci_opts(struct vq_machine *m, const char *type,
				       const char *name, struct vq_opts *o, char *err,
				       size_t errlen)
{
	unsigned irq = VQ_MACHINE_MAX_IRQS;

	for (unsigned i = 0; i < VQ_MACHINE_MAX_IRQS; i++) {
		unsigned line = (i + 16) % VQ_MACHINE_MAX_IRQS;
		if (!m->irq_used[line]) {
			irq = line;
			break;
		}
	}
	return add_slot(m, type, name, o, VQ_SLOT_PCI, 0, irq, err, errlen);
}

static struct vq_dev *add_slot(struct vq_machine *m, const char *type, const char *name,
			       struct vq_opts *o, int transport, uint64_t base, unsigned irq,
			       char *err, size_t errlen)
{
	unsigned pci_dev = 0;
	const struct vq_dev_type *t = vq_dev_type_find(type);
	struct vq_transport_host host;
	char autoname[VQ_DEV_NAME_MAX];
	struct vq_opts *empty = NULL;
	struct vq_dev_generic generic;
	struct vq_slot *s;
	int rc;

	if (!t) {
		snprintf(err, errlen, "unknown device type '%s'", type ? type : "(null)");
		return NULL;
	}
	if (m->nslots >= VQ_MACHINE_MAX_DEVICES) {
		snprintf(err, errlen, "too many devices (at most %d)", VQ_MACHINE_MAX_DEVICES);
		return NULL;
	}
	if (transport == VQ_SLOT_PCI) { /* first free device number on bus 0 */
		for (pci_dev = 1; pci_dev < 32; pci_dev++) {
			bool taken = false;
			for (unsigned i = 0; i < m->nslots; i++)
				taken |= m->slots[i]->transport == VQ_SLOT_PCI &&
					 m->slots[i]->pci_dev == pci_dev;
			if (!taken)
				break;
		}
		if (pci_dev >= 32) {
			snprintf(err, errlen, "pci bus 0 is full (31 devices)");
			return NULL;
		}
		base = VQ_MACHINE_ECAM_BASE + ((uint64_t)pci_dev << 15);
	} else if (base % VIRTIO_MMIO_SIZE || base > UINT64_MAX - VIRTIO_MMIO_SIZE) {
		snprintf(err, errlen, "mmio base 0x%" PRIx64 " is not 0x%x-aligned", base,
			 VIRTIO_MMIO_SIZE);
		return NULL;
	}
	for (unsigned i = 0; transport == VQ_SLOT_MMIO && i < m->nslots; i++) {
		if (m->slots[i]->base == base) {
			snprintf(err, errlen, "mmio window 0x%" PRIx64 " is taken by %s", base,
				 m->slots[i]->dev.name);
			return NULL;
		}
	}
	if (transport == VQ_SLOT_MMIO && base >= VQ_MACHINE_ECAM_BASE &&
	    base < VQ_MACHINE_ECAM_BASE + VQ_MACHINE_ECAM_SIZE) {
		snprintf(err, errlen, "mmio window 0x%" PRIx64 " is inside the pci ECAM window",
			 base);
		return NULL;
	}
	if (vq_mem_translate(m->mem, base, 1, 0, NULL) ||
	    vq_mem_translate(m->mem, base + VIRTIO_MMIO_SIZE - 1, 1, 0, NULL)) {
		snprintf(err, errlen, "mmio window 0x%" PRIx64 " overlaps guest RAM", base);
		return NULL;
	}
	if (irq >= VQ_MACHINE_MAX_IRQS || m->irq_used[irq]) {
		snprintf(err, errlen, "interrupt line %u is %s", irq,
			 irq >= VQ_MACHINE_MAX_IRQS ? "out of range" : "taken");
		return NULL;
	}
	if (!name || !*name) { /* first free "<type><n>" */
		for (unsigned n = 0;; n++) {
			snprintf(autoname, sizeof(autoname), "%s%u", t->name, n);
			if (!vq_machine_find(m, autoname))
				break;
		}
		name = autoname;
	}
	if (strlen(name) >= VQ_DEV_NAME_MAX || vq_machine_find(m, name)) {
		snprintf(err, errlen, "device name '%s' is %s", name,
			 strlen(name) >= VQ_DEV_NAME_MAX ? "too long" : "taken");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->machine = m;
	s->base = base;
	s->irq = irq;
	s->transport = transport;
	s->pci_dev = pci_dev;
	if (!o && !(o = empty = vq_opts_new(t->name))) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	/* the device's own messages name it by type: "blk: size '1X' ..." */
	vq_opts_set_who(o, t->name);
	/* the options every device takes (packed=...), then the type's own */
	rc = vq_dev_generic_opts(o, &generic, err, errlen);
	if (rc == 0)
		rc = t->create(&s->dev, m->mem, &m->prng, name, o, err, errlen);
	vq_opts_free(empty);
	if (rc < 0) {
		free(s);
		return NULL;
	}
	vq_dev_generic_apply(&s->dev, &generic);
	s->dev.tracer = &m->tracer;
	s->dev.faults = m->faults;
	s->dev.iommu = m->iommu;
	/* every device on the machine can sit behind its IOMMU (spec 6.1);
	 * transport features every device gets from the machine's transports:
	 * queue reset (spec 2.6.1) and notification data (spec 2.9). Not for
	 * a device served outside: vhost-user carries none of the three. */
	if (!s->dev.outside_ms)
		s->dev.host_features[0] |= (1ull << VIRTIO_F_ACCESS_PLATFORM) |
					   (1ull << VIRTIO_F_RING_RESET) |
					   (1ull << VIRTIO_F_NOTIFICATION_DATA);
	s->dev.env = vq_machine_env(s);
	host = vq_machine_host(s, true);
	if (transport == VQ_SLOT_PCI && s->dev.cls->device_id == 0) {
		/* pci has no empty function: device id 0x1040 is reserved */
		snprintf(err, errlen, "%s: an empty transport exists on virtio-mmio only (device "
			 "id 0x1040 is reserved on pci, spec 4.1.2.1)", name);
		vq_dev_destroy(&s->dev);
		free(s);
		return NULL;
	}
	if (transport == VQ_SLOT_PCI) {
		rc = vq_pci_init(&s->pci, &s->dev, &host, &m->tracer);
		s->pci.cfg[VQ_PCI_INT_LINE] = (uint8_t)irq;
	} else {
		rc = vq_mmio_init(&s->mmio, &s->dev, &host, &m->tracer);
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: transport: %s", name, vq_strerror(rc));
		vq_dev_destroy(&s->dev);
		free(s);
		return NULL;
	}
	if (s->dev.cls->realize && (rc = s->dev.cls->realize(&s->dev)) < 0) {
		snprintf(err, errlen, "%s: %s", name,
			 s->dev.last_error_msg[0] ? s->dev.last_error_msg : vq_strerror(rc));
		vq_machine_drop_watches(m, &s->dev);
		vq_dev_destroy(&s->dev);
		free(s);
		return NULL;
	}
	m->irq_used[irq] = true;
	m->slots[m->nslots++] = s;
	if (transport == VQ_SLOT_PCI)
		vq_trace(&m->tracer, VQ_EV_MACHINE, name, -1,
			 "%s on pci 00:%02x.0 (ecam 0x%" PRIx64 ") irq %u", t->name, pci_dev, base,
			 irq);
	else
		vq_trace(&m->tracer, VQ_EV_MACHINE, name, -1, "%s on mmio 0x%" PRIx64 " irq %u",
			 t->name, base, irq);
	return &s->dev;
}

/* ---- vhost-user ---- */

static struct vq_slot *slot_of(struct vq_machine *m, const struct vq_dev *d)
{
	for (unsigned i = 0; i < m->nslots; i++)
		if (&m->slots[i]->dev == d)
			return m->slots[i];
	return NULL;
}

struct vq_vhost_backend *vq_machine_serve_vhost(struct vq_machine *m, struct vq_dev *d,
						const char *path, char *err, size_t errlen)
{
	struct vq_slot *s = slot_of(m, d);
	struct vq_transport_host host;
	struct vq_vhost_backend *b;

	if (!s) {
		snprintf(err, errlen, "the device is not on this machine");
		return NULL;
	}
	if (s->vhost) {
		snprintf(err, errlen, "%s is served already (on %s)", d->name, s->vhost->path);
		return NULL;
	}
	if (!(b = calloc(1, sizeof(*b)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	host = vq_machine_host(s, false);
	vq_vhost_backend_init(b, d, &host, &m->tracer);
	if (path && vq_vhost_backend_listen(b, path, err, errlen) < 0) {
		vq_vhost_backend_close(b);
		free(b);
		return NULL;
	}
	s->vhost = b;
	return b;
}

void vq_machine_unserve_vhost(struct vq_machine *m, struct vq_dev *d)
{
	struct vq_slot *s = slot_of(m, d);

	if (!s || !s->vhost)
		return;
	vq_vhost_backend_close(s->vhost);
	free(s->vhost);
	s->vhost = NULL;
}

/* ---- bus accesses ---- */

/* What decodes gpa: an mmio window, a pci function's config space (ECAM)
 * or its BAR. *where gets the kind, *off the offset inside it. */
enum { AT_MMIO, AT_CFG, AT_BAR };

static struct vq_slot *decode(struct vq_machine *m, uint64_t gpa, int *where, uint32_t *off)
{
	for (unsigned i = 0; i < m->nslots; i++) {
		struct vq_slot *s = m->slots[i];
		uint64_t bar;

		if (s->transport == VQ_SLOT_MMIO) {
			if (gpa >= s->base && gpa - s->base < VIRTIO_MMIO_SIZE) {
				*where = AT_MMIO;
				*off = (uint32_t)(gpa - s->base);
				return s;
			}
			continue;
		}
		if (gpa >= s->base && gpa - s->base < VQ_PCI_ECAM_FN_SIZE) {
			*where = AT_CFG;
			*off = (uint32_t)(gpa - s->base);
			return s;
		}
		bar = vq_pci_bar_base(&s->pci);
		if (bar != UINT64_MAX && gpa >= bar && gpa - bar < VQ_PCI_BAR_SIZE) {
			*where = AT_BAR;
			*off = (uint32_t)(gpa - bar);
			return s;
		}
	}
	return NULL;
}

/* An ECAM address no function answers: reads all-ones, as on real PCI. */
static bool ecam_empty(uint64_t gpa)
{
	return gpa >= VQ_MACHINE_ECAM_BASE && gpa - VQ_MACHINE_ECAM_BASE < VQ_MACHINE_ECAM_SIZE;
}

int vq_machine_read(struct vq_machine *m, uint64_t gpa, unsigned width, uint32_t *val)
{
	int where = AT_MMIO;
	uint32_t off = 0;
	struct vq_slot *s = decode(m, gpa, &where, &off);
	int rc;

	m->stats.reg_reads++;
	*val = 0;
	if (!s && ecam_empty(gpa) && (width == 1 || width == 2 || width == 4)) {
		*val = width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
		return 0;
	}
	if (!s) {
		m->stats.bad_accesses++;
		vq_trace(&m->tracer, VQ_EV_ERROR, "bus", -1,
			 "read%u at 0x%" PRIx64 ": no device decodes this address", width * 8, gpa);
		return -VQ_E_BAD_ACCESS;
	}
	rc = where == AT_MMIO  ? vq_mmio_read(&s->mmio, off, width, val)
	     : where == AT_CFG ? vq_pci_cfg_read(&s->pci, off, width, val)
			       : vq_pci_bar_read(&s->pci, off, width, val);
	if (rc == -VQ_E_BAD_ACCESS)
		m->stats.bad_accesses++;
	return rc;
}

int vq_machine_write(struct vq_machine *m, uint64_t gpa, unsigned width, uint32_t val)
{
	int where = AT_MMIO;
	uint32_t off = 0;
	struct vq_slot *s = decode(m, gpa, &where, &off);
	int rc;

	m->stats.reg_writes++;
	if (!s && ecam_empty(gpa))
		return 0; /* no function there: the write goes nowhere */
	if (!s) {
		m->stats.bad_accesses++;
		vq_trace(&m->tracer, VQ_EV_ERROR, "bus", -1,
			 "write%u 0x%x at 0x%" PRIx64 ": no device decodes this address", width * 8,
			 val, gpa);
		return -VQ_E_BAD_ACCESS;
	}
	rc = where == AT_MMIO  ? vq_mmio_write(&s->mmio, off, width, val)
	     : where == AT_CFG ? vq_pci_cfg_write(&s->pci, off, width, val)
			       : vq_pci_bar_write(&s->pci, off, width, val);
	if (rc == -VQ_E_BAD_ACCESS)
		m->stats.bad_accesses++;
	return rc;
}

void vq_machine_get_stats(const struct vq_machine *m, struct vq_machine_stats *st)
{
	*st = m->stats;
}

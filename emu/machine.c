/* machine.c - memory, a bus of virtio-mmio devices, interrupt lines and one
 * deterministic event queue (a binary heap ordered by time, then sequence).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine.h"

struct event {
	uint64_t time;
	uint64_t seq;       /* scheduling order breaks ties: determinism */
	vq_event_fn fn;
	void *arg;
	uint64_t data;
};

struct watch {
	struct vq_dev *dev;
	int fd;
	unsigned events;
	vq_dev_fd_fn fn;
	void *arg;
};

struct vq_machine {
	struct vq_mem *mem;
	struct vq_prng prng;
	struct vq_faults *faults;       /* fault-injection registry (fault.h) */
	struct vq_tracer tracer;
	FILE *trace_out;
	unsigned trace_mask;
	int trace_fmt;                  /* enum vq_trace_format */
	struct vq_trace_filter trace_filter;
	uint64_t trace_seq;             /* events emitted so far */
	vq_trace_observer_fn observer;
	void *observer_ctx;
	uint64_t now;
	uint64_t seq;
	struct event heap[VQ_MACHINE_MAX_EVENTS];
	unsigned nevents;
	struct vq_slot *slots[VQ_MACHINE_MAX_DEVICES];
	unsigned nslots;
	bool irq_level[VQ_MACHINE_MAX_IRQS];
	bool irq_used[VQ_MACHINE_MAX_IRQS];
	uint64_t irq_count[VQ_MACHINE_MAX_IRQS];
	struct watch watches[VQ_MACHINE_MAX_WATCHES];
	unsigned nwatches;
	struct vq_machine_stats stats;
	struct vq_iommu *iommu;         /* ACCESS_PLATFORM page table (iommu.h) */
	struct vq_msi msi_log[VQ_MACHINE_MSI_LOG]; /* ring of the last messages */
	uint64_t msi_count;
};

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

/* Forget the fd watches of a device that goes away. */
static void drop_device_watches(struct vq_machine *m, struct vq_dev *d)
{
	for (unsigned i = 0; i < m->nwatches;)
		if (m->watches[i].dev == d)
			m->watches[i] = m->watches[--m->nwatches];
		else
			i++;
}

/* Free pending device timers (their records live on the heap). */
static void timer_event(struct vq_machine *m, void *arg, uint64_t data);

void vq_machine_free(struct vq_machine *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nevents; i++)
		if (m->heap[i].fn == timer_event)
			free(m->heap[i].arg);
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

/* ---- transport host: notifications become events, irq lines ---- */

static void notify_event(struct vq_machine *m, void *arg, uint64_t q)
{
	struct vq_slot *s = arg;

	(void)m;
	s->notify_pending &= ~(1ull << q);
	vq_dev_notify(&s->dev, (unsigned)q);
}

static bool notify_fault(struct vq_machine *m, struct vq_slot *s, unsigned q);

static void slot_notify(void *ctx, struct vq_dev *d, unsigned q)
{
	struct vq_slot *s = ctx;
	struct vq_machine *m = s->machine;

	m->stats.notifies++;
	vq_trace(&m->tracer, VQ_EV_NOTIFY, d->name, (int)q, "kick");
	if (q >= VQ_DEV_MAX_QUEUES) {
		/* no queue there: deliver anyway so the device traces the refusal */
		vq_dev_notify(d, q);
		return;
	}
	if (m->faults->armed[VQ_FP_NOTIFY] && notify_fault(m, s, q))
		return;
	if (s->notify_pending & (1ull << q)) {
		m->stats.notifies_coalesced++;
		return; /* one queued event serves every kick before it runs */
	}
	if (vq_machine_schedule(m, 0, notify_event, s, q) == 0)
		s->notify_pending |= 1ull << q;
}

/* ---- injected faults on notifications and interrupts (fault.h) ---- */

/* Move line s->irq to level, bypassing fault points (dup, delay, spurious). */
static void irq_edge(struct vq_machine *m, struct vq_slot *s, bool level)
{
	if (m->irq_level[s->irq] == level)
		return;
	m->irq_level[s->irq] = level;
	if (level) {
		m->irq_count[s->irq]++;
		m->stats.interrupts++;
	}
	vq_trace(&m->tracer, VQ_EV_IRQ, s->dev.name, -1, "line %u %s (injected)", s->irq,
		 level ? "raised" : "lowered");
}

/* A delayed interrupt: raise the line if the transport still has
 * something to say (the driver may have acknowledged it meanwhile). */
static void irq_delayed_event(struct vq_machine *m, void *arg, uint64_t data)
{
	struct vq_slot *s = arg;

	(void)data;
	if (s->transport == VQ_SLOT_PCI ? s->pci.irq_level : s->mmio.interrupt_status != 0)
		irq_edge(m, s, true);
}

/* The device raises its line: true when a fault took it over. */
static bool irq_fault(struct vq_machine *m, struct vq_slot *s)
{
	struct vq_fault_ctx c = {.who = s->dev.name, .queue = -1};
	const struct vq_fault *f = vq_fault_check(m->faults, VQ_FP_IRQ, &c);

	if (!f)
		return false;
	switch (f->spec.action) {
	case VQ_FA_DROP:
		return true;
	case VQ_FA_DELAY:
		vq_machine_schedule(m, f->spec.arg, irq_delayed_event, s, 0);
		return true;
	case VQ_FA_DUP: /* one extra edge before the real one */
		irq_edge(m, s, true);
		irq_edge(m, s, false);
		return false;
	default:
		return false;
	}
}

/* A driver notification: true when a fault took it over. */
static bool notify_fault(struct vq_machine *m, struct vq_slot *s, unsigned q)
{
	struct vq_fault_ctx c = {.who = s->dev.name, .queue = (int)q};
	const struct vq_fault *f = vq_fault_check(m->faults, VQ_FP_NOTIFY, &c);

	if (!f)
		return false;
	switch (f->spec.action) {
	case VQ_FA_DROP:
		return true;
	case VQ_FA_DUP: /* an extra delivery, not coalesced with the normal one */
		vq_machine_schedule(m, 0, notify_event, s, q);
		return false;
	case VQ_FA_DELAY:
		if (s->notify_pending & (1ull << q))
			return false; /* one is queued already: this kick joins it */
		if (vq_machine_schedule(m, f->spec.arg, notify_event, s, q) == 0)
			s->notify_pending |= 1ull << q;
		return true;
	case VQ_FA_SPURIOUS: /* a pulse with no used buffer behind it */
		if (!m->irq_level[s->irq]) {
			irq_edge(m, s, true);
			irq_edge(m, s, false);
		}
		return false;
	default:
		return false;
	}
}

static void slot_set_irq(void *ctx, bool level)
{
	struct vq_slot *s = ctx;
	struct vq_machine *m = s->machine;

	if (m->irq_level[s->irq] == level)
		return;
	if (level && m->faults->armed[VQ_FP_IRQ] && irq_fault(m, s))
		return;
	m->irq_level[s->irq] = level;
	if (level) {
		m->irq_count[s->irq]++;
		m->stats.interrupts++;
	}
	vq_trace_args(&m->tracer, VQ_EV_IRQ, s->dev.name, -1,
		      (struct vq_trace_arg[]){VQ_TA_U("irq", s->irq), VQ_TA_U("level", level)}, 2,
		      "line %u %s", s->irq, level ? "raised" : "lowered");
}

/* An MSI message from a pci function: logged, counted, traced. */
static void slot_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct vq_slot *s = ctx;
	struct vq_machine *m = s->machine;
	struct vq_msi *e = &m->msi_log[m->msi_count++ % VQ_MACHINE_MSI_LOG];

	*e = (struct vq_msi){.time = m->now, .addr = addr, .data = data};
	snprintf(e->dev, sizeof(e->dev), "%s", s->dev.name);
	m->stats.interrupts++;
	vq_trace_args(&m->tracer, VQ_EV_IRQ, s->dev.name, -1,
		      (struct vq_trace_arg[]){VQ_TA_U("msi_addr", addr), VQ_TA_U("msi_data", data)},
		      2, "msi addr 0x%" PRIx64 " data 0x%x", addr, data);
}

uint64_t vq_machine_msi_count(const struct vq_machine *m)
{
	return m->msi_count;
}

int vq_machine_msi_get(const struct vq_machine *m, unsigned i, struct vq_msi *msg)
{
	uint64_t kept = m->msi_count < VQ_MACHINE_MSI_LOG ? m->msi_count : VQ_MACHINE_MSI_LOG;

	if (i >= kept)
		return -VQ_E_INVAL;
	*msg = m->msi_log[(m->msi_count - kept + i) % VQ_MACHINE_MSI_LOG];
	return 0;
}

uint64_t vq_machine_msi_match(const struct vq_machine *m, uint64_t addr, uint32_t data)
{
	uint64_t kept = m->msi_count < VQ_MACHINE_MSI_LOG ? m->msi_count : VQ_MACHINE_MSI_LOG, n = 0;

	for (uint64_t i = 0; i < kept; i++) {
		const struct vq_msi *e = &m->msi_log[(m->msi_count - kept + i) % VQ_MACHINE_MSI_LOG];
		n += e->addr == addr && e->data == data;
	}
	return n;
}

bool vq_machine_irq_level(const struct vq_machine *m, unsigned irq)
{
	return irq < VQ_MACHINE_MAX_IRQS && m->irq_level[irq];
}

uint64_t vq_machine_irq_count(const struct vq_machine *m, unsigned irq)
{
	return irq < VQ_MACHINE_MAX_IRQS ? m->irq_count[irq] : 0;
}

/* ---- device environment: time, timers, fd watches ---- */

static uint64_t env_now(void *ctx)
{
	return ((struct vq_slot *)ctx)->machine->now;
}

/* A device timer travels as an event whose arg is a small heap record. */
struct dev_timer {
	struct vq_dev *dev;
	vq_dev_timer_fn fn;
};

static void timer_event(struct vq_machine *m, void *arg, uint64_t data)
{
	struct dev_timer t = *(struct dev_timer *)arg;

	(void)m;
	free(arg);
	t.fn(t.dev, data);
}

static int env_schedule(void *ctx, struct vq_dev *d, uint64_t delay_ns, vq_dev_timer_fn fn,
			uint64_t data)
{
	struct vq_slot *s = ctx;
	struct dev_timer *t = malloc(sizeof(*t));
	int rc;

	if (!t)
		return -VQ_E_NOMEM;
	*t = (struct dev_timer){.dev = d, .fn = fn};
	rc = vq_machine_schedule(s->machine, delay_ns, timer_event, t, data);
	if (rc < 0)
		free(t);
	return rc;
}

static int env_watch(void *ctx, struct vq_dev *d, int fd, unsigned events, vq_dev_fd_fn fn,
		     void *arg)
{
	struct vq_machine *m = ((struct vq_slot *)ctx)->machine;

	/* a watch belongs to a device: two devices may watch one fd (stdio) */
	for (unsigned i = 0; i < m->nwatches; i++) {
		if (m->watches[i].fd == fd && m->watches[i].dev == d) {
			m->watches[i] = (struct watch){d, fd, events, fn, arg};
			return 0;
		}
	}
	if (m->nwatches >= VQ_MACHINE_MAX_WATCHES)
		return -VQ_E_NOSPC;
	m->watches[m->nwatches++] = (struct watch){d, fd, events, fn, arg};
	return 0;
}

static void env_unwatch(void *ctx, struct vq_dev *d, int fd)
{
	struct vq_machine *m = ((struct vq_slot *)ctx)->machine;

	for (unsigned i = 0; i < m->nwatches; i++) {
		if (m->watches[i].fd == fd && m->watches[i].dev == d) {
			m->watches[i] = m->watches[--m->nwatches];
			return;
		}
	}
}

int vq_machine_poll(struct vq_machine *m, int timeout_ms)
{
	struct pollfd pfd[VQ_MACHINE_MAX_WATCHES];
	struct watch w[VQ_MACHINE_MAX_WATCHES];
	unsigned n = m->nwatches;
	int rc, ran = 0;

	if (n == 0)
		return 0;
	/* callbacks may change the watch list: work on a copy */
	memcpy(w, m->watches, n * sizeof(w[0]));
	for (unsigned i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = w[i].fd, .events = (short)w[i].events};
	do
		rc = poll(pfd, n, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -VQ_E_SYS;
	for (unsigned i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		w[i].fn(w[i].dev, w[i].fd, (unsigned)pfd[i].revents, w[i].arg);
		ran++;
	}
	return ran;
}

/* Monotonic wall time in ms (waits for outside devices only). */
static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int vq_machine_wait_outside(struct vq_machine *m, uint64_t *deadline_ms)
{
	unsigned longest = 0;
	uint64_t now = wall_ms();
	int rc;

	for (unsigned i = 0; i < m->nslots; i++)
		if (m->slots[i]->dev.outside_ms > longest)
			longest = m->slots[i]->dev.outside_ms;
	if (!longest)
		return 0;
	if (!*deadline_ms)
		*deadline_ms = now + longest;
	if (now >= *deadline_ms) {
		m->stats.outside_timeouts++;
		for (unsigned i = 0; i < m->nslots; i++)
			if (m->slots[i]->dev.outside_ms)
				vq_trace(&m->tracer, VQ_EV_MACHINE, m->slots[i]->dev.name, -1,
					 "outside device: nothing within %u ms",
					 m->slots[i]->dev.outside_ms);
		return 0;
	}
	/* short slices: a back-end may write used entries without a call */
	rc = vq_machine_poll(m, (int)(*deadline_ms - now < 5 ? *deadline_ms - now : 5));
	return rc < 0 ? 0 : 1;
}

int vq_machine_settle(struct vq_machine *m, unsigned quiet_ms)
{
	uint64_t start = wall_ms(), quiet_until = start + quiet_ms, deadline;
	unsigned longest = 0;
	int total = 0;

	for (unsigned i = 0; i < m->nslots; i++)
		if (m->slots[i]->dev.outside_ms > longest)
			longest = m->slots[i]->dev.outside_ms;
	if (!longest)
		return 0;
	/* bounded by the longest outside timeout however busy they are */
	deadline = start + longest;
	for (;;) {
		int n = vq_machine_poll(m, 1);
		uint64_t now = wall_ms();

		if (n > 0) {
			total += n;
			quiet_until = now + quiet_ms;
		}
		if (n < 0 || now >= quiet_until || now >= deadline)
			break;
	}
	return total;
}

unsigned vq_machine_outside_count(const struct vq_machine *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->nslots; i++)
		n += m->slots[i]->dev.outside_ms != 0;
	return n;
}

unsigned vq_machine_watch_count(const struct vq_machine *m)
{
	return m->nwatches;
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
	s->dev.env = (struct vq_dev_env){.now = env_now, .schedule = env_schedule,
					 .watch = env_watch, .unwatch = env_unwatch, .ctx = s};
	host = (struct vq_transport_host){.notify = slot_notify, .set_irq = slot_set_irq, .ctx = s,
					  .msi = slot_msi};
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
		drop_device_watches(m, &s->dev);
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
	host = (struct vq_transport_host){.notify = slot_notify, .set_irq = slot_set_irq, .ctx = s};
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

/* machine_irq.c - the machine's side of the transports: driver
 * notifications become events (one queued per queue), interrupt lines and
 * MSI messages are counted, logged and traced, and the fault points on
 * both (drop, delay, duplicate, spurious) act here.
 */
#include <inttypes.h>
#include <stdio.h>

#include "machine_internal.h"

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

struct vq_transport_host vq_machine_host(struct vq_slot *s, bool msi)
{
	return (struct vq_transport_host){.notify = slot_notify, .set_irq = slot_set_irq,
					  .msi = msi ? slot_msi : NULL, .ctx = s};
}

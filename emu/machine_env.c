/* machine_env.c - what a device asks of the machine beside its bus: the
 * virtual time, timers (events carrying a small heap record), fd watches
 * and poll for live back-ends, and the bounded waits for devices whose
 * logic is an outside process (the only wall-clock time in a machine).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine_internal.h"

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

void vq_machine_drop_watches(struct vq_machine *m, struct vq_dev *d)
{
	for (unsigned i = 0; i < m->nwatches;)
		if (m->watches[i].dev == d)
			m->watches[i] = m->watches[--m->nwatches];
		else
			i++;
}

/* Free pending device timers (their records live on the heap). */
void vq_machine_drop_timers(struct vq_machine *m)
{
	for (unsigned i = 0; i < m->nevents; i++)
		if (m->heap[i].fn == timer_event)
			free(m->heap[i].arg);
}

struct vq_dev_env vq_machine_env(struct vq_slot *s)
{
	return (struct vq_dev_env){.now = env_now, .schedule = env_schedule, .watch = env_watch,
				   .unwatch = env_unwatch, .ctx = s};
}

/* fault.c - the fault-injection registry (see fault.h).
 *
 * Faults live in a small table indexed by id; armed[point] counts the
 * faults of each point so that a point with none costs one load and one
 * branch. Memory points ride on mem's fault ranges: each mem fault owns one
 * range (its gpa filter, or all of the address space), and mem calls our
 * hook when an access touches it; the hook runs the trigger and either
 * refuses the access, corrupts its bytes in place, or lets it through.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

static const char *const point_names[VQ_FP__COUNT] = {
	[VQ_FP_MEM_READ] = "mem.read",       [VQ_FP_MEM_WRITE] = "mem.write",
	[VQ_FP_BLK_READ] = "blk.read",       [VQ_FP_BLK_WRITE] = "blk.write",
	[VQ_FP_BLK_FLUSH] = "blk.flush",     [VQ_FP_BLK_DISCARD] = "blk.discard",
	[VQ_FP_NET_TX] = "net.tx",           [VQ_FP_NET_RX] = "net.rx",
	[VQ_FP_CONSOLE_WRITE] = "console.write", [VQ_FP_NOTIFY] = "notify",
	[VQ_FP_IRQ] = "irq",                 [VQ_FP_DEV_POP] = "dev.pop",
};

static const char *const action_names[VQ_FA__COUNT] = {
	[VQ_FA_DEFAULT] = "default", [VQ_FA_FAIL] = "fail",       [VQ_FA_CORRUPT] = "corrupt",
	[VQ_FA_IOERR] = "ioerr",     [VQ_FA_SHORT] = "short",     [VQ_FA_DROP] = "drop",
	[VQ_FA_DUP] = "dup",         [VQ_FA_REORDER] = "reorder", [VQ_FA_DELAY] = "delay",
	[VQ_FA_SPURIOUS] = "spurious", [VQ_FA_HANGUP] = "hangup", [VQ_FA_RESET] = "reset",
	[VQ_FA_CONFIG] = "config",   [VQ_FA_NEEDS_RESET] = "needs_reset",
};

#define A(x) (1u << VQ_FA_##x)
/* Actions each point can carry out; the first listed is its default. */
static const struct {
	enum vq_fault_action def;
	unsigned ok;
} point_actions[VQ_FP__COUNT] = {
	[VQ_FP_MEM_READ] = {VQ_FA_FAIL, A(FAIL) | A(CORRUPT)},
	[VQ_FP_MEM_WRITE] = {VQ_FA_FAIL, A(FAIL)},
	[VQ_FP_BLK_READ] = {VQ_FA_IOERR, A(IOERR) | A(SHORT)},
	[VQ_FP_BLK_WRITE] = {VQ_FA_IOERR, A(IOERR) | A(SHORT)},
	[VQ_FP_BLK_FLUSH] = {VQ_FA_IOERR, A(IOERR)},
	[VQ_FP_BLK_DISCARD] = {VQ_FA_IOERR, A(IOERR)},
	[VQ_FP_NET_TX] = {VQ_FA_DROP, A(DROP) | A(DUP) | A(REORDER) | A(CORRUPT)},
	[VQ_FP_NET_RX] = {VQ_FA_DROP, A(DROP) | A(DUP) | A(REORDER) | A(CORRUPT)},
	[VQ_FP_CONSOLE_WRITE] = {VQ_FA_HANGUP, A(HANGUP)},
	[VQ_FP_NOTIFY] = {VQ_FA_DROP, A(DROP) | A(DUP) | A(DELAY) | A(SPURIOUS)},
	[VQ_FP_IRQ] = {VQ_FA_DROP, A(DROP) | A(DUP) | A(DELAY)},
	[VQ_FP_DEV_POP] = {VQ_FA_NEEDS_RESET, A(RESET) | A(CONFIG) | A(NEEDS_RESET)},
};
#undef A

const char *vq_fault_point_name(enum vq_fault_point p)
{
	return (unsigned)p < VQ_FP__COUNT ? point_names[p] : NULL;
}

const char *vq_fault_action_name(enum vq_fault_action a)
{
	return (unsigned)a < VQ_FA__COUNT ? action_names[a] : NULL;
}

int vq_fault_point_parse(const char *name)
{
	for (int i = 0; name && i < VQ_FP__COUNT; i++)
		if (strcmp(point_names[i], name) == 0)
			return i;
	return -1;
}

int vq_fault_action_parse(const char *name)
{
	for (int i = 0; name && i < VQ_FA__COUNT; i++)
		if (strcmp(action_names[i], name) == 0)
			return i;
	return -1;
}

enum vq_fault_action vq_fault_default_action(enum vq_fault_point p)
{
	return (unsigned)p < VQ_FP__COUNT ? point_actions[p].def : VQ_FA_DEFAULT;
}

static bool is_mem_point(enum vq_fault_point p)
{
	return p == VQ_FP_MEM_READ || p == VQ_FP_MEM_WRITE;
}

bool vq_fault_point_has_sector(enum vq_fault_point p)
{
	return p == VQ_FP_BLK_READ || p == VQ_FP_BLK_WRITE || p == VQ_FP_BLK_DISCARD;
}

/* ---- triggers ---- */

/* Do [a, a+n) and [lo, hi) overlap? n 0 counts as 1. */
static bool overlaps(uint64_t a, uint64_t n, uint64_t lo, uint64_t hi)
{
	uint64_t last = a + (n ? n - 1 : 0);

	if (last < a)
		last = UINT64_MAX;
	return a < hi && last >= lo;
}

const char *vq_fault_trigger_str(const struct vq_fault *fl, char *buf, size_t len)
{
	const struct vq_fault_trigger *t = &fl->spec.trig;
	size_t o = 0;

#define PUT(...) \
	do { \
		int k_ = snprintf(buf + o, len - o, __VA_ARGS__); \
		if (k_ > 0 && (size_t)k_ < len - o) \
			o += (size_t)k_; \
	} while (0)
	buf[0] = 0;
	if (t->nth)
		PUT("nth=%" PRIu64 " ", t->nth);
	else if (t->every)
		PUT("every=%" PRIu64 " ", t->every);
	else if (t->prob > 0)
		PUT("prob=%g ", t->prob);
	else
		PUT("every ");
	if (t->has_gpa)
		PUT("gpa=[0x%" PRIx64 ",0x%" PRIx64 ") ", t->gpa0, t->gpa1);
	if (t->has_sector)
		PUT("sector=[%" PRIu64 ",%" PRIu64 ") ", t->sector0, t->sector1);
	if (t->has_time)
		PUT("time=[%" PRIu64 ",%" PRIu64 ") ", t->t0, t->t1);
	if (t->who[0])
		PUT("dev=%s ", t->who);
#undef PUT
	if (o)
		buf[o - 1] = 0; /* the last space */
	return buf;
}

/* Does a hit with context c pass fl's filters (device, time, gpa, sector)? */
static bool fault_filters(const struct vq_faults *f, const struct vq_fault *fl,
			  const struct vq_fault_ctx *c)
{
	const struct vq_fault_trigger *t = &fl->spec.trig;

	if (t->who[0] && (!c->who || strcmp(t->who, c->who) != 0))
		return false;
	if (t->has_time && (*f->now < t->t0 || *f->now >= t->t1))
		return false;
	if (t->has_gpa && (!c->has_gpa || !overlaps(c->gpa, c->len, t->gpa0, t->gpa1)))
		return false;
	if (t->has_sector &&
	    (!c->has_sector || !overlaps(c->sector, c->nsectors, t->sector0, t->sector1)))
		return false;
	return true;
}

/* Does fl fire on the hit it has just counted? Counts and traces it if so. */
static bool fault_fire(struct vq_faults *f, struct vq_fault *fl, const struct vq_fault_ctx *c)
{
	const struct vq_fault_trigger *t = &fl->spec.trig;
	bool fire;

	if (fl->spec.max && fl->fired >= fl->spec.max)
		return false;
	if (t->nth)
		fire = fl->hits == t->nth;
	else if (t->every)
		fire = fl->hits % t->every == 0;
	else if (t->prob > 0)
		/* 53 random bits as a double in [0, 1) */
		fire = (double)(vq_prng_next(f->prng) >> 11) * 0x1p-53 < t->prob;
	else
		fire = true;
	if (!fire)
		return false;
	fl->fired++;
	f->fired_total++;
	if (f->tracer && f->tracer->on) {
		char tb[160], where[96] = "";

		if (c->has_sector)
			snprintf(where, sizeof(where), " sector=%" PRIu64 "+%" PRIu64, c->sector,
				 c->nsectors);
		else if (c->has_gpa)
			snprintf(where, sizeof(where), " gpa=0x%" PRIx64 "+%" PRIu64, c->gpa, c->len);
		vq_trace(f->tracer, VQ_EV_FAULT, c->who ? c->who : "machine", c->queue,
			 "#%d %s %s -> %s%s (hit %" PRIu64 ", fired %" PRIu64 ")", fl->id,
			 point_names[fl->spec.point], vq_fault_trigger_str(fl, tb, sizeof(tb)),
			 action_names[fl->spec.action], where, fl->hits, fl->fired);
	}
	return true;
}

/* Every fault of the point counts every hit that passes its filters, so
 * "the 3rd read" means the 3rd whatever else is armed; when several would
 * fire on one hit the lowest id (the first armed) wins and the others only
 * count it. */
const struct vq_fault *vq_fault_check_slow(struct vq_faults *f, enum vq_fault_point p,
					   const struct vq_fault_ctx *c)
{
	struct vq_fault *won = NULL;

	for (unsigned i = 0; i < VQ_FAULT_MAX; i++) {
		struct vq_fault *fl = f->slot[i];

		if (!fl || fl->spec.point != p || !fault_filters(f, fl, c))
			continue;
		fl->hits++;
		if (!won && fault_fire(f, fl, c))
			won = fl;
	}
	return won;
}

void vq_fault_corrupt(const struct vq_fault *fl, uint8_t *p, size_t len)
{
	uint8_t x = fl->spec.xor_mask ? fl->spec.xor_mask : 0xff;

	for (size_t i = 0; i < len; i++)
		p[i] = fl->spec.use_fill ? fl->spec.fill : (uint8_t)(p[i] ^ x);
}

/* ---- guest memory ---- */

/* mem's hook: an access touches mem fault range id. 0 lets it through,
 * -VQ_E_MEM_FAULT refuses it. Ranges that are not ours (added straight
 * through vq_mem_fault_add) keep their plain meaning: refuse. */
static int mem_hook(void *ctx, int id, uint64_t gpa, uint64_t len, unsigned access,
		    uint8_t *host)
{
	struct vq_faults *f = ctx;
	struct vq_fault *fl = NULL;
	struct vq_fault_ctx c = {.who = "mem", .queue = -1, .has_gpa = true, .gpa = gpa,
				 .len = len};

	for (unsigned i = 0; i < VQ_FAULT_MAX; i++)
		if (f->slot[i] && is_mem_point(f->slot[i]->spec.point) && f->slot[i]->mem_id == id)
			fl = f->slot[i];
	if (!fl)
		return -VQ_E_MEM_FAULT;
	if (!fault_filters(f, fl, &c))
		return 0;
	fl->hits++;
	if (!fault_fire(f, fl, &c))
		return 0;
	if (fl->spec.action == VQ_FA_CORRUPT) {
		/* only the bytes of the access inside the fault's range */
		const struct vq_fault_trigger *t = &fl->spec.trig;
		uint64_t lo = gpa, hi = gpa + (len ? len : 1);

		(void)access;
		if (t->has_gpa) {
			if (lo < t->gpa0)
				lo = t->gpa0;
			if (hi > t->gpa1)
				hi = t->gpa1;
		}
		if (hi > lo)
			vq_fault_corrupt(fl, host + (lo - gpa), (size_t)(hi - lo));
		return 0;
	}
	return -VQ_E_MEM_FAULT;
}

/* ---- registry ---- */

struct vq_faults *vq_faults_new(struct vq_mem *mem, struct vq_prng *prng,
				struct vq_tracer *tracer, const uint64_t *now)
{
	struct vq_faults *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->mem = mem;
	f->prng = prng;
	f->tracer = tracer;
	f->now = now;
	vq_mem_set_fault_hook(mem, mem_hook, f);
	return f;
}

void vq_faults_free(struct vq_faults *f)
{
	if (!f)
		return;
	vq_fault_clear(f);
	vq_mem_set_fault_hook(f->mem, NULL, NULL);
	free(f);
}

int vq_fault_add(struct vq_faults *f, const struct vq_fault_spec *spec)
{
	const struct vq_fault_trigger *t = &spec->trig;
	struct vq_fault *fl;
	enum vq_fault_action a;
	int id = -1;

	if ((unsigned)spec->point >= VQ_FP__COUNT || (unsigned)spec->action >= VQ_FA__COUNT)
		return -VQ_E_INVAL;
	a = spec->action == VQ_FA_DEFAULT ? point_actions[spec->point].def : spec->action;
	if (!(point_actions[spec->point].ok & (1u << a)))
		return -VQ_E_INVAL;
	if (!(t->prob >= 0 && t->prob <= 1) ||
	    (t->has_gpa && t->gpa0 >= t->gpa1) || (t->has_sector && t->sector0 >= t->sector1) ||
	    (t->has_time && t->t0 >= t->t1) || (t->nth && t->every))
		return -VQ_E_INVAL;
	/* filters no hit of the point could pass would leave a dead fault */
	if ((t->has_gpa && !is_mem_point(spec->point)) ||
	    (t->has_sector && !vq_fault_point_has_sector(spec->point)))
		return -VQ_E_INVAL;
	for (int i = 0; i < VQ_FAULT_MAX; i++) {
		if (!f->slot[i]) {
			id = i;
			break;
		}
	}
	if (id < 0)
		return -VQ_E_NOSPC;
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -VQ_E_NOMEM;
	fl->spec = *spec;
	fl->spec.action = a;
	fl->id = id;
	fl->mem_id = -1;
	if (is_mem_point(spec->point)) {
		uint64_t lo = t->has_gpa ? t->gpa0 : 0;
		uint64_t len = t->has_gpa ? t->gpa1 - t->gpa0 : UINT64_MAX;
		int rc = vq_mem_fault_add(f->mem, lo, len,
					  spec->point == VQ_FP_MEM_READ ? VQ_ACC_READ : VQ_ACC_WRITE);

		if (rc < 0) {
			free(fl);
			return rc;
		}
		fl->mem_id = rc;
	}
	f->slot[id] = fl;
	f->armed[spec->point]++;
	f->count++;
	return id;
}

int vq_fault_remove(struct vq_faults *f, int id)
{
	struct vq_fault *fl;

	if (id < 0 || id >= VQ_FAULT_MAX || !(fl = f->slot[id]))
		return -VQ_E_INVAL;
	if (fl->mem_id >= 0)
		vq_mem_fault_remove(f->mem, fl->mem_id);
	f->armed[fl->spec.point]--;
	f->count--;
	f->slot[id] = NULL;
	free(fl);
	return 0;
}

void vq_fault_clear(struct vq_faults *f)
{
	for (int i = 0; i < VQ_FAULT_MAX; i++)
		if (f->slot[i])
			vq_fault_remove(f, i);
}

const struct vq_fault *vq_fault_get(const struct vq_faults *f, int id)
{
	return id >= 0 && id < VQ_FAULT_MAX ? f->slot[id] : NULL;
}

int64_t vq_fault_hits(const struct vq_faults *f, int id)
{
	const struct vq_fault *fl = vq_fault_get(f, id);

	return fl ? (int64_t)fl->hits : -VQ_E_INVAL;
}

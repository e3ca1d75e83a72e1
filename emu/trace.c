/* trace.c - structured trace events: formats, filters, records and the
 * breakpoint/watchpoint debugger.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "opts.h"
#include "ring.h"
#include "trace.h"

void vq_trace_args(struct vq_tracer *t, enum vq_ev kind, const char *who, int queue,
		   const struct vq_trace_arg *args, unsigned nargs, const char *fmt, ...)
{
	va_list ap;

	if (!t || !t->on || !t->emit)
		return;
	/* the fields ride along for this one emit call */
	t->args = args;
	t->nargs = nargs > VQ_TRACE_MAX_ARGS ? VQ_TRACE_MAX_ARGS : nargs;
	va_start(ap, fmt);
	vq_tracev(t, kind, who, queue, fmt, ap);
	va_end(ap);
	t->args = NULL;
	t->nargs = 0;
}

/* ---- formats ---- */

int vq_trace_format_parse(const char *s)
{
	if (s && strcmp(s, "text") == 0)
		return VQ_TRACE_TEXT;
	if (s && (strcmp(s, "json") == 0 || strcmp(s, "jsonl") == 0))
		return VQ_TRACE_JSON;
	return -1;
}

void vq_trace_write_text(FILE *f, const struct vq_trace_event *ev)
{
	if (ev->queue >= 0)
		fprintf(f, "%10" PRIu64 " %-8s %s.q%d %s\n", ev->time, vq_ev_name(ev->kind),
			ev->dev, ev->queue, ev->text);
	else
		fprintf(f, "%10" PRIu64 " %-8s %s %s\n", ev->time, vq_ev_name(ev->kind), ev->dev,
			ev->text);
}

/* A JSON string: quotes, backslash and control characters escaped. */
static void json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}

static void json_head(FILE *f, uint64_t time, uint64_t seq, const char *kind, const char *dev,
		      int queue, const char *text)
{
	fprintf(f, "{\"time\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"kind\":", time, seq);
	json_str(f, kind);
	fputs(",\"dev\":", f);
	json_str(f, dev);
	if (queue >= 0)
		fprintf(f, ",\"queue\":%d,\"text\":", queue);
	else
		fputs(",\"queue\":null,\"text\":", f);
	json_str(f, text);
}

void vq_trace_write_json(FILE *f, const struct vq_trace_event *ev)
{
	json_head(f, ev->time, ev->seq, vq_ev_name(ev->kind), ev->dev, ev->queue, ev->text);
	for (unsigned i = 0; i < ev->nargs; i++) {
		const struct vq_trace_arg *a = &ev->args[i];

		putc(',', f);
		json_str(f, a->key);
		putc(':', f);
		if (a->type == VQ_TA_U64) {
			fprintf(f, "%" PRIu64, a->u);
		} else if (a->type == VQ_TA_STR) {
			json_str(f, a->s ? a->s : "");
		} else {
			const struct vq_chain *c = a->chain;

			putc('[', f);
			for (uint32_t s = 0; c && s < c->nseg; s++)
				fprintf(f, "%s{\"gpa\":%" PRIu64 ",\"len\":%" PRIu32 ",\"write\":%s}",
					s ? "," : "", c->seg[s].gpa, c->seg[s].len,
					c->seg[s].writable ? "true" : "false");
			putc(']', f);
		}
	}
	fputs("}\n", f);
}

void vq_trace_write(FILE *f, int fmt, const struct vq_trace_event *ev)
{
	if (fmt == VQ_TRACE_JSON)
		vq_trace_write_json(f, ev);
	else
		vq_trace_write_text(f, ev);
}

/* ---- filters ---- */

void vq_trace_filter_all(struct vq_trace_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->kinds = ~0u;
}

int vq_ev_parse(const char *s)
{
	for (int e = 0; s && e < VQ_EV__COUNT; e++)
		if (strcmp(vq_ev_name((enum vq_ev)e), s) == 0)
			return e;
	return -1;
}

int vq_trace_filter_add_dev(struct vq_trace_filter *f, const char *name)
{
	if (strlen(name) >= VQ_TRACE_NAME_MAX)
		return -VQ_E_INVAL;
	if (f->ndevs >= VQ_TRACE_FILTER_DEVS)
		return -VQ_E_NOSPC;
	strcpy(f->devs[f->ndevs++], name);
	return 0;
}

int vq_trace_filter_parse(struct vq_trace_filter *f, const char *spec, char *err,
			  size_t errlen)
{
	char buf[512], *save = NULL;
	bool kinds_set = false;

	vq_trace_filter_all(f);
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "filter too long");
		return -VQ_E_INVAL;
	}
	strcpy(buf, spec);
	for (char *cl = strtok_r(buf, " \t;", &save); cl; cl = strtok_r(NULL, " \t;", &save)) {
		char *eq = strchr(cl, '='), *save2 = NULL;

		if (!eq) {
			snprintf(err, errlen, "'%s': expected key=value[,value...]", cl);
			return -VQ_E_INVAL;
		}
		*eq = '\0';
		for (char *v = strtok_r(eq + 1, ",", &save2); v; v = strtok_r(NULL, ",", &save2)) {
			if (!strcmp(cl, "kind") || !strcmp(cl, "kinds")) {
				int k = vq_ev_parse(v);
				if (k < 0) {
					snprintf(err, errlen, "unknown trace kind '%s'", v);
					return -VQ_E_INVAL;
				}
				if (!kinds_set)
					f->kinds = 0;
				kinds_set = true;
				f->kinds |= 1u << k;
			} else if (!strcmp(cl, "dev") || !strcmp(cl, "devs") ||
				   !strcmp(cl, "device") || !strcmp(cl, "devices")) {
				if (vq_trace_filter_add_dev(f, v) < 0) {
					snprintf(err, errlen, "device '%s': too long or too many", v);
					return -VQ_E_INVAL;
				}
			} else if (!strcmp(cl, "queue") || !strcmp(cl, "queues")) {
				uint64_t q;
				/* the option parser's integers: "010" is ten */
				if (vq_parse_uint(v, &q) < 0 || q >= 64) {
					snprintf(err, errlen, "bad queue '%s' (0..63)", v);
					return -VQ_E_INVAL;
				}
				f->queues |= 1ull << q;
			} else {
				snprintf(err, errlen, "unknown filter key '%s' (kind, dev, queue)", cl);
				return -VQ_E_INVAL;
			}
		}
	}
	return 0;
}

bool vq_trace_filter_match(const struct vq_trace_filter *f, const struct vq_trace_event *ev)
{
	if (!(f->kinds & (1u << ev->kind)))
		return false;
	if (f->queues && (ev->queue < 0 || ev->queue >= 64 || !(f->queues & (1ull << ev->queue))))
		return false;
	if (f->ndevs) {
		for (unsigned i = 0; i < f->ndevs; i++)
			if (strcmp(f->devs[i], ev->dev) == 0)
				return true;
		return false;
	}
	return true;
}

/* ---- records ---- */

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

void vq_trace_rec_copy(struct vq_trace_rec *r, const struct vq_trace_event *ev)
{
	memset(r, 0, sizeof(*r));
	r->time = ev->time;
	r->seq = ev->seq;
	r->kind = (int)ev->kind;
	r->queue = ev->queue;
	copy_str(r->dev, sizeof(r->dev), ev->dev);
	copy_str(r->text, sizeof(r->text), ev->text);
	for (unsigned i = 0; i < ev->nargs && i < VQ_TRACE_MAX_ARGS; i++) {
		const struct vq_trace_arg *a = &ev->args[i];

		r->args[r->nargs].key = a->key;
		r->args[r->nargs].type = a->type;
		r->args[r->nargs].u = a->u;
		if (a->type == VQ_TA_STR)
			copy_str(r->args[r->nargs].s, sizeof(r->args[0].s), a->s);
		if (a->type == VQ_TA_CHAIN && a->chain) {
			r->nseg_total = a->chain->nseg;
			for (uint32_t s = 0; s < a->chain->nseg && s < VQ_TRACE_REC_SEGS; s++) {
				r->seg[s].gpa = a->chain->seg[s].gpa;
				r->seg[s].len = a->chain->seg[s].len;
				r->seg[s].write = a->chain->seg[s].writable;
				r->nseg = s + 1;
			}
		}
		r->nargs++;
	}
}

const char *vq_trace_rec_kind(const struct vq_trace_rec *r)
{
	return r->kind == VQ_EV_WATCH ? "watch" : vq_ev_name((enum vq_ev)r->kind);
}

void vq_trace_rec_write_text(FILE *f, const struct vq_trace_rec *r)
{
	if (r->queue >= 0)
		fprintf(f, "%10" PRIu64 " %-8s %s.q%d %s\n", r->time, vq_trace_rec_kind(r), r->dev,
			r->queue, r->text);
	else
		fprintf(f, "%10" PRIu64 " %-8s %s %s\n", r->time, vq_trace_rec_kind(r), r->dev,
			r->text);
}

/* ---- debugger ---- */

static bool bp_match(const struct vq_bp *b, const struct vq_trace_event *ev)
{
	if (b->kinds && !(b->kinds & (1u << ev->kind)))
		return false;
	if (b->dev[0] && strcmp(b->dev, ev->dev) != 0)
		return false;
	if (b->queue >= 0 && b->queue != ev->queue)
		return false;
	for (unsigned c = 0; c < b->ncond; c++) {
		bool ok = false;

		for (unsigned i = 0; i < ev->nargs && !ok; i++) {
			const struct vq_trace_arg *a = &ev->args[i];

			if (strcmp(a->key, b->cond[c].key) != 0)
				continue;
			if (b->cond[c].is_str)
				ok = a->type == VQ_TA_STR && a->s && strcmp(a->s, b->cond[c].s) == 0;
			else
				ok = a->type == VQ_TA_U64 && a->u == b->cond[c].u;
		}
		if (!ok)
			return false;
	}
	return true;
}

static void debug_observe(void *ctx, const struct vq_trace_event *ev)
{
	struct vq_debug *d = ctx;

	if (d->logging) {
		if (d->nlog < VQ_DEBUG_LOG)
			vq_trace_rec_copy(&d->log[d->nlog], ev);
		d->nlog++;
	}
	if (d->hit) /* the first hit event wins until it is taken */
		return;
	/* every breakpoint matching this one event hits (and counts it) */
	for (unsigned i = 0; i < VQ_DEBUG_MAX_BPS; i++) {
		struct vq_bp *b = &d->bp[i];

		if (b->id > 0 && !b->watch && bp_match(b, ev)) {
			b->hits++;
			d->hit_ids[d->nhit++] = b->id;
		}
	}
	if (d->nhit) {
		d->hit = true;
		d->hit_id = d->hit_ids[0];
		vq_trace_rec_copy(&d->hit_ev, ev);
	}
}

static void debug_write(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vq_debug *d = ctx;
	uint64_t last = gpa + (len ? len : 1) - 1;

	if (d->hit)
		return;
	/* every watchpoint the write overlaps hits; the event names the first */
	for (unsigned i = 0; i < VQ_DEBUG_MAX_BPS; i++) {
		struct vq_bp *b = &d->bp[i];

		if (b->id > 0 && b->watch && gpa <= b->gpa + b->len - 1 && b->gpa <= last) {
			b->hits++;
			d->hit_ids[d->nhit++] = b->id;
		}
	}
	if (d->nhit) {
		struct vq_trace_rec *r = &d->hit_ev;
		const struct vq_bp *b = vq_debug_get(d, d->hit_ids[0]);

		d->hit = true;
		d->hit_id = b->id;
		memset(r, 0, sizeof(*r));
		r->time = vq_machine_now(d->m);
		r->kind = VQ_EV_WATCH;
		r->queue = -1;
		copy_str(r->dev, sizeof(r->dev), "mem");
		snprintf(r->text, sizeof(r->text),
			 "write gpa=0x%" PRIx64 " len=%" PRIu64 " (watch %d)", gpa, len, b->id);
		r->args[0].key = "gpa";
		r->args[0].u = gpa;
		r->args[1].key = "len";
		r->args[1].u = len;
		r->nargs = 2;
	}
}

/* Observer and write hook installed only while something needs them: an
 * idle debugger leaves the tracer off and the memory fast path intact. */
static void debug_sync(struct vq_debug *d)
{
	bool any_bp = d->logging;

	for (unsigned i = 0; i < VQ_DEBUG_MAX_BPS; i++)
		if (d->bp[i].id > 0 && !d->bp[i].watch)
			any_bp = true;
	vq_machine_trace_observe(d->m, any_bp ? debug_observe : NULL, d);
	vq_mem_set_write_hook(vq_machine_mem(d->m), d->nwatch ? debug_write : NULL, d);
}

struct vq_debug *vq_debug_new(struct vq_machine *m)
{
	struct vq_debug *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->m = m;
	d->next_id = 1;
	return d;
}

void vq_debug_free(struct vq_debug *d)
{
	if (!d)
		return;
	vq_machine_trace_observe(d->m, NULL, NULL);
	vq_mem_set_write_hook(vq_machine_mem(d->m), NULL, NULL);
	free(d);
}

static struct vq_bp *free_slot(struct vq_debug *d)
{
	for (unsigned i = 0; i < VQ_DEBUG_MAX_BPS; i++)
		if (d->bp[i].id <= 0)
			return &d->bp[i];
	return NULL;
}

int vq_debug_break(struct vq_debug *d, const struct vq_bp *spec)
{
	struct vq_bp *b = free_slot(d);

	if (!b)
		return -VQ_E_NOSPC;
	*b = *spec;
	b->watch = false;
	b->hits = 0;
	b->id = d->next_id++;
	debug_sync(d);
	return b->id;
}

int vq_debug_watch(struct vq_debug *d, uint64_t gpa, uint64_t len)
{
	struct vq_bp *b;

	if (len == 0 || gpa + len - 1 < gpa)
		return -VQ_E_INVAL;
	b = free_slot(d);
	if (!b)
		return -VQ_E_NOSPC;
	*b = (struct vq_bp){.id = d->next_id++, .watch = true, .queue = -1, .gpa = gpa,
			    .len = len};
	d->nwatch++;
	debug_sync(d);
	return b->id;
}

int vq_debug_delete(struct vq_debug *d, int id)
{
	for (unsigned i = 0; i < VQ_DEBUG_MAX_BPS; i++) {
		if (id > 0 && d->bp[i].id == id) {
			if (d->bp[i].watch)
				d->nwatch--;
			d->bp[i].id = 0;
			debug_sync(d);
			return 0;
		}
	}
	return -VQ_E_INVAL;
}

const struct vq_bp *vq_debug_get(const struct vq_debug *d, int id)
{
	for (unsigned i = 0; i < VQ_DEBUG_MAX_BPS; i++)
		if (id > 0 && d->bp[i].id == id)
			return &d->bp[i];
	return NULL;
}

void vq_debug_log(struct vq_debug *d, bool on)
{
	d->logging = on;
	d->nlog = 0;
	debug_sync(d);
}

int vq_debug_take_hit(struct vq_debug *d, struct vq_trace_rec *ev)
{
	if (!d->hit)
		return 0;
	if (ev)
		*ev = d->hit_ev;
	d->hit = false;
	d->nhit = 0;
	return d->hit_id;
}

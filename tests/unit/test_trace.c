/* test_trace.c - structured trace events: the text format is unchanged, JSON
 * Lines parse (checked by a small JSON parser here), filters, breakpoints
 * hit at the right event, watchpoints on guest-memory writes, stepping. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "trace.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define MMIO 0x0a000000ull
#define BUF (RAM + 0x800000)

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
};

static void rig_up(struct rig *r)
{
	char err[200];

	r->m = vq_machine_new(7);
	ck_assert_ptr_nonnull(r->m);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->dev = vq_machine_add_mmio(r->m, "rng", NULL, NULL, MMIO, 5, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, 5, RAM, 0x100000), 0);
}

static void rig_init(struct rig *r)
{
	ck_assert_int_eq(vq_drv_init(&r->drv, NULL, 1), 0);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

/* Queue n 16-byte device-writable buffers at BUF + 64*i and kick. */
static void offer(struct rig *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vq_buf b = {.gpa = BUF + 64 * i, .len = 16, .writable = true};
		ck_assert_int_ge(vq_drv_add(&r->drv, 0, &b, 1, i + 1), 0);
	}
	ck_assert_int_eq(vq_drv_kick(&r->drv, 0), 1);
}

/* The scenario every format test traces: init, two requests, run. */
static char *traced(int fmt, const struct vq_trace_filter *flt, bool legacy)
{
	struct rig r;
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	rig_up(&r);
	if (legacy)
		vq_machine_trace_file(r.m, f, ~0u);
	else
		vq_machine_trace_sink(r.m, f, fmt, flt);
	rig_init(&r);
	offer(&r, 2);
	vq_machine_run(r.m, 100);
	rig_down(&r);
	fclose(f);
	return text;
}

/* ---- a small JSON parser: validates one value, returns the end or NULL ---- */
static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *json_value(const char *p);

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_value(const char *p)
{
	p = ws(p);
	if (*p == '"')
		return json_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = json_string(ws(p));
				if (!p || *(p = ws(p)) != ':')
					return NULL;
				p++;
			}
			p = json_value(p);
			if (!p)
				return NULL;
			p = ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return NULL;
	while (isdigit((unsigned char)*p))
		p++;
	return p;
}

START_TEST(json_lines_parse_with_stable_keys)
{
	char *out = traced(VQ_TRACE_JSON, NULL, false);
	unsigned lines = 0, chains = 0;

	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		const char *end = json_value(line);

		ck_assert_msg(end && *end == '\0', "not one JSON object: %s", line);
		ck_assert_msg(!strncmp(line, "{\"time\":", 8), "key order: %s", line);
		ck_assert_ptr_nonnull(strstr(line, ",\"seq\":"));
		ck_assert(strstr(line, ",\"seq\":") < strstr(line, ",\"kind\":"));
		ck_assert(strstr(line, ",\"kind\":") < strstr(line, ",\"dev\":"));
		ck_assert(strstr(line, ",\"dev\":") < strstr(line, ",\"queue\":"));
		ck_assert(strstr(line, ",\"queue\":") < strstr(line, ",\"text\":"));
		if (strstr(line, "\"kind\":\"chain\"")) {
			chains++;
			ck_assert_ptr_nonnull(strstr(line, "\"head\":"));
			ck_assert_ptr_nonnull(strstr(line, "\"segs\":[{\"gpa\":"));
		}
		lines++;
	}
	ck_assert_uint_gt(lines, 10);
	ck_assert_uint_eq(chains, 2);
	free(out);
}
END_TEST

START_TEST(json_escapes_strings)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	struct vq_trace_event ev = {.time = 5, .seq = 1, .kind = VQ_EV_ERROR, .dev = "d\"x",
				    .queue = -1, .text = "a\\b\n\tc"};
	const char *end;

	vq_trace_write_json(f, &ev);
	fclose(f);
	ck_assert_str_eq(text, "{\"time\":5,\"seq\":1,\"kind\":\"error\",\"dev\":\"d\\\"x\","
			       "\"queue\":null,\"text\":\"a\\\\b\\u000a\\u0009c\"}\n");
	text[len - 1] = '\0';
	end = json_value(text);
	ck_assert(end && !*end);
	free(text);
}
END_TEST

START_TEST(text_format_is_unchanged)
{
	char *legacy = traced(VQ_TRACE_TEXT, NULL, true);
	char *now = traced(VQ_TRACE_TEXT, NULL, false);

	ck_assert_str_eq(legacy, now);
	ck_assert_ptr_nonnull(strstr(now, "         0 chain    rng0.q0 head=0 nseg=1 read=0 "
					  "write=16\n"));
	free(legacy);
	free(now);
}
END_TEST

START_TEST(filters_parse_and_select)
{
	struct vq_trace_filter f;
	char err[128];
	char *out;
	unsigned n = 0;

	ck_assert_int_eq(vq_trace_filter_parse(&f, "kind=chain,used dev=rng0;queue=0", err,
					       sizeof(err)), 0);
	ck_assert_uint_eq(f.kinds, (1u << VQ_EV_CHAIN) | (1u << VQ_EV_USED));
	ck_assert_uint_eq(f.ndevs, 1);
	ck_assert_uint_eq(f.queues, 1);
	ck_assert_err(vq_trace_filter_parse(&f, "kind=bogus", err, sizeof(err)), VQ_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "bogus"));
	ck_assert_err(vq_trace_filter_parse(&f, "queue=64", err, sizeof(err)), VQ_E_INVAL);
	ck_assert_err(vq_trace_filter_parse(&f, "colour=red", err, sizeof(err)), VQ_E_INVAL);
	ck_assert_err(vq_trace_filter_parse(&f, "kind", err, sizeof(err)), VQ_E_INVAL);

	ck_assert_int_eq(vq_trace_filter_parse(&f, "kind=chain,used,irq queue=0", err,
					       sizeof(err)), 0);
	out = traced(VQ_TRACE_TEXT, &f, false);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++) {
		ck_assert_msg(strstr(line, " chain ") || strstr(line, " used ") ||
			      strstr(line, " irq "), "%s", line);
		ck_assert_msg(strstr(line, "rng0.q0 "), "queue filter: %s", line);
	}
	ck_assert_uint_eq(n, 5); /* 2 chains, 2 used, 1 used-buffer interrupt */
	free(out);

	ck_assert_int_eq(vq_trace_filter_parse(&f, "dev=nosuch", err, sizeof(err)), 0);
	out = traced(VQ_TRACE_JSON, &f, false);
	ck_assert_str_eq(out ? out : "", "");
	free(out);
}
END_TEST

static int rec_u(const struct vq_trace_rec *r, const char *key, uint64_t *v)
{
	for (unsigned i = 0; i < r->nargs; i++)
		if (!strcmp(r->args[i].key, key)) {
			*v = r->args[i].u;
			return 1;
		}
	return 0;
}

START_TEST(breakpoint_hits_the_chain_with_its_head)
{
	struct rig r;
	struct vq_debug *d;
	struct vq_bp spec = {.kinds = 1u << VQ_EV_CHAIN, .queue = 0, .ncond = 1};
	struct vq_trace_rec ev;
	uint64_t head = 99;
	int id;

	rig_up(&r);
	rig_init(&r);
	d = vq_debug_new(r.m);
	ck_assert_ptr_nonnull(d);
	ck_assert(!vq_machine_tracer(r.m)->on); /* idle debugger: tracing stays off */
	strcpy(spec.dev, "rng0");
	strcpy(spec.cond[0].key, "head");
	spec.cond[0].u = 1;
	id = vq_debug_break(d, &spec);
	ck_assert_int_gt(id, 0);
	ck_assert(vq_machine_tracer(r.m)->on);
	offer(&r, 3);
	while (!d->hit && vq_machine_step(r.m))
		;
	ck_assert_int_eq(vq_debug_take_hit(d, &ev), id);
	ck_assert_int_eq(ev.kind, VQ_EV_CHAIN);
	ck_assert_str_eq(ev.dev, "rng0");
	ck_assert_int_eq(ev.queue, 0);
	ck_assert(rec_u(&ev, "head", &head));
	ck_assert_uint_eq(head, 1);
	ck_assert_uint_eq(ev.nseg, 1);
	ck_assert_uint_eq(ev.seg[0].gpa, BUF + 64);
	ck_assert(ev.seg[0].write);
	ck_assert_uint_eq(vq_debug_get(d, id)->hits, 1);
	ck_assert_int_eq(vq_debug_take_hit(d, NULL), 0);
	/* a condition on a string field, and one that never matches */
	ck_assert_int_eq(vq_debug_delete(d, id), 0);
	ck_assert_err(vq_debug_delete(d, id), VQ_E_INVAL);
	ck_assert(!vq_machine_tracer(r.m)->on);
	spec.cond[0].u = 77;
	id = vq_debug_break(d, &spec);
	offer(&r, 1);
	vq_machine_run(r.m, 100);
	ck_assert(!d->hit);
	vq_debug_free(d);
	ck_assert(!vq_machine_tracer(r.m)->on);
	rig_down(&r);
}
END_TEST

START_TEST(breakpoint_on_status_and_error)
{
	struct rig r;
	struct vq_debug *d;
	struct vq_bp st = {.kinds = 1u << VQ_EV_STATUS, .queue = -1, .ncond = 1};
	struct vq_bp er = {.kinds = 1u << VQ_EV_ERROR, .queue = -1};
	struct vq_trace_rec ev;
	int ids, ide;
	uint32_t v;

	rig_up(&r);
	d = vq_debug_new(r.m);
	strcpy(st.cond[0].key, "to");
	st.cond[0].u = 0; /* a reset */
	ids = vq_debug_break(d, &st);
	ide = vq_debug_break(d, &er);
	rig_init(&r); /* starts with a reset: the first hit, taken here */
	ck_assert_int_eq(vq_debug_take_hit(d, NULL), ids);
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_STATUS, 4, 0), 0);
	ck_assert_int_eq(vq_debug_take_hit(d, &ev), ids);
	ck_assert_int_eq(ev.kind, VQ_EV_STATUS);
	/* a read of a register that does not exist is an error event */
	vq_machine_read(r.m, MMIO + 0x1f8, 4, &v);
	ck_assert_int_eq(vq_debug_take_hit(d, &ev), ide);
	ck_assert_int_eq(ev.kind, VQ_EV_ERROR);
	vq_debug_free(d);
	rig_down(&r);
}
END_TEST

START_TEST(two_breakpoints_on_one_event_both_hit)
{
	struct rig r;
	struct vq_debug *d;
	struct vq_bp chain = {.kinds = 1u << VQ_EV_CHAIN, .queue = -1};
	struct vq_bp any_rng = {.queue = 0};
	struct vq_trace_rec ev;
	int a, b, w1, w2;

	rig_up(&r);
	rig_init(&r);
	d = vq_debug_new(r.m);
	strcpy(any_rng.dev, "rng0");
	any_rng.kinds = 1u << VQ_EV_CHAIN;
	a = vq_debug_break(d, &chain);
	b = vq_debug_break(d, &any_rng);
	offer(&r, 1);
	while (!d->hit && vq_machine_step(r.m))
		;
	ck_assert_uint_eq(d->nhit, 2);
	ck_assert_int_eq(d->hit_ids[0], a);
	ck_assert_int_eq(d->hit_ids[1], b);
	ck_assert_uint_eq(vq_debug_get(d, a)->hits, 1);
	ck_assert_uint_eq(vq_debug_get(d, b)->hits, 1);
	ck_assert_int_eq(vq_debug_take_hit(d, &ev), a);
	ck_assert_uint_eq(d->nhit, 0);
	ck_assert_int_eq(vq_debug_delete(d, a), 0);
	ck_assert_int_eq(vq_debug_delete(d, b), 0);
	vq_machine_run(r.m, 100);
	/* overlapping watchpoints: one write hits both */
	w1 = vq_debug_watch(d, BUF, 8);
	w2 = vq_debug_watch(d, BUF + 4, 8);
	offer(&r, 1);
	while (!d->hit && vq_machine_step(r.m))
		;
	ck_assert_uint_eq(d->nhit, 2);
	ck_assert_uint_eq(vq_debug_get(d, w1)->hits, 1);
	ck_assert_uint_eq(vq_debug_get(d, w2)->hits, 1);
	ck_assert_int_eq(vq_debug_take_hit(d, &ev), w1);
	ck_assert_int_eq(ev.kind, VQ_EV_WATCH);
	vq_debug_free(d);
	rig_down(&r);
}
END_TEST

START_TEST(watchpoint_on_a_written_range)
{
	struct rig r;
	struct vq_debug *d;
	struct vq_trace_rec ev;
	uint64_t gpa = 0;
	struct vq_mem_stats before, after;
	int far, near;

	rig_up(&r);
	rig_init(&r);
	d = vq_debug_new(r.m);
	far = vq_debug_watch(d, BUF + 0x10000, 8);
	ck_assert_int_gt(far, 0);
	ck_assert(!vq_machine_tracer(r.m)->on); /* watchpoints need no trace events */
	ck_assert_err(vq_debug_watch(d, 0, 0), VQ_E_INVAL);
	offer(&r, 1);
	vq_machine_run(r.m, 100);
	ck_assert(!d->hit);
	near = vq_debug_watch(d, BUF + 64 + 8, 4);
	offer(&r, 2); /* buffers at BUF and BUF + 64: the second one overlaps */
	while (!d->hit && vq_machine_step(r.m))
		;
	ck_assert_int_eq(vq_debug_take_hit(d, &ev), near);
	ck_assert_int_eq(ev.kind, VQ_EV_WATCH);
	ck_assert_str_eq(vq_trace_rec_kind(&ev), "watch");
	ck_assert(rec_u(&ev, "gpa", &gpa));
	ck_assert_uint_eq(gpa, BUF + 64);
	/* deleting every watch gives the fast path back */
	ck_assert_int_eq(vq_debug_delete(d, near), 0);
	ck_assert_int_eq(vq_debug_delete(d, far), 0);
	vq_mem_get_stats(vq_machine_mem(r.m), &before);
	{
		void *host;
		ck_assert(vq_mem_translate(vq_machine_mem(r.m), BUF, 4, VQ_ACC_WRITE, NULL));
		ck_assert(vq_mem_translate_hit(vq_machine_mem(r.m), BUF, 4, &host));
	}
	vq_mem_get_stats(vq_machine_mem(r.m), &after);
	ck_assert_uint_eq(after.translations, before.translations + 2);
	ck_assert_int_eq(vq_mem_dirty_collect(vq_machine_mem(r.m), &gpa, 1), -VQ_E_STATE);
	vq_debug_free(d);
	rig_down(&r);
}
END_TEST

START_TEST(watchpoint_and_dirty_log_coexist)
{
	struct rig r;
	struct vq_debug *d;
	uint64_t pages[8];
	long n;

	rig_up(&r);
	rig_init(&r);
	ck_assert_int_eq(vq_mem_dirty_start(vq_machine_mem(r.m)), 0);
	d = vq_debug_new(r.m);
	ck_assert_int_gt(vq_debug_watch(d, BUF, 4), 0);
	vq_debug_free(d); /* the log stays on */
	offer(&r, 1);
	vq_machine_run(r.m, 100);
	n = vq_mem_dirty_collect(vq_machine_mem(r.m), pages, 8);
	ck_assert_int_gt(n, 0);
	vq_mem_dirty_stop(vq_machine_mem(r.m));
	rig_down(&r);
}
END_TEST

START_TEST(step_logs_the_events_it_ran)
{
	struct rig r;
	struct vq_debug *d;
	bool chain = false, used = false;

	rig_up(&r);
	rig_init(&r);
	d = vq_debug_new(r.m);
	offer(&r, 1);
	vq_debug_log(d, true);
	ck_assert(vq_machine_tracer(r.m)->on);
	ck_assert_int_eq(vq_machine_step(r.m), 1);
	ck_assert_uint_gt(d->nlog, 2);
	for (unsigned i = 0; i < d->nlog && i < VQ_DEBUG_LOG; i++) {
		chain |= d->log[i].kind == VQ_EV_CHAIN;
		used |= d->log[i].kind == VQ_EV_USED;
		if (i)
			ck_assert_uint_eq(d->log[i].seq, d->log[i - 1].seq + 1);
	}
	ck_assert(chain && used);
	vq_debug_log(d, false);
	ck_assert(!vq_machine_tracer(r.m)->on);
	ck_assert_uint_eq(d->nlog, 0);
	vq_debug_free(d);
	rig_down(&r);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, json_lines_parse_with_stable_keys);
	tcase_add_test(tc, json_escapes_strings);
	tcase_add_test(tc, text_format_is_unchanged);
	tcase_add_test(tc, filters_parse_and_select);
	tcase_add_test(tc, breakpoint_hits_the_chain_with_its_head);
	tcase_add_test(tc, breakpoint_on_status_and_error);
	tcase_add_test(tc, watchpoint_on_a_written_range);
	tcase_add_test(tc, two_breakpoints_on_one_event_both_hit);
	tcase_add_test(tc, watchpoint_and_dirty_log_coexist);
	tcase_add_test(tc, step_logs_the_events_it_ran);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(trace_suite());
}

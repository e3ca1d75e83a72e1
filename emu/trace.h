/* trace.h - structured trace events, their text and JSON Lines formats,
 * filters, and a small debugger (breakpoints on events, watchpoints on
 * guest-memory writes) built on the machine's trace observer.
 *
 * Emit sites call vq_trace() (text only) or vq_trace_args() (text plus
 * kind-specific fields). Both cost one branch while the tracer is off. The
 * machine stamps each event with its virtual time and a sequence number and
 * hands it to its file sink (text or JSON, filtered) and to its observer.
 */
#ifndef VQSIM_TRACE_H
#define VQSIM_TRACE_H

#include <stdio.h>

#include "base.h"

struct vq_chain;
struct vq_machine;

/* Type of a kind-specific field. */
enum vq_targ_type {
	VQ_TA_U64,   /* unsigned number */
	VQ_TA_STR,   /* string */
	VQ_TA_CHAIN  /* the segments of a chain: "segs" */
};

/* One kind-specific field; key is a string literal. */
struct vq_trace_arg {
	const char *key;
	enum vq_targ_type type;
	uint64_t u;
	const char *s;
	const struct vq_chain *chain;
};

#define VQ_TA_U(k, v) ((struct vq_trace_arg){.key = (k), .type = VQ_TA_U64, .u = (v)})
#define VQ_TA_S(k, v) ((struct vq_trace_arg){.key = (k), .type = VQ_TA_STR, .s = (v)})
#define VQ_TA_SEGS(c) ((struct vq_trace_arg){.key = "segs", .type = VQ_TA_CHAIN, .chain = (c)})

#define VQ_TRACE_MAX_ARGS 8

/* One event as the machine sees it; pointers live for the emit call only. */
struct vq_trace_event {
	uint64_t time;               /* virtual ns */
	uint64_t seq;                /* events emitted by this machine before */
	enum vq_ev kind;
	const char *dev;             /* device name, "mem", "bus" */
	int queue;                   /* -1: not about a queue */
	const char *text;            /* the readable line's tail */
	const struct vq_trace_arg *args;
	unsigned nargs;
};

/* As vq_trace(), with nargs kind-specific fields for structured sinks. */
void vq_trace_args(struct vq_tracer *t, enum vq_ev kind, const char *who, int queue,
		   const struct vq_trace_arg *args, unsigned nargs, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* ---- formats ---- */
enum vq_trace_format { VQ_TRACE_TEXT, VQ_TRACE_JSON };

/* "text" or "json" -> enum vq_trace_format; -1 if neither. */
int vq_trace_format_parse(const char *s);
/* Write ev as one text line: "%10time kind     dev[.qN] text". */
void vq_trace_write_text(FILE *f, const struct vq_trace_event *ev);
/* Write ev as one JSON object on one line; keys in a fixed order: time,
 * seq, kind, dev, queue (null when none), text, then the kind's fields in
 * the order the emit site gives them. */
void vq_trace_write_json(FILE *f, const struct vq_trace_event *ev);
/* Write ev in format fmt. */
void vq_trace_write(FILE *f, int fmt, const struct vq_trace_event *ev);

/* ---- filters ---- */
#define VQ_TRACE_FILTER_DEVS 8
#define VQ_TRACE_NAME_MAX 32

/* Which events a sink takes: kinds (bit per enum vq_ev), device names (none
 * listed: all), queues (bit q; 0: all, otherwise events about no queue are
 * dropped too). */
struct vq_trace_filter {
	unsigned kinds;
	unsigned ndevs;
	char devs[VQ_TRACE_FILTER_DEVS][VQ_TRACE_NAME_MAX];
	uint64_t queues;
};

/* A filter passing everything. */
void vq_trace_filter_all(struct vq_trace_filter *f);
/* Kind named s ("chain"), or -1. */
int vq_ev_parse(const char *s);
/* Parse "kind=chain,used dev=blk0 queue=0,1" (clauses separated by blanks
 * or ';', values by ','; kinds/devs/devices/queues also accepted) into f,
 * starting from all. 0, or -VQ_E_INVAL with a message in err. */
int vq_trace_filter_parse(struct vq_trace_filter *f, const char *spec, char *err,
			  size_t errlen);
/* Add a device name to f (-VQ_E_NOSPC when full, -VQ_E_INVAL too long). */
int vq_trace_filter_add_dev(struct vq_trace_filter *f, const char *name);
/* Whether ev passes f. */
bool vq_trace_filter_match(const struct vq_trace_filter *f, const struct vq_trace_event *ev);

/* ---- event records: copies that outlive the emit call ---- */
#define VQ_TRACE_REC_SEGS 16
#define VQ_EV_WATCH VQ_EV__COUNT  /* kind of a record made by a watchpoint */

struct vq_trace_rec {
	uint64_t time, seq;
	int kind;                   /* enum vq_ev, or VQ_EV_WATCH */
	int queue;
	char dev[VQ_TRACE_NAME_MAX];
	char text[256];
	unsigned nargs;
	struct {
		const char *key;
		enum vq_targ_type type;
		uint64_t u;
		char s[48];
	} args[VQ_TRACE_MAX_ARGS];
	unsigned nseg;              /* chain segments kept (at most VQ_TRACE_REC_SEGS) */
	uint32_t nseg_total;
	struct {
		uint64_t gpa;
		uint32_t len;
		bool write;
	} seg[VQ_TRACE_REC_SEGS];
};

/* Copy ev into r. */
void vq_trace_rec_copy(struct vq_trace_rec *r, const struct vq_trace_event *ev);
/* Name of a record's kind (vq_ev_name(), or "watch"). */
const char *vq_trace_rec_kind(const struct vq_trace_rec *r);
/* Write r as a text line (same layout as vq_trace_write_text). */
void vq_trace_rec_write_text(FILE *f, const struct vq_trace_rec *r);

/* ---- debugger: breakpoints and watchpoints ---- */
#define VQ_DEBUG_MAX_BPS 32
#define VQ_DEBUG_MAX_CONDS 4
#define VQ_DEBUG_LOG 256

/* A breakpoint: an event of one of kinds (0: any), of device dev ("" any),
 * about queue (-1: any), whose fields match every cond (field key equal to
 * the number u or the string s). A watchpoint: a write by anyone through
 * the translate/mark-dirty paths (chain pop of a writable segment, used
 * ring publish, vq_mem_write) touching [gpa, gpa+len). */
struct vq_bp {
	int id;                      /* > 0 when in use */
	bool watch;
	unsigned kinds;
	char dev[VQ_TRACE_NAME_MAX];
	int queue;
	unsigned ncond;
	struct {
		char key[16];
		bool is_str;
		uint64_t u;
		char s[48];
	} cond[VQ_DEBUG_MAX_CONDS];
	uint64_t gpa, len;           /* watchpoints */
	uint64_t hits;
};

struct vq_debug {
	struct vq_machine *m;
	struct vq_bp bp[VQ_DEBUG_MAX_BPS];
	int next_id;
	unsigned nwatch;             /* watchpoints in use */
	bool hit;                    /* a breakpoint hit since vq_debug_take_hit() */
	int hit_id;                  /* the first (lowest slot) breakpoint that hit */
	unsigned nhit;               /* every breakpoint that matched the hit event */
	int hit_ids[VQ_DEBUG_MAX_BPS];
	struct vq_trace_rec hit_ev;
	bool logging;                /* keep events in log (for stepping) */
	unsigned nlog;               /* events seen while logging (log keeps the first) */
	struct vq_trace_rec log[VQ_DEBUG_LOG];
};

/* Allocate a debugger for m; it installs itself as m's trace observer
 * (and memory write hook) only while a breakpoint (watchpoint) is set or it
 * logs. NULL when out of memory. A hit only records itself (d->hit): the
 * caller's run loop steps the machine and stops when d->hit is set, so
 * runs inside drivers are never cut short. */
struct vq_debug *vq_debug_new(struct vq_machine *m);
/* Uninstall and free (NULL is fine). */
void vq_debug_free(struct vq_debug *d);
/* Add a breakpoint (spec's id, hits ignored); returns its id or
 * -VQ_E_NOSPC. */
int vq_debug_break(struct vq_debug *d, const struct vq_bp *spec);
/* Add a write watchpoint on [gpa, gpa+len); id, -VQ_E_INVAL (len 0,
 * wrap) or -VQ_E_NOSPC. */
int vq_debug_watch(struct vq_debug *d, uint64_t gpa, uint64_t len);
/* Remove breakpoint or watchpoint id: 0 or -VQ_E_INVAL. */
int vq_debug_delete(struct vq_debug *d, int id);
/* Breakpoint id, or NULL. */
const struct vq_bp *vq_debug_get(const struct vq_debug *d, int id);
/* Start (true) or stop keeping every event in d->log (clears it). */
void vq_debug_log(struct vq_debug *d, bool on);
/* If a breakpoint hit, copy its event into *ev (may be NULL), clear the
 * hit and return its id (the first of d->hit_ids when several breakpoints
 * matched the same event: all of them are listed there and all counted a
 * hit); else 0. */
int vq_debug_take_hit(struct vq_debug *d, struct vq_trace_rec *ev);

#endif

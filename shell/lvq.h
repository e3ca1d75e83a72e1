/* lvq.h - the Lua bindings of vqsim: object types, shared helpers, and the
 * entry points main.c and repl.c use. Only shell/ includes lua.h.
 *
 * Object graph (each arrow is a Lua reference kept in the user value, so a
 * machine outlives every object that points into it):
 *   queue -> driver | device -> machine,  mem -> machine,  driver -> device.
 */
#ifndef VQSIM_LVQ_H
#define VQSIM_LVQ_H

#include <signal.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "vqsim.h"
#include "dev/balloon.h"
#include "dev/blk.h"
#include "dev/console.h"
#include "dev/net.h"
#include "drv/balloon.h"
#include "drv/blk.h"
#include "drv/console.h"
#include "drv/net.h"

/* Metatable names (also what help(obj) keys on). */
#define LVQ_MACHINE "vqsim.machine"
#define LVQ_MEM "vqsim.mem"
#define LVQ_DEVICE "vqsim.device"
#define LVQ_DRIVER "vqsim.driver"
#define LVQ_QUEUE "vqsim.queue"

/* Default placement of a machine's first RAM region and of devices. */
#define LVQ_RAM_BASE UINT64_C(0x40000000)
#define LVQ_MMIO_BASE UINT64_C(0x0a000000)
#define LVQ_IRQ_BASE 16u
/* where the shell's "firmware" places pci BAR 0 of device n: below the
 * ECAM window, above the mmio windows */
#define LVQ_PCI_BAR_BASE UINT64_C(0x10000000)
/* Guest RAM each driver takes by default for its rings and buffers, carved
 * from the top of the first RAM region downwards. */
#define LVQ_DRIVER_HEAP (UINT64_C(8) << 20)

struct lvq_machine {
	struct vq_machine *m;
	uint64_t seed;          /* seed given at creation or by m:reseed() */
	uint64_t heap_top;      /* next default driver heap ends here (0: unset) */
	FILE *trace_f;          /* trace sink we opened (file or memstream) */
	bool trace_is_file;     /* trace_f is a file we must fclose */
	char *cap_buf;          /* memstream buffer when capturing */
	size_t cap_len;
	size_t cap_taken;       /* bytes already returned by trace_log() */
	struct vq_debug *dbg;   /* breakpoints, watchpoints (l_debug.c); NULL until used */
};

struct lvq_device {
	struct vq_slot *slot;
};

struct lvq_driver {
	struct vq_drv drv;
	struct vq_slot *slot;
	bool attached;
};

/* A queue object: the driver's view (drv set) or a raw view of the ring
 * addresses the device was given (drv NULL). */
struct lvq_queue {
	struct vq_slot *slot;
	struct lvq_driver *drv;
	unsigned q;
};

/* Set by the SIGINT handler; long-running C loops poll it. */
extern volatile sig_atomic_t lvq_interrupted;
/* Set by the REPL: a breakpoint hit is announced on stdout as it is
 * returned ("breakpoint 2 hit: ..."), whether or not the value is printed. */
extern bool lvq_announce_hits;
/* A fatal signal's handler: remove the UNIX socket files this process
 * bound (vq_unix_unlink_all), then die of sig as if unhandled. */
void lvq_on_fatal_signal(int sig);
/* Install lvq_on_fatal_signal for SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * (those not ignored). */
void lvq_fatal_signals(void);

/* ---- module setup (l_vqsim.c and one file per type) ---- */

/* Open the vqsim library into L: creates the global table "vqsim" and the
 * global "help". Returns 1 (the vqsim table on the stack). */
int luaopen_vqsim(lua_State *L);
/* vqsim.machine{seed=, ram=, ram_base=}: push a new machine object. */
int lvq_machine_new(lua_State *L);
/* Register each type's metatable; called by luaopen_vqsim. */
void lvq_open_machine(lua_State *L);
void lvq_open_mem(lua_State *L);
void lvq_open_device(lua_State *L);
void lvq_open_driver(lua_State *L);
void lvq_open_ring(lua_State *L);
void lvq_open_devring(lua_State *L);
void lvq_open_help(lua_State *L);

/* ---- shared helpers (l_util.c) ---- */

/* Create metatable tname with methods (and __index dispatching first to
 * getter(L) for fields, which returns 1 when it pushed a value, then to the
 * methods) and meta (metamethods, may be NULL). fields lists field names for
 * completion (NULL-terminated, may be NULL). Leaves nothing on the stack. */
void lvq_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
		  const luaL_Reg *meta, int (*getter)(lua_State *L), const char *const *fields);
/* Add methods to class tname made by lvq_newclass() (a class whose
 * methods live in several files). Leaves nothing on the stack. */
void lvq_class_add(lua_State *L, const char *tname, const luaL_Reg *methods);
/* Push a new full userdata of size bytes with metatable tname whose user
 * value is the value at index owner (0: none). Returns its memory, zeroed. */
void *lvq_newobj(lua_State *L, size_t size, const char *tname, int owner);
/* Raise an error formatted by printf's rules (luaL_error's own format
 * knows neither %x nor %u nor widths), with luaL_error's position prefix;
 * at most 512 bytes. */
int lvq_errorf(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Raise "who: NAME: description" for the negative VQ_E_* code rc. */
int lvq_fail(lua_State *L, const char *who, int rc) __attribute__((noreturn));
/* Raise for a failed device operation: prefers the device's own message
 * when its error counter moved past errors_before. */
int lvq_fail_dev(lua_State *L, const struct vq_dev *d, int rc, uint64_t errors_before)
	__attribute__((noreturn));
/* Numbers: Lua's own rule everywhere (lua_tointegerx: an integral float
 * such as 2^20 or 1024.0 is an integer, 1.5 is not). Strings: emu/opts's
 * syntax (decimal, never octal; 0x hex; sizes with K/M/G/T). */
/* The integer value of the number at idx: true with *out set; false for
 * a non-number (strings included) or a number with a fraction. */
bool lvq_tointeger(lua_State *L, int idx, lua_Integer *out);
/* Argument arg (called name in the message) as an integer in [min, max]:
 * a number, or a string "4096" / "0x1000". Raises "bad argument #n to 'f'
 * (name: integer expected, got 1.5)" otherwise. */
lua_Integer lvq_checkint(lua_State *L, int arg, const char *name, lua_Integer min,
			 lua_Integer max);
/* The same for the value at idx, field of an options table passed to fn:
 * raises "bad field 'field' to 'fn' (...)". */
lua_Integer lvq_fieldint(lua_State *L, int idx, const char *fn, const char *field,
			 lua_Integer min, lua_Integer max);
/* A size argument: a non-negative integer, or a string "64M", "4K", "1G",
 * "0x1000". Raises an argument error otherwise. */
uint64_t lvq_checksize(lua_State *L, int arg);
/* The size at stack index idx, the value of field of an options table
 * passed to function fn: raises "bad field 'field' to 'fn' (...)" otherwise. */
uint64_t lvq_fieldsize(lua_State *L, int idx, const char *fn, const char *field);
/* Optional size argument with default def. */
uint64_t lvq_optsize(lua_State *L, int arg, uint64_t def);
/* A non-negative integer argument not above max (argument error otherwise). */
uint64_t lvq_checkrange(lua_State *L, int arg, uint64_t max);
/* The keys of the options table at idx, sorted (strcmp), in an array
 * pushed as a userdata (valid while the table and it live); *n is how
 * many. Raises "fn: options must be given as name = value" for a key that
 * is not a string. */
const char **lvq_sortedkeys(lua_State *L, int idx, const char *fn, size_t *n);
/* Refuse keys of the options table at idx (nothing when it is not a table)
 * outside the NULL-terminated allowed: raises "fn: unknown option 'k'
 * (accepted: a, b)" naming the first unknown key in sorted order, so the
 * message is the same on every run. */
void lvq_checkopts(lua_State *L, int idx, const char *fn, const char *const *allowed);
/* Feature bit for a name ("EVENT_IDX", "VIRTIO_F_EVENT_IDX") or number;
 * -1 if unknown. */
int lvq_feature_bit(const char *name);
/* Name of feature bit (NULL if it has none). */
const char *lvq_feature_name(unsigned bit);
/* Read a list of feature names/numbers at arg into words (128 bits).
 * Raises an argument error naming an unknown feature. */
void lvq_checkfeatures(lua_State *L, int arg, uint64_t *words);
/* Push a list of the names (or numbers) of the bits set in words. */
void lvq_pushfeatures(lua_State *L, const uint64_t *words);
/* The same, scoped by device type (VIRTIO_ID_*): device-specific names
 * such as "FLUSH", "BLK_F_FLUSH" or "VIRTIO_BLK_F_FLUSH" for a blk device
 * (device_id 0: the generic names only). */
int lvq_feature_bit_for(uint32_t device_id, const char *name);
const char *lvq_feature_name_for(uint32_t device_id, unsigned bit);
void lvq_checkfeatures_for(lua_State *L, int arg, uint64_t *words, uint32_t device_id);
void lvq_pushfeatures_for(lua_State *L, const uint64_t *words, uint32_t device_id);
/* The list at idx, field 'features' of the options table given to fn:
 * raises "bad field 'features' to 'fn' (...)" otherwise. */
void lvq_fieldfeatures(lua_State *L, int idx, uint64_t *words, uint32_t device_id,
		       const char *fn);
/* Push {blk = {FLUSH = 9, ...}, net = {...}, console = {...}, balloon = {...},
 * rng = {}}. */
void lvq_pushdevfeatures(lua_State *L);
/* Push a buffer segment as {gpa=, len=, write=}. */
void lvq_pushseg(lua_State *L, uint64_t gpa, uint32_t len, bool write);
/* Push a hexdump of len bytes p labelled from address addr. */
void lvq_pushhexdump(lua_State *L, const uint8_t *p, size_t len, uint64_t addr);
/* Format v as "0x..." into buf (24 bytes); returns buf. */
const char *lvq_hex(char *buf, uint64_t v);
#define LVQ_HEX(v) lvq_hex((char[24]){0}, (uint64_t)(v))
/* Set t[k] = integer v for the table on top of the stack. */
void lvq_setint(lua_State *L, const char *k, lua_Integer v);
/* Push f as a function of its own named name ("machine:run") for help()
 * (each alias of one C function is a distinct value). */
void lvq_push_named_function(lua_State *L, lua_CFunction f, const char *name);
/* Record fn (at index -1) as the documented name "type:method" for help. */
void lvq_name_function(lua_State *L, const char *name);

/* Checked accessors of the object types (argument errors otherwise). */
struct lvq_machine *lvq_checkmachine(lua_State *L, int arg);
struct lvq_device *lvq_checkdevice(lua_State *L, int arg);
struct lvq_driver *lvq_checkdriver(lua_State *L, int arg);
/* Push the machine object that owns the object at idx (via user values). */
void lvq_pushowner(lua_State *L, int idx);
/* Push a device object for slot s of the machine object at index mobj;
 * the same Lua object each time for the same slot. */
void lvq_pushdevice(lua_State *L, int mobj, struct vq_slot *s);
/* Push a queue object for queue q of the driver (drvobj) or raw (devobj,
 * drvobj 0). */
void lvq_pushqueue(lua_State *L, int ownerobj, struct vq_slot *s, struct lvq_driver *drv,
		   unsigned q);
/* Most buffers one chain may carry in a Lua call. */
#define LVQ_MAX_BUFS 256
/* Read a list of buffers at arg into out: each {gpa, len, "r"|"w"} or
 * {gpa=, len=, write=bool}. Returns how many; argument error otherwise. */
unsigned lvq_checkbufs(lua_State *L, int arg, struct vq_buf *out, unsigned max);
/* Name of a register offset ("Status"), or NULL; and the reverse (-1). */
const char *lvq_reg_name(uint32_t off);
long lvq_reg_offset(const char *name);

/* ---- device-side rings driven by the script (l_devring.c) ---- */

/* m:device_ring{num=, desc=, driver=, device=, features=, layout=} -> ring
 * (vqsim-lua(7)); nil, error name, detail, ring when the geometry is refused. */
int lvq_m_device_ring(lua_State *L);

/* ---- pci quirks and the driver's pci view (l_pci.c) ---- */

/* dev:pci_ids([t]), dev:pci_add_cap{...}, dev:pci_hide_cap(what): see
 * vqsim-lua(7). */
int lvq_d_pci_ids(lua_State *L);
int lvq_d_pci_add_cap(lua_State *L);
int lvq_d_pci_hide_cap(lua_State *L);
/* Push d.pci: what the driver learnt of its pci function (nil on mmio). */
void lvq_push_drv_pci(lua_State *L, const struct vq_drv *d);

/* ---- vhost-user (serve.c) ---- */

/* vqsim --vhost-user PATH --device TYPE[,opts]: serve until SIGINT/SIGTERM.
 * Returns the exit status (0, 1 failure, 2 usage). */
int lvq_serve_vhost(const char *progname, const char *path, const char *device, uint64_t seed);
/* m:serve{socket=, device=}, m:unserve(dev), m:vhost(dev): see vqsim-lua(7). */
int lvq_m_serve(lua_State *L);
int lvq_m_unserve(lua_State *L);
int lvq_m_vhost(lua_State *L);

/* ---- fault injection (l_fault.c): machine methods ---- */

/* m:fault{point=, trigger=, action=, max=, ...} -> id (see vqsim-lua(7)). */
int lvq_m_fault(lua_State *L);
/* m:unfault([id]) -> true: disarm fault id, or every fault. */
int lvq_m_unfault(lua_State *L);
/* m:faults() -> list of {id, point, action, trigger, hits, fired, max}. */
int lvq_m_faults(lua_State *L);

/* ---- help (help.c) ---- */

/* Print the help for the value at index idx (nil: overview) to stdout. */
void lvq_help(lua_State *L, int idx);

/* ---- running code (repl.c) ---- */

/* Run the function on top of the stack (below it nargs arguments) with a
 * traceback handler and Ctrl-C enabled. LUA_OK or an error code; on error
 * the message is left on the stack. */
int lvq_docall(lua_State *L, int nargs, int nres);
/* Print the error message on top of the stack to stderr (prefixed progname)
 * and pop it. */
void lvq_report(lua_State *L, const char *progname);
/* Run the interactive loop on L until EOF. Returns 0. */
int lvq_repl(lua_State *L);

/* ---- states and library scripts (main.c) ---- */

/* Trace sink every new machine starts with (--trace FILE), or NULL. */
extern FILE *lvq_trace_default;
/* --ring: "split" or "packed", put in vqsim.defaults.ring by lvq_newstate() */
extern const char *lvq_default_ring;
/* Format and filter of that sink (--trace-format, --trace-filter). */
extern int lvq_trace_format;
/* --device vhost-user:PATH,type=KIND[,opts]: put in every new state as
 * vqsim.defaults.outside = {KIND = {socket = PATH, type = KIND, ...}}, which
 * m:add(KIND, ...) then follows (NULL: none). */
extern const char *lvq_default_outside;
/* Check an outside-device spec ("vhost-user:PATH,type=KIND,..."): 0, or -1
 * with err naming the problem. */
int lvq_outside_check(const char *spec, char *err, size_t errlen);
/* vqsim.defaults.transport in every new state: "mmio" or "pci" (--transport) */
extern const char *lvq_default_transport;
extern struct vq_trace_filter lvq_trace_filter;

/* ---- tracing options and the debugger (l_debug.c) ---- */

/* Read kinds=, devices=, queues=, format= of the options table at arg into
 * *f and *fmt (everything, text when absent); argument errors. Returns 0. */
int lvq_trace_opts(lua_State *L, int arg, struct vq_trace_filter *f, int *fmt);
/* Push an event record as a table: time, seq, kind, dev, queue, text, its
 * fields, and line (as a text trace shows it). */
void lvq_push_trace_rec(lua_State *L, const struct vq_trace_rec *r);
/* Run up to max events, stopping after the one that hits a breakpoint (at
 * once when a hit is pending: one made by a driver helper's own steps). */
uint64_t lvq_debug_run(struct lvq_machine *lm, uint64_t max);
/* Push the hit event (with field bp = breakpoint id) and clear it:
 * returns 1, or 0 having pushed nothing when there was no hit. */
int lvq_debug_push_hit(lua_State *L, struct lvq_machine *lm);
/* Did the last run stop on a breakpoint? */
bool lvq_debug_hit(const struct lvq_machine *lm);
/* m:run() with outside devices waits until they were quiet this long. */
#define LVQ_OUTSIDE_QUIET_MS 30
/* Free the machine's debugger (before the machine). */
void lvq_debug_release(struct lvq_machine *lm);
/* Machine methods: break, watch, delete, breakpoints, step. */
int lvq_m_break(lua_State *L);
int lvq_m_watch(lua_State *L);
int lvq_m_delete(lua_State *L);
int lvq_m_breakpoints(lua_State *L);
int lvq_m_step(lua_State *L);
/* Directory holding prelude.lua and test.lua, or NULL: $VQSIM_LIBDIR, else
 * the install path, else the source tree (see vqsim(1) FILES). */
const char *lvq_libdir(void);
/* A new Lua state with the standard libraries, vqsim, help and the prelude
 * loaded, vqsim.seed set to seed. NULL (message printed) on failure. */
lua_State *lvq_newstate(uint64_t seed);

/* ---- the test runner (runner.c) ---- */

/* Run the test files under paths (directories recursively, *.lua) and
 * print TAP to stdout; with coverage, list the spec sections that passing
 * tests checked. Returns the exit status: 0 if tests ran and all passed
 * (skips count as passes), 1 if one failed or none ran, 2 if a path
 * cannot be opened (nothing run). With nfilters > 0 only the tests that
 * match one of filters run (name substring, spec section or below, tag);
 * each test's wall time follows its TAP line as "# time=N.NNNms". */
int lvq_run_tests(char **paths, int npaths, uint64_t seed, bool coverage,
		  const char *const *filters, int nfilters, const char *expect);

/* vqsim --from-fuzz HARNESS FILE: run the harness program on FILE so that
 * it writes the input as a Lua script on stdout (fromfuzz.c). Returns the
 * exit status: 0 written, 1 written and the input breaks an invariant (the
 * script ends with the assertion that fails), 2 usage or no harness. */
int lvq_from_fuzz(const char *progname, const char *harness, const char *file);

#endif

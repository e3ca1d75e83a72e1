/* machine.h - one simulated machine: guest memory, a bus of virtio-mmio
 * devices, interrupt lines, and one deterministic event queue.
 *
 * Nothing runs by itself: a register write that notifies a queue schedules
 * an event; vq_machine_step() runs the earliest event (ties broken by the
 * order they were scheduled) and moves the virtual clock to its time. The
 * seeded PRNG is the only source of randomness; the trace sink receives one
 * line per event. Same calls + same seed = same trace, byte for byte.
 */
#ifndef VQSIM_MACHINE_H
#define VQSIM_MACHINE_H

#include <stdio.h>

#include "base.h"
#include "dev.h"
#include "device.h"
#include "mem.h"
#include "trace.h"
#include "transport.h"

#define VQ_MACHINE_MAX_DEVICES 32
#define VQ_MACHINE_MAX_IRQS 64
#define VQ_MACHINE_MAX_EVENTS 4096
#define VQ_MACHINE_MAX_WATCHES 64

struct vq_machine;

/* A scheduled callback. */
typedef void (*vq_event_fn)(struct vq_machine *m, void *arg, uint64_t data);

struct vq_machine_stats {
	uint64_t events;           /* events run */
	uint64_t reg_reads, reg_writes, bad_accesses; /* bus register accesses */
	uint64_t notifies;         /* queue notifications (before coalescing) */
	uint64_t notifies_coalesced; /* notifications merged into a pending one */
	uint64_t interrupts;       /* rising edges on any line */
	uint64_t outside_timeouts; /* waits for outside devices that ran out */
};

/* PCI: the ECAM window (bus 0, 32 devices x 8 functions x 4 KiB) at a fixed
 * gpa below RAM (0x40000000) and above the mmio windows (0x0a000000). A pci
 * device n is bus 0, device n+1, function 0: its config space is at
 * VQ_MACHINE_ECAM_BASE + ((n+1) << 15). BARs are placed by the driver. */
#define VQ_MACHINE_ECAM_BASE 0x30000000ull
#define VQ_MACHINE_ECAM_SIZE 0x100000ull
/* MSI messages kept by the machine (the oldest are dropped past this). */
#define VQ_MACHINE_MSI_LOG 256

enum vq_slot_transport { VQ_SLOT_MMIO = 0, VQ_SLOT_PCI = 1 };

/* One device on the bus. */
struct vq_slot {
	struct vq_machine *machine;
	struct vq_dev dev;
	struct vq_mmio mmio;
	uint64_t base;             /* mmio window [base, base + 0x200); pci: its ECAM space */
	unsigned irq;
	uint64_t notify_pending;   /* bit q: a notify event for queue q is queued */
	struct vq_vhost_backend *vhost; /* served over vhost-user (NULL: not) */
	int transport;             /* enum vq_slot_transport */
	struct vq_pci pci;         /* the pci function (transport VQ_SLOT_PCI) */
	unsigned pci_dev;          /* its device number on bus 0 */
};

/* An MSI message the machine received: a 32-bit write of data at addr. */
struct vq_msi {
	uint64_t time, addr;
	uint32_t data;
	char dev[VQ_DEV_NAME_MAX];
};

/* Create a machine with no memory and no devices, PRNG seeded with seed.
 * NULL when out of memory. */
struct vq_machine *vq_machine_new(uint64_t seed);
/* Destroy every device, free memory and the machine (NULL is fine). */
void vq_machine_free(struct vq_machine *m);

/* The machine's guest memory / PRNG / tracer (never NULL). */
struct vq_mem *vq_machine_mem(struct vq_machine *m);
struct vq_prng *vq_machine_prng(struct vq_machine *m);
struct vq_tracer *vq_machine_tracer(struct vq_machine *m);
/* The machine's fault-injection registry (fault.h; never NULL). */
struct vq_faults *vq_machine_faults(struct vq_machine *m);
/* The machine's IOMMU (iommu.h): the I/O page table through which every
 * device that negotiated VIRTIO_F_ACCESS_PLATFORM reaches guest memory.
 * Empty at creation. */
struct vq_iommu *vq_machine_iommu(struct vq_machine *m);
/* Re-seed the PRNG. */
void vq_machine_seed(struct vq_machine *m, uint64_t seed);
/* Current virtual time in nanoseconds. */
uint64_t vq_machine_now(const struct vq_machine *m);

/* Add RAM (see vq_mem_add_region). 0 or a negative error. */
int vq_machine_add_ram(struct vq_machine *m, uint64_t gpa, uint64_t size);

/* Create a device of type (see dev.h) called name with options opts (a
 * "key=value,..." string, opts.h syntax; NULL for none), on a
 * virtio-mmio window at base using interrupt line irq. Returns the device,
 * or NULL with a message naming the problem in err (unknown type, bad
 * option, window overlapping another or not 0x200-aligned, irq out of
 * range or taken, too many devices). */
struct vq_dev *vq_machine_add_mmio(struct vq_machine *m, const char *type, const char *name,
				   const char *opts, uint64_t base, unsigned irq, char *err,
				   size_t errlen);
/* The same with options already in a list (opts.h; NULL for none), as the
 * shell builds from a Lua table: values are taken literally, no escaping.
 * Keys the device reads are marked used in o; o stays the caller's. */
struct vq_dev *vq_machine_add_mmio_opts(struct vq_machine *m, const char *type,
					const char *name, struct vq_opts *o, uint64_t base,
					unsigned irq, char *err, size_t errlen);
/* Create a device as vq_machine_add_mmio does, on a virtio-pci function:
 * the next free device number on bus 0 (config space in the ECAM window),
 * INTx on the first free interrupt line from 16 up. The driver sizes and
 * places its BAR. NULL with a message in err. */
struct vq_dev *vq_machine_add_pci(struct vq_machine *m, const char *type, const char *name,
				  const char *opts, char *err, size_t errlen);
/* The same with options in a list (see vq_machine_add_mmio_opts). */
struct vq_dev *vq_machine_add_pci_opts(struct vq_machine *m, const char *type,
				       const char *name, struct vq_opts *o, char *err,
				       size_t errlen);
/* MSI messages received so far (the log keeps the last VQ_MACHINE_MSI_LOG),
 * and message i of those kept, oldest first: 0, or -VQ_E_INVAL past the end. */
uint64_t vq_machine_msi_count(const struct vq_machine *m);
int vq_machine_msi_get(const struct vq_machine *m, unsigned i, struct vq_msi *msg);
/* Messages among those kept with address addr and data data. */
uint64_t vq_machine_msi_match(const struct vq_machine *m, uint64_t addr, uint32_t data);
/* Number of devices, and device i's slot (NULL past the end). */
unsigned vq_machine_device_count(const struct vq_machine *m);
struct vq_slot *vq_machine_slot(struct vq_machine *m, unsigned i);
/* The slot whose device is called name, or NULL. */
struct vq_slot *vq_machine_find(struct vq_machine *m, const char *name);

/* Serve device d of m over vhost-user on the UNIX socket path (see
 * transport.h's vq_vhost_backend): a front-end such as QEMU drives it from
 * then on, through vq_machine_poll() and the event queue; m's guest memory
 * becomes the front-end's. Returns the back-end, or NULL with err naming
 * the problem (d not on m, already served, the socket). */
struct vq_vhost_backend *vq_machine_serve_vhost(struct vq_machine *m, struct vq_dev *d,
						const char *path, char *err, size_t errlen);
/* Stop serving d (no-op when it is not served). */
void vq_machine_unserve_vhost(struct vq_machine *m, struct vq_dev *d);

/* Bus accesses from the guest: width 1, 2 or 4 bytes at gpa. An address no
 * device decodes reads 0 and ignores writes; both count as bad accesses and
 * return -VQ_E_BAD_ACCESS. Other errors are those of vq_mmio_read/write. */
int vq_machine_read(struct vq_machine *m, uint64_t gpa, unsigned width, uint32_t *val);
int vq_machine_write(struct vq_machine *m, uint64_t gpa, unsigned width, uint32_t val);

/* Level of interrupt line irq (false for a line out of range). */
bool vq_machine_irq_level(const struct vq_machine *m, unsigned irq);
/* Rising edges seen on line irq. */
uint64_t vq_machine_irq_count(const struct vq_machine *m, unsigned irq);

/* Schedule fn(m, arg, data) delay ns from now. 0, or -VQ_E_NOSPC when
 * VQ_MACHINE_MAX_EVENTS are already queued. */
int vq_machine_schedule(struct vq_machine *m, uint64_t delay_ns, vq_event_fn fn, void *arg,
			uint64_t data);
/* Run the earliest event. 1 if one ran, 0 if the queue is empty. */
int vq_machine_step(struct vq_machine *m);
/* Run events until the queue is empty or max_events ran; returns how many ran. */
uint64_t vq_machine_run(struct vq_machine *m, uint64_t max_events);
/* Events waiting in the queue. */
unsigned vq_machine_pending(const struct vq_machine *m);

/* Poll the file descriptors device backends watch (sockets, ptys, TAP)
 * once, waiting at most timeout_ms (0: do not wait, -1: forever), and run
 * the callbacks of those ready. Returns how many callbacks ran, or
 * -VQ_E_SYS. External I/O enters the machine only here. */
int vq_machine_poll(struct vq_machine *m, int timeout_ms);
/* Devices of m whose logic runs in another process (vhost-user front-end
 * devices: dev.outside_ms > 0). */
unsigned vq_machine_outside_count(const struct vq_machine *m);
/* For waiters (the reference driver) when the event queue is empty: with
 * outside devices on m, poll their fds for a short slice and return 1 (the
 * caller looks again); 0 when m has none, or when *deadline_ms (0 on the
 * first call: set to now + the longest outside timeout) has passed: then
 * the wait is traced and counted as an outside device that did not answer. */
int vq_machine_wait_outside(struct vq_machine *m, uint64_t *deadline_ms);
/* With outside devices on m: poll until no fd was ready for quiet_ms (at
 * most the longest outside timeout), so that what the outside devices do
 * in answer to the last notifications has arrived; the caller then runs the
 * events the callbacks queued. Returns the callbacks that ran (0 at once
 * without outside devices: a simulation stays deterministic). */
int vq_machine_settle(struct vq_machine *m, unsigned quiet_ms);
/* File descriptors being watched. */
unsigned vq_machine_watch_count(const struct vq_machine *m);

/* Send trace lines to f (NULL: stop writing). Tracing is on while a sink is
 * set; mask selects event kinds (bit per enum vq_ev; ~0u for all). */
void vq_machine_trace_file(struct vq_machine *m, FILE *f, unsigned mask);
/* Send trace events to f (NULL: stop) in format fmt (enum vq_trace_format)
 * when they pass flt (NULL: all). */
void vq_machine_trace_sink(struct vq_machine *m, FILE *f, int fmt,
			   const struct vq_trace_filter *flt);
/* Called with every trace event, before the sink's filter (NULL: none).
 * Tracing is on while a sink or an observer is set. */
typedef void (*vq_trace_observer_fn)(void *ctx, const struct vq_trace_event *ev);
/* Set the machine's one observer (trace.h's debugger uses it). */
void vq_machine_trace_observe(struct vq_machine *m, vq_trace_observer_fn fn, void *ctx);
/* Counters. */
void vq_machine_get_stats(const struct vq_machine *m, struct vq_machine_stats *st);

#endif

/* machine_internal.h - private to emu/machine*.c: the machine's state and
 * what its files call in each other.
 */
#ifndef VQSIM_MACHINE_INTERNAL_H
#define VQSIM_MACHINE_INTERNAL_H

#include "machine.h"

#define VQ_MACHINE_HIDDEN __attribute__((visibility("hidden")))

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

/* machine_irq.c: the transport host of slot s (notifications become
 * events, the interrupt line, MSI messages when msi). */
VQ_MACHINE_HIDDEN struct vq_transport_host vq_machine_host(struct vq_slot *s, bool msi);

/* machine_env.c: the device environment of slot s (time, timers, fd
 * watches); forget the watches of device d; free the pending timers'
 * records (the machine goes away). */
VQ_MACHINE_HIDDEN struct vq_dev_env vq_machine_env(struct vq_slot *s);
VQ_MACHINE_HIDDEN void vq_machine_drop_watches(struct vq_machine *m, struct vq_dev *d);
VQ_MACHINE_HIDDEN void vq_machine_drop_timers(struct vq_machine *m);

#endif

/* balloon.h - virtio-balloon, the traditional memory balloon (spec 5.5).
 *
 * The host sets a target (num_pages); the guest inflates the balloon by
 * handing over page frame numbers, which the device really gives back to
 * the host (the pages are punched out of guest memory: resident memory
 * drops and they read back as zeroes), and deflates it to take pages back.
 * Optional queues: memory statistics (STATS_VQ), free page hinting
 * (FREE_PAGE_HINT) and free page reporting (PAGE_REPORTING).
 *
 * Options: pages=N (initial num_pages), stats=on|off, deflate-on-oom=on|off,
 * reporting=on|off, free-page-hint=on|off, page-poison=on|off,
 * must-tell-host=on|off, queue-size=N (power of two, default 256).
 */
#ifndef VQSIM_DEV_BALLOON_H
#define VQSIM_DEV_BALLOON_H

#include <stdint.h>

#include "../device.h"

struct vq_dev_type;

/* ---- constants of spec 5.5 ---- */

/* Feature bits (5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST  0
#define VIRTIO_BALLOON_F_STATS_VQ        1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM  2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT  3
#define VIRTIO_BALLOON_F_PAGE_POISON     4
#define VIRTIO_BALLOON_F_PAGE_REPORTING  5

/* Inflate/deflate PFNs are 32-bit and always count 4 KiB pages (5.5.6). */
#define VIRTIO_BALLOON_PFN_SHIFT 12

/* Reserved free_page_hint_cmd_id values (5.5.6.4). */
#define VIRTIO_BALLOON_CMD_ID_STOP 0
#define VIRTIO_BALLOON_CMD_ID_DONE 1

/* Device configuration layout (5.5.4), all little-endian. */
struct virtio_balloon_config {
	uint32_t num_pages;             /* target set by the host */
	uint32_t actual;                /* pages in the balloon, written by the driver */
	uint32_t free_page_hint_cmd_id; /* FREE_PAGE_HINT; read-only for the driver */
	uint32_t poison_val;            /* PAGE_POISON; written by the driver */
};
#define VIRTIO_BALLOON_CFG_NUM_PAGES   0
#define VIRTIO_BALLOON_CFG_ACTUAL      4
#define VIRTIO_BALLOON_CFG_CMD_ID      8
#define VIRTIO_BALLOON_CFG_POISON_VAL  12
#define VIRTIO_BALLOON_CFG_SIZE        16

/* Memory statistics tags (5.5.6.3.1). Each entry of a stats buffer is a
 * packed le16 tag followed by an le64 value: 10 bytes. */
#define VIRTIO_BALLOON_S_SWAP_IN       0
#define VIRTIO_BALLOON_S_SWAP_OUT      1
#define VIRTIO_BALLOON_S_MAJFLT        2
#define VIRTIO_BALLOON_S_MINFLT        3
#define VIRTIO_BALLOON_S_MEMFREE       4
#define VIRTIO_BALLOON_S_MEMTOT        5
#define VIRTIO_BALLOON_S_AVAIL         6
#define VIRTIO_BALLOON_S_CACHES        7
#define VIRTIO_BALLOON_S_HTLB_PGALLOC  8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL   9
#define VIRTIO_BALLOON_S_NR            10
#define VIRTIO_BALLOON_STAT_SIZE       10

/* ---- the device type ---- */

extern const struct vq_dev_type vq_balloon_type;

/* Queue roles. Absent queues take no index (spec 5.5.2): inflateq 0,
 * deflateq 1, then statsq, free_page_vq, reporting_vq in that order, each
 * only if its feature was negotiated. */
enum vq_balloon_queue {
	VQ_BALLOON_Q_INFLATE = 0,
	VQ_BALLOON_Q_DEFLATE,
	VQ_BALLOON_Q_STATS,
	VQ_BALLOON_Q_FREE_PAGE,
	VQ_BALLOON_Q_REPORTING,
	VQ_BALLOON_Q__COUNT
};

/* Counters of a balloon device. Every refused or ignored input is counted. */
struct vq_balloon_counters {
	uint64_t balloon_pages;    /* pages in the balloon now (inflated, not deflated) */
	uint64_t inflated;         /* PFNs inflated (pages punched) */
	uint64_t inflate_repeat;   /* of those: page already in the balloon */
	uint64_t deflated;         /* PFNs taken out of the balloon */
	uint64_t deflate_unknown;  /* deflate of a page not in the balloon (ignored) */
	uint64_t refused;          /* PFNs outside guest memory (inflate + deflate) */
	uint64_t bad_length;       /* inflate/deflate buffers not a multiple of 4 bytes */
	uint64_t pfns_cut;         /* inflate/deflate PFNs ignored: past 256 a buffer
				      plus one per RAM page a notification */
	uint64_t punch_errors;     /* punches the host refused (-VQ_E_SYS) */
	uint64_t reported_pages;   /* pages discarded by free page reporting */
	uint64_t report_kept_pages;/* reported pages kept because of a poison value */
	uint64_t report_refused;   /* reported ranges refused (unaligned, outside RAM,
				      device-readable: left untouched) */
	uint64_t hinted_pages;     /* pages hinted under the current command id */
	uint64_t hint_ignored;     /* hinted pages under a stale command id (ignored) */
	uint64_t hint_errors;      /* malformed free_page_vq buffers */
	uint64_t stats_buffers;    /* stats buffers received */
	uint64_t stats_errors;     /* malformed stats buffers (entries ignored) */
	uint64_t stats_unknown;    /* entries with a tag this device does not know */
	uint64_t stats_extra;      /* a second stats buffer while one was held */
	uint64_t config_refused;   /* driver writes to read-only config (undone) */
};

/* The last statistics the guest reported (a snapshot: each well-formed
 * buffer replaces the previous one). */
struct vq_balloon_stats {
	uint64_t val[VIRTIO_BALLOON_S_NR]; /* by tag */
	uint32_t present;                  /* bit t set: the guest supplied tag t */
	uint64_t updates;                  /* well-formed buffers consumed so far */
};

/* ---- host-side API (all take a device created as "balloon") ---- */

/* Set num_pages (the balloon's target) and raise a configuration change
 * interrupt if the driver is running. 0 or -VQ_E_INVAL (not a balloon). */
int vq_balloon_set_target(struct vq_dev *d, uint32_t pages);
/* num_pages as set by the host. 0 for a device that is not a balloon. */
uint32_t vq_balloon_target(const struct vq_dev *d);
/* actual, as last written by the driver (0 for a device that is not a balloon). */
uint32_t vq_balloon_actual(const struct vq_dev *d);
/* poison_val as the driver wrote it (meaningful with PAGE_POISON). */
uint32_t vq_balloon_poison(const struct vq_dev *d);
/* Copy the last statistics the guest reported into out. 0, -VQ_E_INVAL. */
int vq_balloon_stats(const struct vq_dev *d, struct vq_balloon_stats *out);
/* Ask the guest for fresh statistics (spec 5.5.6.3): the device returns the
 * stats buffer it holds (used, length 0) so the driver refills and resends
 * it. 0, -VQ_E_INVAL (not a balloon), -VQ_E_STATE (STATS_VQ not negotiated
 * or driver not running), -VQ_E_NOT_READY (no buffer held: the guest has
 * not sent one since the last request), or a ring error. */
int vq_balloon_request_stats(struct vq_dev *d);
/* Copy the device's counters into out. 0 or -VQ_E_INVAL. */
int vq_balloon_counters(const struct vq_dev *d, struct vq_balloon_counters *out);
/* Spec 5.5.2 queue numbering under feature bits features: fills qidx[role]
 * with each role's queue index, or -1 for a queue that does not exist, and
 * returns the number of queues. Used by the device and the driver alike. */
int vq_balloon_queue_layout(uint64_t features, int qidx[VQ_BALLOON_Q__COUNT]);
/* Queue index of a role under the negotiated features, or -1 if that queue
 * does not exist (feature not negotiated, or not a balloon). */
int vq_balloon_queue_index(const struct vq_dev *d, enum vq_balloon_queue role);
/* Is guest page pfn in the balloon now? */
bool vq_balloon_page_inflated(const struct vq_dev *d, uint32_t pfn);

/* Free page hinting (spec 5.5.6.4): start a round under a fresh command id
 * (>= 2, never reused before the driver sent STOP; stored in *cmd_id if
 * non-NULL), or end it with STOP (hints no longer wanted, guest keeps the
 * pages) or DONE (guest may reuse every hinted page). Each updates
 * free_page_hint_cmd_id and raises a configuration change interrupt.
 * 0, -VQ_E_INVAL or -VQ_E_STATE (FREE_PAGE_HINT not negotiated). */
int vq_balloon_hint_start(struct vq_dev *d, uint32_t *cmd_id);
int vq_balloon_hint_stop(struct vq_dev *d);
int vq_balloon_hint_done(struct vq_dev *d);

#endif

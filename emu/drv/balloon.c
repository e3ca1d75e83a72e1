/* drv/balloon.c - reference-driver helpers for virtio-balloon (spec 5.5). */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* Events run after posting a buffer the device keeps (no used element to
 * wait for): enough for the notification to be delivered. */
#define DRV_BALLOON_RUN_MAX 10000u

struct drv_balloon {
	int qidx[VQ_BALLOON_Q__COUNT];
	uint64_t pfn_gpa;        /* VQ_DRV_BALLOON_BATCH PFNs */
	uint64_t stats_gpa;      /* VQ_DRV_BALLOON_STATS_MAX entries */
	uint64_t cmd_gpa;        /* a 4-byte hint command id */
	bool stats_inflight;     /* the stats buffer is with the device */
};

static void drv_balloon_free(struct vq_drv *d)
{
	free(d->dev_state);
	d->dev_state = NULL;
}

static struct drv_balloon *state(const struct vq_drv *d)
{
	return d->dev_state_free == drv_balloon_free ? d->dev_state : NULL;
}

/* This driver's state, created (with its guest buffers) on first use. */
static struct drv_balloon *state_get(struct vq_drv *d)
{
	struct drv_balloon *s = state(d);

	if (s)
		return s;
	if (d->dev_state_free)
		d->dev_state_free(d);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->pfn_gpa = vq_drv_alloc(d, VQ_DRV_BALLOON_BATCH * 4, 64);
	s->stats_gpa = vq_drv_alloc(d, VQ_DRV_BALLOON_STATS_MAX * VIRTIO_BALLOON_STAT_SIZE, 64);
	s->cmd_gpa = vq_drv_alloc(d, 4, 4);
	if (!s->pfn_gpa || !s->stats_gpa || !s->cmd_gpa) {
		free(s);
		return NULL;
	}
	d->dev_state = s;
	d->dev_state_free = drv_balloon_free;
	return s;
}

int vq_drv_balloon_init_poison(struct vq_drv *d, uint64_t features, uint32_t poison_val)
{
	uint64_t want[VQ_FEATURE_WORDS] = {features, 0};
	struct drv_balloon *s;
	int rc, n = 2;

	if (!d)
		return -VQ_E_INVAL;
	if (!(s = state_get(d)))
		return -VQ_E_NOMEM;
	for (int r = 0; r < VQ_BALLOON_Q__COUNT; r++)
		s->qidx[r] = -1;
	s->stats_inflight = false;
	if ((rc = vq_drv_negotiate(d, want)) < 0)
		return rc;
	/* spec 5.5.2: an absent queue takes no index */
	n = vq_balloon_queue_layout(d->features[0], s->qidx);
	for (int q = 0; q < n; q++)
		if ((rc = vq_drv_setup_queue(d, (unsigned)q, 0)) < 0)
			return rc;
	if (vq_drv_has_feature(d, VIRTIO_BALLOON_F_PAGE_POISON)) {
		uint8_t le[4] = {(uint8_t)poison_val, (uint8_t)(poison_val >> 8),
				 (uint8_t)(poison_val >> 16), (uint8_t)(poison_val >> 24)};
		if ((rc = vq_drv_config_write(d, VIRTIO_BALLOON_CFG_POISON_VAL, le, 4)) < 0)
			return rc;
	}
	if ((rc = vq_drv_driver_ok(d)) < 0)
		return rc;
	if (s->qidx[VQ_BALLOON_Q_STATS] >= 0) {
		/* spec 5.5.5: the first stats buffer, empty, for the device to hold */
		struct vq_buf b = {.gpa = s->stats_gpa, .len = 0, .writable = false};
		unsigned q = (unsigned)s->qidx[VQ_BALLOON_Q_STATS];

		if ((rc = vq_drv_add(d, q, &b, 1, s->stats_gpa)) < 0 ||
		    (rc = vq_drv_kick(d, q)) < 0)
			return rc;
		s->stats_inflight = true;
		vq_machine_run(d->m, DRV_BALLOON_RUN_MAX);
	}
	return 0;
}

int vq_drv_balloon_init(struct vq_drv *d, uint64_t features)
{
	return vq_drv_balloon_init_poison(d, features, 0);
}

int vq_drv_balloon_queue(const struct vq_drv *d, enum vq_balloon_queue role)
{
	const struct drv_balloon *s = d ? state(d) : NULL;

	if (!s || (unsigned)role >= VQ_BALLOON_Q__COUNT)
		return -1;
	return s->qidx[role];
}

/* Send pfns to queue role in requests of at most one batch. */
static int send_pfns(struct vq_drv *d, enum vq_balloon_queue role, const uint32_t *pfns,
		     uint32_t n)
{
	struct drv_balloon *s = state(d);
	uint32_t le[VQ_DRV_BALLOON_BATCH];

	if (!s || s->qidx[role] < 0)
		return -VQ_E_STATE;
	if (n && !pfns)
		return -VQ_E_INVAL;
	for (uint32_t done = 0; done < n;) {
		uint32_t k = n - done < VQ_DRV_BALLOON_BATCH ? n - done : VQ_DRV_BALLOON_BATCH;
		struct vq_buf b = {.gpa = s->pfn_gpa, .len = 4 * k, .writable = false};
		int rc;

		for (uint32_t i = 0; i < k; i++)
			le[i] = VQ_LE32(pfns[done + i]);
		if ((rc = vq_mem_write(vq_machine_mem(d->m), s->pfn_gpa, le, 4ull * k)) < 0 ||
		    (rc = vq_drv_submit(d, (unsigned)s->qidx[role], &b, 1, NULL)) < 0)
			return rc;
		done += k;
	}
	return 0;
}

int vq_drv_balloon_inflate(struct vq_drv *d, const uint32_t *pfns, uint32_t n)
{
	return d ? send_pfns(d, VQ_BALLOON_Q_INFLATE, pfns, n) : -VQ_E_INVAL;
}

int vq_drv_balloon_deflate(struct vq_drv *d, const uint32_t *pfns, uint32_t n)
{
	return d ? send_pfns(d, VQ_BALLOON_Q_DEFLATE, pfns, n) : -VQ_E_INVAL;
}

int vq_drv_balloon_set_actual(struct vq_drv *d, uint32_t pages)
{
	uint8_t le[4] = {(uint8_t)pages, (uint8_t)(pages >> 8), (uint8_t)(pages >> 16),
			 (uint8_t)(pages >> 24)};

	return d ? vq_drv_config_write(d, VIRTIO_BALLOON_CFG_ACTUAL, le, 4) : -VQ_E_INVAL;
}

int64_t vq_drv_balloon_target(struct vq_drv *d)
{
	uint8_t le[4];
	int rc;

	if (!d)
		return -VQ_E_INVAL;
	if ((rc = vq_drv_config_read(d, VIRTIO_BALLOON_CFG_NUM_PAGES, le, 4)) < 0)
		return rc;
	return (int64_t)((uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 |
			 (uint32_t)le[3] << 24);
}

int vq_drv_balloon_stats_requested(struct vq_drv *d)
{
	struct drv_balloon *s = d ? state(d) : NULL;
	uint64_t token;
	int q, rc;

	if (!s || (q = s->qidx[VQ_BALLOON_Q_STATS]) < 0)
		return -VQ_E_STATE;
	if (!s->stats_inflight)
		return 1;
	if (vq_drv_irq_pending(d))
		vq_drv_ack_interrupt(d); /* what the interrupt handler does */
	rc = vq_drv_get_used(d, (unsigned)q, &token, NULL);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (token != s->stats_gpa)
			return -VQ_E_RING_USED_ID;
		s->stats_inflight = false;
	}
	return rc;
}

int vq_drv_balloon_send_stats(struct vq_drv *d, const uint16_t *tags, const uint64_t *vals,
			      uint32_t n)
{
	struct drv_balloon *s = d ? state(d) : NULL;
	uint8_t buf[VQ_DRV_BALLOON_STATS_MAX * VIRTIO_BALLOON_STAT_SIZE];
	struct vq_buf b;
	unsigned q;
	int rc;

	if (!s || s->qidx[VQ_BALLOON_Q_STATS] < 0)
		return -VQ_E_STATE;
	if (n > VQ_DRV_BALLOON_STATS_MAX || (n && (!tags || !vals)))
		return -VQ_E_INVAL;
	if ((rc = vq_drv_balloon_stats_requested(d)) < 0)
		return rc;
	if (rc == 0)
		return -VQ_E_STATE; /* the device still holds the last one */
	q = (unsigned)s->qidx[VQ_BALLOON_Q_STATS];
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *e = buf + i * VIRTIO_BALLOON_STAT_SIZE;
		e[0] = (uint8_t)tags[i];
		e[1] = (uint8_t)(tags[i] >> 8);
		for (int k = 0; k < 8; k++)
			e[2 + k] = (uint8_t)(vals[i] >> (8 * k));
	}
	b = (struct vq_buf){.gpa = s->stats_gpa, .len = n * VIRTIO_BALLOON_STAT_SIZE,
			    .writable = false};
	if ((rc = vq_mem_write(vq_machine_mem(d->m), s->stats_gpa, buf, b.len)) < 0 ||
	    (rc = vq_drv_add(d, q, &b, 1, s->stats_gpa)) < 0 || (rc = vq_drv_kick(d, q)) < 0)
		return rc;
	s->stats_inflight = true;
	vq_machine_run(d->m, DRV_BALLOON_RUN_MAX);
	return (vq_drv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? -VQ_E_RING_BROKEN : 0;
}

int vq_drv_balloon_report(struct vq_drv *d, const uint64_t *gpas, const uint32_t *lens,
			  uint32_t n)
{
	struct drv_balloon *s = d ? state(d) : NULL;
	struct vq_buf *bufs;
	int rc;

	if (!s || s->qidx[VQ_BALLOON_Q_REPORTING] < 0)
		return -VQ_E_STATE;
	if (n == 0 || !gpas || !lens || n > VIRTQ_MAX_SIZE)
		return -VQ_E_INVAL;
	bufs = calloc(n, sizeof(*bufs));
	if (!bufs)
		return -VQ_E_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		bufs[i] = (struct vq_buf){.gpa = gpas[i], .len = lens[i], .writable = true};
	rc = vq_drv_submit(d, (unsigned)s->qidx[VQ_BALLOON_Q_REPORTING], bufs, n, NULL);
	free(bufs);
	return rc;
}

/* Send a 4-byte hint command id on free_page_vq and wait for it. */
static int hint_cmd(struct vq_drv *d, struct drv_balloon *s, uint32_t id)
{
	uint8_t le[4] = {(uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
			 (uint8_t)(id >> 24)};
	struct vq_buf b = {.gpa = s->cmd_gpa, .len = 4, .writable = false};
	int rc = vq_mem_write(vq_machine_mem(d->m), s->cmd_gpa, le, 4);

	return rc < 0 ? rc : vq_drv_submit(d, (unsigned)s->qidx[VQ_BALLOON_Q_FREE_PAGE], &b, 1,
					   NULL);
}

int vq_drv_balloon_hint(struct vq_drv *d, const uint64_t *gpas, const uint32_t *lens,
			uint32_t n)
{
	struct drv_balloon *s = d ? state(d) : NULL;
	uint8_t le[4];
	uint32_t id;
	int rc;

	if (!s || s->qidx[VQ_BALLOON_Q_FREE_PAGE] < 0)
		return -VQ_E_STATE;
	if (n && (!gpas || !lens))
		return -VQ_E_INVAL;
	if ((rc = vq_drv_config_read(d, VIRTIO_BALLOON_CFG_CMD_ID, le, 4)) < 0)
		return rc;
	id = (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 |
	     (uint32_t)le[3] << 24;
	if (id < 2)
		return -VQ_E_STATE; /* STOP or DONE: no hints wanted */
	if ((rc = hint_cmd(d, s, id)) < 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		struct vq_buf b = {.gpa = gpas[i], .len = lens[i], .writable = true};
		if ((rc = vq_drv_submit(d, (unsigned)s->qidx[VQ_BALLOON_Q_FREE_PAGE], &b, 1,
					NULL)) < 0)
			return rc;
	}
	return hint_cmd(d, s, VIRTIO_BALLOON_CMD_ID_STOP);
}

/* rng.c - virtio-rng / entropy device (spec 5.4).
 *
 * One queue (requestq). Every device-writable buffer the driver posts is
 * filled with random bytes, from the machine's seeded PRNG by default (so a
 * run is reproducible) or from /dev/urandom with source=urandom. Readable
 * buffers carry nothing for this device and are ignored. No config space,
 * no device features. A request is served at most VQ_RNG_REQUEST_MAX bytes
 * (the first ones of its writable part; used.len says how many): the work
 * of a notification stays bounded however large the buffers claim to be.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"

#define RNG_QUEUE_MAX_DEFAULT 256

enum rng_source { RNG_PRNG, RNG_URANDOM };

struct rng {
	enum rng_source source;
	int fd;                 /* /dev/urandom when source=urandom */
	struct vq_rng_stats st;
	struct vq_chain chain;  /* reused across requests */
};

/* Fill len bytes at dst from the configured source; returns bytes filled. */
static size_t rng_fill(struct vq_dev *d, struct rng *r, uint8_t *dst, size_t len)
{
	size_t done = 0;

	if (r->source == RNG_PRNG) {
		vq_prng_fill(d->prng, dst, len);
		return len;
	}
	while (done < len) {
		ssize_t n = read(r->fd, dst + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static void rng_queue_notify(struct vq_dev *d, unsigned q)
{
	struct rng *r = d->priv;
	const struct vq_seg *s;
	struct vq_chain_iter it;
	int rc;

	while ((rc = vq_dev_pop(d, q, &r->chain)) == 1) {
		uint32_t written = 0, room = VQ_RNG_REQUEST_MAX;

		if (r->chain.write_bytes > VQ_RNG_REQUEST_MAX)
			r->st.capped++;
		else
			room = (uint32_t)r->chain.write_bytes;
		for (vq_chain_iter_init(&it, &r->chain); written < room && vq_chain_next(&it, &s);) {
			size_t want = s->len < room - written ? s->len : room - written, n;

			if (!s->writable)
				continue;
			n = rng_fill(d, r, s->host, want);
			written += (uint32_t)n;
			if (n < want)
				break; /* source ran dry: return what we have */
		}
		r->st.bytes_served += written;
		r->st.requests++;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q, "rng head=%u bytes=%u%s",
			 r->chain.head, written,
			 room < r->chain.write_bytes ? " (capped: VQ_RNG_REQUEST_MAX)" : "");
		if (vq_dev_push(d, q, &r->chain, written) == -VQ_E_RING_BROKEN)
			return;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

static void rng_destroy(struct vq_dev *d)
{
	struct rng *r = d->priv;

	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	vq_chain_release(&r->chain);
	free(r);
	d->priv = NULL;
}

static const struct vq_dev_class rng_class = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

static int rng_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
		      const char *name, struct vq_opts *o, char *err, size_t errlen)
{
	static const char *const allowed[] = {"source", "queue-size", NULL};
	uint64_t qmax = RNG_QUEUE_MAX_DEFAULT;
	const char *source = "prng";
	struct rng *r;
	int rc;

	if ((rc = vq_opts_check(o, allowed, err, errlen)) < 0 ||
	    (rc = vq_opts_pow2(o, "queue-size", 1, VIRTQ_MAX_SIZE, &qmax, err, errlen)) < 0 ||
	    (rc = vq_opts_str(o, "source", &source, err, errlen)) < 0)
		return rc;
	if (strcmp(source, "urandom") != 0 && strcmp(source, "prng") != 0) {
		snprintf(err, errlen, "rng: source '%s' unknown (expected prng or urandom)", source);
		return -VQ_E_INVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "rng: out of memory");
		return -VQ_E_NOMEM;
	}
	r->fd = -1;
	r->source = RNG_PRNG;
	vq_chain_init(&r->chain);
	if (strcmp(source, "urandom") == 0)
		r->source = RNG_URANDOM;
	if (r->source == RNG_PRNG && !prng) {
		snprintf(err, errlen, "rng: source=prng needs the machine's PRNG");
		free(r);
		return -VQ_E_INVAL;
	}
	if (r->source == RNG_URANDOM) {
		r->fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (r->fd < 0) {
			snprintf(err, errlen, "rng: cannot open /dev/urandom: %s", strerror(errno));
			free(r);
			return -VQ_E_SYS;
		}
	}
	rc = vq_dev_init(d, &rng_class, name, mem, 1, (uint16_t)qmax,
			 (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX), 0);
	if (rc < 0) {
		snprintf(err, errlen, "rng: %s", vq_strerror(rc));
		if (r->fd >= 0)
			close(r->fd);
		free(r);
		return rc;
	}
	d->priv = r;
	d->prng = prng;
	return 0;
}

uint64_t vq_rng_bytes_served(const struct vq_dev *d)
{
	const struct rng *r = d && d->cls == &rng_class ? d->priv : NULL;
	return r ? r->st.bytes_served : 0;
}

int vq_rng_get_stats(const struct vq_dev *d, struct vq_rng_stats *st)
{
	const struct rng *r = d && d->cls == &rng_class ? d->priv : NULL;

	if (!r || !st)
		return -VQ_E_INVAL;
	*st = r->st;
	return 0;
}

const struct vq_dev_type vq_rng_type = {
	.name = "rng",
	.summary = "virtio-rng entropy device (spec 5.4): fills buffers from the seeded PRNG",
	.options = "source=prng|urandom,queue-size=N",
	.create = rng_create,
};

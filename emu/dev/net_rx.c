/* net_rx.c - virtio-net receive: frames from the backend into rx buffers,
 * with or without MRG_RXBUF, the FIFO of frames waiting for buffers, the
 * per-queue stash of popped buffers, steering (see net.c). */
#include "net_internal.h"

/* ---- receive ---- */

static bool net_queue_live(struct vq_dev *d, unsigned q)
{
	struct vq_queue *vq = vq_dev_queue(d, q);

	return vq && vq->ready && !vq->ring.error;
}

static unsigned net_steer(struct net *n, const uint8_t *f, uint32_t len)
{
	uint32_t h;

	if (n->pairs <= 1)
		return 0;
	h = net_flow_hash(f, len);
	if (n->flow[h % NET_FLOW_SLOTS] < n->pairs)
		return n->flow[h % NET_FLOW_SLOTS];
	return h % n->pairs;
}

static struct vq_chain *stash_at(struct net_stash *s, unsigned i)
{
	return &s->c[(s->head + i) % s->cap];
}

/* Room for a queue of num chains in the stash (it is empty when num grows:
 * a queue's size changes only across a reset). 0 or -VQ_E_NOMEM. */
static int stash_fit(struct net_stash *s, unsigned num)
{
	struct vq_chain *c;

	if (s->cap >= num)
		return 0;
	if (s->n)
		return -VQ_E_STATE; /* cannot happen: sizes change only across a reset */
	c = realloc(s->c, num * sizeof(*c));
	if (!c)
		return -VQ_E_NOMEM;
	for (unsigned i = s->cap; i < num; i++)
		vq_chain_init(&c[i]);
	s->c = c;
	s->cap = num;
	s->head = 0;
	return 0;
}

/* Descriptors the stash holds: when they are the whole ring, no more
 * buffers can come until the device uses some. */
static unsigned stash_descs(struct net_stash *s)
{
	unsigned nd = 0;

	for (unsigned i = 0; i < s->n; i++)
		nd += stash_at(s, i)->ndesc;
	return nd;
}

/* The chains the stash kept from earlier events, checked before any use
 * (vq_dev_chain_check: guest memory may have changed under them, or the
 * queue was stopped). 0, or negative when they are gone: the stash is
 * emptied, and -VQ_E_STATE means only that (fresh chains may be popped),
 * anything else that the queue is broken. */
static int stash_check(struct net *n, unsigned q, struct net_stash *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		int rc = vq_dev_chain_check(n->dev, q, stash_at(s, i));

		if (rc < 0) {
			s->head = s->n = 0;
			return rc;
		}
	}
	return 0;
}

/* Pop rx chains of queue q into the stash until it holds need bytes (MRG)
 * or one chain. 1 when enough, 0 when the ring ran dry first, negative
 * when the ring broke or memory ran out. */
static int net_gather(struct net *n, unsigned q, struct net_stash *s, uint64_t need, bool mrg)
{
	struct vq_dev *d = n->dev;
	uint64_t have = 0;

	for (unsigned i = 0; i < s->n; i++)
		have += stash_at(s, i)->write_bytes;
	while (mrg ? have < need : s->n == 0) {
		struct vq_chain *c;
		int rc;

		if (s->n >= s->cap)
			return 0; /* the whole ring is in the stash */
		c = stash_at(s, s->n);
		rc = vq_dev_pop(d, q, c);
		if (rc <= 0)
			return rc;
		if (c->write_bytes < VIRTIO_NET_HDR_LEN) {
			net_count(n, &n->st.rx_bad_buffers, (int)q,
				  "rx buffer head=%u has %llu writable bytes, under the %u-byte "
				  "header (spec 5.1.6.3.1): used with length 0",
				  c->head, (unsigned long long)c->write_bytes, VIRTIO_NET_HDR_LEN);
			if (vq_dev_push(d, q, c, 0) == -VQ_E_RING_BROKEN)
				return -VQ_E_RING_BROKEN;
			n->rx_dirty = true;
			continue;
		}
		s->n++;
		have += c->write_bytes;
	}
	return 1;
}

/* The rx header for a frame, and the bytes to deliver: a copy in scratch
 * with the checksum completed when the driver cannot take it partial. */
static const uint8_t *net_rx_prepare(struct net *n, const uint8_t *f, uint32_t len,
				     const struct vq_net_meta *meta, uint8_t *scratch,
				     struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (!meta || !(meta->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return f;
	if (n->guest_csum) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = VQ_LE16(meta->csum_start);
		h->csum_offset = VQ_LE16(meta->csum_offset);
		return f;
	}
	if (scratch != f)
		memcpy(scratch, f, len);
	net_csum_complete(scratch, len, meta->csum_start, meta->csum_offset);
	return scratch;
}

/* Place one accepted frame in guest buffers. DELIVER_DONE when it was
 * placed or dropped (counted), DELIVER_WAIT when it has to wait. scratch
 * (>= len bytes, may be f) is used to complete a checksum. */
static int net_deliver(struct net *n, const uint8_t *f, uint32_t len,
		       const struct vq_net_meta *meta, uint8_t *scratch)
{
	struct vq_dev *d = n->dev;
	struct virtio_net_hdr h;
	struct net_stash *s;
	struct vq_queue *vq;
	const uint8_t *data;
	bool mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);
	uint64_t need = VIRTIO_NET_HDR_LEN + (uint64_t)len, room = 0;
	unsigned pair, q, k = 0;
	uint32_t done = 0;
	int rc, ret = DELIVER_DONE;

	if ((d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) !=
	    VIRTIO_STATUS_DRIVER_OK)
		return DELIVER_WAIT;
	pair = net_steer(n, f, len);
	if (!net_queue_live(d, 2 * pair))
		pair = 0; /* the driver did not set that queue up: fall back */
	q = 2 * pair;
	if (!net_queue_live(d, q))
		return DELIVER_WAIT;
	vq = vq_dev_queue(d, q);
	s = &n->stash[pair];
	if (stash_fit(s, vq->num) < 0)
		return DELIVER_WAIT;
	rc = stash_check(n, q, s);
	if (rc < 0 && rc != -VQ_E_STATE) {
		ret = DELIVER_WAIT; /* broken ring: frames wait for the reset */
		goto out;
	}
	rc = net_gather(n, q, s, need, mrg);
	if (rc < 0) {
		ret = DELIVER_WAIT; /* broken ring: frames wait for the reset */
		goto out;
	}
	if (rc == 0) {
		/* with MRG_RXBUF: wait for more buffers, unless the stash already
		 * holds every descriptor of the ring */
		if (!mrg || stash_descs(s) < vq->num) {
			ret = DELIVER_WAIT;
			goto out;
		}
		net_count(n, &n->st.rx_drop_buf_small, (int)q,
			  "rx drop: %u-byte frame does not fit all %u buffers of the ring", len,
			  s->n);
		goto out;
	}
	if (!mrg && stash_at(s, 0)->write_bytes < need) {
		const struct vq_chain *c = stash_at(s, 0);

		net_count(n, &n->st.rx_drop_buf_small, (int)q,
			  "rx drop: %u-byte frame + header > %llu-byte buffer head=%u "
			  "(no MRG_RXBUF)", len, (unsigned long long)c->write_bytes, c->head);
		goto out;
	}
	while (room < need)
		room += stash_at(s, k++)->write_bytes;
	data = net_rx_prepare(n, f, len, meta, scratch, &h);
	h.num_buffers = VQ_LE16((uint16_t)k);
	for (unsigned i = 0; i < k; i++) {
		struct vq_chain *c = stash_at(s, i);
		uint64_t w = 0, take;

		if (i == 0)
			w = vq_chain_write(c, 0, &h, VIRTIO_NET_HDR_LEN);
		take = c->write_bytes - w;
		if (take > len - done)
			take = len - done;
		w += vq_chain_write(c, w, data + done, (size_t)take);
		done += (uint32_t)take;
		rc = vq_dev_push(d, q, c, (uint32_t)w);
		n->rx_dirty = true;
		if (rc == -VQ_E_RING_BROKEN)
			break;
	}
	s->head = (s->head + k) % s->cap;
	s->n -= k;
	if (rc != -VQ_E_RING_BROKEN) {
		n->st.rx_frames++;
		n->st.rx_bytes += len;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q, "rx %u bytes in %u buffer%s",
			 len, k, k == 1 ? "" : "s");
	}
out:
	if (n->rx_dirty) {
		n->rx_dirty = false;
		vq_dev_publish(d, q);
	}
	return ret;
}

/* Put an accepted frame at the end of the FIFO, or drop it (counted). */
static void net_enqueue(struct net *n, const uint8_t *f, uint32_t len,
			const struct vq_net_meta *meta)
{
	struct net_frame *fr;

	if (n->wait_n >= n->rxq_cap) {
		net_count(n, &n->st.rx_drop_queue_full, -1,
			  "rx drop: no guest buffers and %u frames already waiting (rx-queue)",
			  n->wait_n);
		return;
	}
	fr = malloc(sizeof(*fr) + len);
	if (!fr) {
		net_count(n, &n->st.rx_drop_queue_full, -1, "rx drop: out of memory to queue it");
		return;
	}
	fr->len = len;
	fr->meta = meta ? *meta : (struct vq_net_meta){0};
	memcpy(fr->data, f, len);
	n->wait[(n->wait_head + n->wait_n) % n->rxq_cap] = fr;
	n->wait_n++;
	n->st.rx_queued++;
}

static void net_drain_timer(struct vq_dev *d, uint64_t gen)
{
	struct net *n = d->priv;

	if (!n || gen != n->gen)
		return; /* scheduled before a reset */
	n->drain_timer = false;
	net_drain(n);
}

/* Serve waiting frames in order, then pull-backend frames, while guest
 * buffers last; at most NET_DRAIN_BUDGET frames, then continue in a
 * machine event so a long capture file does not hold the machine. */
void net_drain(struct net *n)
{
	struct vq_dev *d = n->dev;
	unsigned budget = NET_DRAIN_BUDGET;

	if (n->draining)
		return;
	n->draining = true;
	while (budget) {
		size_t len = 0;
		int rc;

		if (n->wait_n) {
			struct net_frame *fr = n->wait[n->wait_head];

			if (net_deliver(n, fr->data, fr->len, &fr->meta, fr->data) == DELIVER_WAIT)
				break;
			free(fr);
			n->wait_head = (n->wait_head + 1) % n->rxq_cap;
			n->wait_n--;
			budget--;
			continue;
		}
		if (!n->be->ops->pull || !(d->status & VIRTIO_STATUS_DRIVER_OK) ||
		    (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
			break;
		rc = n->be->ops->pull(n->be, n->rxbuf, VQ_NET_BACKEND_FRAME_MAX, &len);
		if (rc <= 0)
			break;
		budget--;
		if (!net_accept(n, n->rxbuf, len))
			continue;
		if (net_deliver(n, n->rxbuf, (uint32_t)len, NULL, n->rxbuf) == DELIVER_WAIT) {
			net_enqueue(n, n->rxbuf, (uint32_t)len, NULL); /* FIFO was empty */
			break;
		}
	}
	if (!budget && !n->drain_timer && vq_dev_schedule(d, 0, net_drain_timer, n->gen) == 0)
		n->drain_timer = true;
	n->draining = false;
}



static void net_arrive_one(struct net *n, const void *frame, size_t len,
			   const struct vq_net_meta *meta);

static int net_rx_pass(struct net *n, const void *f, size_t len, const struct vq_net_meta *meta)
{
	net_arrive_one(n, f, len, meta);
	return 0;
}

/* The backend's rx callback (and vq_net_receive). */
void net_arrive(void *opaque, const void *frame, size_t len,
		       const struct vq_net_meta *meta)
{
	struct net *n = opaque;

	if ((n->dev->faults && n->dev->faults->armed[VQ_FP_NET_RX]) || n->held[1]) {
		net_fault_pass(n, VQ_FP_NET_RX, -1, frame, len, meta, net_rx_pass);
		return;
	}
	net_arrive_one(n, frame, len, meta);
}

static void net_arrive_one(struct net *n, const void *frame, size_t len,
			   const struct vq_net_meta *meta)
{

	if (!net_accept(n, frame, len))
		return;
	if (n->wait_n == 0 && !n->draining &&
	    net_deliver(n, frame, (uint32_t)len, meta, n->rxbuf) == DELIVER_DONE)
		return;
	net_enqueue(n, frame, (uint32_t)len, meta);
}

/* net_tx.c - virtio-net transmit: tx chains to the backend, and the
 * net.tx / net.rx fault points every frame passes (see net.c). */
#include "net_internal.h"

/* ---- injected faults (fault.h): net.tx and net.rx ---- */

/* A copy of a frame (for reorder and corrupt), or NULL. */
static struct net_frame *net_frame_copy(const void *f, size_t len, const struct vq_net_meta *meta)
{
	struct net_frame *fr = malloc(sizeof(*fr) + len);

	if (!fr)
		return NULL;
	fr->len = (uint32_t)len;
	fr->meta = meta ? *meta : (struct vq_net_meta){0};
	memcpy(fr->data, f, len);
	return fr;
}

/* Pass one frame on through pass(), with fault point p in the way: the
 * frame may be dropped, passed twice, held back until the next frame has
 * passed (reorder), or have one byte (at offset arg) corrupted. Returns
 * what pass() returned (0 for a frame that was dropped or held). */
int net_fault_pass(struct net *n, enum vq_fault_point p, int q, const void *f,
			  size_t len, const struct vq_net_meta *meta, net_pass_fn pass)
{
	struct vq_fault_ctx c = {.who = n->dev->name, .queue = q, .len = len};
	const struct vq_fault *fl = vq_fault_check(n->dev->faults, p, &c);
	struct net_frame **held = &n->held[p == VQ_FP_NET_RX], *hf, *cp = NULL;
	int rc = 0;

	if (fl) {
		switch (fl->spec.action) {
		case VQ_FA_DROP:
			return 0;
		case VQ_FA_DUP:
			rc = pass(n, f, len, meta);
			if (rc < 0)
				return rc;
			break;
		case VQ_FA_REORDER:
			if (!*held) {
				*held = net_frame_copy(f, len, meta);
				if (*held)
					return 0;
			}
			break;
		case VQ_FA_CORRUPT:
			if (len && (cp = net_frame_copy(f, len, meta))) {
				vq_fault_corrupt(fl, cp->data + (fl->spec.arg < len ? fl->spec.arg
										 : len - 1), 1);
				f = cp->data;
			}
			break;
		default:
			break;
		}
	}
	rc = pass(n, f, len, meta);
	free(cp);
	if ((hf = *held)) { /* the frame held back goes after this one */
		*held = NULL;
		pass(n, hf->data, hf->len, &hf->meta);
		free(hf);
	}
	return rc;
}


static int net_tx_pass(struct net *n, const void *f, size_t len, const struct vq_net_meta *meta)
{
	return n->be->ops->send(n->be, f, len, n->be->carries_meta ? meta : NULL);
}


/* ---- transmit ---- */

static void net_tx_one(struct net *n, unsigned q, unsigned pair, const struct vq_chain *c)
{
	struct virtio_net_hdr h;
	struct vq_net_meta meta = {0};
	uint64_t flen;
	int rc;

	if (c->read_bytes < VIRTIO_NET_HDR_LEN) {
		net_count(n, &n->st.tx_hdr_short, (int)q,
			  "tx drop: head=%u has %llu readable bytes, under the %u-byte header",
			  c->head, (unsigned long long)c->read_bytes, VIRTIO_NET_HDR_LEN);
		goto drop;
	}
	flen = c->read_bytes - VIRTIO_NET_HDR_LEN;
	if (flen < VQ_NET_ETH_HLEN || flen > n->max_frame) {
		net_count(n, &n->st.tx_bad_frame, (int)q,
			  "tx drop: head=%u frame of %llu bytes (expected %u..%u)", c->head,
			  (unsigned long long)flen, VQ_NET_ETH_HLEN, n->max_frame);
		goto drop;
	}
	vq_chain_read(c, 0, &h, VIRTIO_NET_HDR_LEN);
	vq_chain_read(c, VIRTIO_NET_HDR_LEN, n->txbuf, (size_t)flen);
	if (flen > net_frame_limit(n, n->txbuf)) {
		net_count(n, &n->st.tx_bad_frame, (int)q,
			  "tx drop: head=%u frame of %llu bytes > mtu %u + %s", c->head,
			  (unsigned long long)flen, n->mtu,
			  net_frame_limit(n, n->txbuf) - n->mtu == VQ_NET_ETH_HLEN ? "14"
										   : "18, tagged");
		goto drop;
	}
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		net_count(n, &n->st.tx_bad_offload, (int)q,
			  "tx drop: head=%u gso_type %u, no HOST_TSO/UFO offered", c->head,
			  h.gso_type);
		goto drop;
	}
	if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && has(n, VIRTIO_NET_F_CSUM)) {
		uint32_t start = VQ_LE16(h.csum_start), off = VQ_LE16(h.csum_offset);

		if (start + off + 2 > flen) {
			net_count(n, &n->st.tx_bad_offload, (int)q,
				  "tx drop: head=%u csum_start %u + csum_offset %u outside the "
				  "%llu-byte frame", c->head, start, off, (unsigned long long)flen);
			goto drop;
		}
		if (n->be->carries_meta)
			meta = (struct vq_net_meta){VIRTIO_NET_HDR_F_NEEDS_CSUM, (uint16_t)start,
						    (uint16_t)off};
		else
			net_csum_complete(n->txbuf, (uint32_t)flen, start, off);
	}
	if (!n->link_up) {
		net_count(n, &n->st.tx_link_down, (int)q, "tx drop: link down");
		goto drop;
	}
	/* learn the flow's pair for rx steering; with one active pair there
	 * is nothing to steer, and an entry would only pin replies to pair 0
	 * once more pairs are set */
	if (n->pairs > 1)
		n->flow[net_flow_hash(n->txbuf, (uint32_t)flen) % NET_FLOW_SLOTS] = (uint8_t)pair;
	if ((n->dev->faults && n->dev->faults->armed[VQ_FP_NET_TX]) || n->held[0])
		rc = net_fault_pass(n, VQ_FP_NET_TX, (int)q, n->txbuf, (size_t)flen, &meta,
				    net_tx_pass);
	else
		rc = n->be->ops->send(n->be, n->txbuf, (size_t)flen,
				      n->be->carries_meta ? &meta : NULL);
	if (rc < 0) {
		net_count(n, &n->st.tx_backend, (int)q, "tx drop: %s backend: %s (errno %d)",
			  n->be->ops->name, vq_strerror(rc), n->be->err);
		goto drop;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += flen;
	vq_trace(n->dev->tracer, VQ_EV_DEVICE, n->dev->name, (int)q, "tx %llu bytes",
		 (unsigned long long)flen);
	return;
drop:
	n->st.tx_errors++;
}

void net_tx(struct net *n, unsigned q, unsigned pair)
{
	struct vq_dev *d = n->dev;
	int rc;

	while ((rc = vq_dev_pop(d, q, &n->chain)) == 1) {
		if (pair >= n->pairs) {
			/* spec 5.1.6.5.5: only pairs up to virtqueue_pairs carry frames */
			net_count(n, &n->st.tx_inactive_queue, (int)q,
				  "tx drop: pair %u is not active (%u active)", pair, n->pairs);
			n->st.tx_errors++;
		} else {
			net_tx_one(n, q, pair, &n->chain);
		}
		if (vq_dev_push(d, q, &n->chain, 0) == -VQ_E_RING_BROKEN)
			return;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
}

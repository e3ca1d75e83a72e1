/* drv/net.c - reference-driver helpers for virtio-net (spec 5.1). */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define DRV_NET_TX_BUF (VIRTIO_NET_HDR_LEN + VQ_NET_FRAME_MAX)

/* The buffers of one receive queue: buffer i lives at base + i * len, and
 * its token is i. */
struct drv_net_rxq {
	uint64_t base;
	unsigned nbufs;
	bool *posted;            /* with the device */
};

struct drv_net {
	unsigned pairs, active;
	int ctrl_q;              /* -1: none */
	bool mrg;
	uint32_t buf_len;
	struct drv_net_rxq rx[VQ_NET_MAX_PAIRS];
	uint64_t tx_gpa[VQ_NET_MAX_PAIRS];   /* 0 until first used */
	uint64_t ctrl_gpa, ack_gpa;
};

static void drv_net_free(struct vq_drv *d)
{
	struct drv_net *s = d->dev_state;

	if (s)
		for (unsigned i = 0; i < VQ_NET_MAX_PAIRS; i++)
			free(s->rx[i].posted);
	free(s);
	d->dev_state = NULL;
}

static struct drv_net *state(const struct vq_drv *d)
{
	return d && d->dev_state_free == drv_net_free ? d->dev_state : NULL;
}

static uint64_t buf_gpa(const struct drv_net *s, unsigned pair, unsigned i)
{
	return s->rx[pair].base + (uint64_t)i * s->buf_len;
}

int vq_drv_net_init(struct vq_drv *d, uint64_t features, const struct vq_drv_net_cfg *cfg)
{
	static const struct vq_drv_net_cfg defaults;
	uint64_t want[VQ_FEATURE_WORDS] = {features, 0};
	struct drv_net *s;
	uint16_t v16;
	int rc;

	if (!d)
		return -VQ_E_INVAL;
	if (!cfg)
		cfg = &defaults;
	if (cfg->rx_buf_len && cfg->rx_buf_len < VIRTIO_NET_HDR_LEN)
		return -VQ_E_INVAL; /* spec 5.1.6.3.1: at least a header */
	if (d->dev_state_free)
		d->dev_state_free(d);
	d->dev_state_free = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -VQ_E_NOMEM;
	d->dev_state = s;
	d->dev_state_free = drv_net_free;
	s->ctrl_q = -1;
	if ((rc = vq_drv_negotiate(d, want)) < 0)
		return rc;
	s->pairs = 1;
	if (vq_drv_has_feature(d, VIRTIO_NET_F_MQ)) {
		if ((rc = vq_drv_config_read(d, 8, &v16, 2)) < 0)
			return rc;
		v16 = VQ_LE16(v16);
		if (v16 < 1 || v16 > VQ_NET_MAX_PAIRS)
			return -VQ_E_INVAL; /* more pairs than queues exist */
		s->pairs = v16;
	}
	s->active = 1;
	s->mrg = vq_drv_has_feature(d, VIRTIO_NET_F_MRG_RXBUF);
	s->buf_len = cfg->rx_buf_len;
	if (!s->buf_len) {
		uint32_t mtu = 1500;

		if (vq_drv_has_feature(d, VIRTIO_NET_F_MTU)) {
			if ((rc = vq_drv_config_read(d, 10, &v16, 2)) < 0)
				return rc;
			mtu = VQ_LE16(v16);
		}
		s->buf_len = VIRTIO_NET_HDR_LEN + mtu + VQ_NET_L2_OVERHEAD;
	}
	for (unsigned q = 0; q < 2 * s->pairs; q++)
		if ((rc = vq_drv_setup_queue(d, q, 0)) < 0)
			return rc;
	if (vq_drv_has_feature(d, VIRTIO_NET_F_CTRL_VQ)) {
		if ((rc = vq_drv_setup_queue(d, 2 * s->pairs, 0)) < 0)
			return rc;
		s->ctrl_q = (int)(2 * s->pairs);
		s->ctrl_gpa = vq_drv_alloc(d, 2 + VQ_NET_CTRL_DATA_MAX, 64);
		s->ack_gpa = vq_drv_alloc(d, 1, 1);
		if (!s->ctrl_gpa || !s->ack_gpa)
			return -VQ_E_NOMEM;
	}
	for (unsigned p = 0; p < s->pairs; p++) {
		struct drv_net_rxq *r = &s->rx[p];
		unsigned num = d->queues[2 * p].ring.num;

		r->nbufs = cfg->rx_bufs && cfg->rx_bufs < num ? cfg->rx_bufs : num;
		r->base = vq_drv_alloc(d, (uint64_t)r->nbufs * s->buf_len, 64);
		r->posted = calloc(r->nbufs, sizeof(*r->posted));
		if (!r->base || !r->posted)
			return -VQ_E_NOMEM;
	}
	if ((rc = vq_drv_driver_ok(d)) < 0)
		return rc;
	if (cfg->no_rx)
		return 0;
	for (unsigned p = 0; p < s->pairs; p++)
		if ((rc = vq_drv_net_post_rx(d, p, s->rx[p].nbufs)) < 0)
			return rc;
	return 0;
}

/* Give buffer i of pair back to the device (not kicked). */
static int post_one(struct vq_drv *d, struct drv_net *s, unsigned pair, unsigned i)
{
	struct vq_buf b = {.gpa = buf_gpa(s, pair, i), .len = s->buf_len, .writable = true};
	int rc = vq_drv_add(d, vq_drv_net_rxq(pair), &b, 1, i);

	if (rc >= 0)
		s->rx[pair].posted[i] = true;
	return rc;
}

int vq_drv_net_post_rx(struct vq_drv *d, unsigned pair, unsigned n)
{
	struct drv_net *s = state(d);
	int posted = 0, rc;

	if (!s)
		return -VQ_E_STATE;
	if (pair >= s->pairs)
		return -VQ_E_INVAL;
	for (unsigned i = 0; i < s->rx[pair].nbufs && (unsigned)posted < n; i++) {
		if (s->rx[pair].posted[i])
			continue;
		if ((rc = post_one(d, s, pair, i)) < 0)
			return rc;
		posted++;
	}
	if (posted && (rc = vq_drv_kick(d, vq_drv_net_rxq(pair))) < 0)
		return rc;
	return posted;
}

int vq_drv_net_send(struct vq_drv *d, unsigned pair, const void *frame, uint32_t len,
		    const struct virtio_net_hdr *hdr)
{
	struct drv_net *s = state(d);
	struct virtio_net_hdr zero = {0};
	struct vq_mem *mem;
	struct vq_buf b;
	int rc;

	if (!s)
		return -VQ_E_STATE;
	if (pair >= s->pairs || len > VQ_NET_FRAME_MAX || (!frame && len))
		return -VQ_E_INVAL;
	if (!s->tx_gpa[pair] && !(s->tx_gpa[pair] = vq_drv_alloc(d, DRV_NET_TX_BUF, 64)))
		return -VQ_E_NOMEM;
	mem = vq_machine_mem(d->m);
	if ((rc = vq_mem_write(mem, s->tx_gpa[pair], hdr ? hdr : &zero, VIRTIO_NET_HDR_LEN)) < 0 ||
	    (len && (rc = vq_mem_write(mem, s->tx_gpa[pair] + VIRTIO_NET_HDR_LEN, frame, len)) < 0))
		return rc;
	b = (struct vq_buf){.gpa = s->tx_gpa[pair], .len = VIRTIO_NET_HDR_LEN + len};
	return vq_drv_submit(d, vq_drv_net_txq(pair), &b, 1, NULL);
}

/* The next used element of q, running the machine if none is there. 1, 0
 * (none came) or a negative error. */
static int reap(struct vq_drv *d, unsigned q, uint64_t *token, uint32_t *len)
{
	int rc = vq_drv_get_used(d, q, token, len);

	if (rc != 0)
		return rc;
	if (vq_drv_wait_used(d, q) != 1)
		return (vq_drv_status(d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? -VQ_E_RING_BROKEN
									     : 0;
	return vq_drv_get_used(d, q, token, len);
}

long vq_drv_net_recv(struct vq_drv *d, unsigned pair, void *buf, uint32_t cap,
		     struct virtio_net_hdr *hdr)
{
	struct drv_net *s = state(d);
	struct vq_mem *mem;
	struct virtio_net_hdr h = {0};
	unsigned q, nb;
	uint64_t total = 0;
	bool got = false;
	int rc, err = 0;

	if (!s)
		return -VQ_E_STATE;
	if (pair >= s->pairs || (!buf && cap))
		return -VQ_E_INVAL;
	q = vq_drv_net_rxq(pair);
	mem = vq_machine_mem(d->m);
	nb = 1;
	for (unsigned i = 0; i < nb; i++) {
		uint64_t tok;
		uint32_t len, skip = 0;

		rc = reap(d, q, &tok, &len);
		if (rc <= 0) {
			/* the first buffer: nothing came; a later one: the device
			 * published fewer buffers than num_buffers said */
			err = rc < 0 ? rc : (i ? -VQ_E_RING_USED_ID : 0);
			break;
		}
		if (tok >= s->rx[pair].nbufs || !s->rx[pair].posted[tok]) {
			err = -VQ_E_RING_USED_ID;
			break;
		}
		s->rx[pair].posted[tok] = false;
		if (len > s->buf_len || (i == 0 && len < VIRTIO_NET_HDR_LEN)) {
			err = -VQ_E_RING_USED_LEN;
			post_one(d, s, pair, (unsigned)tok);
			break;
		}
		if (i == 0) {
			vq_mem_read(mem, buf_gpa(s, pair, (unsigned)tok), &h, VIRTIO_NET_HDR_LEN);
			skip = VIRTIO_NET_HDR_LEN;
			nb = s->mrg ? VQ_LE16(h.num_buffers) : 1;
			if (nb == 0 || nb > s->rx[pair].nbufs) {
				err = -VQ_E_RING_USED_LEN;
				post_one(d, s, pair, (unsigned)tok);
				break;
			}
			got = true;
		}
		if (total < cap) {
			uint64_t n = len - skip, at = buf_gpa(s, pair, (unsigned)tok) + skip;

			if (n > cap - total)
				n = cap - total;
			vq_mem_read(mem, at, (uint8_t *)buf + total, n);
		}
		total += len - skip;
		if ((rc = post_one(d, s, pair, (unsigned)tok)) < 0) {
			err = rc;
			break;
		}
	}
	rc = vq_drv_kick(d, q);
	if (err)
		return err;
	if (rc < 0)
		return rc;
	if (!got)
		return 0;
	if (hdr)
		*hdr = h;
	return (long)total;
}

int vq_drv_net_ctrl(struct vq_drv *d, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	struct drv_net *s = state(d);
	struct vq_mem *mem;
	uint8_t head[2] = {cls, cmd}, ack = 0xff;
	uint32_t used = 0;
	struct vq_buf b[2];
	int rc;

	if (!s || s->ctrl_q < 0)
		return -VQ_E_STATE;
	if (len > VQ_NET_CTRL_DATA_MAX || (!data && len))
		return -VQ_E_INVAL;
	mem = vq_machine_mem(d->m);
	if ((rc = vq_mem_write(mem, s->ctrl_gpa, head, 2)) < 0 ||
	    (len && (rc = vq_mem_write(mem, s->ctrl_gpa + 2, data, len)) < 0) ||
	    (rc = vq_mem_write(mem, s->ack_gpa, &ack, 1)) < 0)
		return rc;
	b[0] = (struct vq_buf){.gpa = s->ctrl_gpa, .len = 2 + len};
	b[1] = (struct vq_buf){.gpa = s->ack_gpa, .len = 1, .writable = true};
	if ((rc = vq_drv_submit(d, (unsigned)s->ctrl_q, b, 2, &used)) < 0)
		return rc;
	if (used < 1)
		return -VQ_E_RING_USED_LEN;
	if ((rc = vq_mem_read(mem, s->ack_gpa, &ack, 1)) < 0)
		return rc;
	return ack;
}

int vq_drv_net_set_pairs(struct vq_drv *d, unsigned n)
{
	struct drv_net *s = state(d);
	uint8_t v[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
	int rc;

	if (!s)
		return -VQ_E_STATE;
	rc = vq_drv_net_ctrl(d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
	if (rc == VIRTIO_NET_OK)
		s->active = n;
	return rc;
}

int vq_drv_net_mac(struct vq_drv *d, uint8_t out[6])
{
	if (!d || !out)
		return -VQ_E_INVAL;
	return vq_drv_config_read(d, 0, out, 6);
}

int vq_drv_net_config(struct vq_drv *d, struct virtio_net_config *cfg)
{
	if (!d || !cfg)
		return -VQ_E_INVAL;
	return vq_drv_config_read(d, 0, cfg, sizeof(*cfg));
}

int vq_drv_net_ctrlq(const struct vq_drv *d)
{
	const struct drv_net *s = state(d);

	return s ? s->ctrl_q : -1;
}

unsigned vq_drv_net_pairs(const struct vq_drv *d)
{
	const struct drv_net *s = state(d);

	return s ? s->pairs : 0;
}

unsigned vq_drv_net_active_pairs(const struct vq_drv *d)
{
	const struct drv_net *s = state(d);

	return s ? s->active : 0;
}

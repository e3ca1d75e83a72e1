/* net_ctrl.c - virtio-net control queue (spec 5.1.6.5): rx mode, MAC
 * tables and address, announce ack, queue pairs, guest offloads. */
#include "net_internal.h"

/* ---- control queue ---- */

static uint8_t net_mac_table(struct net *n, const uint8_t *p, uint32_t len)
{
	uint64_t off, nu, nm;
	const uint8_t *uni, *multi;

	if (len < 4)
		return VIRTIO_NET_ERR;
	nu = le32_at(p);
	off = 4;
	if (nu > (len - off) / 6)
		return VIRTIO_NET_ERR;
	uni = p + off;
	off += nu * 6;
	if (len - off < 4)
		return VIRTIO_NET_ERR;
	nm = le32_at(p + off);
	off += 4;
	if (nm > (len - off) / 6)
		return VIRTIO_NET_ERR;
	multi = p + off;
	off += nm * 6;
	if (off != len)
		return VIRTIO_NET_ERR; /* trailing bytes: not the layout of spec 5.1.6.5.2 */
	n->uni_overflow = nu > VQ_NET_MAC_TABLE_MAX;
	n->nuni = n->uni_overflow ? 0 : (unsigned)nu;
	memcpy(n->uni, uni, n->nuni * 6u);
	n->multi_overflow = nm > VQ_NET_MAC_TABLE_MAX;
	n->nmulti = n->multi_overflow ? 0 : (unsigned)nm;
	memcpy(n->multi, multi, n->nmulti * 6u);
	return VIRTIO_NET_OK;
}

static uint8_t net_ctrl_rx(struct net *n, uint8_t cmd, const uint8_t *data, uint32_t len)
{
	bool *flag;

	if (!has(n, VIRTIO_NET_F_CTRL_RX) || len != 1 || data[0] > 1)
		return VIRTIO_NET_ERR;
	switch (cmd) {
	case VIRTIO_NET_CTRL_RX_PROMISC: flag = &n->promisc; break;
	case VIRTIO_NET_CTRL_RX_ALLMULTI: flag = &n->allmulti; break;
	case VIRTIO_NET_CTRL_RX_ALLUNI: flag = &n->alluni; break;
	case VIRTIO_NET_CTRL_RX_NOMULTI: flag = &n->nomulti; break;
	case VIRTIO_NET_CTRL_RX_NOUNI: flag = &n->nouni; break;
	case VIRTIO_NET_CTRL_RX_NOBCAST: flag = &n->nobcast; break;
	default: return VIRTIO_NET_ERR;
	}
	if (cmd >= VIRTIO_NET_CTRL_RX_ALLUNI && !has(n, VIRTIO_NET_F_CTRL_RX_EXTRA))
		return VIRTIO_NET_ERR;
	*flag = data[0] != 0;
	return VIRTIO_NET_OK;
}

/* One command; the ack. *drain is set when waiting frames may now move. */
static uint8_t net_ctrl_cmd(struct net *n, uint8_t cls, uint8_t cmd, const uint8_t *data,
			    uint32_t len, bool *drain)
{
	switch (cls) {
	case VIRTIO_NET_CTRL_RX:
		return net_ctrl_rx(n, cmd, data, len);
	case VIRTIO_NET_CTRL_MAC:
		if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET && has(n, VIRTIO_NET_F_CTRL_RX))
			return net_mac_table(n, data, len);
		if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) &&
		    len == 6) {
			memcpy(n->mac, data, 6); /* config mac before the command is used */
			net_config_sync(n);
			return VIRTIO_NET_OK;
		}
		return VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK || !has(n, VIRTIO_NET_F_GUEST_ANNOUNCE) ||
		    len != 0)
			return VIRTIO_NET_ERR;
		n->announce = false;
		net_config_sync(n);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ:
		if (cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && has(n, VIRTIO_NET_F_MQ) && len == 2) {
			unsigned v = le16_at(data);

			if (v < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || v > n->max_pairs)
				return VIRTIO_NET_ERR;
			n->pairs = v;
			*drain = true;
			return VIRTIO_NET_OK;
		}
		return VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
		if (cmd == VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET &&
		    has(n, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) && len == 8) {
			uint64_t v = le32_at(data) | (uint64_t)le32_at(data + 4) << 32;
			uint64_t ok = has(n, VIRTIO_NET_F_GUEST_CSUM)
					      ? 1ull << VIRTIO_NET_F_GUEST_CSUM : 0;

			if (v & ~ok)
				return VIRTIO_NET_ERR; /* an offload not negotiated */
			n->guest_csum = v != 0;
			return VIRTIO_NET_OK;
		}
		return VIRTIO_NET_ERR;
	default:
		return VIRTIO_NET_ERR;
	}
}

void net_ctrl(struct net *n, unsigned q)
{
	struct vq_dev *d = n->dev;
	struct vq_chain *c = &n->chain;
	bool drain = false;
	int rc;

	while ((rc = vq_dev_pop(d, q, c)) == 1) {
		uint8_t hdr[2] = {0xff, 0xff}, ack = VIRTIO_NET_ERR;
		uint32_t written = 0;

		if (c->write_bytes < 1) {
			net_count(n, &n->st.ctrl_err, (int)q,
				  "ctrl head=%u: no writable byte for the ack: used with length 0",
				  c->head);
		} else {
			if (c->read_bytes < 2) {
				vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
					 "ctrl head=%u: %llu readable bytes, no class+command",
					 c->head, (unsigned long long)c->read_bytes);
			} else if (c->read_bytes - 2 > VQ_NET_CTRL_DATA_MAX) {
				vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
					 "ctrl head=%u: %llu data bytes > %u", c->head,
					 (unsigned long long)(c->read_bytes - 2),
					 VQ_NET_CTRL_DATA_MAX);
			} else {
				uint32_t len = (uint32_t)(c->read_bytes - 2);

				vq_chain_read(c, 0, hdr, 2);
				vq_chain_read(c, 2, n->ctrlbuf, len);
				ack = net_ctrl_cmd(n, hdr[0], hdr[1], n->ctrlbuf, len, &drain);
			}
			written = (uint32_t)vq_chain_write(c, 0, &ack, 1);
			if (ack == VIRTIO_NET_OK)
				n->st.ctrl_ok++;
			else
				n->st.ctrl_err++;
			vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
				 "ctrl class=%u cmd=%u -> %s", hdr[0], hdr[1],
				 ack == VIRTIO_NET_OK ? "OK" : "ERR");
		}
		if (vq_dev_push(d, q, c, written) == -VQ_E_RING_BROKEN)
			return;
	}
	if (rc == 0)
		vq_dev_publish(d, q);
	if (drain)
		net_drain(n);
}

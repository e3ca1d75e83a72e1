/* net.c - virtio-net, the network device (spec 5.1).
 *
 * Queues rx0, tx0, rx1, tx1, ..., ctrl (spec 5.1.2); a backend (loopback,
 * pcap, dgram, tap: emu/backend/netdev.h) is the wire.
 *
 * Transmit: each tx chain is a 12-byte virtio_net_hdr and a frame in the
 * readable part. The frame is copied out and handed to the backend; the
 * chain is used with length 0. A chain that cannot be sent (shorter than
 * the header, a frame under 14 bytes or over the mtu limit, GSO asked for, checksum
 * offsets outside the frame, an inactive pair, link down, backend refusal)
 * is still used with length 0 and counted: the spec gives no answer for a
 * malformed tx header, and dropping keeps the device usable (QEMU marks
 * DEVICE_NEEDS_RESET for a short header instead).
 *
 * Checksum offload: with VIRTIO_NET_F_CSUM a tx header may carry
 * NEEDS_CSUM, csum_start, csum_offset (checked to lie inside the frame).
 * Over loopback the three travel with the frame: a driver with GUEST_CSUM
 * on receives them unchanged in its rx header and the frame bytes as sent
 * (the checksum field still holds the pseudo-header sum, as spec 5.1.6.4.1
 * allows); without GUEST_CSUM (or after GUEST_OFFLOADS_SET cleared it) the
 * device completes the checksum (16-bit ones' complement sum from
 * csum_start to the end, stored big-endian at csum_start+csum_offset) and
 * delivers flags 0. Backends that leave the machine (pcap, dgram, tap)
 * carry plain frames: the device completes the checksum before sending.
 * Other tx flag bits are ignored, as is NEEDS_CSUM without CSUM.
 *
 * MTU (5.1.4.1: mtu plus the Ethernet header): an untagged frame may be
 * mtu + 14 bytes, a frame tagged 802.1Q/802.1ad (ethertype 0x8100 or
 * 0x88a8) mtu + 18, both ways: accepting mtu + 18 untagged would pass a
 * payload 4 bytes over the mtu to a driver that sized for it.
 *
 * Receive: a frame arriving from the backend is checked (link up, 14 bytes
 * to the mtu limit, rx filter) and placed in guest buffers at once when the
 * device can, else it waits in a FIFO of at most rx-queue frames; beyond
 * that it is dropped and counted. Pull backends (pcap reader) are read only
 * when the FIFO is empty, so they never overflow it. Without MRG_RXBUF a
 * frame takes one buffer (header + frame); one too small drops the frame
 * (counted) and the buffer stays for the next frame. With MRG_RXBUF the
 * frame spreads over as many buffers as it needs, every one but the last
 * filled, num_buffers in the first header; buffers popped while waiting for
 * enough of them are kept by the device (a stash per queue) until a frame
 * uses them. An rx buffer with fewer than 12 writable bytes breaks a driver
 * MUST (spec 5.1.6.3.1): it is returned at once with length 0 and counted.
 *
 * Steering (MQ): with n active pairs a frame goes to the pair its flow last
 * transmitted on (a 256-slot table indexed by a symmetric hash of the
 * IPv4/IPv6 addresses and TCP/UDP ports, or of the MAC addresses and
 * ethertype for other frames), else to hash % n. The FIFO is served in
 * order: a frame whose pair has no buffers holds back those behind it.
 *
 * Rx filter (CTRL_RX): after reset promiscuous (nothing is filtered until
 * the driver turns PROMISC off), tables empty. Otherwise broadcast passes
 * unless NOBCAST; multicast needs !NOMULTI and ALLMULTI or a multicast table
 * entry; unicast needs !NOUNI and ALLUNI, the device MAC or a unicast table
 * entry. A table set with more than 64 entries acts as ALLUNI/ALLMULTI.
 */
#include "net_internal.h"

static const struct vq_dev_class net_class;

static struct net *net_of(const struct vq_dev *d)
{
	return d && d->cls == &net_class ? d->priv : NULL;
}

/* Count one dropped frame or failed command in *ctr and trace why. */
void net_count(struct net *n, uint64_t *ctr, int queue, const char *fmt, ...)
{
	struct vq_dev *d = n->dev;
	char msg[160];
	va_list ap;

	(*ctr)++;
	if (!d->tracer || !d->tracer->on)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, queue, "%s", msg);
}

/* ---- config space ---- */

void net_config_sync(struct net *n)
{
	uint8_t *c = n->config;
	uint16_t status = (uint16_t)((n->link_up ? VIRTIO_NET_S_LINK_UP : 0) |
				     (n->announce ? VIRTIO_NET_S_ANNOUNCE : 0));

	memcpy(c, n->mac, 6);
	c[6] = (uint8_t)status;
	c[7] = (uint8_t)(status >> 8);
	c[8] = (uint8_t)n->max_pairs;
	c[9] = (uint8_t)(n->max_pairs >> 8);
	c[10] = (uint8_t)n->mtu;
	c[11] = (uint8_t)(n->mtu >> 8);
}

static void net_config_read(struct vq_dev *d, uint32_t off, uint32_t len)
{
	(void)off;
	(void)len;
	net_config_sync(d->priv);
}

/* Every field is read-only for the driver (spec 5.1.4.2): undo the write. */
static void net_config_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	struct net *n = d->priv;

	net_count(n, &n->st.config_writes, -1,
		  "config write of %u bytes at %u refused: read-only (spec 5.1.4.2)", len, off);
	net_config_sync(n);
}


/* ---- class hooks ---- */

static enum net_role net_role(const struct net *n, unsigned q, unsigned *pair)
{
	unsigned np = has(n, VIRTIO_NET_F_MQ) ? n->max_pairs : 1;

	if (has(n, VIRTIO_NET_F_CTRL_VQ) && q == 2 * np)
		return ROLE_CTRL;
	if (q >= 2 * np)
		return ROLE_NONE;
	*pair = q / 2;
	return q % 2 ? ROLE_TX : ROLE_RX;
}

/* QueueReady=0 or a queue reset of an rx queue: the chains stashed from it
 * are dropped, neither used nor returned (spec 4.2.2.1, 2.6.1). */
static void net_queue_stop(struct vq_dev *d, unsigned q)
{
	struct net *n = d->priv;
	unsigned pair;

	if (net_role(n, q, &pair) != ROLE_RX || !n->stash[pair].n)
		return;
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
		 "queue stopped: %u stashed rx chain%s dropped", n->stash[pair].n,
		 n->stash[pair].n == 1 ? "" : "s");
	n->stash[pair].head = n->stash[pair].n = 0;
}

static void net_queue_notify(struct vq_dev *d, unsigned q)
{
	struct net *n = d->priv;
	unsigned pair = 0;

	switch (net_role(n, q, &pair)) {
	case ROLE_RX:
		net_drain(n);
		break;
	case ROLE_TX:
		net_tx(n, q, pair);
		break;
	case ROLE_CTRL:
		net_ctrl(n, q);
		break;
	default:
		net_count(n, &n->st.ignored_notifies, (int)q,
			  "queue %u has no role with the negotiated features: ignored", q);
		break;
	}
}

/* Spec 5.1.3.1: these features need the control queue. */
static int net_validate_features(struct vq_dev *d, const uint64_t *f)
{
	static const unsigned need_ctrl[] = {
		VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_GUEST_ANNOUNCE,
		VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
	};
	struct net *n = d->priv;

	if (!(f[0] & (1ull << VIRTIO_NET_F_CTRL_VQ))) {
		for (size_t i = 0; i < sizeof(need_ctrl) / sizeof(need_ctrl[0]); i++) {
			if (f[0] & (1ull << need_ctrl[i])) {
				vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
					 "feature bit %u needs VIRTIO_NET_F_CTRL_VQ (spec 5.1.3.1)",
					 need_ctrl[i]);
				return -VQ_E_FEATURES;
			}
		}
	}
	n->guest_csum = (f[0] >> VIRTIO_NET_F_GUEST_CSUM) & 1;
	return 0;
}

static void net_driver_ok(struct vq_dev *d)
{
	net_drain(d->priv);
}

static void net_reset(struct vq_dev *d)
{
	struct net *n = d->priv;

	n->gen++;
	n->drain_timer = false;
	for (unsigned i = 0; i < 2; i++) { /* frames an injected reorder held back */
		free(n->held[i]);
		n->held[i] = NULL;
	}
	while (n->wait_n) {
		free(n->wait[n->wait_head]);
		n->wait_head = (n->wait_head + 1) % n->rxq_cap;
		n->wait_n--;
		n->st.rx_drop_reset++;
	}
	n->wait_head = 0;
	for (unsigned i = 0; i < VQ_NET_MAX_PAIRS; i++)
		n->stash[i].head = n->stash[i].n = 0;
	n->rx_dirty = false;
	memcpy(n->mac, n->conf_mac, 6);
	n->announce = false;
	n->pairs = 1;
	n->promisc = true;
	n->allmulti = n->alluni = n->nomulti = n->nouni = n->nobcast = false;
	n->nuni = n->nmulti = 0;
	n->uni_overflow = n->multi_overflow = false;
	n->guest_csum = false;
	memset(n->flow, NET_FLOW_NONE, sizeof(n->flow));
	net_config_sync(n);
}

static int net_realize(struct vq_dev *d)
{
	struct net *n = d->priv;
	int rc;

	n->be->dev = d; /* for the virtual clock (pcap timestamps) and fd watches */
	if (!n->be->ops->start)
		return 0;
	rc = n->be->ops->start(n->be, d);
	if (rc < 0)
		snprintf(d->last_error_msg, sizeof(d->last_error_msg), "%s", n->be->msg);
	return rc;
}

static void net_free(struct net *n)
{
	if (n->be)
		n->be->ops->close(n->be);
	while (n->wait && n->wait_n) {
		free(n->wait[n->wait_head]);
		n->wait_head = (n->wait_head + 1) % n->rxq_cap;
		n->wait_n--;
	}
	for (unsigned i = 0; i < VQ_NET_MAX_PAIRS; i++) {
		for (unsigned j = 0; j < n->stash[i].cap; j++)
			vq_chain_release(&n->stash[i].c[j]);
		free(n->stash[i].c);
	}
	vq_chain_release(&n->chain);
	free(n->wait);
	free(n->txbuf);
	free(n->rxbuf);
	free(n->ctrlbuf);
	free(n->held[0]);
	free(n->held[1]);
	free(n);
}

static void net_destroy(struct vq_dev *d)
{
	if (d->priv)
		net_free(d->priv);
	d->priv = NULL;
}

static const struct vq_dev_class net_class = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.realize = net_realize,
	.validate_features = net_validate_features,
	.driver_ok = net_driver_ok,
	.queue_notify = net_queue_notify,
	.queue_stop = net_queue_stop,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.reset = net_reset,
	.destroy = net_destroy,
};

/* ---- creation ---- */

struct net_opts {
	const char *backend;
	const char *pcap_out, *pcap_in, *path, *peer, *ifname; /* NULL: not given */
	long fd;
	uint8_t mac[6];
	uint64_t mtu, queues, rxq, qsize;
	bool mrg, csum, ctrl;
};

/* Parse and check every option; 0 or -VQ_E_INVAL with a message. The
 * strings in *o point into opts. */
static int net_parse(struct vq_opts *opts, struct net_opts *o, char *err, size_t errlen)
{
	static const char *const allowed[] = {
		"backend", "pcap-out", "pcap-in", "path", "peer", "fd", "ifname", "mac", "mtu",
		"queues", "mrg-rxbuf", "csum", "ctrl", "rx-queue", "queue-size", NULL,
	};
	static const struct {
		const char *key, *backend;
		bool str;               /* a string read into *off */
		size_t off;
	} only[] = {
		{"pcap-out", "pcap", true, offsetof(struct net_opts, pcap_out)},
		{"pcap-in", "pcap", true, offsetof(struct net_opts, pcap_in)},
		{"path", "dgram", true, offsetof(struct net_opts, path)},
		{"peer", "dgram", true, offsetof(struct net_opts, peer)},
		{"fd", "dgram", false, 0},
		{"ifname", "tap", true, offsetof(struct net_opts, ifname)},
	};
	static const struct {
		const char *key;
		size_t off;
	} flags[] = {
		{"mrg-rxbuf", offsetof(struct net_opts, mrg)},
		{"csum", offsetof(struct net_opts, csum)},
		{"ctrl", offsetof(struct net_opts, ctrl)},
	};
	static const char *const kinds[] = {"loopback", "pcap", "dgram", "tap"};
	const char *v = NULL;
	uint64_t x;
	size_t i = 0;
	int rc;

	*o = (struct net_opts){.backend = "loopback", .fd = -1, .mtu = NET_MTU_DEFAULT,
			       .queues = 1, .rxq = NET_RXQ_DEFAULT, .qsize = NET_QUEUE_MAX_DEFAULT,
			       .mrg = true, .csum = true, .ctrl = true,
			       .mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
	if ((rc = vq_opts_check(opts, allowed, err, errlen)) < 0 ||
	    (rc = vq_opts_str(opts, "backend", &v, err, errlen)) < 0)
		return rc;
	if (v) {
		while (i < 4 && strcmp(v, kinds[i]))
			i++;
		if (i == 4) {
			snprintf(err, errlen,
				 "net: backend '%s' unknown (expected loopback, pcap, dgram or "
				 "tap)", v);
			return -VQ_E_INVAL;
		}
		o->backend = kinds[i];
	}
	for (i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (vq_opts_has(opts, only[i].key) && strcmp(o->backend, only[i].backend)) {
			snprintf(err, errlen, "net: option '%s' needs backend=%s (backend is %s)",
				 only[i].key, only[i].backend, o->backend);
			return -VQ_E_INVAL;
		}
		if (only[i].str && (rc = vq_opts_str(opts, only[i].key,
						     (const char **)((char *)o + only[i].off),
						     err, errlen)) < 0)
			return rc;
	}
	if ((rc = vq_opts_uint(opts, "fd", 0, 1u << 30, &x, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		o->fd = (long)x;
	v = NULL;
	if ((rc = vq_opts_str(opts, "mac", &v, err, errlen)) < 0)
		return rc;
	if (v) {
		if (vq_parse_mac(v, o->mac) < 0) {
			snprintf(err, errlen,
				 "net: mac '%s' must be six hex bytes xx:xx:xx:xx:xx:xx", v);
			return -VQ_E_INVAL;
		}
		if (o->mac[0] & 1) {
			snprintf(err, errlen,
				 "net: mac '%s' is a multicast address (first byte odd)", v);
			return -VQ_E_INVAL;
		}
	}
	if ((rc = vq_opts_uint(opts, "mtu", NET_MTU_MIN, 65535, &o->mtu, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(opts, "queues", 1, VQ_NET_MAX_PAIRS, &o->queues, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(opts, "rx-queue", 1, VQ_NET_RX_QUEUE_MAX, &o->rxq, err,
			       errlen)) < 0 ||
	    (rc = vq_opts_pow2(opts, "queue-size", 1, VIRTQ_MAX_SIZE, &o->qsize, err, errlen)) < 0)
		return rc;
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if ((rc = vq_opts_bool(opts, flags[i].key, (bool *)((char *)o + flags[i].off), err,
				       errlen)) < 0)
			return rc;
	if (o->queues > 1 && !o->ctrl) {
		snprintf(err, errlen, "net: queues=%" PRIu64 " needs ctrl=on (MQ is set up through "
			 "the control queue)", o->queues);
		return -VQ_E_INVAL;
	}
	return 0;
}

/* An empty path ("pcap-out=") means none, as if the key were absent. */
static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static struct vq_net_backend *net_open_backend(const struct net_opts *o, char *err,
					       size_t errlen)
{
	char msg[200];
	struct vq_net_backend *be = NULL;

	msg[0] = '\0';
	if (!strcmp(o->backend, "loopback"))
		be = vq_net_loopback_open(msg, sizeof(msg));
	else if (!strcmp(o->backend, "pcap"))
		be = vq_net_pcap_open(nonempty(o->pcap_out), nonempty(o->pcap_in), msg, sizeof(msg));
	else if (!strcmp(o->backend, "dgram"))
		be = vq_net_dgram_open(nonempty(o->path), nonempty(o->peer), (int)o->fd, msg,
				       sizeof(msg));
	else
		be = vq_net_tap_open(o->ifname ? o->ifname : "", msg, sizeof(msg));
	if (!be)
		snprintf(err, errlen, "net: %s", msg);
	return be;
}

static int net_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
		      const char *name, struct vq_opts *opts, char *err, size_t errlen)
{
	struct net_opts *o = malloc(sizeof(*o));
	struct net *n = NULL;
	uint64_t features;
	unsigned nq;
	int rc;

	if (!o) {
		snprintf(err, errlen, "net: out of memory");
		return -VQ_E_NOMEM;
	}
	if ((rc = net_parse(opts, o, err, errlen)) < 0)
		goto fail;
	rc = -VQ_E_NOMEM;
	n = calloc(1, sizeof(*n));
	if (!n)
		goto nomem;
	memcpy(n->conf_mac, o->mac, 6);
	n->mtu = (uint16_t)o->mtu;
	n->max_pairs = (unsigned)o->queues;
	n->rxq_cap = (unsigned)o->rxq;
	n->max_frame = n->mtu + VQ_NET_L2_OVERHEAD; /* a tagged frame; <= VQ_NET_FRAME_MAX */
	n->link_up = true;
	vq_chain_init(&n->chain);
	n->wait = calloc(n->rxq_cap, sizeof(*n->wait));
	n->txbuf = malloc(n->max_frame);
	n->rxbuf = malloc(VQ_NET_BACKEND_FRAME_MAX);
	n->ctrlbuf = malloc(VQ_NET_CTRL_DATA_MAX);
	if (!n->wait || !n->txbuf || !n->rxbuf || !n->ctrlbuf)
		goto nomem;
	features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
		   (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_F_INDIRECT_DESC) |
		   (1ull << VIRTIO_F_EVENT_IDX);
	if (o->mrg)
		features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (o->csum)
		features |= (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM);
	if (o->ctrl) {
		features |= (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |
			    (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA) |
			    (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR) |
			    (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE);
		if (o->csum)
			features |= 1ull << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS;
		if (o->queues > 1)
			features |= 1ull << VIRTIO_NET_F_MQ;
	}
	nq = 2 * n->max_pairs + (o->ctrl ? 1 : 0);
	rc = vq_dev_init(d, &net_class, name, mem, nq, (uint16_t)o->qsize, features, 0);
	if (rc < 0) {
		snprintf(err, errlen, "net: %s", vq_strerror(rc));
		goto fail;
	}
	n->dev = d;
	/* the backend last: it may create files and sockets */
	n->be = net_open_backend(o, err, errlen);
	if (!n->be) {
		rc = -VQ_E_INVAL;
		goto fail;
	}
	n->be->rx = net_arrive;
	n->be->rx_opaque = n;
	d->priv = n;
	d->prng = prng;
	d->config = n->config;
	d->config_len = VIRTIO_NET_CONFIG_LEN;
	net_reset(d);
	free(o);
	return 0;
nomem:
	snprintf(err, errlen, "net: out of memory");
fail:
	if (n)
		net_free(n);
	free(o);
	return rc;
}

const struct vq_dev_type vq_net_type = {
	.name = "net",
	.summary = "virtio-net network device (spec 5.1): loopback, pcap, UNIX dgram or TAP",
	.options = "backend=loopback|pcap|dgram|tap,pcap-out=FILE,pcap-in=FILE,path=LOCAL,"
		   "peer=REMOTE,fd=N,ifname=NAME,mac=xx:xx:xx:xx:xx:xx,mtu=N,queues=N,"
		   "mrg-rxbuf=on|off,csum=on|off,ctrl=on|off,rx-queue=N,queue-size=N",
	.create = net_create,
};

/* ---- host-side API ---- */

int vq_net_get_stats(const struct vq_dev *d, struct vq_net_stats *st)
{
	const struct net *n = net_of(d);

	if (!n || !st)
		return -VQ_E_INVAL;
	*st = n->st;
	st->backend_read_errors = n->be->read_errors;
	st->rx_drop_truncated = n->be->rx_truncated;
	return 0;
}

uint32_t vq_net_hdr_len(const struct vq_dev *d)
{
	(void)d;
	return VIRTIO_NET_HDR_LEN;
}

int vq_net_announce(struct vq_dev *d)
{
	struct net *n = net_of(d);

	if (!n)
		return -VQ_E_INVAL;
	if (!has(n, VIRTIO_NET_F_GUEST_ANNOUNCE) || !has(n, VIRTIO_NET_F_STATUS))
		return -VQ_E_STATE;
	if (!(d->status & VIRTIO_STATUS_DRIVER_OK))
		return -VQ_E_NOT_READY;
	n->announce = true;
	n->st.announces++;
	net_config_sync(n);
	vq_dev_config_changed(d);
	return 0;
}

int vq_net_set_link(struct vq_dev *d, bool up)
{
	struct net *n = net_of(d);

	if (!n)
		return -VQ_E_INVAL;
	if (n->link_up == up)
		return 0;
	n->link_up = up;
	net_config_sync(n);
	vq_dev_config_changed(d);
	return 0;
}

int vq_net_receive(struct vq_dev *d, const void *frame, size_t len)
{
	struct net *n = net_of(d);

	if (!n || (!frame && len))
		return -VQ_E_INVAL;
	net_arrive(n, frame, len, NULL);
	return 0;
}

unsigned vq_net_active_pairs(const struct vq_dev *d)
{
	const struct net *n = net_of(d);

	return n ? n->pairs : 0;
}

const char *vq_net_tap_ifname(const struct vq_dev *d)
{
	const struct net *n = net_of(d);

	return n ? vq_net_tap_name(n->be) : NULL;
}

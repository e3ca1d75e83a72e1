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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "../backend/netdev.h"

#define NET_QUEUE_MAX_DEFAULT 256
#define NET_RXQ_DEFAULT       256
#define NET_MTU_DEFAULT       1500
#define NET_MTU_MIN           68
#define NET_FLOW_SLOTS        256
#define NET_FLOW_NONE         0xff
#define NET_DRAIN_BUDGET      1024   /* frames per drain before yielding to the machine */

enum net_role { ROLE_NONE, ROLE_RX, ROLE_TX, ROLE_CTRL };
enum { DELIVER_DONE = 0, DELIVER_WAIT = 1 };

/* A frame waiting for guest buffers. */
struct net_frame {
	uint32_t len;
	struct vq_net_meta meta;
	uint8_t data[];
};

/* rx chains of one queue popped but not used yet (a ring of cap). */
struct net_stash {
	struct vq_chain *c;
	unsigned head, n, cap;
};

struct net {
	struct vq_dev *dev;
	struct vq_net_backend *be;
	/* options */
	uint8_t conf_mac[6];
	uint16_t mtu;
	unsigned max_pairs;
	unsigned rxq_cap;
	uint32_t max_frame;
	/* state; back to defaults at reset (the link is the host's) */
	uint8_t mac[6];
	bool link_up, announce;
	unsigned pairs;
	bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
	uint8_t uni[VQ_NET_MAC_TABLE_MAX][6], multi[VQ_NET_MAC_TABLE_MAX][6];
	unsigned nuni, nmulti;
	bool uni_overflow, multi_overflow;
	bool guest_csum;               /* rx headers may carry NEEDS_CSUM */
	uint8_t flow[NET_FLOW_SLOTS];  /* pair a flow last sent on */
	struct net_frame **wait;       /* FIFO of rxq_cap */
	unsigned wait_head, wait_n;
	struct net_stash stash[VQ_NET_MAX_PAIRS];
	bool rx_dirty;                 /* pushed rx elements not yet published */
	uint64_t gen;                  /* bumped at reset: stale timers do nothing */
	bool draining, drain_timer;
	uint8_t *txbuf;                /* the frame of one tx chain */
	uint8_t *rxbuf;                /* pulled frames, checksum completion */
	uint8_t *ctrlbuf;
	struct vq_chain chain;         /* tx and ctrl chains */
	struct vq_net_stats st;
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	struct net_frame *held[2];     /* injected reorder (fault.h): [0] tx, [1] rx */
};

static const struct vq_dev_class net_class;

static struct net *net_of(const struct vq_dev *d)
{
	return d && d->cls == &net_class ? d->priv : NULL;
}

static bool has(const struct net *n, unsigned bit)
{
	return vq_dev_has_feature(n->dev, bit);
}

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Count one dropped frame or failed command in *ctr and trace why. */
static void net_count(struct net *n, uint64_t *ctr, int queue, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void net_count(struct net *n, uint64_t *ctr, int queue, const char *fmt, ...)
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

static void net_config_sync(struct net *n)
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

/* ---- frames: checksum, flow hash, filter ---- */

/* Finish a partial checksum: ones' complement sum of f[start..len) stored
 * big-endian at start+off (the caller checked start+off+2 <= len). */
static void net_csum_complete(uint8_t *f, uint32_t len, uint32_t start, uint32_t off)
{
	uint64_t sum = 0;
	uint32_t i;
	uint16_t c;

	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if (i < len)
		sum += (uint32_t)f[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	f[start + off] = (uint8_t)(c >> 8);
	f[start + off + 1] = (uint8_t)c;
}

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* Hash two endpoints (address + port) in an order that does not depend on
 * direction, so a flow and its replies hash alike. */
static uint32_t sym_hash(const uint8_t *a, const uint8_t *pa, const uint8_t *b,
			 const uint8_t *pb, size_t alen, unsigned proto)
{
	uint8_t ea[18] = {0}, eb[18] = {0}, pr = (uint8_t)proto;
	uint32_t h = 2166136261u;

	memcpy(ea, a, alen);
	memcpy(eb, b, alen);
	if (pa && pb) {
		memcpy(ea + alen, pa, 2);
		memcpy(eb + alen, pb, 2);
	}
	if (memcmp(ea, eb, alen + 2) > 0) {
		h = fnv1a(h, eb, alen + 2);
		h = fnv1a(h, ea, alen + 2);
	} else {
		h = fnv1a(h, ea, alen + 2);
		h = fnv1a(h, eb, alen + 2);
	}
	return fnv1a(h, &pr, 1);
}

/* Flow hash of a frame of at least 14 bytes. */
static uint32_t net_flow_hash(const uint8_t *f, uint32_t len)
{
	uint32_t l3 = VQ_NET_ETH_HLEN;
	unsigned type = (unsigned)(f[12] << 8 | f[13]);

	if (type == 0x8100 && len >= 18) { /* one 802.1Q tag */
		type = (unsigned)(f[16] << 8 | f[17]);
		l3 = 18;
	}
	if (type == 0x0800 && len >= l3 + 20) {
		const uint8_t *ip = f + l3;
		uint32_t ihl = (ip[0] & 15u) * 4u;
		unsigned proto = ip[9];
		bool frag = ((ip[6] & 0x3fu) | ip[7]) != 0; /* MF or an offset */
		const uint8_t *l4 = ip + ihl;

		if ((proto == 6 || proto == 17) && !frag && ihl >= 20 && len >= l3 + ihl + 4)
			return sym_hash(ip + 12, l4, ip + 16, l4 + 2, 4, proto);
		return sym_hash(ip + 12, NULL, ip + 16, NULL, 4, proto);
	}
	if (type == 0x86dd && len >= l3 + 40) {
		const uint8_t *ip = f + l3, *l4 = ip + 40;
		unsigned proto = ip[6];

		if ((proto == 6 || proto == 17) && len >= l3 + 44)
			return sym_hash(ip + 8, l4, ip + 24, l4 + 2, 16, proto);
		return sym_hash(ip + 8, NULL, ip + 24, NULL, 16, proto);
	}
	return sym_hash(f + 6, NULL, f, NULL, 6, type & 0xff) ^ (type >> 8);
}

static bool mac_in(const uint8_t (*table)[6], unsigned n, const uint8_t *mac)
{
	for (unsigned i = 0; i < n; i++)
		if (memcmp(table[i], mac, 6) == 0)
			return true;
	return false;
}

static bool net_filter_pass(const struct net *n, const uint8_t *dst)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (n->promisc)
		return true;
	if (memcmp(dst, bcast, 6) == 0)
		return !n->nobcast;
	if (dst[0] & 1) {
		if (n->nomulti)
			return false;
		return n->allmulti || n->multi_overflow ||
		       mac_in((const uint8_t(*)[6])n->multi, n->nmulti, dst);
	}
	if (n->nouni)
		return false;
	return n->alluni || n->uni_overflow || memcmp(dst, n->mac, 6) == 0 ||
	       mac_in((const uint8_t(*)[6])n->uni, n->nuni, dst);
}

/* Longest frame f (len >= 14) may be: mtu plus its Ethernet header, 4
 * bytes longer when the frame carries a VLAN tag. */
static uint32_t net_frame_limit(const struct net *n, const uint8_t *f)
{
	unsigned type = (unsigned)(f[12] << 8 | f[13]);
	bool tagged = type == 0x8100 || type == 0x88a8;

	return n->mtu + (tagged ? VQ_NET_L2_OVERHEAD : VQ_NET_ETH_HLEN);
}

/* Arrival checks; false (and counted) when the frame is dropped. */
static bool net_accept(struct net *n, const uint8_t *f, size_t len)
{
	if (!n->link_up) {
		net_count(n, &n->st.rx_drop_link_down, -1, "rx drop: link down (%zu bytes)", len);
		return false;
	}
	if (len < VQ_NET_ETH_HLEN) {
		net_count(n, &n->st.rx_drop_runt, -1, "rx drop: %zu bytes, not an Ethernet frame",
			  len);
		return false;
	}
	if (len > net_frame_limit(n, f)) {
		net_count(n, &n->st.rx_drop_too_big, -1, "rx drop: %zu bytes > %u (mtu %u + %s)",
			  len, net_frame_limit(n, f), n->mtu,
			  net_frame_limit(n, f) - n->mtu == VQ_NET_ETH_HLEN ? "14"
									 : "18, tagged");
		return false;
	}
	if (!net_filter_pass(n, f)) {
		net_count(n, &n->st.rx_drop_filtered, -1,
			  "rx drop: filtered, dst %02x:%02x:%02x:%02x:%02x:%02x", f[0], f[1], f[2],
			  f[3], f[4], f[5]);
		return false;
	}
	return true;
}

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

static void net_drain(struct net *n);

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
static void net_drain(struct net *n)
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

typedef int (*net_pass_fn)(struct net *n, const void *f, size_t len,
			   const struct vq_net_meta *meta);

/* Pass one frame on through pass(), with fault point p in the way: the
 * frame may be dropped, passed twice, held back until the next frame has
 * passed (reorder), or have one byte (at offset arg) corrupted. Returns
 * what pass() returned (0 for a frame that was dropped or held). */
static int net_fault_pass(struct net *n, enum vq_fault_point p, int q, const void *f,
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

static void net_arrive_one(struct net *n, const void *frame, size_t len,
			   const struct vq_net_meta *meta);

static int net_rx_pass(struct net *n, const void *f, size_t len, const struct vq_net_meta *meta)
{
	net_arrive_one(n, f, len, meta);
	return 0;
}

static int net_tx_pass(struct net *n, const void *f, size_t len, const struct vq_net_meta *meta)
{
	return n->be->ops->send(n->be, f, len, n->be->carries_meta ? meta : NULL);
}

/* The backend's rx callback (and vq_net_receive). */
static void net_arrive(void *opaque, const void *frame, size_t len,
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

static void net_tx(struct net *n, unsigned q, unsigned pair)
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

static void net_ctrl(struct net *n, unsigned q)
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

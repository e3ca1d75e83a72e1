/* net_frame.c - virtio-net frame checks: checksum completion, the flow
 * hash that steers rx, the rx filter and the mtu limit (see net.c). */
#include "net_internal.h"

/* ---- frames: checksum, flow hash, filter ---- */

/* Finish a partial checksum: ones' complement sum of f[start..len) stored
 * big-endian at start+off (the caller checked start+off+2 <= len). */
void net_csum_complete(uint8_t *f, uint32_t len, uint32_t start, uint32_t off)
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
uint32_t net_flow_hash(const uint8_t *f, uint32_t len)
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
uint32_t net_frame_limit(const struct net *n, const uint8_t *f)
{
	unsigned type = (unsigned)(f[12] << 8 | f[13]);
	bool tagged = type == 0x8100 || type == 0x88a8;

	return n->mtu + (tagged ? VQ_NET_L2_OVERHEAD : VQ_NET_ETH_HLEN);
}

/* Arrival checks; false (and counted) when the frame is dropped. */
bool net_accept(struct net *n, const uint8_t *f, size_t len)
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

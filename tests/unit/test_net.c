/* test_net.c - virtio-net end to end through machine, mmio and the
 * reference driver: loopback round trips with the header carried, checksum
 * offload, pcap files written and read, two machines over a datagram
 * socketpair and over socket paths, a TAP interface (in a network namespace
 * when one can be made), bounded rx waiting, size limits, MRG_RXBUF,
 * control queue (rx mode, MAC table, MAC address, MQ, announce, offloads),
 * link status, MTU, and malformed tx, rx and control chains. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (64ull << 20)
#define HEAP_SIZE (32ull << 20)
#define BUF (RAM + HEAP_SIZE + 0x100000)   /* test-owned guest memory, past the heap */
#define MMIO 0x0a000000ull
#define IRQ 5
#define SEED 42

#define F(bit) (1ull << (bit))
#define BASE_F (F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU))
#define CTRL_F (F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
		F(VIRTIO_NET_F_CTRL_MAC_ADDR))

static const uint8_t DEV_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t PEER_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
};

static void rig_make(struct rig *r, const char *opts)
{
	char err[256];

	r->m = vq_machine_new(SEED);
	ck_assert_ptr_nonnull(r->m);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->dev = vq_machine_add_mmio(r->m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, HEAP_SIZE), 0);
}

static void rig_up(struct rig *r, const char *opts, uint64_t features,
		   const struct vq_drv_net_cfg *cfg)
{
	rig_make(r, opts);
	ck_assert_int_eq(vq_drv_net_init(&r->drv, features, cfg), 0);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

static struct vq_net_stats stats(const struct rig *r)
{
	struct vq_net_stats st;

	ck_assert_int_eq(vq_net_get_stats(r->dev, &st), 0);
	return st;
}

/* An Ethernet frame of len bytes: dst, src, ethertype, then a payload
 * derived from tag. */
static void make_frame(uint8_t *f, uint32_t len, const uint8_t *dst, const uint8_t *src,
		       uint16_t type, unsigned tag)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + tag * 13);
}

/* Receive one frame on pair and check it equals want. */
static void expect_frame(struct rig *r, unsigned pair, const uint8_t *want, uint32_t len,
			 struct virtio_net_hdr *hdr)
{
	static uint8_t got[VQ_NET_FRAME_MAX];
	struct virtio_net_hdr h;
	long n = vq_drv_net_recv(&r->drv, pair, got, sizeof(got), &h);

	ck_assert_int_eq(n, (long)len);
	ck_assert_int_eq(memcmp(got, want, len), 0);
	if (hdr)
		*hdr = h;
}

static void expect_none(struct rig *r, unsigned pair)
{
	uint8_t got[64];

	ck_assert_int_eq(vq_drv_net_recv(&r->drv, pair, got, sizeof(got), NULL), 0);
}

/* Send a frame of len bytes to dst and return it in f. */
static void send_frame(struct rig *r, unsigned pair, uint8_t *f, uint32_t len,
		       const uint8_t *dst, unsigned tag)
{
	make_frame(f, len, dst, PEER_MAC, 0x88b5, tag);
	ck_assert_int_eq(vq_drv_net_send(&r->drv, pair, f, len, NULL), 0);
}

/* The 16-bit ones' complement sum of f[start..len), folded. */
static uint16_t ones_sum(const uint8_t *f, uint32_t start, uint32_t len)
{
	uint32_t sum = 0, i;

	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if (i < len)
		sum += (uint32_t)f[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* An IPv4/TCP frame (no options) of len bytes from src to dst ports. */
static void make_tcp(uint8_t *f, uint32_t len, const uint8_t *dmac, const uint8_t *smac,
		     uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport)
{
	make_frame(f, len, dmac, smac, 0x0800, 3);
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[20] = f[21] = 0;  /* no fragment */
	f[23] = 6;          /* TCP */
	for (int i = 0; i < 4; i++) {
		f[26 + i] = (uint8_t)(sip >> (24 - 8 * i));
		f[30 + i] = (uint8_t)(dip >> (24 - 8 * i));
	}
	f[34] = (uint8_t)(sport >> 8);
	f[35] = (uint8_t)sport;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
}

static uint16_t cfg16(struct rig *r, uint32_t off)
{
	uint16_t v = 0;

	ck_assert_int_eq(vq_drv_config_read(&r->drv, off, &v, 2), 0);
	return VQ_LE16(v);
}

static int ctrl1(struct rig *r, uint8_t cls, uint8_t cmd, uint8_t v)
{
	return vq_drv_net_ctrl(&r->drv, cls, cmd, &v, 1);
}

/* Does the completed checksum of f[start..len) verify, given the
 * pseudo-header sum psum the driver left in the field? (The ones' complement
 * sum of pseudo header and segment is 0xffff.) */
static bool csum_ok(const uint8_t *f, uint32_t start, uint32_t len, uint16_t psum)
{
	uint32_t sum = (uint32_t)ones_sum(f, start, len) + psum;

	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* ---- loopback ---------------------------------------------------------- */

START_TEST(loopback_round_trip)
{
	struct rig r;
	struct virtio_net_hdr h;
	struct vq_net_stats st;
	uint8_t f[1514];

	rig_up(&r, NULL, BASE_F, NULL);
	ck_assert_uint_eq(vq_net_hdr_len(r.dev), 12);
	send_frame(&r, 0, f, 60, DEV_MAC, 1);
	expect_frame(&r, 0, f, 60, &h);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_uint_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	ck_assert_uint_eq(VQ_LE16(h.num_buffers), 1);
	send_frame(&r, 0, f, 1514, BCAST, 2);
	expect_frame(&r, 0, f, 1514, &h);
	expect_none(&r, 0);
	st = stats(&r);
	ck_assert_uint_eq(st.tx_frames, 2);
	ck_assert_uint_eq(st.tx_bytes, 60 + 1514);
	ck_assert_uint_eq(st.rx_frames, 2);
	ck_assert_uint_eq(st.rx_bytes, 60 + 1514);
	ck_assert_uint_eq(st.tx_errors, 0);
	ck_assert_uint_eq(st.rx_queued, 0);
	rig_down(&r);
}
END_TEST

/* The rx buffer in guest memory holds the 12-byte header then the frame. */
START_TEST(rx_buffer_layout_in_guest_memory)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_bufs = 1};
	struct vq_ring_drv *q;
	uint8_t f[100], mem[112];
	uint64_t tok;
	uint32_t len;

	rig_up(&r, NULL, BASE_F, &cfg);
	send_frame(&r, 0, f, 100, DEV_MAC, 5);
	q = &r.drv.queues[0].ring;
	ck_assert_int_eq(vq_ring_drv_get_used(q, &tok, &len), 1);
	ck_assert_uint_eq(len, 112);
	/* the helper's only buffer is the first of its rx block */
	ck_assert_int_eq(vq_mem_read(vq_machine_mem(r.m), VQ_LE64(q->desc[0].addr), mem, 112), 0);
	ck_assert_uint_eq(mem[0], 0);               /* flags */
	ck_assert_uint_eq(mem[10] | mem[11] << 8, 1); /* num_buffers */
	ck_assert_int_eq(memcmp(mem + 12, f, 100), 0);
	rig_down(&r);
}
END_TEST

START_TEST(csum_offload_carried_end_to_end)
{
	struct rig r;
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = VQ_LE16(34), .csum_offset = VQ_LE16(16)}, got;
	uint8_t f[200];

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM), NULL);
	make_tcp(f, 200, DEV_MAC, PEER_MAC, 0x0a000001, 0x0a000002, 1000, 80);
	f[50] = 0x12; /* pseudo-header sum left in the checksum field */
	f[51] = 0x34;
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 200, &h), 0);
	/* the frame as sent, the offload request as given */
	expect_frame(&r, 0, f, 200, &got);
	ck_assert_uint_eq(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(VQ_LE16(got.csum_start), 34);
	ck_assert_uint_eq(VQ_LE16(got.csum_offset), 16);
	ck_assert_uint_eq(VQ_LE16(got.num_buffers), 1);
	rig_down(&r);
}
END_TEST

START_TEST(csum_completed_when_guest_cannot_take_it)
{
	struct rig r;
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = VQ_LE16(34), .csum_offset = VQ_LE16(16)}, got;
	uint8_t f[201], back[201];

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_CSUM), NULL);
	make_tcp(f, 201, DEV_MAC, PEER_MAC, 0x0a000001, 0x0a000002, 1000, 80);
	f[50] = 0x12;
	f[51] = 0x34;
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 201, &h), 0);
	ck_assert_int_eq(vq_drv_net_recv(&r.drv, 0, back, sizeof(back), &got), 201);
	ck_assert_uint_eq(got.flags, 0);
	ck_assert_uint_eq(got.csum_start, 0);
	/* only the checksum field changed, and it now sums the segment to 0xffff */
	ck_assert_int_eq(memcmp(back, f, 50), 0);
	ck_assert_int_eq(memcmp(back + 52, f + 52, 201 - 52), 0);
	ck_assert(csum_ok(back, 34, 201, 0x1234));
	ck_assert(back[50] != 0x12 || back[51] != 0x34);
	rig_down(&r);
}
END_TEST

START_TEST(guest_offloads_set_turns_partial_csum_off)
{
	struct rig r;
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = VQ_LE16(34), .csum_offset = VQ_LE16(16)}, got;
	uint8_t f[120], back[120], off[8] = {0}, tso[8] = {0};
	uint64_t feat = BASE_F | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
			F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);

	rig_up(&r, NULL, feat, NULL);
	make_tcp(f, 120, DEV_MAC, PEER_MAC, 1, 2, 3, 4);
	f[50] = 0xbe;
	f[51] = 0xef;
	/* a bit not negotiated (GUEST_TSO4) is refused */
	tso[0] = 1u << VIRTIO_NET_F_GUEST_TSO4;
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
					 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, tso, 8), VIRTIO_NET_ERR);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
					 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off, 8), VIRTIO_NET_OK);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 120, &h), 0);
	ck_assert_int_eq(vq_drv_net_recv(&r.drv, 0, back, sizeof(back), &got), 120);
	ck_assert_uint_eq(got.flags, 0);
	ck_assert(csum_ok(back, 34, 120, 0xbeef));
	ck_assert(back[50] != 0xbe || back[51] != 0xef);
	/* and on again */
	off[0] = 1u << VIRTIO_NET_F_GUEST_CSUM;
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
					 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off, 8), VIRTIO_NET_OK);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 120, &h), 0);
	expect_frame(&r, 0, f, 120, &got);
	ck_assert_uint_eq(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	rig_down(&r);
}
END_TEST

START_TEST(bad_offload_requests_are_dropped_and_counted)
{
	struct rig r;
	struct virtio_net_hdr outside = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .csum_start = VQ_LE16(90), .csum_offset = VQ_LE16(9)};
	struct virtio_net_hdr gso = {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				     .gso_size = VQ_LE16(500)};
	struct vq_net_stats st;
	uint8_t f[100];

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_CSUM), NULL);
	make_frame(f, 100, DEV_MAC, PEER_MAC, 0x0800, 1);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 100, &outside), 0);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 100, &gso), 0);
	expect_none(&r, 0);
	st = stats(&r);
	ck_assert_uint_eq(st.tx_bad_offload, 2);
	ck_assert_uint_eq(st.tx_errors, 2);
	ck_assert_uint_eq(st.tx_frames, 0);
	/* csum_start + csum_offset + 2 == len is the last valid placement */
	outside.csum_start = VQ_LE16(90);
	outside.csum_offset = VQ_LE16(8);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 100, &outside), 0);
	ck_assert_int_eq(vq_drv_net_recv(&r.drv, 0, f, sizeof(f), NULL), 100);
	rig_down(&r);
}
END_TEST

/* ---- malformed chains ------------------------------------------------- */

START_TEST(tx_chain_shorter_than_header_is_dropped)
{
	struct rig r;
	struct vq_net_stats st;
	struct vq_buf b = {.gpa = BUF, .len = 10};
	uint32_t used = 0xdead;
	uint8_t f[64];

	rig_up(&r, NULL, BASE_F, NULL);
	ck_assert_int_eq(vq_drv_submit(&r.drv, 1, &b, 1, &used), 0);
	ck_assert_uint_eq(used, 0);
	st = stats(&r);
	ck_assert_uint_eq(st.tx_hdr_short, 1);
	ck_assert_uint_eq(st.tx_errors, 1);
	ck_assert_uint_eq(st.tx_frames, 0);
	/* a header and no frame: not an Ethernet frame */
	b.len = 12;
	ck_assert_int_eq(vq_drv_submit(&r.drv, 1, &b, 1, &used), 0);
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 1);
	/* spec answer is a drop, not DEVICE_NEEDS_RESET: the device goes on */
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	expect_none(&r, 0);
	send_frame(&r, 0, f, 64, DEV_MAC, 9);
	expect_frame(&r, 0, f, 64, NULL);
	rig_down(&r);
}
END_TEST

START_TEST(tx_header_and_frame_may_be_split_over_descriptors)
{
	struct rig r;
	struct vq_mem *mem;
	uint8_t hdr[12] = {0}, f[80];
	struct vq_buf b[3] = {
		{.gpa = BUF, .len = 5}, {.gpa = BUF + 0x100, .len = 30}, {.gpa = BUF + 0x200, .len = 57},
	};
	uint32_t used;

	rig_up(&r, NULL, BASE_F, NULL);
	mem = vq_machine_mem(r.m);
	make_frame(f, 80, DEV_MAC, PEER_MAC, 0x88b5, 4);
	/* header bytes 0-4 | 5-11 + frame 0-22 | frame 23-79 */
	vq_mem_write(mem, BUF, hdr, 5);
	vq_mem_write(mem, BUF + 0x100, hdr + 5, 7);
	vq_mem_write(mem, BUF + 0x107, f, 23);
	vq_mem_write(mem, BUF + 0x200, f + 23, 57);
	ck_assert_int_eq(vq_drv_submit(&r.drv, 1, b, 3, &used), 0);
	expect_frame(&r, 0, f, 80, NULL);
	rig_down(&r);
}
END_TEST

START_TEST(tx_frame_over_mtu_is_dropped)
{
	struct rig r;
	static uint8_t f[1600];

	rig_up(&r, "mtu=1500", BASE_F, NULL);
	send_frame(&r, 0, f, 1519, BCAST, 1);    /* mtu + 18 + 1 */
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 1);
	send_frame(&r, 0, f, 13, BCAST, 1);      /* under an Ethernet header */
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 2);
	/* untagged: mtu + 14 at most (mtu + 18 went out) */
	send_frame(&r, 0, f, 1515, BCAST, 1);
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 3);
	ck_assert_uint_eq(stats(&r).tx_errors, 3);
	expect_none(&r, 0);
	send_frame(&r, 0, f, 1514, BCAST, 1);
	expect_frame(&r, 0, f, 1514, NULL);
	/* tagged (802.1Q, 802.1ad): mtu + 18 */
	make_frame(f, 1518, BCAST, PEER_MAC, 0x8100, 2);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 1518, NULL), 0);
	expect_frame(&r, 0, f, 1518, NULL);
	make_frame(f, 1518, BCAST, PEER_MAC, 0x88a8, 3);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 1518, NULL), 0);
	expect_frame(&r, 0, f, 1518, NULL);
	make_frame(f, 1519, BCAST, PEER_MAC, 0x8100, 4);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 1519, NULL), 0);
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 4);
	expect_none(&r, 0);
	rig_down(&r);
}
END_TEST

/* ---- receive limits ---------------------------------------------------- */

START_TEST(no_rx_buffers_frames_wait_then_drop_beyond_bound)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.no_rx = true};
	struct vq_net_stats st;
	uint8_t f[6][80];

	rig_up(&r, "rx-queue=4", BASE_F, &cfg);
	for (unsigned i = 0; i < 6; i++)
		send_frame(&r, 0, f[i], 80, DEV_MAC, i);
	st = stats(&r);
	ck_assert_uint_eq(st.tx_frames, 6);
	ck_assert_uint_eq(st.rx_queued, 4);
	ck_assert_uint_eq(st.rx_drop_queue_full, 2);
	ck_assert_uint_eq(st.rx_frames, 0);
	/* buffers come: the four waiting frames, in order */
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 16), 16);
	for (unsigned i = 0; i < 4; i++)
		expect_frame(&r, 0, f[i], 80, NULL);
	expect_none(&r, 0);
	ck_assert_uint_eq(stats(&r).rx_frames, 4);
	rig_down(&r);
}
END_TEST

START_TEST(waiting_frames_dropped_by_reset_are_counted)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.no_rx = true};
	uint8_t f[64];

	rig_up(&r, NULL, BASE_F, &cfg);
	send_frame(&r, 0, f, 64, DEV_MAC, 1);
	send_frame(&r, 0, f, 64, DEV_MAC, 2);
	ck_assert_uint_eq(stats(&r).rx_queued, 2);
	ck_assert_int_eq(vq_drv_net_init(&r.drv, BASE_F, NULL), 0);
	ck_assert_uint_eq(stats(&r).rx_drop_reset, 2);
	expect_none(&r, 0);
	rig_down(&r);
}
END_TEST

START_TEST(oversize_and_runt_frames_are_dropped_and_counted)
{
	struct rig r;
	static uint8_t f[VQ_NET_FRAME_MAX + 10];
	struct vq_net_stats st;

	rig_up(&r, "mtu=1500", BASE_F, NULL);
	make_frame(f, 1519, DEV_MAC, PEER_MAC, 0x88b5, 1);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 1519), 0);       /* mtu + 18 + 1 */
	ck_assert_int_eq(vq_net_receive(r.dev, f, sizeof(f)), 0);  /* over any mtu */
	ck_assert_int_eq(vq_net_receive(r.dev, f, 13), 0);
	ck_assert_int_eq(vq_net_receive(r.dev, NULL, 0), 0);
	ck_assert_int_eq(vq_net_receive(r.dev, NULL, 5), -VQ_E_INVAL);
	st = stats(&r);
	ck_assert_uint_eq(st.rx_drop_too_big, 2);
	ck_assert_uint_eq(st.rx_drop_runt, 2);
	expect_none(&r, 0);
	/* untagged: mtu + 14 passes, mtu + 15..18 does not (mtu + 18 passed:
	 * 4 bytes of payload over the mtu, 5.1.4.1) */
	ck_assert_int_eq(vq_net_receive(r.dev, f, 1518), 0);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 1515), 0);
	ck_assert_uint_eq(stats(&r).rx_drop_too_big, 4);
	expect_none(&r, 0);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 1514), 0);
	expect_frame(&r, 0, f, 1514, NULL);
	/* tagged: mtu + 18 (Ethernet header and one VLAN tag) passes */
	make_frame(f, 1519, DEV_MAC, PEER_MAC, 0x8100, 1);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 1518), 0);
	expect_frame(&r, 0, f, 1518, NULL);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 1519), 0);
	ck_assert_uint_eq(stats(&r).rx_drop_too_big, 5);
	expect_none(&r, 0);
	rig_down(&r);
}
END_TEST

/* mtu 65522..65535: an untagged frame of mtu + 14 is more than 65535
 * bytes and must still pass both ways (it was dropped: a fixed 65535 cap),
 * a tagged one mtu + 18. */
START_TEST(largest_mtu_frames_pass)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_buf_len = 12 + VQ_NET_FRAME_MAX};
	static uint8_t f[VQ_NET_FRAME_MAX + 1];

	rig_up(&r, "mtu=65535", BASE_F, &cfg);
	send_frame(&r, 0, f, 65535 + 14, BCAST, 1);
	expect_frame(&r, 0, f, 65535 + 14, NULL);
	send_frame(&r, 0, f, 65535 + 15, BCAST, 1);
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 1);
	make_frame(f, sizeof(f), DEV_MAC, PEER_MAC, 0x8100, 2);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 65535 + 18), 0);
	expect_frame(&r, 0, f, 65535 + 18, NULL);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 65535 + 19), 0);
	ck_assert_uint_eq(stats(&r).rx_drop_too_big, 1);
	rig_down(&r);
	rig_up(&r, "mtu=65522", BASE_F, &cfg);
	make_frame(f, 65536, DEV_MAC, PEER_MAC, 0x88b5, 3);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 65536), 0);  /* 65522 + 14 */
	expect_frame(&r, 0, f, 65536, NULL);
	rig_down(&r);
}
END_TEST

START_TEST(frame_larger_than_buffer_without_mrg_is_dropped)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_buf_len = 200};
	uint8_t f[300];

	rig_up(&r, NULL, BASE_F, &cfg);
	send_frame(&r, 0, f, 189, DEV_MAC, 1);    /* 12 + 189 > 200 */
	ck_assert_uint_eq(stats(&r).rx_drop_buf_small, 1);
	expect_none(&r, 0);
	send_frame(&r, 0, f, 188, DEV_MAC, 2);    /* fits exactly; the buffer was kept */
	expect_frame(&r, 0, f, 188, NULL);
	ck_assert_uint_eq(stats(&r).rx_drop_buf_small, 1);
	rig_down(&r);
}
END_TEST

START_TEST(mrg_rxbuf_spreads_a_frame_over_buffers)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_buf_len = 256, .rx_bufs = 8};
	struct virtio_net_hdr h;
	struct vq_ring_drv *q;
	static const uint32_t want_len[4] = {256, 256, 256, 244};
	uint8_t f[1000];

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_EVENT_IDX), &cfg);
	send_frame(&r, 0, f, 1000, DEV_MAC, 3);
	/* the used ring: four buffers, all but the last full */
	q = &r.drv.queues[0].ring;
	ck_assert_uint_eq(vq_load16_acquire(q->used + 2), 4);
	for (unsigned i = 0; i < 4; i++) {
		uint32_t len;

		memcpy(&len, q->used + 4 + 8 * i + 4, 4);
		ck_assert_uint_eq(VQ_LE32(len), want_len[i]);
	}
	expect_frame(&r, 0, f, 1000, &h);
	ck_assert_uint_eq(VQ_LE16(h.num_buffers), 4);
	/* the buffers went back: the next frames fit again */
	for (unsigned i = 0; i < 5; i++) {
		send_frame(&r, 0, f, 700, DEV_MAC, i);
		expect_frame(&r, 0, f, 700, &h);
		ck_assert_uint_eq(VQ_LE16(h.num_buffers), 3);
	}
	/* small frames: one buffer */
	send_frame(&r, 0, f, 244, DEV_MAC, 7);
	expect_frame(&r, 0, f, 244, &h);
	ck_assert_uint_eq(VQ_LE16(h.num_buffers), 1);
	rig_down(&r);
}
END_TEST

START_TEST(mrg_frame_waits_for_enough_buffers)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_buf_len = 256, .no_rx = true};
	struct virtio_net_hdr h;
	uint8_t f[1000];

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_MRG_RXBUF), &cfg);
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 2), 2);
	send_frame(&r, 0, f, 1000, DEV_MAC, 3);
	/* two buffers are not enough: held, nothing used, frame waits */
	ck_assert_uint_eq(vq_load16_acquire(r.drv.queues[0].ring.used + 2), 0);
	ck_assert_uint_eq(stats(&r).rx_queued, 1);
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 2), 2);
	expect_frame(&r, 0, f, 1000, &h);
	ck_assert_uint_eq(VQ_LE16(h.num_buffers), 4);
	ck_assert_uint_eq(stats(&r).rx_drop_buf_small, 0);
	rig_down(&r);
}
END_TEST

/* Issue 8.2: rx chains the device holds (MRG_RXBUF stash, waiting for more
 * buffers) are checked against guest memory again before the frame is
 * written: a write fault armed on a held buffer meanwhile fails the queue
 * (DEVICE_NEEDS_RESET, the error naming the buffer) and not a byte lands
 * there. Failed before: the frame was written through the old pointer. */
START_TEST(held_rx_chain_is_revalidated_before_writing)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_buf_len = 256, .no_rx = true};
	struct vq_mem *mem;
	uint8_t f[1000], back[256];
	uint64_t b0;

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_MRG_RXBUF), &cfg);
	mem = vq_machine_mem(r.m);
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 2), 2);
	b0 = VQ_LE64(r.drv.queues[0].ring.desc[0].addr);
	ck_assert_int_eq(vq_mem_fill(mem, b0, 0xcc, 256), 0);
	send_frame(&r, 0, f, 1000, DEV_MAC, 5);
	ck_assert_uint_eq(stats(&r).rx_queued, 1); /* two buffers held, frame waits */
	ck_assert_int_ge(vq_mem_fault_add(mem, b0, 256, VQ_ACC_WRITE), 0);
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 2), 2);
	vq_machine_run(r.m, 1000);
	ck_assert(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(r.dev->last_error, -VQ_E_RING_DESC_MEM);
	ck_assert_msg(strstr(r.dev->last_error_msg, "held chain head=0: writable buffer"),
		      "%s", r.dev->last_error_msg);
	ck_assert_int_eq(vq_mem_read(mem, b0, back, sizeof(back)), 0);
	for (unsigned i = 0; i < sizeof(back); i++)
		ck_assert_uint_eq(back[i], 0xcc);
	rig_down(&r);
}
END_TEST

START_TEST(mrg_frame_larger_than_the_whole_ring_is_dropped)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.rx_buf_len = 64};
	uint8_t f[1000];

	rig_up(&r, "queue-size=4", BASE_F | F(VIRTIO_NET_F_MRG_RXBUF), &cfg);
	send_frame(&r, 0, f, 1000, DEV_MAC, 3);    /* 4 x 64 bytes < 1012 */
	ck_assert_uint_eq(stats(&r).rx_drop_buf_small, 1);
	ck_assert_uint_eq(stats(&r).rx_queued, 0);
	/* the held buffers serve the next frame that fits */
	send_frame(&r, 0, f, 200, DEV_MAC, 4);
	expect_frame(&r, 0, f, 200, NULL);
	rig_down(&r);
}
END_TEST

START_TEST(rx_buffer_under_header_size_is_returned_empty)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.no_rx = true};
	struct vq_buf tiny = {.gpa = BUF, .len = 8, .writable = true};
	uint64_t tok;
	uint32_t len;
	uint8_t f[64];

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_MRG_RXBUF), &cfg);
	ck_assert_int_ge(vq_drv_add(&r.drv, 0, &tiny, 1, 999), 0);
	ck_assert_int_ge(vq_drv_kick(&r.drv, 0), 0);
	send_frame(&r, 0, f, 64, DEV_MAC, 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &tok, &len), 1);
	ck_assert_uint_eq(tok, 999);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(stats(&r).rx_bad_buffers, 1);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* the frame waited and goes to the next proper buffer */
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 4), 4);
	expect_frame(&r, 0, f, 64, NULL);
	rig_down(&r);
}
END_TEST

/* ---- control queue ---------------------------------------------------- */

START_TEST(ctrl_rx_mode_and_mac_table_filter_frames)
{
	struct rig r;
	static const uint8_t other[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	static const uint8_t mcast2[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x02};
	uint8_t f[64], table[4 + 6 + 4 + 6];

	rig_up(&r, NULL, BASE_F | CTRL_F, NULL);
	/* after reset: promiscuous */
	send_frame(&r, 0, f, 64, other, 1);
	expect_frame(&r, 0, f, 64, NULL);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, other, 2);
	expect_none(&r, 0);
	ck_assert_uint_eq(stats(&r).rx_drop_filtered, 1);
	send_frame(&r, 0, f, 64, DEV_MAC, 3);
	expect_frame(&r, 0, f, 64, NULL);
	send_frame(&r, 0, f, 64, BCAST, 4);
	expect_frame(&r, 0, f, 64, NULL);
	send_frame(&r, 0, f, 64, mcast, 5);
	expect_none(&r, 0);
	ck_assert_uint_eq(stats(&r).rx_drop_filtered, 2);
	/* the MAC table lets one unicast and one multicast address in */
	memset(table, 0, sizeof(table));
	table[0] = 1;
	memcpy(table + 4, other, 6);
	table[10] = 1;
	memcpy(table + 14, mcast, 6);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
					 table, sizeof(table)), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, other, 6);
	expect_frame(&r, 0, f, 64, NULL);
	send_frame(&r, 0, f, 64, mcast, 7);
	expect_frame(&r, 0, f, 64, NULL);
	send_frame(&r, 0, f, 64, mcast2, 8);
	expect_none(&r, 0);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, mcast2, 9);
	expect_frame(&r, 0, f, 64, NULL);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOMULTI, 1), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, mcast, 10);
	expect_none(&r, 0);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, BCAST, 11);
	expect_none(&r, 0);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOUNI, 1), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, DEV_MAC, 12);
	expect_none(&r, 0);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOUNI, 0), VIRTIO_NET_OK);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, PEER_MAC, 13);
	expect_frame(&r, 0, f, 64, NULL);
	/* promiscuous overrides every other mode */
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, BCAST, 14);
	expect_frame(&r, 0, f, 64, NULL);
	ck_assert_uint_eq(stats(&r).rx_drop_filtered, 6);
	rig_down(&r);
}
END_TEST

START_TEST(ctrl_malformed_commands_get_err)
{
	struct rig r;
	static const uint8_t other[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	uint8_t f[64], table[4 + 6 + 4 + 1] = {1, 0, 0, 0}, huge[8] = {0xff, 0xff, 0xff, 0x0f};
	struct vq_net_stats st;

	rig_up(&r, NULL, BASE_F | CTRL_F, NULL);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 2), VIRTIO_NET_ERR);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
					 NULL, 0), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, 6, 1), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl1(&r, 77, 0, 1), VIRTIO_NET_ERR);
	/* MAC table: a trailing byte; an entry count past the data */
	memcpy(table + 4, other, 6);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
					 table, sizeof(table)), VIRTIO_NET_ERR);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
					 huge, sizeof(huge)), VIRTIO_NET_ERR);
	/* not negotiated here: MQ, announce, guest offloads */
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 1), VIRTIO_NET_ERR);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_ANNOUNCE,
					 VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0), VIRTIO_NET_ERR);
	st = stats(&r);
	ck_assert_uint_eq(st.ctrl_err, 8);
	ck_assert_uint_eq(st.ctrl_ok, 0);
	/* the refused table changed nothing: still promiscuous, table empty */
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, other, 1);
	expect_none(&r, 0);
	rig_down(&r);
}
END_TEST

START_TEST(ctrl_rx_extra_commands_need_the_feature)
{
	struct rig r;

	rig_up(&r, NULL, BASE_F | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX), NULL);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_ERR);
	/* MAC_ADDR_SET needs CTRL_MAC_ADDR */
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
					 PEER_MAC, 6), VIRTIO_NET_ERR);
	rig_down(&r);
}
END_TEST

START_TEST(ctrl_chains_without_ack_room_or_header)
{
	struct rig r;
	struct vq_mem *mem;
	struct vq_buf b[2] = {{.gpa = BUF + 0x1000, .len = 3}, {.gpa = BUF + 0x100, .len = 1, .writable = true}};
	uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}, ack = 0x55;
	/* the command buffer sits away from the ack byte (BUF + 0x100) */
	uint32_t used = 0xdead;
	unsigned cq;

	rig_up(&r, NULL, BASE_F | CTRL_F, NULL);
	cq = (unsigned)vq_drv_net_ctrlq(&r.drv);
	ck_assert_uint_eq(cq, 2);
	mem = vq_machine_mem(r.m);
	vq_mem_write(mem, BUF + 0x1000, cmd, 3);
	/* no writable byte: the device cannot answer; used with length 0 */
	ck_assert_int_eq(vq_drv_submit(&r.drv, cq, b, 1, &used), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(stats(&r).ctrl_err, 1);
	/* one readable byte: no class+command, ERR */
	b[0].len = 1;
	vq_mem_write(mem, BUF + 0x100, &ack, 1);
	ck_assert_int_eq(vq_drv_submit(&r.drv, cq, b, 2, &used), 0);
	ck_assert_uint_eq(used, 1);
	vq_mem_read(mem, BUF + 0x100, &ack, 1);
	ck_assert_uint_eq(ack, VIRTIO_NET_ERR);
	ck_assert_uint_eq(stats(&r).ctrl_err, 2);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* more command data than the device takes: ERR */
	b[0].len = 2 + VQ_NET_CTRL_DATA_MAX + 1;
	ck_assert_int_eq(vq_drv_submit(&r.drv, cq, b, 2, &used), 0);
	vq_mem_read(mem, BUF + 0x100, &ack, 1);
	ck_assert_uint_eq(ack, VIRTIO_NET_ERR);
	ck_assert_uint_eq(stats(&r).ctrl_err, 3);
	/* a proper one still works */
	b[0].len = 3;
	ck_assert_int_eq(vq_drv_submit(&r.drv, cq, b, 2, &used), 0);
	vq_mem_read(mem, BUF + 0x100, &ack, 1);
	ck_assert_uint_eq(ack, VIRTIO_NET_OK);
	rig_down(&r);
}
END_TEST

START_TEST(ctrl_mac_addr_set_changes_config_mac)
{
	struct rig r;
	static const uint8_t newmac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
	uint8_t mac[6], f[64];

	rig_up(&r, NULL, BASE_F | CTRL_F, NULL);
	ck_assert_int_eq(vq_drv_net_mac(&r.drv, mac), 0);
	ck_assert_int_eq(memcmp(mac, DEV_MAC, 6), 0);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
					 newmac, 5), VIRTIO_NET_ERR);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
					 newmac, 6), VIRTIO_NET_OK);
	ck_assert_int_eq(vq_drv_net_mac(&r.drv, mac), 0);
	ck_assert_int_eq(memcmp(mac, newmac, 6), 0);
	/* the filter follows the new address */
	ck_assert_int_eq(ctrl1(&r, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
	send_frame(&r, 0, f, 64, newmac, 1);
	expect_frame(&r, 0, f, 64, NULL);
	send_frame(&r, 0, f, 64, DEV_MAC, 2);
	expect_none(&r, 0);
	/* a reset brings back the configured address */
	ck_assert_int_eq(vq_drv_net_init(&r.drv, BASE_F | CTRL_F, NULL), 0);
	ck_assert_int_eq(vq_drv_net_mac(&r.drv, mac), 0);
	ck_assert_int_eq(memcmp(mac, DEV_MAC, 6), 0);
	rig_down(&r);
}
END_TEST

START_TEST(mq_pairs_set_then_traffic_on_pair_1)
{
	struct rig r;
	uint64_t feat = BASE_F | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ);
	uint8_t f[64];

	rig_up(&r, "queues=4", feat, NULL);
	ck_assert_uint_eq(cfg16(&r, 8), 4);               /* max_virtqueue_pairs */
	ck_assert_uint_eq(vq_drv_net_pairs(&r.drv), 4);
	ck_assert_int_eq(vq_drv_net_ctrlq(&r.drv), 8);    /* controlq = 2N */
	ck_assert_uint_eq(vq_net_active_pairs(r.dev), 1);
	/* before VQ_PAIRS_SET only pair 0 carries frames */
	send_frame(&r, 1, f, 64, DEV_MAC, 1);
	ck_assert_uint_eq(stats(&r).tx_inactive_queue, 1);
	ck_assert_uint_eq(stats(&r).tx_errors, 1);
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 0), VIRTIO_NET_ERR);
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 5), VIRTIO_NET_ERR);
	ck_assert_uint_eq(vq_net_active_pairs(r.dev), 1);
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 2), VIRTIO_NET_OK);
	ck_assert_uint_eq(vq_net_active_pairs(r.dev), 2);
	/* a flow sent on pair 1 comes back on pair 1 */
	send_frame(&r, 1, f, 64, DEV_MAC, 2);
	expect_frame(&r, 1, f, 64, NULL);
	expect_none(&r, 0);
	send_frame(&r, 0, f, 64, DEV_MAC, 3);
	expect_frame(&r, 0, f, 64, NULL);
	expect_none(&r, 1);
	ck_assert_uint_eq(stats(&r).tx_frames, 2);
	/* pairs beyond the active ones stay unused */
	send_frame(&r, 3, f, 64, DEV_MAC, 4);
	ck_assert_uint_eq(stats(&r).tx_inactive_queue, 2);
	rig_down(&r);
}
END_TEST

START_TEST(mq_steering_follows_flows_and_spreads_new_ones)
{
	struct rig r;
	uint64_t feat = BASE_F | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ);
	uint8_t f[80], reply[80], got[80];
	unsigned seen[4] = {0};

	rig_up(&r, "queues=4", feat, NULL);
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 4), VIRTIO_NET_OK);
	/* the guest sends a TCP segment on pair 2; the reply (addresses and
	 * ports swapped) arrives from the network on pair 2 */
	make_tcp(f, 80, PEER_MAC, DEV_MAC, 0x0a000001, 0x0a000002, 40000, 80);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 2, f, 80, NULL), 0);
	expect_frame(&r, 2, f, 80, NULL); /* loopback: the same flow */
	make_tcp(reply, 80, DEV_MAC, PEER_MAC, 0x0a000002, 0x0a000001, 80, 40000);
	ck_assert_int_eq(vq_net_receive(r.dev, reply, 80), 0);
	expect_frame(&r, 2, reply, 80, NULL);
	/* flows never sent land by hash; 32 of them use more than one pair
	 * and every frame arrives exactly once */
	for (unsigned i = 0; i < 32; i++) {
		make_tcp(f, 80, DEV_MAC, PEER_MAC, 0x0b000000 + i, 0x0a000002, (uint16_t)(1000 + i), 22);
		ck_assert_int_eq(vq_net_receive(r.dev, f, 80), 0);
	}
	for (unsigned p = 0; p < 4; p++)
		while (vq_drv_net_recv(&r.drv, p, got, sizeof(got), NULL) == 80)
			seen[p]++;
	ck_assert_uint_eq(seen[0] + seen[1] + seen[2] + seen[3], 32);
	ck_assert((seen[0] != 32) && (seen[1] != 32) && (seen[2] != 32) && (seen[3] != 32));
	rig_down(&r);
}
END_TEST

/* With one active pair tx does not learn flows: an entry would carry no
 * information and, once more pairs are set, pin every reply to pair 0
 * (sym_hash ran on every transmitted frame and did just that). */
START_TEST(one_pair_tx_does_not_pin_flows)
{
	struct rig r;
	uint64_t feat = BASE_F | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ);
	uint8_t f[80], got[80];
	unsigned seen[2] = {0};

	rig_up(&r, "queues=2", feat, NULL);
	for (unsigned i = 0; i < 32; i++) {
		make_tcp(f, 80, PEER_MAC, DEV_MAC, 0x0a000001, 0x0b000000 + i, 40000, 80);
		ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 80, NULL), 0);
		expect_frame(&r, 0, f, 80, NULL);
	}
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 2), VIRTIO_NET_OK);
	for (unsigned i = 0; i < 32; i++) {
		make_tcp(f, 80, DEV_MAC, PEER_MAC, 0x0b000000 + i, 0x0a000001, 80, 40000);
		ck_assert_int_eq(vq_net_receive(r.dev, f, 80), 0);
	}
	for (unsigned p = 0; p < 2; p++)
		while (vq_drv_net_recv(&r.drv, p, got, sizeof(got), NULL) == 80)
			seen[p]++;
	ck_assert_uint_eq(seen[0] + seen[1], 32);
	ck_assert_uint_gt(seen[1], 0);   /* spread by hash, not pinned to pair 0 */
	rig_down(&r);
}
END_TEST

START_TEST(queue_without_a_role_ignores_notifications)
{
	struct rig r;
	uint64_t want[VQ_FEATURE_WORDS] = {BASE_F | F(VIRTIO_NET_F_CTRL_VQ), 0};
	struct vq_buf b = {.gpa = BUF, .len = 64};

	/* queues=2 offers 5 queues; without MQ: rx0 tx0 ctrl=2, 3 and 4 idle */
	rig_make(&r, "queues=2");
	ck_assert_int_eq(vq_drv_negotiate(&r.drv, want), 0);
	for (unsigned q = 0; q < 4; q++)
		ck_assert_int_eq(vq_drv_setup_queue(&r.drv, q, 0), 0);
	ck_assert_int_eq(vq_drv_driver_ok(&r.drv), 0);
	ck_assert_int_ge(vq_drv_add(&r.drv, 3, &b, 1, 1), 0);
	ck_assert_int_eq(vq_drv_kick(&r.drv, 3), 1);
	vq_machine_run(r.m, 100);
	ck_assert_uint_eq(stats(&r).ignored_notifies, 1);
	ck_assert_uint_eq(stats(&r).tx_frames + stats(&r).tx_errors, 0);
	rig_down(&r);
}
END_TEST

START_TEST(features_needing_ctrl_vq_are_refused_without_it)
{
	struct rig r;
	uint64_t want[VQ_FEATURE_WORDS] = {BASE_F | F(VIRTIO_NET_F_MQ), 0};

	rig_make(&r, "queues=2");
	ck_assert_int_eq(vq_drv_negotiate(&r.drv, want), -VQ_E_FEATURES);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_FEATURES_OK, 0);
	want[0] = BASE_F | F(VIRTIO_NET_F_CTRL_RX);
	ck_assert_int_eq(vq_drv_negotiate(&r.drv, want), -VQ_E_FEATURES);
	want[0] |= F(VIRTIO_NET_F_CTRL_VQ);
	ck_assert_int_eq(vq_drv_negotiate(&r.drv, want), 0);
	rig_down(&r);
}
END_TEST

/* ---- status, announce, mtu, config ----------------------------------- */

START_TEST(status_link_up_and_link_changes)
{
	struct rig r;
	uint8_t f[64];
	struct vq_net_stats st;

	rig_up(&r, NULL, BASE_F, NULL);
	ck_assert_uint_eq(cfg16(&r, 6), VIRTIO_NET_S_LINK_UP);
	vq_drv_ack_interrupt(&r.drv);
	ck_assert_int_eq(vq_net_set_link(r.dev, false), 0);
	ck_assert(vq_machine_irq_level(r.m, IRQ));
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv) & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(cfg16(&r, 6), 0);
	send_frame(&r, 0, f, 64, DEV_MAC, 1);
	make_frame(f, 64, DEV_MAC, PEER_MAC, 0x88b5, 2);
	ck_assert_int_eq(vq_net_receive(r.dev, f, 64), 0);
	st = stats(&r);
	ck_assert_uint_eq(st.tx_link_down, 1);
	ck_assert_uint_eq(st.rx_drop_link_down, 1);
	expect_none(&r, 0);
	ck_assert_int_eq(vq_net_set_link(r.dev, true), 0);
	ck_assert_uint_eq(cfg16(&r, 6), VIRTIO_NET_S_LINK_UP);
	send_frame(&r, 0, f, 64, DEV_MAC, 3);
	expect_frame(&r, 0, f, 64, NULL);
	rig_down(&r);
}
END_TEST

START_TEST(announce_sets_status_and_ack_clears_it)
{
	struct rig r;
	uint64_t feat = BASE_F | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_GUEST_ANNOUNCE);

	rig_up(&r, NULL, feat, NULL);
	vq_drv_ack_interrupt(&r.drv);
	ck_assert_int_eq(vq_net_announce(r.dev), 0);
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv) & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(cfg16(&r, 6), VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
	ck_assert_int_eq(vq_drv_net_ctrl(&r.drv, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK,
					 NULL, 0), VIRTIO_NET_OK);
	ck_assert_uint_eq(cfg16(&r, 6), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(stats(&r).announces, 1);
	/* without GUEST_ANNOUNCE the device cannot ask */
	ck_assert_int_eq(vq_drv_net_init(&r.drv, BASE_F | F(VIRTIO_NET_F_CTRL_VQ), NULL), 0);
	ck_assert_int_eq(vq_net_announce(r.dev), -VQ_E_STATE);
	ck_assert_uint_eq(cfg16(&r, 6), VIRTIO_NET_S_LINK_UP);
	rig_down(&r);
}
END_TEST

START_TEST(mtu_and_mac_in_config)
{
	struct rig r;
	struct virtio_net_config c;
	static uint8_t f[9100];

	rig_up(&r, "mtu=9000,mac=02:00:5e:10:20:3f", BASE_F, NULL);
	ck_assert_int_eq(vq_drv_net_config(&r.drv, &c), 0);
	ck_assert_uint_eq(VQ_LE16(c.mtu), 9000);
	ck_assert_uint_eq(VQ_LE16(c.max_virtqueue_pairs), 1);
	ck_assert_uint_eq(VQ_LE16(c.status), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(c.mac[0], 0x02);
	ck_assert_uint_eq(c.mac[5], 0x3f);
	/* frames up to mtu + 14 pass both ways (the helper sized its buffers
	 * from the config mtu), mtu + 18 when tagged */
	send_frame(&r, 0, f, 9014, BCAST, 1);
	expect_frame(&r, 0, f, 9014, NULL);
	send_frame(&r, 0, f, 9015, BCAST, 1);
	ck_assert_uint_eq(stats(&r).tx_bad_frame, 1);
	make_frame(f, 9018, BCAST, PEER_MAC, 0x8100, 2);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 9018, NULL), 0);
	expect_frame(&r, 0, f, 9018, NULL);
	rig_down(&r);
}
END_TEST

START_TEST(config_is_read_only_for_the_driver)
{
	struct rig r;
	uint8_t mac[6], junk[2] = {0xaa, 0xbb};

	rig_up(&r, NULL, BASE_F, NULL);
	ck_assert_int_eq(vq_drv_config_write(&r.drv, 0, junk, 2), 0);
	ck_assert_int_eq(vq_drv_config_write(&r.drv, 10, junk, 2), 0);
	ck_assert_int_eq(vq_drv_net_mac(&r.drv, mac), 0);
	ck_assert_int_eq(memcmp(mac, DEV_MAC, 6), 0);
	ck_assert_uint_eq(cfg16(&r, 10), 1500);
	ck_assert_uint_eq(stats(&r).config_writes, 2);
	rig_down(&r);
}
END_TEST

/* ---- pcap ------------------------------------------------------------ */

static char *tmp_path(char *buf, size_t len, const char *stem)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(buf, len, "%s/%s-XXXXXX", dir && *dir ? dir : "/tmp", stem);
	fd = mkstemp(buf);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return buf;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void noop_event(struct vq_machine *m, void *arg, uint64_t data)
{
	(void)m;
	(void)arg;
	(void)data;
}

START_TEST(pcap_writer_output_parses_back)
{
	struct rig r;
	char path[256], opts[300];
	static const uint32_t lens[3] = {60, 1514, 333};
	uint8_t f[3][1514];
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .csum_start = VQ_LE16(34), .csum_offset = VQ_LE16(16)};
	uint8_t *file;
	size_t flen;

	tmp_path(path, sizeof(path), "vqsim-net-out");
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-out=%s", path);
	rig_up(&r, opts, BASE_F | F(VIRTIO_NET_F_CSUM), NULL);
	for (unsigned i = 0; i < 2; i++)
		send_frame(&r, 0, f[i], lens[i], BCAST, i);
	/* 1.5 ms of virtual time later, a frame whose checksum the device completes */
	ck_assert_int_eq(vq_machine_schedule(r.m, 1500000, noop_event, NULL, 0), 0);
	vq_machine_run(r.m, 10);
	make_tcp(f[2], 333, BCAST, DEV_MAC, 1, 2, 3, 4);
	f[2][50] = 0x0f;
	f[2][51] = 0xf0;
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f[2], 333, &h), 0);
	ck_assert_uint_eq(stats(&r).tx_frames, 3);
	expect_none(&r, 0); /* nothing comes back from a capture file */
	rig_down(&r);

	/* the header: pcap 2.4, nanosecond magic in host order, snaplen
	 * 65535, Ethernet */
	file = slurp(path, &flen);
	ck_assert_uint_eq(flen, 24 + 3 * 16 + 60 + 1514 + 333);
	ck_assert_uint_eq(*(const uint32_t *)(const void *)file, 0xa1b23c4d);
	free(file);
	/* the records, as libpcap reads them back: virtual-clock times in ns */
	{
		char perr[PCAP_ERRBUF_SIZE];
		pcap_t *pc = pcap_open_offline_with_tstamp_precision(path,
								     PCAP_TSTAMP_PRECISION_NANO,
								     perr);
		struct pcap_pkthdr *ph;
		const u_char *data;

		ck_assert_msg(pc != NULL, "%s", perr);
		ck_assert_int_eq(pcap_datalink(pc), DLT_EN10MB);
		ck_assert_int_eq(pcap_snapshot(pc), 65535);
		for (unsigned i = 0; i < 3; i++) {
			ck_assert_int_eq(pcap_next_ex(pc, &ph, &data), 1);
			ck_assert_int_eq(ph->ts.tv_sec, 0);
			ck_assert_int_eq(ph->ts.tv_usec, i == 2 ? 1500000 : 0);
			ck_assert_uint_eq(ph->caplen, lens[i]);
			ck_assert_uint_eq(ph->len, lens[i]);
			if (i < 2)
				ck_assert_int_eq(memcmp(data, f[i], lens[i]), 0);
			else /* a capture holds wire frames: the checksum completed */
				ck_assert(csum_ok(data, 34, 333, 0x0ff0));
		}
		ck_assert_int_eq(pcap_next_ex(pc, &ph, &data), PCAP_ERROR_BREAK);
		pcap_close(pc);
	}
	if (system("command -v tshark >/dev/null 2>&1") == 0) {
		char cmd[400];
		FILE *p;
		unsigned count = 0, len;

		snprintf(cmd, sizeof(cmd), "tshark -r '%s' -T fields -e frame.len 2>/dev/null", path);
		p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		while (fscanf(p, "%u", &len) == 1)
			ck_assert_uint_eq(len, lens[count++]);
		ck_assert_int_eq(pclose(p), 0);
		ck_assert_uint_eq(count, 3);
	} else {
		fprintf(stderr, "test_net: tshark not installed: pcap file checked through libpcap only\n");
	}
	unlink(path);
}
END_TEST

START_TEST(pcap_output_is_deterministic)
{
	char a[256], b[256], opts[300];
	uint8_t *fa, *fb, f[200];
	size_t la, lb;

	tmp_path(a, sizeof(a), "vqsim-net-a");
	tmp_path(b, sizeof(b), "vqsim-net-b");
	for (int run = 0; run < 2; run++) {
		struct rig r;

		snprintf(opts, sizeof(opts), "backend=pcap,pcap-out=%s", run ? b : a);
		rig_up(&r, opts, BASE_F, NULL);
		for (unsigned i = 0; i < 5; i++) {
			vq_machine_schedule(r.m, 1000u * i + 7, noop_event, NULL, 0);
			vq_machine_run(r.m, 10);
			send_frame(&r, 0, f, 100 + 20 * i, BCAST, i);
		}
		rig_down(&r);
	}
	fa = slurp(a, &la);
	fb = slurp(b, &lb);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(fa, fb, la), 0);
	free(fa);
	free(fb);
	unlink(a);
	unlink(b);
}
END_TEST

/* Write a classic pcap file: magic (native or byte-swapped), linktype,
 * n records of the given lengths (contents from make_frame, tag i). */
static void write_pcap_caps(const char *path, uint32_t magic, bool swap, uint32_t link,
			    const uint32_t *lens, const uint32_t *caps, unsigned n)
{
	FILE *fp = fopen(path, "wb");
	static uint8_t f[70000];
	uint32_t g[6] = {magic, 2 | 4u << 16, 0, 0, 65535, link};

	ck_assert_ptr_nonnull(fp);
	if (swap) {
		for (int i = 0; i < 6; i++)
			g[i] = __builtin_bswap32(g[i]);
		/* version is two 16-bit fields: swap each, not the pair */
		g[1] = (uint32_t)__builtin_bswap16(2) | (uint32_t)__builtin_bswap16(4) << 16;
	}
	fwrite(g, 4, 6, fp);
	for (unsigned i = 0; i < n; i++) {
		uint32_t cap = caps ? caps[i] : lens[i];
		uint32_t rec[4] = {i, 0, cap, lens[i]};

		if (swap)
			for (int j = 0; j < 4; j++)
				rec[j] = __builtin_bswap32(rec[j]);
		make_frame(f, lens[i], DEV_MAC, PEER_MAC, 0x88b5, i);
		fwrite(rec, 4, 4, fp);
		fwrite(f, 1, cap, fp);
	}
	fclose(fp);
}

static void write_pcap(const char *path, uint32_t magic, bool swap, uint32_t link,
		       const uint32_t *lens, unsigned n)
{
	write_pcap_caps(path, magic, swap, link, lens, NULL, n);
}

/* Write a pcapng file: a section header, one Ethernet interface, then an
 * Enhanced Packet Block per frame (contents from make_frame, tag i), with
 * a Name Resolution-like unknown block between the first two that a reader
 * must skip. */
static void write_pcapng(const char *path, const uint32_t *lens, unsigned n)
{
	static const uint32_t shb[7] = {0x0a0d0d0a, 28, 0x1a2b3c4d, 1 /* 1.0 */,
					0xffffffff, 0xffffffff, 28};
	static const uint32_t idb[5] = {1, 20, 1 /* LINKTYPE_ETHERNET */, 65535, 20};
	static const uint32_t other[4] = {0x0badf00d, 16, 0, 16}; /* a block type no one knows */
	static uint8_t f[2000];
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	fwrite(shb, 4, 7, fp);
	fwrite(idb, 4, 5, fp);
	for (unsigned i = 0; i < n; i++) {
		uint32_t pad = (4 - lens[i] % 4) % 4, total = 32 + lens[i] + pad;
		uint32_t epb[7] = {6, total, 0, 0, 1000u * i, lens[i], lens[i]};
		static const uint8_t zero[4];

		ck_assert_uint_le(lens[i], sizeof(f));
		make_frame(f, lens[i], DEV_MAC, PEER_MAC, 0x88b5, i);
		fwrite(epb, 4, 7, fp);
		fwrite(f, 1, lens[i], fp);
		fwrite(zero, 1, pad, fp);
		fwrite(&total, 4, 1, fp);
		if (i == 0)
			fwrite(other, 4, 4, fp);
	}
	fclose(fp);
}

START_TEST(pcap_reader_delivers_frames_in_order)
{
	struct rig r;
	struct vq_drv_net_cfg cfg = {.no_rx = true};
	static const uint32_t lens[7] = {60, 1514, 70000, 200, 1519, 64, 999};
	static uint8_t want[1514];
	char path[256], opts[300];
	struct vq_net_stats st;

	tmp_path(path, sizeof(path), "vqsim-net-in");
	write_pcap(path, 0xa1b2c3d4, false, 1, lens, 7);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s,mtu=1500", path);
	rig_up(&r, opts, BASE_F, &cfg);
	/* nothing before there are buffers, and nothing lost meanwhile */
	expect_none(&r, 0);
	ck_assert_int_eq(vq_drv_net_post_rx(&r.drv, 0, 2), 2);
	make_frame(want, 60, DEV_MAC, PEER_MAC, 0x88b5, 0);
	expect_frame(&r, 0, want, 60, NULL);
	make_frame(want, 1514, DEV_MAC, PEER_MAC, 0x88b5, 1);
	expect_frame(&r, 0, want, 1514, NULL);
	/* recv reposted both buffers: the next two frames that fit (records 2
	 * and 4 are too big: skipped and counted) */
	make_frame(want, 200, DEV_MAC, PEER_MAC, 0x88b5, 3);
	expect_frame(&r, 0, want, 200, NULL);
	make_frame(want, 64, DEV_MAC, PEER_MAC, 0x88b5, 5);
	expect_frame(&r, 0, want, 64, NULL);
	make_frame(want, 999, DEV_MAC, PEER_MAC, 0x88b5, 6);
	expect_frame(&r, 0, want, 999, NULL);
	expect_none(&r, 0);
	st = stats(&r);
	ck_assert_uint_eq(st.rx_frames, 5);
	ck_assert_uint_eq(st.rx_drop_too_big, 2);
	ck_assert_uint_eq(st.rx_drop_queue_full, 0);
	rig_down(&r);
	unlink(path);
}
END_TEST

START_TEST(pcap_reader_long_runs_yield_to_the_machine)
{
	struct rig r;
	static uint32_t lens[3001];
	uint8_t want[100];
	char path[256], opts[300];

	/* 3000 frames the filter drops, then one that passes: the device works
	 * through them in bounded batches, each a machine event */
	for (unsigned i = 0; i < 3000; i++)
		lens[i] = 1600;
	lens[3000] = 100;
	tmp_path(path, sizeof(path), "vqsim-net-long");
	write_pcap(path, 0xa1b2c3d4, false, 1, lens, 3001);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s", path);
	rig_up(&r, opts, BASE_F, NULL);
	ck_assert_uint_eq(stats(&r).rx_drop_too_big, 1024);
	ck_assert_uint_ge(vq_machine_pending(r.m), 1);
	make_frame(want, 100, DEV_MAC, PEER_MAC, 0x88b5, 3000);
	expect_frame(&r, 0, want, 100, NULL);
	ck_assert_uint_eq(stats(&r).rx_drop_too_big, 3000);
	rig_down(&r);
	unlink(path);
}
END_TEST

START_TEST(pcap_reader_stops_at_a_damaged_record)
{
	struct rig r;
	static const uint32_t lens[3] = {100, 200, 300};
	uint8_t want[200];
	char path[256], opts[300];

	char *trace = NULL;
	size_t tlen = 0;
	FILE *tf = open_memstream(&trace, &tlen);

	ck_assert_ptr_nonnull(tf);
	tmp_path(path, sizeof(path), "vqsim-net-cut");
	write_pcap(path, 0xa1b2c3d4, false, 1, lens, 3);
	ck_assert_int_eq(truncate(path, 24 + 16 + 100 + 16 + 200 + 16 + 150), 0);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s", path);
	rig_make(&r, opts);
	vq_machine_trace_file(r.m, tf, ~0u);
	ck_assert_int_eq(vq_drv_net_init(&r.drv, BASE_F, NULL), 0);
	make_frame(want, 100, DEV_MAC, PEER_MAC, 0x88b5, 0);
	expect_frame(&r, 0, want, 100, NULL);
	make_frame(want, 200, DEV_MAC, PEER_MAC, 0x88b5, 1);
	expect_frame(&r, 0, want, 200, NULL);
	expect_none(&r, 0);
	ck_assert_uint_eq(stats(&r).backend_read_errors, 1);
	rig_down(&r);
	fclose(tf);
	/* the user gets libpcap's word on what is wrong with the file */
	ck_assert_msg(strstr(trace, "pcap-in: input ends at record 3: truncated") != NULL,
		      "trace: %s", trace);
	free(trace);
	unlink(path);
}
END_TEST

START_TEST(pcap_reader_takes_swapped_nanosecond_files)
{
	struct rig r;
	static const uint32_t lens[2] = {100, 42};
	uint8_t want[100];
	char path[256], opts[300];

	tmp_path(path, sizeof(path), "vqsim-net-be");
	write_pcap(path, 0xa1b23c4d, true, 1, lens, 2);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s", path);
	rig_up(&r, opts, BASE_F, NULL);
	make_frame(want, 100, DEV_MAC, PEER_MAC, 0x88b5, 0);
	expect_frame(&r, 0, want, 100, NULL);
	make_frame(want, 42, DEV_MAC, PEER_MAC, 0x88b5, 1);
	expect_frame(&r, 0, want, 42, NULL);
	expect_none(&r, 0);
	rig_down(&r);
	unlink(path);
}
END_TEST

START_TEST(pcap_reader_takes_pcapng)
{
	struct rig r;
	static const uint32_t lens[4] = {60, 1514, 61, 333};
	static uint8_t want[1514];
	char path[256], opts[300];

	tmp_path(path, sizeof(path), "vqsim-net-ng");
	write_pcapng(path, lens, 4);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s", path);
	rig_up(&r, opts, BASE_F, NULL);
	for (unsigned i = 0; i < 4; i++) {
		make_frame(want, lens[i], DEV_MAC, PEER_MAC, 0x88b5, i);
		expect_frame(&r, 0, want, lens[i], NULL);
	}
	expect_none(&r, 0);
	ck_assert_uint_eq(stats(&r).rx_frames, 4);
	ck_assert_uint_eq(stats(&r).backend_read_errors, 0);
	rig_down(&r);
	unlink(path);
}
END_TEST

/* A record cut short when captured (caplen < len) is dropped, counted and
 * traced; the frames around it arrive whole. */
START_TEST(pcap_reader_drops_truncated_records)
{
	struct rig r;
	static const uint32_t lens[3] = {100, 300, 120}, caps[3] = {100, 96, 120};
	uint8_t want[120];
	char path[256], opts[300], *trace = NULL;
	size_t tlen = 0;
	FILE *tf = open_memstream(&trace, &tlen);

	ck_assert_ptr_nonnull(tf);
	tmp_path(path, sizeof(path), "vqsim-net-trunc");
	write_pcap_caps(path, 0xa1b2c3d4, false, 1, lens, caps, 3);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s", path);
	rig_make(&r, opts);
	vq_machine_trace_file(r.m, tf, ~0u);
	ck_assert_int_eq(vq_drv_net_init(&r.drv, BASE_F, NULL), 0);
	make_frame(want, 100, DEV_MAC, PEER_MAC, 0x88b5, 0);
	expect_frame(&r, 0, want, 100, NULL);
	make_frame(want, 120, DEV_MAC, PEER_MAC, 0x88b5, 2);
	expect_frame(&r, 0, want, 120, NULL);
	expect_none(&r, 0);
	ck_assert_uint_eq(stats(&r).rx_frames, 2);
	ck_assert_uint_eq(stats(&r).rx_drop_truncated, 1);
	ck_assert_uint_eq(stats(&r).backend_read_errors, 0);
	rig_down(&r);
	fclose(tf);
	ck_assert_msg(strstr(trace, "pcap-in: record 2 dropped: truncated in the capture "
				    "(96 of 300 bytes)") != NULL, "trace: %s", trace);
	free(trace);
	unlink(path);
}
END_TEST

START_TEST(pcap_reader_refuses_bad_files)
{
	struct vq_machine *m = vq_machine_new(1);
	char path[256], opts[300], err[300];
	uint32_t len = 60;
	FILE *fp;

	tmp_path(path, sizeof(path), "vqsim-net-bad");
	write_pcap(path, 0xa1b2c3d4, false, 101, &len, 1);   /* raw IP, not Ethernet */
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-in=%s", path);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	/* LINKTYPE_RAW (101) is DLT_RAW to libpcap */
	ck_assert_ptr_nonnull(strstr(err, "link type RAW"));
	ck_assert_ptr_nonnull(strstr(err, "is not Ethernet (EN10MB)"));
	fp = fopen(path, "wb");
	fwrite("\x0a\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1, 24, fp);
	fclose(fp);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	/* a pcapng magic with a broken header: libpcap says why */
	ck_assert_msg(strstr(err, "not a capture libpcap reads: ") != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, path));
	fp = fopen(path, "wb");
	fwrite("\xd4\xc3\xb2\xa1", 1, 4, fp);
	fclose(fp);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not a capture libpcap reads: ") != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, path));
	unlink(path);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	ck_assert_uint_eq(vq_machine_device_count(m), 0);
	vq_machine_free(m);
}
END_TEST

/* ---- datagram sockets -------------------------------------------------- */

/* A device on datagram socket fd with mac and further options extra. */
static void rig_up_dgram(struct rig *r, int fd, const char *mac, const char *extra)
{
	char opts[400];

	snprintf(opts, sizeof(opts), "backend=dgram,fd=%d,mac=%s%s", fd, mac, extra);
	rig_up(r, opts, BASE_F | F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_F_INDIRECT_DESC), NULL);
}

/* Poll r's machine until a frame arrives on pair 0 (bounded). */
static long poll_recv(struct rig *r, uint8_t *buf, uint32_t cap)
{
	for (int i = 0; i < 50; i++) {
		long n;

		vq_machine_poll(r->m, i ? 20 : 0);
		n = vq_drv_net_recv(&r->drv, 0, buf, cap, NULL);
		if (n)
			return n;
	}
	return 0;
}

START_TEST(two_machines_over_a_dgram_socketpair)
{
	struct rig a, b;
	int sv[2];
	static const uint8_t amac[6] = {0x02, 0, 0, 0, 0, 0xa}, bmac[6] = {0x02, 0, 0, 0, 0, 0xb};
	uint8_t f[1514], got[1514];

	ck_assert_int_eq(vq_net_dgram_socketpair(sv), 0);
	rig_up_dgram(&a, sv[0], "02:00:00:00:00:0a", "");
	rig_up_dgram(&b, sv[1], "02:00:00:00:00:0b", "");
	/* the devices work on duplicates: ours can go */
	close(sv[0]);
	close(sv[1]);
	ck_assert_uint_eq(vq_machine_watch_count(a.m), 1);
	for (unsigned i = 0; i < 3; i++) {
		make_frame(f, 100 + 500 * i, bmac, amac, 0x88b5, i);
		ck_assert_int_eq(vq_drv_net_send(&a.drv, 0, f, 100 + 500 * i, NULL), 0);
	}
	/* nothing enters b until its machine polls */
	ck_assert_int_eq(vq_drv_net_recv(&b.drv, 0, got, sizeof(got), NULL), 0);
	for (unsigned i = 0; i < 3; i++) {
		make_frame(f, 100 + 500 * i, bmac, amac, 0x88b5, i);
		ck_assert_int_eq(poll_recv(&b, got, sizeof(got)), 100 + 500 * i);
		ck_assert_int_eq(memcmp(got, f, 100 + 500 * i), 0);
	}
	make_frame(f, 77, amac, bmac, 0x88b5, 9);
	ck_assert_int_eq(vq_drv_net_send(&b.drv, 0, f, 77, NULL), 0);
	ck_assert_int_eq(poll_recv(&a, got, sizeof(got)), 77);
	ck_assert_int_eq(memcmp(got, f, 77), 0);
	ck_assert_uint_eq(stats(&a).tx_frames, 3);
	ck_assert_uint_eq(stats(&b).rx_frames, 3);
	ck_assert_uint_eq(stats(&a).rx_frames, 1);
	rig_down(&a);
	/* the peer is gone: sends fail and are counted */
	ck_assert_int_eq(vq_drv_net_send(&b.drv, 0, f, 77, NULL), 0);
	ck_assert_uint_eq(stats(&b).tx_backend, 1);
	ck_assert_uint_eq(stats(&b).tx_errors, 1);
	rig_down(&b);
}
END_TEST

START_TEST(dgram_frames_from_a_process_are_checked)
{
	struct rig r;
	int sv[2];
	static uint8_t f[VQ_NET_FRAME_MAX + 100], got[1600];

	ck_assert_int_eq(vq_net_dgram_socketpair(sv), 0);
	rig_up_dgram(&r, sv[0], "52:54:00:12:34:56", ",rx-queue=2");
	close(sv[0]);
	make_frame(f, sizeof(f), DEV_MAC, PEER_MAC, 0x88b5, 1);
	ck_assert_int_eq(send(sv[1], f, 1515, 0), 1515);        /* over mtu + 14 */
	ck_assert_int_eq(send(sv[1], f, sizeof(f), 0), (ssize_t)sizeof(f)); /* truncated read */
	ck_assert_int_eq(send(sv[1], f, 0, 0), 0);              /* empty datagram */
	ck_assert_int_eq(send(sv[1], f, 1514, 0), 1514);
	ck_assert_int_eq(poll_recv(&r, got, sizeof(got)), 1514);
	ck_assert_int_eq(memcmp(got, f, 1514), 0);
	ck_assert_uint_eq(stats(&r).rx_drop_too_big, 2);
	ck_assert_uint_eq(stats(&r).rx_drop_runt, 1);
	/* a guest frame comes out of the socket byte for byte */
	make_frame(f, 300, PEER_MAC, DEV_MAC, 0x0800, 2);
	ck_assert_int_eq(vq_drv_net_send(&r.drv, 0, f, 300, NULL), 0);
	ck_assert_int_eq(recv(sv[1], got, sizeof(got), MSG_DONTWAIT), 300);
	ck_assert_int_eq(memcmp(got, f, 300), 0);
	close(sv[1]);
	rig_down(&r);
}
END_TEST

START_TEST(two_machines_over_dgram_socket_paths)
{
	struct rig a, b;
	char dir[256], pa[300], pb[300], opts[700];
	const char *t = getenv("TMPDIR");
	uint8_t f[200], got[200];
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/vqsim-net-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a", dir);
	snprintf(pb, sizeof(pb), "%s/b", dir);
	snprintf(opts, sizeof(opts), "backend=dgram,path=%s,peer=%s,mac=02:00:00:00:00:0a", pa, pb);
	rig_up(&a, opts, BASE_F, NULL);
	/* b is not there yet: a's frame has nowhere to go, counted */
	make_frame(f, 200, BCAST, PEER_MAC, 0x88b5, 1);
	ck_assert_int_eq(vq_drv_net_send(&a.drv, 0, f, 200, NULL), 0);
	ck_assert_uint_eq(stats(&a).tx_backend, 1);
	snprintf(opts, sizeof(opts), "backend=dgram,path=%s,peer=%s,mac=02:00:00:00:00:0b", pb, pa);
	rig_up(&b, opts, BASE_F, NULL);
	ck_assert_int_eq(vq_drv_net_send(&a.drv, 0, f, 200, NULL), 0);
	ck_assert_int_eq(poll_recv(&b, got, sizeof(got)), 200);
	ck_assert_int_eq(memcmp(got, f, 200), 0);
	make_frame(f, 150, BCAST, PEER_MAC, 0x88b5, 2);
	ck_assert_int_eq(vq_drv_net_send(&b.drv, 0, f, 150, NULL), 0);
	ck_assert_int_eq(poll_recv(&a, got, sizeof(got)), 150);
	ck_assert_int_eq(memcmp(got, f, 150), 0);
	/* a second device cannot take a bound path */
	{
		char err[300];
		struct vq_machine *m = vq_machine_new(1);

		ck_assert_ptr_null(vq_machine_add_mmio(m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "another process is listening on it"));
		ck_assert_ptr_nonnull(strstr(err, pb));
		vq_machine_free(m);
	}
	rig_down(&a);
	/* a stale socket file (a's, as a crash would leave it) is replaced */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

		ck_assert_uint_lt(strlen(pa), sizeof(sa.sun_path));
		memcpy(sa.sun_path, pa, strlen(pa) + 1);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd); /* the file stays, nobody is bound */
		snprintf(opts, sizeof(opts), "backend=dgram,path=%s,peer=%s,mac=02:00:00:00:00:0a",
			 pa, pb);
		rig_up(&a, opts, BASE_F, NULL);
		ck_assert_int_eq(vq_drv_net_send(&a.drv, 0, f, 150, NULL), 0);
		ck_assert_int_eq(poll_recv(&b, got, sizeof(got)), 150);
		rig_down(&a);
	}
	rig_down(&b);
	/* the socket files went with the devices */
	ck_assert_int_ne(stat(pa, &sb), 0);
	ck_assert_int_ne(stat(pb, &sb), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- TAP -------------------------------------------------------------- */

/* The TAP check runs in a child process of its own (whatever CK_FORK says)
 * so that the network namespace it makes never leaks into other tests. It
 * reports "" (passed), "SKIP: why" or "FAIL: what" through a pipe. */
#define TAP_FAIL(...)                                                              \
	do {                                                                       \
		snprintf(msg, sizeof(msg), "FAIL: " __VA_ARGS__);                  \
		goto out;                                                          \
	} while (0)

static bool write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	bool ok = fp && fputs(text, fp) >= 0;

	if (fp && fclose(fp) != 0)
		ok = false;
	return ok;
}

/* A network namespace of our own: directly as root, else inside a new
 * user namespace where we are root (when the system allows that). */
static bool enter_netns(void)
{
	char map[64];
	unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();

	if (unshare(CLONE_NEWNET) == 0)
		return true;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
		return false;
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", gid);
	write_file("/proc/self/gid_map", map);
	return true;
}

static void tap_child(int wfd)
{
	char msg[400] = "", opts[64], err[256], path[128];
	struct vq_machine *m = NULL;
	struct vq_dev *dev;
	struct vq_drv drv;
	const char *ifname;
	bool netns = enter_netns(), drv_up = false;
	struct ifreq ifr;
	struct sockaddr_ll sll;
	int ps = -1, s, ifindex;
	uint8_t f[128], got[2048];
	bool seen = false;

	snprintf(opts, sizeof(opts), "backend=tap,ifname=vqt%d", (int)(getpid() % 100000));
	m = vq_machine_new(1);
	vq_machine_add_ram(m, RAM, RAM_SIZE);
	dev = vq_machine_add_mmio(m, "net", NULL, opts, MMIO, IRQ, err, sizeof(err));
	if (!dev) {
		snprintf(msg, sizeof(msg), "SKIP: TAP cannot be opened%s: %s",
			 netns ? " (in a new network namespace)" : "", err);
		goto out;
	}
	ifname = vq_net_tap_ifname(dev);
	if (!ifname || strncmp(ifname, "vqt", 3))
		TAP_FAIL("tap ifname '%s'", ifname ? ifname : "(null)");
	/* no IPv6 chatter (router solicitations, MLD) on the interface */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	write_file(path, "1");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(msg, sizeof(msg), "SKIP: cannot read flags of %s: %s", ifname, strerror(errno));
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		snprintf(msg, sizeof(msg), "SKIP: cannot bring %s up: %s", ifname, strerror(errno));
		close(s);
		goto out;
	}
	close(s);
	ifindex = (int)if_nametoindex(ifname);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x0003 /* ETH_P_ALL */));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(0x0003);
	sll.sll_ifindex = ifindex;
	if (ps < 0 || bind(ps, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(msg, sizeof(msg), "SKIP: no packet socket on %s: %s", ifname, strerror(errno));
		goto out;
	}
	if (vq_drv_attach(&drv, m, MMIO, IRQ, RAM, HEAP_SIZE) < 0 ||
	    vq_drv_net_init(&drv, BASE_F, NULL) < 0)
		TAP_FAIL("driver init");
	drv_up = true;
	/* guest -> host: the frame comes out of the interface */
	make_frame(f, 100, BCAST, DEV_MAC, 0x88b5, 21);
	if (vq_drv_net_send(&drv, 0, f, 100, NULL) < 0)
		TAP_FAIL("send");
	for (int i = 0; i < 50 && !seen; i++) {
		struct pollfd p = {.fd = ps, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(ps, got, sizeof(got), 0);
		seen = n == 100 && memcmp(got, f, 100) == 0;
	}
	if (!seen)
		TAP_FAIL("the guest's frame did not come out of %s", ifname);
	/* host -> guest: a frame sent out of the interface reaches the guest */
	make_frame(f, 90, DEV_MAC, PEER_MAC, 0x88b5, 22);
	if (sendto(ps, f, 90, 0, (struct sockaddr *)&sll, sizeof(sll)) != 90)
		TAP_FAIL("packet socket send: %s", strerror(errno));
	seen = false;
	for (int i = 0; i < 50 && !seen; i++) {
		long n;

		vq_machine_poll(m, 100);
		while ((n = vq_drv_net_recv(&drv, 0, got, sizeof(got), NULL)) > 0 && !seen)
			seen = n == 90 && memcmp(got, f, 90) == 0;
	}
	if (!seen)
		TAP_FAIL("the host's frame did not reach the guest");
out:
	if (ps >= 0)
		close(ps);
	if (drv_up)
		vq_drv_detach(&drv);
	vq_machine_free(m);
	if (write(wfd, msg, strlen(msg)) < 0)
		_exit(2);
	_exit(0);
}

START_TEST(tap_frames_both_ways)
{
	int p[2], status;
	char msg[400] = "";
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		tap_child(p[1]);
	}
	close(p[1]);
	n = read(p[0], msg, sizeof(msg) - 1);
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tap child died");
	msg[n > 0 ? n : 0] = '\0';
	if (!strncmp(msg, "SKIP", 4)) {
		fprintf(stderr, "test_net: tap_frames_both_ways %s\n", msg);
		return;
	}
	ck_assert_msg(msg[0] == '\0', "%s", msg);
}
END_TEST

/* ---- options ------------------------------------------------------------ */

START_TEST(bad_options_are_named)
{
	static const struct {
		const char *opts, *msg;
	} cases[] = {
		{"backend=wire", "backend 'wire' unknown"},
		{"colour=red", "unknown option 'colour'"},
		{"mac=52:54:00:12:34", "mac '52:54:00:12:34' must be six hex bytes"},
		{"mac=52:54:00:12:34:zz", "must be six hex bytes"},
		{"mac=01:00:5e:00:00:01", "is a multicast address"},
		{"mtu=67", "mtu '67' must be a number from 68 to 65535"},
		{"mtu=65536", "mtu '65536'"},
		{"queues=0", "queues '0' must be a number from 1 to 31"},
		{"queues=32", "queues '32'"},
		{"queues=2,ctrl=off", "queues=2 needs ctrl=on"},
		{"rx-queue=0", "rx-queue '0' must be a number from 1 to 4096"},
		{"queue-size=100", "queue-size '100' must be a power of two"},
		{"csum=maybe", "csum 'maybe' must be on or off"},
		{"pcap-out=/tmp/x.pcap", "option 'pcap-out' needs backend=pcap"},
		{"path=/tmp/x", "option 'path' needs backend=dgram"},
		{"backend=pcap", "needs pcap-out=FILE and/or pcap-in=FILE"},
		{"backend=pcap,pcap-out=/nonexistent-dir/x.pcap", "pcap-out '/nonexistent-dir/x.pcap'"},
		{"backend=dgram", "needs path=LOCAL"},
		{"backend=dgram,fd=0", "fd=0 is not a datagram socket"},
		{"backend=dgram,fd=-1", "fd '-1' must be a number from 0"},
		{"backend=tap,ifname=abcdefghijklmnopq", "longer than 15 bytes"},
	};
	struct vq_machine *m = vq_machine_new(1);
	char err[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ck_assert_ptr_null(vq_machine_add_mmio(m, "net", NULL, cases[i].opts, MMIO, IRQ, err,
						       sizeof(err)));
		ck_assert_msg(strstr(err, cases[i].msg), "'%s': got '%s', expected '%s'",
			      cases[i].opts, err, cases[i].msg);
	}
	ck_assert_ptr_nonnull(vq_machine_add_mmio(m, "net", NULL,
						  "mac=02:AB:cd:00:00:01,mtu=68,queues=31,"
						  "mrg-rxbuf=off,csum=off,rx-queue=4096,queue-size=1024",
						  MMIO, IRQ, err, sizeof(err)));
	vq_machine_free(m);
}
END_TEST

START_TEST(offered_features_follow_options)
{
	struct rig r;

	rig_make(&r, "mrg-rxbuf=off,csum=off,ctrl=off");
	ck_assert_int_eq(vq_drv_net_init(&r.drv, ~0ull, NULL), 0);
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_NET_F_MRG_RXBUF));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_NET_F_CSUM));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_NET_F_CTRL_VQ));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_NET_F_MAC));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_NET_F_STATUS));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_NET_F_MTU));
	ck_assert_int_eq(vq_drv_net_ctrlq(&r.drv), -1);
	ck_assert_int_eq(vq_drv_net_set_pairs(&r.drv, 1), -VQ_E_STATE);
	ck_assert_uint_eq(r.dev->nqueues, 2);
	rig_down(&r);
	rig_make(&r, "queues=3");
	ck_assert_int_eq(vq_drv_net_init(&r.drv, ~0ull, NULL), 0);
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_NET_F_MQ));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_NET_F_HOST_TSO4));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_NET_F_CTRL_VLAN));
	ck_assert_uint_eq(r.dev->nqueues, 7);
	ck_assert_int_eq(vq_drv_net_ctrlq(&r.drv), 6);
	rig_down(&r);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
	      *ctrl = tcase_create("ctrl"), *backends = tcase_create("backends");

	tcase_add_test(core, loopback_round_trip);
	tcase_add_test(core, rx_buffer_layout_in_guest_memory);
	tcase_add_test(core, csum_offload_carried_end_to_end);
	tcase_add_test(core, csum_completed_when_guest_cannot_take_it);
	tcase_add_test(core, guest_offloads_set_turns_partial_csum_off);
	tcase_add_test(core, bad_offload_requests_are_dropped_and_counted);
	tcase_add_test(core, tx_chain_shorter_than_header_is_dropped);
	tcase_add_test(core, tx_header_and_frame_may_be_split_over_descriptors);
	tcase_add_test(core, status_link_up_and_link_changes);
	tcase_add_test(core, mtu_and_mac_in_config);
	tcase_add_test(core, config_is_read_only_for_the_driver);
	tcase_add_test(core, bad_options_are_named);
	tcase_add_test(core, offered_features_follow_options);
	tcase_add_test(core, features_needing_ctrl_vq_are_refused_without_it);
	tcase_add_test(limits, tx_frame_over_mtu_is_dropped);
	tcase_add_test(limits, largest_mtu_frames_pass);
	tcase_add_test(limits, no_rx_buffers_frames_wait_then_drop_beyond_bound);
	tcase_add_test(limits, waiting_frames_dropped_by_reset_are_counted);
	tcase_add_test(limits, oversize_and_runt_frames_are_dropped_and_counted);
	tcase_add_test(limits, frame_larger_than_buffer_without_mrg_is_dropped);
	tcase_add_test(limits, mrg_rxbuf_spreads_a_frame_over_buffers);
	tcase_add_test(limits, mrg_frame_waits_for_enough_buffers);
	tcase_add_test(limits, held_rx_chain_is_revalidated_before_writing);
	tcase_add_test(limits, mrg_frame_larger_than_the_whole_ring_is_dropped);
	tcase_add_test(limits, rx_buffer_under_header_size_is_returned_empty);
	tcase_add_test(ctrl, ctrl_rx_mode_and_mac_table_filter_frames);
	tcase_add_test(ctrl, ctrl_malformed_commands_get_err);
	tcase_add_test(ctrl, ctrl_rx_extra_commands_need_the_feature);
	tcase_add_test(ctrl, ctrl_chains_without_ack_room_or_header);
	tcase_add_test(ctrl, ctrl_mac_addr_set_changes_config_mac);
	tcase_add_test(ctrl, mq_pairs_set_then_traffic_on_pair_1);
	tcase_add_test(ctrl, mq_steering_follows_flows_and_spreads_new_ones);
	tcase_add_test(ctrl, one_pair_tx_does_not_pin_flows);
	tcase_add_test(ctrl, queue_without_a_role_ignores_notifications);
	tcase_add_test(ctrl, announce_sets_status_and_ack_clears_it);
	tcase_add_test(backends, pcap_writer_output_parses_back);
	tcase_add_test(backends, pcap_output_is_deterministic);
	tcase_add_test(backends, pcap_reader_delivers_frames_in_order);
	tcase_add_test(backends, pcap_reader_takes_swapped_nanosecond_files);
	tcase_add_test(backends, pcap_reader_long_runs_yield_to_the_machine);
	tcase_add_test(backends, pcap_reader_stops_at_a_damaged_record);
	tcase_add_test(backends, pcap_reader_takes_pcapng);
	tcase_add_test(backends, pcap_reader_drops_truncated_records);
	tcase_add_test(backends, pcap_reader_refuses_bad_files);
	tcase_add_test(backends, two_machines_over_a_dgram_socketpair);
	tcase_add_test(backends, dgram_frames_from_a_process_are_checked);
	tcase_add_test(backends, two_machines_over_dgram_socket_paths);
	tcase_add_test(backends, tap_frames_both_ways);
	tcase_set_timeout(backends, 20);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, ctrl);
	suite_add_tcase(s, backends);
	return s;
}

int main(void)
{
	return vq_test_run(net_suite());
}

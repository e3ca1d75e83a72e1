/* test_vhost_user.c - the vhost-user back-end driven by a front-end written
 * here (QEMU's sequence, as recorded in the notes), over a socketpair, with
 * a memfd as the front-end's guest memory in two regions; and the codec's
 * rules. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#define GUEST_SIZE (2u << 20)          /* two regions of 1 MiB */
#define UVA0 0x7f0000000000ull        /* where "QEMU" has them mapped */
#define UVA1 0x7f0000200000ull
#define DESC 0x1000u                  /* ring areas (region 0) */
#define AVAIL 0x1100u
#define USED 0x1200u
#define HDR 0x2000u                   /* request header, data, status */
#define DATA 0x100800u                /* in region 1 */
#define STATUS 0x3000u

static struct vq_machine *m;
static struct vq_dev *blk;
static struct vq_vhost_backend *b;
static int fe = -1;                   /* the front-end's end */
static int memfd = -1;
static uint8_t *g;                    /* guest memory as the front-end sees it */
static int kickfd = -1, callfd = -1;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Let the back-end handle whatever is on the socket. */
static void pump(void)
{
	while (vq_machine_poll(m, 0) > 0)
		;
	vq_machine_run(m, 10000);
}

static void send_msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		     const int *fds, unsigned nfds)
{
	struct vq_vhost_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.request = req;
	msg.flags = VHOST_USER_VERSION | flags;
	msg.size = size;
	if (size)
		memcpy(msg.p.bytes, payload, size);
	for (unsigned i = 0; i < nfds; i++)
		msg.fds[i] = fds[i];
	msg.nfds = nfds;
	ck_assert_int_eq(vq_vhost_send(fe, &msg), 0);
	pump();
}

static void recv_reply(uint32_t req, struct vq_vhost_msg *r)
{
	char why[200];

	ck_assert_int_eq(vq_vhost_recv(fe, r, why, sizeof(why)), 1);
	ck_assert_uint_eq(r->request, req);
	ck_assert(r->flags & VHOST_USER_REPLY);
}

static uint64_t get_u64(uint32_t req)
{
	struct vq_vhost_msg r;

	send_msg(req, 0, NULL, 0, NULL, 0);
	recv_reply(req, &r);
	ck_assert_uint_eq(r.size, 8);
	return r.p.u64;
}

static void set_u64(uint32_t req, uint64_t v)
{
	send_msg(req, 0, &v, 8, NULL, 0);
}

/* A request that asks for an ack; returns the ack (0 = success). */
static uint64_t acked(uint32_t req, const void *p, uint32_t size, const int *fds, unsigned n)
{
	struct vq_vhost_msg r;

	send_msg(req, VHOST_USER_NEED_REPLY, p, size, fds, n);
	recv_reply(req, &r);
	ck_assert_uint_eq(r.size, 8);
	return r.p.u64;
}

static void vring_state(uint32_t req, uint32_t idx, uint32_t num)
{
	struct vq_vhost_state s = {idx, num};

	ck_assert_uint_eq(acked(req, &s, sizeof(s), NULL, 0), 0);
}

static uint64_t mem_table(unsigned n, unsigned nfds)
{
	struct vq_vhost_memory mt = {.nregions = n};
	int fds[2] = {dup(memfd), dup(memfd)};
	uint64_t ack;

	mt.regions[0] = (struct vq_vhost_region){0, GUEST_SIZE / 2, UVA0, 0};
	mt.regions[1] = (struct vq_vhost_region){GUEST_SIZE / 2, GUEST_SIZE / 2, UVA1,
						 GUEST_SIZE / 2};
	ack = acked(VHOST_USER_SET_MEM_TABLE, &mt, 8 + n * sizeof(mt.regions[0]), fds, nfds);
	close(fds[0]);
	close(fds[1]);
	return ack;
}

static uint64_t uva(uint64_t gpa)
{
	return gpa < GUEST_SIZE / 2 ? UVA0 + gpa : UVA1 + (gpa - GUEST_SIZE / 2);
}

static void put_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = g + DESC + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t u16at(uint32_t gpa)
{
	uint16_t v;

	memcpy(&v, g + gpa, 2);
	return v;
}

/* The front-end's set-up of one ring of 8 (QEMU's order). */
static void connect_and_start(void)
{
	int sv[2];
	uint64_t f;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fe = sv[0];
	ck_assert_int_eq(vq_vhost_backend_attach(b, sv[1]), 0);
	f = get_u64(VHOST_USER_GET_FEATURES);
	ck_assert(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	ck_assert(f & (1ull << VIRTIO_F_VERSION_1));
	ck_assert(get_u64(VHOST_USER_GET_PROTOCOL_FEATURES) &
		  (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	set_u64(VHOST_USER_SET_PROTOCOL_FEATURES, (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
							 (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	ck_assert_uint_eq(get_u64(VHOST_USER_GET_QUEUE_NUM), 1);
	send_msg(VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
	set_u64(VHOST_USER_SET_FEATURES,
		(1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	memset(g, 0, GUEST_SIZE);
	ck_assert_uint_eq(mem_table(2, 2), 0);
	vring_state(VHOST_USER_SET_VRING_NUM, 0, 8);
	vring_state(VHOST_USER_SET_VRING_BASE, 0, 0);
	struct vq_vhost_addr a = {0, 0, uva(DESC), uva(USED), uva(AVAIL), 0};
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t v = 0;
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_CALL, &v, 8, &callfd, 1), 0);
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_KICK, &v, 8, &kickfd, 1), 0);
	ck_assert(!b->vr[0].started); /* rings start disabled with protocol features */
	vring_state(VHOST_USER_SET_VRING_ENABLE, 0, 1);
	ck_assert(b->vr[0].started);
}

static void disconnect_fe(void)
{
	close(fe);
	fe = -1;
	pump();
	close(kickfd);
	close(callfd);
	kickfd = callfd = -1;
}

/* A blk request through the ring by hand: returns the status byte. */
static uint8_t blk_request(uint16_t head, uint32_t type, uint64_t sector, uint64_t data,
			   bool dev_writes)
{
	uint8_t hdr[16] = {0};
	uint16_t idx = u16at(AVAIL + 2), used_before = u16at(USED + 2);
	uint64_t one = 1, calls = 0;

	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memcpy(g + HDR, hdr, 16);
	g[STATUS] = 0xff;
	put_desc(head, HDR, 16, 1, (uint16_t)(head + 1));
	put_desc(head + 1u, data, 512, (uint16_t)(1 | (dev_writes ? 2 : 0)), (uint16_t)(head + 2));
	put_desc(head + 2u, STATUS, 1, 2, 0);
	memcpy(g + AVAIL + 4 + 2 * (idx % 8), &head, 2);
	idx++;
	__atomic_store_n((uint16_t *)(g + AVAIL + 2), idx, __ATOMIC_RELEASE);
	ck_assert_int_eq(write(kickfd, &one, 8), 8);
	pump();
	ck_assert_uint_eq(u16at(USED + 2), (uint16_t)(used_before + 1));
	ck_assert_int_eq(read(callfd, &calls, 8), 8); /* the guest was called */
	ck_assert_uint_ge(calls, 1);
	return g[STATUS];
}

static void setup(void)
{
	char err[256];

	m = vq_machine_new(1);
	ck_assert_ptr_nonnull(m);
	blk = vq_machine_add_mmio(m, "blk", "blk0", "size=1M", 0x0a000000, 5, err, sizeof(err));
	ck_assert_msg(blk != NULL, "%s", err);
	b = vq_machine_serve_vhost(m, blk, NULL, err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);
	memfd = memfd_create("guest", MFD_CLOEXEC);
	ck_assert_int_ge(memfd, 0);
	ck_assert_int_eq(ftruncate(memfd, GUEST_SIZE), 0);
	g = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ck_assert_ptr_ne(g, MAP_FAILED);
}

static void teardown(void)
{
	if (fe >= 0)
		disconnect_fe();
	vq_machine_free(m);
	munmap(g, GUEST_SIZE);
	close(memfd);
}

START_TEST(test_blk_request_through_the_front_ends_memory)
{
	struct vq_vhost_msg r;
	uint8_t pattern[512];

	connect_and_start();
	/* config: capacity 2048 sectors (1 MiB) */
	struct vq_vhost_config c = {.offset = 0, .size = 8};
	send_msg(VHOST_USER_GET_CONFIG, 0, &c, 12 + 8, NULL, 0);
	recv_reply(VHOST_USER_GET_CONFIG, &r);
	ck_assert_uint_eq(r.size, 20);
	uint64_t cap;
	memcpy(&cap, r.p.config.payload, 8);
	ck_assert_uint_eq(cap, 2048);
	/* write sector 5 from region 1, read it back into region 0 */
	for (unsigned i = 0; i < 512; i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	memcpy(g + DATA, pattern, 512);
	ck_assert_uint_eq(blk_request(0, 1 /* OUT */, 5, DATA, false), 0);
	ck_assert_uint_eq(blk_request(3, 0 /* IN */, 5, 0x4000, true), 0);
	ck_assert_mem_eq(g + 0x4000, pattern, 512);
	/* used element: id of the head, len = data + status */
	uint32_t id, len;
	memcpy(&id, g + USED + 4 + 8 * 1, 4);
	memcpy(&len, g + USED + 8 + 8 * 1, 4);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, 513);
	/* stop: GET_VRING_BASE says where the ring is */
	struct vq_vhost_state s = {0, 0};
	send_msg(VHOST_USER_GET_VRING_BASE, 0, &s, 8, NULL, 0);
	recv_reply(VHOST_USER_GET_VRING_BASE, &r);
	ck_assert_uint_eq(r.p.state.num, 2);
	ck_assert(!b->vr[0].started);
	ck_assert_uint_eq(b->stats.kicks, 2);
	ck_assert_uint_ge(b->stats.calls, 2);
}
END_TEST

START_TEST(test_hostile_messages_are_refused_and_the_device_still_works)
{
	struct vq_vhost_msg r;
	uint64_t v = 0;
	int efd = eventfd(0, EFD_CLOEXEC);

	connect_and_start();
	/* two regions announced, one fd */
	ck_assert_uint_eq(mem_table(2, 1), 1);
	ck_assert_ptr_nonnull(strstr(b->last_error, "2 regions but 1 file descriptors"));
	/* a region past the end of its file (its pages would be SIGBUS) */
	{
		struct vq_vhost_memory mt = {.nregions = 1};
		int fd = dup(memfd);

		mt.regions[0] = (struct vq_vhost_region){0, 2 * GUEST_SIZE, UVA0, 0};
		ck_assert_uint_eq(acked(VHOST_USER_SET_MEM_TABLE, &mt, 8 + 32, &fd, 1), 1);
		ck_assert_ptr_nonnull(strstr(b->last_error, "SET_MEM_TABLE: region 0"));
		close(fd);
		ck_assert_uint_eq(mem_table(2, 2), 0); /* and a good one again */
	}
	/* wrong payload size */
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_NUM, &v, 4, NULL, 0), 1);
	ck_assert_ptr_nonnull(strstr(b->last_error, "payload of 4 bytes"));
	/* ring index past the device's queues */
	struct vq_vhost_state s = {7, 8};
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_NUM, &s, 8, NULL, 0), 1);
	ck_assert_ptr_nonnull(strstr(b->last_error, "ring 7, the device has 1"));
	/* size not a power of two */
	s = (struct vq_vhost_state){0, 6};
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_NUM, &s, 8, NULL, 0), 1);
	/* ring addresses outside every region */
	struct vq_vhost_addr a = {0, 0, 0x1000, 0x2000, 0x3000, 0};
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 1);
	ck_assert_ptr_nonnull(strstr(b->last_error, "outside every memory region"));
	/* a kick fd with the no-fd flag */
	v = VHOST_USER_VRING_NOFD;
	ck_assert_uint_eq(acked(VHOST_USER_SET_VRING_KICK, &v, 8, &efd, 1), 1);
	/* features never offered */
	v = 1ull << 63;
	ck_assert_uint_eq(acked(VHOST_USER_SET_FEATURES, &v, 8, NULL, 0), 1);
	/* an unknown request */
	ck_assert_uint_eq(acked(99, NULL, 0, NULL, 0), 1);
	ck_assert_ptr_nonnull(strstr(b->last_error, "unknown request 99"));
	/* a config read past 256 bytes */
	struct vq_vhost_config c = {.offset = 250, .size = 8};
	ck_assert_uint_eq(acked(VHOST_USER_GET_CONFIG, &c, 20, NULL, 0), 1);
	ck_assert_uint_ge(b->stats.refused, 9);
	/* the ring kept running through all that */
	ck_assert(b->vr[0].started);
	g[DATA] = 0x5a;
	ck_assert_uint_eq(blk_request(0, 1, 1, DATA, false), 0);
	(void)r;
	close(efd);
}
END_TEST

START_TEST(test_disconnect_frees_everything_and_reconnect_works)
{
	int before;

	/* the socketpair's back-end end and the regions' fds are all it holds */
	before = count_fds();
	connect_and_start();
	ck_assert_uint_eq(blk_request(0, 1, 2, DATA, false), 0);
	ck_assert_uint_eq(vq_mem_region_count(vq_machine_mem(m)), 2);
	disconnect_fe();
	ck_assert_int_eq(count_fds(), before);
	ck_assert_uint_eq(vq_mem_region_count(vq_machine_mem(m)), 0);
	ck_assert(!b->vr[0].started);
	ck_assert_uint_eq(blk->status, 0);
	/* a new front-end gets a working device, the data still there */
	connect_and_start();
	memset(g + 0x4000, 0, 512);
	g[DATA] = 0;
	ck_assert_uint_eq(blk_request(0, 0, 2, 0x4000, true), 0);
	ck_assert_uint_eq(b->stats.connections, 2);
}
END_TEST

START_TEST(test_framing_errors_close_the_connection)
{
	uint32_t hdr[3] = {VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 4096};
	int before = count_fds();

	connect_and_start();
	/* a payload larger than any message: the connection goes */
	ck_assert_int_eq(write(fe, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	pump();
	ck_assert_int_eq(b->conn, -1);
	ck_assert_ptr_nonnull(strstr(b->last_error, "payload of 4096 bytes"));
	close(fe);
	fe = -1;
	close(kickfd);
	close(callfd);
	kickfd = callfd = -1;
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_codec_rules)
{
	struct vq_vhost_msg msg;
	char why[200];

	memset(&msg, 0, sizeof(msg));
	msg.request = VHOST_USER_SET_VRING_CALL;
	msg.size = 8;
	msg.nfds = 2;
	ck_assert_err(vq_vhost_check(&msg, why, sizeof(why)), VQ_E_VHOST_MSG);
	ck_assert_ptr_nonnull(strstr(why, "2 file descriptors"));
	msg.request = VHOST_USER_SET_MEM_TABLE;
	msg.size = 8 + 32;
	msg.nfds = 1;
	msg.p.memory.nregions = 9;
	ck_assert_err(vq_vhost_check(&msg, why, sizeof(why)), VQ_E_VHOST_MSG);
	msg.p.memory.nregions = 1;
	ck_assert_int_eq(vq_vhost_check(&msg, why, sizeof(why)), 0);
	msg.flags = VHOST_USER_REPLY;
	ck_assert_err(vq_vhost_check(&msg, why, sizeof(why)), VQ_E_VHOST_MSG);
	msg.flags = 0;
	msg.request = VHOST_USER_SET_CONFIG;
	msg.size = 12 + 4;
	msg.nfds = 0;
	msg.p.config.size = 8;
	ck_assert_err(vq_vhost_check(&msg, why, sizeof(why)), VQ_E_VHOST_MSG);
	ck_assert_str_eq(vq_vhost_req_name(VHOST_USER_GET_VRING_BASE), "GET_VRING_BASE");
	ck_assert_str_eq(vq_vhost_req_name(1000), "UNKNOWN");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost_user");
	TCase *tc = tcase_create("backend");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_blk_request_through_the_front_ends_memory);
	tcase_add_test(tc, test_hostile_messages_are_refused_and_the_device_still_works);
	tcase_add_test(tc, test_disconnect_frees_everything_and_reconnect_works);
	tcase_add_test(tc, test_framing_errors_close_the_connection);
	tcase_add_test(tc, test_codec_rules);
	suite_add_tcase(s, tc);
	return vq_test_run(s);
}

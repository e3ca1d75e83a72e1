/* test_vhost_frontend.c - vqsim as the front-end of a vhost-user back-end:
 * against vqsim's own back-end (a second machine served from a thread), and
 * against back-ends written here that break the protocol, stay silent or
 * leave. The real peer (qemu-storage-daemon) is tests/peers/qsd.sh. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16u << 20)
#define MMIO 0x0a000000ull
#define IRQ 5
#define HEAP (RAM + (8u << 20))

static char dir[64], sock_path[96];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vqsim-fe.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/be.sock", dir);
}

static void remove_dir(void)
{
	unlink(sock_path);
	rmdir(dir);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- vqsim's own back-end, served by a thread ---------------------------- */

static struct vq_machine *be_m;
static atomic_bool be_stop;

static void *be_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&be_stop)) {
		vq_machine_poll(be_m, 5);
		vq_machine_run(be_m, 100000);
	}
	return NULL;
}

static struct vq_dev *be_start_type(pthread_t *t, const char *type, const char *opts)
{
	char err[256];
	struct vq_dev *d;

	be_m = vq_machine_new(1);
	ck_assert_ptr_nonnull(be_m);
	d = vq_machine_add_mmio(be_m, type, "be0", opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_msg(vq_machine_serve_vhost(be_m, d, sock_path, err, sizeof(err)) != NULL, "%s",
		      err);
	atomic_store(&be_stop, false);
	ck_assert_int_eq(pthread_create(t, NULL, be_thread, NULL), 0);
	return d;
}

static struct vq_dev *be_start(pthread_t *t)
{
	return be_start_type(t, "blk", "size=1M");
}

static void be_end(pthread_t t)
{
	atomic_store(&be_stop, true);
	pthread_join(t, NULL);
	vq_machine_free(be_m);
	be_m = NULL;
}

static struct vq_machine *fe_machine(void)
{
	struct vq_machine *m = vq_machine_new(1);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_machine_add_ram(m, RAM, RAM_SIZE), 0);
	return m;
}

START_TEST(driver_through_frontend_to_vqsim_backend)
{
	pthread_t t;
	struct vq_dev *be, *fe;
	struct vq_machine *m;
	struct vq_drv drv;
	struct vq_vhost_frontend_stats st;
	uint8_t wbuf[1024], rbuf[1024];
	char opts[256], err[256];
	uint64_t all[VQ_FEATURE_WORDS] = {~0ull, 0};

	make_dir();
	be = be_start(&t);
	m = fe_machine();
	snprintf(opts, sizeof(opts), "socket=%s,type=blk", sock_path);
	fe = vq_machine_add_mmio(m, "vhost-user", "blk0", opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(fe != NULL, "%s", err);
	ck_assert_str_eq(vq_vhost_frontend_kind(fe), "blk");
	ck_assert_uint_eq(fe->cls->device_id, VIRTIO_ID_BLOCK);
	/* what cannot cross vhost-user is not offered */
	ck_assert(!(fe->host_features[0] & (1ull << VIRTIO_F_ACCESS_PLATFORM)));
	ck_assert(!(fe->host_features[0] & (1ull << VIRTIO_F_RING_RESET)));
	ck_assert(!(fe->host_features[0] & (1ull << VIRTIO_F_NOTIFICATION_DATA)));
	ck_assert(!(fe->host_features[0] & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)));
	ck_assert(fe->host_features[0] & (1ull << VIRTIO_F_VERSION_1));

	ck_assert_int_eq(vq_drv_attach(&drv, m, MMIO, IRQ, HEAP, 4u << 20), 0);
	ck_assert_int_eq(vq_drv_init(&drv, all, VQ_DRV_ALL_QUEUES), 0);
	for (unsigned i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(vq_drv_blk_write(&drv, 4, wbuf, sizeof(wbuf)), VIRTIO_BLK_S_OK);
	memset(rbuf, 0, sizeof(rbuf));
	ck_assert_int_eq(vq_drv_blk_read(&drv, 4, rbuf, sizeof(rbuf)), VIRTIO_BLK_S_OK);
	ck_assert_mem_eq(rbuf, wbuf, sizeof(rbuf));
	/* the config came from the back-end: 1 MiB = 2048 sectors */
	{
		uint64_t cap = 0;

		ck_assert_int_eq(vq_drv_config_read(&drv, 0, &cap, 8), 0);
		ck_assert_uint_eq(cap, 2048);
	}
	ck_assert_int_eq(vq_vhost_frontend_get_stats(fe, &st), 0);
	ck_assert_uint_ge(st.kicks, 2);
	ck_assert_uint_eq(st.starts, 1);
	ck_assert(!st.dead);
	/* the back-end's blk model served the requests */
	ck_assert_uint_ge(be->stats.chains, 2);
	/* a reset stops the rings (GET_VRING_BASE) and a new init works */
	ck_assert_int_eq(vq_drv_init(&drv, all, VQ_DRV_ALL_QUEUES), 0);
	ck_assert_int_eq(vq_drv_blk_read(&drv, 4, rbuf, sizeof(rbuf)), VIRTIO_BLK_S_OK);
	ck_assert_mem_eq(rbuf, wbuf, sizeof(rbuf));
	vq_drv_detach(&drv);
	vq_machine_free(m);
	be_end(t);
	remove_dir();
}
END_TEST

/* net through the front-end to vqsim's own net device (loopback). */
START_TEST(net_frames_through_frontend_to_vqsim_backend)
{
	pthread_t t;
	struct vq_machine *m;
	struct vq_dev *fe, *be;
	struct vq_drv drv;
	char opts[256], err[256];
	uint8_t frame[60], back[128], mac[6];
	long n;

	make_dir();
	be = be_start_type(&t, "net", "backend=loopback");
	m = fe_machine();
	snprintf(opts, sizeof(opts), "socket=%s,type=net,mac=02:00:00:00:00:07", sock_path);
	fe = vq_machine_add_mmio(m, "vhost-user", "net0", opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(fe != NULL, "%s", err);
	ck_assert(fe->host_features[0] & (1ull << VIRTIO_NET_F_MAC));
	ck_assert_int_eq(vq_drv_attach(&drv, m, MMIO, IRQ, HEAP, 4u << 20), 0);
	ck_assert_int_eq(vq_drv_net_init(&drv, (1ull << VIRTIO_NET_F_MAC) |
						(1ull << VIRTIO_NET_F_STATUS), NULL), 0);
	/* the back-end has CONFIG: its MAC wins over the front-end's option */
	ck_assert_int_eq(vq_drv_net_mac(&drv, mac), 0);
	ck_assert_mem_eq(mac, be->config, 6);
	memset(frame, 0xff, 6);
	memset(frame + 6, 0x02, 6);
	memset(frame + 12, 0x5a, sizeof(frame) - 12);
	ck_assert_int_eq(vq_drv_net_send(&drv, 0, frame, sizeof(frame), NULL), 0);
	n = vq_drv_net_recv(&drv, 0, back, sizeof(back), NULL);
	ck_assert_int_eq(n, sizeof(frame));
	ck_assert_mem_eq(back, frame, sizeof(frame));
	ck_assert(!(fe->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	ck_assert_uint_ge(be->stats.chains, 2); /* vqsim's net model served them */
	vq_drv_detach(&drv);
	vq_machine_free(m);
	be_end(t);
	remove_dir();
}
END_TEST

/* ---- back-ends written here ---------------------------------------------- */

enum fake_mode { FAKE_SHORT_REPLY, FAKE_SILENT, FAKE_LEAVE_AT_START, FAKE_STRICT };

static int listen_fd = -1;
static enum fake_mode fake_mode;
static uint64_t fake_set_features;    /* FAKE_STRICT: what SET_FEATURES carried */
static int fake_call = -1;            /* FAKE_STRICT: ring 0's call eventfd */

/* FAKE_STRICT: a back-end like DPDK's: offers VERSION_1 and protocol
 * features (REPLY_ACK), nothing of net's config features, and nacks a
 * SET_FEATURES with a bit it did not offer. */
static void fake_strict(int c, struct vq_vhost_msg *msg)
{
	const uint64_t offered = (1ull << VIRTIO_F_VERSION_1) |
				 (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	struct vq_vhost_msg rep;

	if (msg->request == VHOST_USER_GET_FEATURES ||
	    msg->request == VHOST_USER_GET_PROTOCOL_FEATURES) {
		vq_vhost_reply_init(&rep, msg->request, 8);
		rep.p.u64 = msg->request == VHOST_USER_GET_FEATURES
				? offered : (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
		vq_vhost_send(c, &rep);
		return;
	}
	if (msg->request == VHOST_USER_SET_FEATURES)
		fake_set_features = msg->p.u64;
	if (msg->request == VHOST_USER_SET_VRING_CALL && msg->nfds == 1 && msg->p.u64 == 0) {
		if (fake_call >= 0)
			close(fake_call);
		fake_call = msg->fds[0]; /* kept: the caller closes the others */
		msg->fds[0] = -1;
		msg->nfds = 0;
	}
	if (msg->request == VHOST_USER_GET_VRING_BASE) {
		uint64_t one = 1;

		/* a late call, as qemu-storage-daemon sends on a stop */
		if (fake_call >= 0 && write(fake_call, &one, sizeof(one)) != sizeof(one))
			return;
		vq_vhost_reply_init(&rep, msg->request, 8);
		rep.p.state.index = msg->p.state.index;
		vq_vhost_send(c, &rep);
		return;
	}
	if (msg->flags & VHOST_USER_NEED_REPLY) {
		vq_vhost_reply_init(&rep, msg->request, 8);
		rep.p.u64 = msg->request == VHOST_USER_SET_FEATURES && (msg->p.u64 & ~offered);
		vq_vhost_send(c, &rep);
	}
}

static void *fake_thread(void *arg)
{
	int c = accept(listen_fd, NULL, NULL);
	struct vq_vhost_msg msg, rep;
	char why[160];

	(void)arg;
	if (c < 0)
		return NULL;
	while (vq_vhost_recv(c, &msg, why, sizeof(why)) == 1) {
		if (fake_mode == FAKE_STRICT) {
			fake_strict(c, &msg);
			vq_vhost_msg_close_fds(&msg);
			continue;
		}
		vq_vhost_msg_close_fds(&msg);
		if (fake_mode == FAKE_SILENT)
			continue;
		if (fake_mode == FAKE_SHORT_REPLY && msg.request == VHOST_USER_GET_FEATURES) {
			vq_vhost_reply_init(&rep, msg.request, 4); /* u64 expected */
			vq_vhost_send(c, &rep);
			continue;
		}
		if (fake_mode == FAKE_LEAVE_AT_START && msg.request == VHOST_USER_SET_MEM_TABLE)
			break;
		if (msg.request == VHOST_USER_GET_FEATURES) {
			vq_vhost_reply_init(&rep, msg.request, 8);
			rep.p.u64 = (1ull << VIRTIO_F_VERSION_1);
			vq_vhost_send(c, &rep);
		}
	}
	close(c);
	if (fake_call >= 0)
		close(fake_call);
	fake_call = -1;
	return NULL;
}

static pthread_t fake_start(enum fake_mode mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	pthread_t t;

	make_dir();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(listen_fd, 0);
	ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(listen_fd, 1), 0);
	fake_mode = mode;
	ck_assert_int_eq(pthread_create(&t, NULL, fake_thread, NULL), 0);
	return t;
}

static void fake_end(pthread_t t)
{
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(listen_fd);
	listen_fd = -1;
	remove_dir();
}

/* net's MAC and STATUS are the front-end's (it makes the config, as QEMU
 * does): a back-end that does not offer them is not sent them. DPDK's
 * testpmd refused SET_FEATURES before, and the device needed a reset. */
START_TEST(features_the_frontend_makes_are_not_sent_to_the_backend)
{
	pthread_t t = fake_start(FAKE_STRICT);
	struct vq_machine *m = fe_machine();
	struct vq_drv drv;
	struct vq_dev *fe;
	char opts[256], err[256] = "";
	uint8_t mac[6];

	snprintf(opts, sizeof(opts), "socket=%s,type=net,mac=02:00:00:00:00:07", sock_path);
	fe = vq_machine_add_mmio(m, "vhost-user", "net0", opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(fe != NULL, "%s", err);
	ck_assert(fe->host_features[0] & (1ull << VIRTIO_NET_F_MAC));
	ck_assert_int_eq(vq_drv_attach(&drv, m, MMIO, IRQ, HEAP, 4u << 20), 0);
	ck_assert_int_eq(vq_drv_net_init(&drv, (1ull << VIRTIO_NET_F_MAC) |
						(1ull << VIRTIO_NET_F_STATUS),
					 &(struct vq_drv_net_cfg){.no_rx = true}), 0);
	ck_assert_msg(!(fe->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET), "%s", fe->last_error_msg);
	ck_assert_uint_eq(fake_set_features, (1ull << VIRTIO_F_VERSION_1) |
						     (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	ck_assert_int_eq(vq_drv_net_mac(&drv, mac), 0); /* the front-end's config */
	ck_assert_uint_eq(mac[5], 7);
	/* the back-end calls once more when its rings stop: no interrupt for
	 * a reset device (qemu-storage-daemon does this; one was raised before) */
	{
		uint64_t irqs = vq_machine_irq_count(m, IRQ);
		struct vq_vhost_frontend_stats st;

		ck_assert_int_eq(vq_drv_reset(&drv), 0);
		for (int i = 0; i < 20; i++)
			vq_machine_poll(m, 5);
		ck_assert_int_eq(vq_vhost_frontend_get_stats(fe, &st), 0);
		ck_assert_uint_ge(st.calls_ignored, 1);
		ck_assert_uint_eq(vq_machine_irq_count(m, IRQ), irqs);
		ck_assert(!vq_machine_irq_level(m, IRQ));
	}
	vq_drv_detach(&drv);
	vq_machine_free(m);
	fake_end(t);
}
END_TEST

START_TEST(reply_of_wrong_size_is_refused_by_name)
{
	pthread_t t = fake_start(FAKE_SHORT_REPLY);
	struct vq_machine *m = fe_machine();
	char opts[256], err[256] = "";

	snprintf(opts, sizeof(opts), "socket=%s,type=rng,timeout=2000", sock_path);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "vhost-user", NULL, opts, MMIO, IRQ, err,
					       sizeof(err)));
	ck_assert_msg(strstr(err, "GET_FEATURES: reply of 4 bytes, expected 8..8"), "%s", err);
	ck_assert_uint_eq(vq_machine_device_count(m), 0);
	vq_machine_free(m);
	fake_end(t);
}
END_TEST

START_TEST(silent_backend_is_bounded_by_the_timeout)
{
	pthread_t t = fake_start(FAKE_SILENT);
	struct vq_machine *m = fe_machine();
	char opts[256], err[256] = "";
	uint64_t t0 = now_ms(), spent;

	snprintf(opts, sizeof(opts), "socket=%s,type=rng,timeout=200", sock_path);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "vhost-user", NULL, opts, MMIO, IRQ, err,
					       sizeof(err)));
	spent = now_ms() - t0;
	ck_assert_msg(strstr(err, "GET_FEATURES: no reply within 200 ms"), "%s", err);
	ck_assert_uint_ge(spent, 150);
	ck_assert_uint_lt(spent, 5000);
	vq_machine_free(m);
	fake_end(t);
}
END_TEST

START_TEST(backend_leaving_at_start_needs_reset_and_driver_does_not_hang)
{
	pthread_t t = fake_start(FAKE_LEAVE_AT_START);
	struct vq_machine *m = fe_machine();
	struct vq_drv drv;
	struct vq_dev *fe;
	char opts[256], err[256] = "";
	uint64_t none[VQ_FEATURE_WORDS] = {0, 0};
	uint8_t buf[16];

	snprintf(opts, sizeof(opts), "socket=%s,type=rng,timeout=300", sock_path);
	fe = vq_machine_add_mmio(m, "vhost-user", "rng0", opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(fe != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&drv, m, MMIO, IRQ, HEAP, 4u << 20), 0);
	/* DRIVER_OK sends the memory table; the back-end leaves instead of
	 * answering (REPLY_ACK is not spoken: it gets no chance to refuse) */
	vq_drv_init(&drv, none, 1);
	/* a request ends (no hang): the ring is not served, and while the
	 * driver waits the machine sees the back-end gone */
	ck_assert_int_lt(vq_drv_rng_read(&drv, buf, sizeof(buf)), 0);
	ck_assert(fe->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(fe->last_error, -VQ_E_VHOST_PEER);
	ck_assert_msg(strstr(fe->last_error_msg, "closed the connection") ||
		      strstr(fe->last_error_msg, "gone"), "%s", fe->last_error_msg);
	vq_drv_detach(&drv);
	vq_machine_free(m);
	fake_end(t);
}
END_TEST

START_TEST(options_are_checked_by_name)
{
	struct vq_machine *m = fe_machine();
	char err[256] = "";

	ck_assert_ptr_null(vq_machine_add_mmio(m, "vhost-user", NULL, "type=blk", MMIO, IRQ, err,
					       sizeof(err)));
	ck_assert_msg(strstr(err, "socket=PATH is required"), "%s", err);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "vhost-user", NULL, "socket=/nonexistent/x",
					       MMIO, IRQ, err, sizeof(err)));
	ck_assert_msg(strstr(err, "type=KIND is required"), "%s", err);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "vhost-user", NULL,
					       "socket=/nonexistent/x,type=gpu", MMIO, IRQ, err,
					       sizeof(err)));
	ck_assert_msg(strstr(err, "type 'gpu' unknown"), "%s", err);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "vhost-user", NULL,
					       "socket=/nonexistent/x,type=blk", MMIO, IRQ, err,
					       sizeof(err)));
	ck_assert_msg(strstr(err, "cannot connect to '/nonexistent/x'"), "%s", err);
	vq_machine_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost_frontend");
	TCase *tc = tcase_create("frontend");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, driver_through_frontend_to_vqsim_backend);
	tcase_add_test(tc, net_frames_through_frontend_to_vqsim_backend);
	tcase_add_test(tc, features_the_frontend_makes_are_not_sent_to_the_backend);
	tcase_add_test(tc, reply_of_wrong_size_is_refused_by_name);
	tcase_add_test(tc, silent_backend_is_bounded_by_the_timeout);
	tcase_add_test(tc, backend_leaving_at_start_needs_reset_and_driver_does_not_hang);
	tcase_add_test(tc, options_are_checked_by_name);
	suite_add_tcase(s, tc);
	return vq_test_run(s);
}

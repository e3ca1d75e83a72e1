/* test_console.c - virtio-console end to end through machine + mmio + the
 * reference driver: buffer ports both ways with order kept over many
 * chains, data waiting for receive buffers, every backend on real fds (a
 * UNIX socket bound in a temp dir both ways, a pty opened by its slave path,
 * a log file compared byte for byte, stdio on pipes), the multiport
 * handshake, open/close both ways, peer hang-up, EMERG_WRITE, SIZE and
 * resize, back-pressure in both directions, and malformed chains, control
 * messages, config writes and options. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define BUF (RAM + RAM_SIZE / 2)
#define MMIO 0x0a000000ull
#define IRQ 9
#define F(bit) (1ull << (bit))
#define MP F(VIRTIO_CONSOLE_F_MULTIPORT)

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
};

/* Machine, device and an attached driver that has not touched the device. */
static void rig_dev(struct rig *r, const char *opts)
{
	char err[200];

	r->m = vq_machine_new(7);
	ck_assert_ptr_nonnull(r->m);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->dev = vq_machine_add_mmio(r->m, "console", NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, RAM_SIZE / 4), 0);
}

static void rig_up(struct rig *r, const char *opts, uint64_t features)
{
	rig_dev(r, opts);
	ck_assert_int_eq(vq_drv_console_init(&r->drv, features), 0);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

static struct vq_console_stats stats(struct rig *r)
{
	struct vq_console_stats st;

	ck_assert_int_eq(vq_console_get_stats(r->dev, &st), 0);
	return st;
}

static void pattern(uint8_t *buf, size_t n, uint64_t seed)
{
	struct vq_prng p;

	vq_prng_seed(&p, seed);
	vq_prng_fill(&p, buf, n);
}

/* Poll backends and read from the guest side until want bytes came. */
static size_t guest_read_until(struct rig *r, unsigned port, uint8_t *buf, size_t want)
{
	size_t got = 0;

	for (int i = 0; i < 400 && got < want; i++) {
		long n;

		vq_machine_poll(r->m, 10);
		n = vq_drv_console_read(&r->drv, port, buf + got, want - got);
		ck_assert_int_ge(n, 0);
		got += (size_t)n;
	}
	return got;
}

/* Read want bytes from a peer fd while the machine keeps polling (the
 * device writes more as the fd drains). */
static size_t peer_read_until(struct rig *r, int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;

	for (int i = 0; i < 400 && got < want; i++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 10) == 1) {
			n = read(fd, buf + got, want - got);
			if (n > 0)
				got += (size_t)n;
		}
		vq_machine_poll(r->m, 0);
	}
	return got;
}

/* Run vq_machine_poll until a round runs no callback. */
static void pump(struct rig *r)
{
	for (int i = 0; i < 50 && vq_machine_poll(r->m, 20) > 0; i++)
		;
}

static void write_all(int fd, const void *buf, size_t n)
{
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
}

/* ---- temp dir and sockets ---- */

struct tmp {
	char dir[128];
	char path[160];
};

static void tmp_make(struct tmp *t)
{
	const char *base = getenv("TMPDIR");

	snprintf(t->dir, sizeof(t->dir), "%s/vqcon.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sock", t->dir);
}

static void tmp_drop(struct tmp *t)
{
	unlink(t->path);
	ck_assert_int_eq(rmdir(t->dir), 0);
}

static void set_sun(struct sockaddr_un *sa, const char *path)
{
	ck_assert_uint_lt(strlen(path), sizeof(sa->sun_path));
	memcpy(sa->sun_path, path, strlen(path) + 1);
}

static int unix_connect(const char *path, bool nonblock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	set_sun(&sa, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	set_sun(&sa, path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	return fd;
}

/* ---- buffer ports ---- */

START_TEST(buffer_port_both_ways)
{
	struct rig r;
	uint8_t buf[64];
	struct vq_console_stats st;

	rig_up(&r, NULL, 0);
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_CONSOLE_F_MULTIPORT));
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, "hello", 5), 5);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 0, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "world!", 6), 6);
	ck_assert_uint_eq(vq_drv_console_tx_pending(&r.drv, 0), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "world!", 6), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, sizeof(buf)), 0);
	st = stats(&r);
	ck_assert_uint_eq(st.nports, 1);
	ck_assert_uint_eq(st.port[0].host_in, 5);
	ck_assert_uint_eq(st.port[0].to_guest, 5);
	ck_assert_uint_eq(st.port[0].from_guest, 6);
	ck_assert_uint_eq(st.port[0].rx_chains, 1);
	ck_assert_uint_eq(st.port[0].tx_chains, 1);
	ck_assert(vq_console_port_guest_open(r.dev, 0));
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	/* bad arguments */
	ck_assert_int_eq(vq_console_port_write(r.dev, 1, "x", 1), -VQ_E_INVAL);
	ck_assert_int_eq(vq_console_port_read(r.dev, 1, buf, 1), -VQ_E_INVAL);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 1, buf, 1), -VQ_E_INVAL);
	rig_down(&r);
}
END_TEST

/* Raw chains: bytes land in guest memory across segments, used lengths are
 * the bytes written (receiveq) and 0 (transmitq). */
START_TEST(used_lengths_and_guest_memory)
{
	struct rig r;
	struct vq_mem *mem;
	uint8_t a[4], b[12], out[8];
	uint64_t token, q_to, q_from;
	uint32_t len;
	struct vq_buf rx[2] = {
		{.gpa = BUF, .len = 4, .writable = true},
		{.gpa = BUF + 0x100, .len = 8, .writable = true},
	};
	struct vq_buf rx2 = {.gpa = BUF + 0x200, .len = 64, .writable = true};
	struct vq_buf tx = {.gpa = BUF + 0x300, .len = 5, .writable = false};

	rig_dev(&r, NULL);
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 2), 0);
	mem = vq_machine_mem(r.m);
	vq_mem_fill(mem, BUF, 0xa5, 0x400);
	ck_assert_int_ge(vq_drv_add(&r.drv, 0, rx, 2, 1), 0);
	ck_assert_int_ge(vq_drv_kick(&r.drv, 0), 0);
	vq_machine_run(r.m, 100);
	/* 20 bytes for a 12-byte chain: 12 go, 8 wait */
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, "0123456789abcdefghij", 20), 20);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
	ck_assert_uint_eq(token, 1);
	ck_assert_uint_eq(len, 12);
	vq_mem_read(mem, BUF, a, 4);
	vq_mem_read(mem, BUF + 0x100, b, 12);
	ck_assert_int_eq(memcmp(a, "0123", 4), 0);
	ck_assert_int_eq(memcmp(b, "456789ab\xa5\xa5\xa5\xa5", 12), 0);
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, &q_to, &q_from), 0);
	ck_assert_uint_eq(q_to, 8);
	ck_assert_int_ge(vq_drv_add(&r.drv, 0, &rx2, 1, 2), 0);
	ck_assert_int_ge(vq_drv_kick(&r.drv, 0), 0);
	ck_assert_int_eq(vq_drv_wait_used(&r.drv, 0), 1);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
	ck_assert_uint_eq(token, 2);
	ck_assert_uint_eq(len, 8);
	vq_mem_read(mem, BUF + 0x200, out, 8);
	ck_assert_int_eq(memcmp(out, "cdefghij", 8), 0);
	/* transmit: used length 0, bytes to the host */
	vq_mem_write(mem, tx.gpa, "abcde", 5);
	ck_assert_int_eq(vq_drv_submit(&r.drv, 1, &tx, 1, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, sizeof(out)), 5);
	ck_assert_int_eq(memcmp(out, "abcde", 5), 0);
	rig_down(&r);
}
END_TEST

/* The driver must not put readable buffers in a receiveq nor writable ones
 * in a transmitq (spec 5.3.6.1): used 0 / readable part sent, counted. */
START_TEST(wrong_direction_chains_are_counted)
{
	struct rig r;
	struct vq_mem *mem;
	uint64_t q_to;
	uint32_t len;
	uint8_t out[8];
	struct vq_buf ro = {.gpa = BUF, .len = 16, .writable = false};
	struct vq_buf mixed[2] = {
		{.gpa = BUF + 0x100, .len = 3, .writable = false},
		{.gpa = BUF + 0x200, .len = 4, .writable = true},
	};
	struct vq_buf wo = {.gpa = BUF + 0x300, .len = 4, .writable = true};

	rig_dev(&r, NULL);
	ck_assert_int_eq(vq_drv_init(&r.drv, NULL, 2), 0);
	mem = vq_machine_mem(r.m);
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, "data", 4), 4);
	ck_assert_int_eq(vq_drv_submit(&r.drv, 0, &ro, 1, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, &q_to, NULL), 0);
	ck_assert_uint_eq(q_to, 4); /* nothing lost */
	vq_mem_write(mem, BUF + 0x100, "xyz", 3);
	ck_assert_int_eq(vq_drv_submit(&r.drv, 1, mixed, 2, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(vq_drv_submit(&r.drv, 1, &wo, 1, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, sizeof(out)), 3);
	ck_assert_int_eq(memcmp(out, "xyz", 3), 0);
	ck_assert_uint_eq(stats(&r).port[0].bad_chains, 3);
	ck_assert(!(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	rig_down(&r);
}
END_TEST

START_TEST(byte_order_kept_over_many_chains)
{
	enum { N = 40000 };
	static uint8_t in[N], out[N];
	struct rig r;
	struct vq_console_stats st;

	rig_up(&r, "buffer=65536", 0);
	pattern(in, N, 1);
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, in, N), N);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 0, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	pattern(in, N, 2);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, in, N), N);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	st = stats(&r);
	ck_assert_uint_eq(st.port[0].rx_chains, (N + VQ_DRV_CONSOLE_RX_BUF_SIZE - 1) /
							VQ_DRV_CONSOLE_RX_BUF_SIZE);
	ck_assert_uint_eq(st.port[0].tx_chains, (N + VQ_DRV_CONSOLE_TX_BUF_SIZE - 1) /
							VQ_DRV_CONSOLE_TX_BUF_SIZE);
	ck_assert_uint_eq(st.port[0].to_guest, N);
	ck_assert_uint_eq(st.port[0].from_guest, N);
	rig_down(&r);
}
END_TEST

/* A guest write of 10 chains into a 4 KiB host buffer: the transmitq stops,
 * nothing is dropped, and reading drains the rest in order. */
START_TEST(guest_write_larger_than_one_chain_and_buffer)
{
	enum { N = 10000 };
	static uint8_t in[N], out[N];
	struct rig r;
	struct vq_console_stats st;
	uint64_t from;
	size_t got = 0;

	rig_up(&r, "buffer=4096", 0);
	pattern(in, N, 3);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, in, N), N);
	ck_assert_uint_gt(vq_drv_console_tx_pending(&r.drv, 0), 0);
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, NULL, &from), 0);
	ck_assert_uint_ge(from, 4096);
	ck_assert_uint_ge(stats(&r).port[0].tx_stalls, 1);
	for (int i = 0; i < 100 && got < N; i++) {
		long n = vq_console_port_read(r.dev, 0, out + got, 1000);

		ck_assert_int_ge(n, 0);
		got += (size_t)n;
		vq_drv_console_poll(&r.drv);
	}
	ck_assert_uint_eq(got, N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	ck_assert_uint_eq(vq_drv_console_tx_pending(&r.drv, 0), 0);
	st = stats(&r);
	ck_assert_uint_eq(st.port[0].tx_chains, 10);
	ck_assert_uint_eq(st.port[0].tx_dropped, 0);
	rig_down(&r);
}
END_TEST

START_TEST(host_data_waits_for_receive_buffers)
{
	enum { N = 3000 };
	uint8_t in[N], out[N];
	struct rig r;
	uint64_t q;

	pattern(in, N, 4);
	/* before the driver exists: all kept */
	rig_dev(&r, NULL);
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, in, N), N);
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, &q, NULL), 0);
	ck_assert_uint_eq(q, N);
	ck_assert_int_eq(vq_drv_console_init(&r.drv, 0), 0);
	/* 8 receive buffers of 256 took 2048; the rest waits */
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, &q, NULL), 0);
	ck_assert_uint_eq(q, N - VQ_DRV_CONSOLE_RX_BUFS * VQ_DRV_CONSOLE_RX_BUF_SIZE);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 0, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	rig_down(&r);

	/* a bounded buffer takes what fits and says so */
	rig_dev(&r, "buffer=1024");
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, in, N), 1024);
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, in + 1024, N - 1024), 0);
	ck_assert_int_eq(vq_drv_console_init(&r.drv, 0), 0);
	/* buffers posted: the rest now flows through */
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, in + 1024, N - 1024), N - 1024);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 0, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	ck_assert_uint_eq(stats(&r).port[0].host_in, N);
	rig_down(&r);
}
END_TEST

/* ---- real backends ---- */

START_TEST(socket_server_backend)
{
	enum { N = 30000 };
	static uint8_t in[N], out[N];
	struct rig r;
	struct tmp t;
	char opts[256];
	int fd;

	tmp_make(&t);
	snprintf(opts, sizeof(opts), "port0=socket:%s", t.path);
	rig_up(&r, opts, 0);
	ck_assert(!vq_console_port_host_connected(r.dev, 0));
	ck_assert_uint_eq(vq_machine_watch_count(r.m), 1); /* the listening fd */
	fd = unix_connect(t.path, false);
	pump(&r);
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	write_all(fd, "ping", 4);
	ck_assert_uint_eq(guest_read_until(&r, 0, out, 4), 4);
	ck_assert_int_eq(memcmp(out, "ping", 4), 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "pong", 4), 4);
	ck_assert_uint_eq(peer_read_until(&r, fd, out, 4), 4);
	ck_assert_int_eq(memcmp(out, "pong", 4), 0);
	/* bulk both ways, order kept */
	pattern(in, N, 5);
	write_all(fd, in, N);
	ck_assert_uint_eq(guest_read_until(&r, 0, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	pattern(in, N, 6);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, in, N), N);
	ck_assert_uint_eq(peer_read_until(&r, fd, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	ck_assert_uint_eq(stats(&r).port[0].host_in, N + 4);
	/* peer hang-up: counted, port closed, no crash */
	close(fd);
	pump(&r);
	ck_assert(!vq_console_port_host_connected(r.dev, 0));
	ck_assert_uint_eq(stats(&r).port[0].hangups, 1);
	rig_down(&r);
	ck_assert_int_eq(access(t.path, F_OK), -1); /* the device removed its socket */
	tmp_drop(&t);
}
END_TEST

/* After a hang-up the guest's output waits (never dropped) for the next
 * peer, which gets it first. */
START_TEST(socket_held_output_goes_to_next_peer)
{
	struct rig r;
	struct tmp t;
	char opts[256];
	uint8_t out[16];
	int fd;

	tmp_make(&t);
	snprintf(opts, sizeof(opts), "port0=socket:%s", t.path);
	rig_up(&r, opts, 0);
	fd = unix_connect(t.path, false);
	pump(&r);
	close(fd);
	pump(&r);
	ck_assert_uint_eq(stats(&r).port[0].hangups, 1);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "after", 5), 5);
	ck_assert_uint_eq(vq_drv_console_tx_pending(&r.drv, 0), 5);
	fd = unix_connect(t.path, false);
	pump(&r);
	ck_assert_uint_eq(peer_read_until(&r, fd, out, 5), 5);
	ck_assert_int_eq(memcmp(out, "after", 5), 0);
	vq_drv_console_poll(&r.drv);
	ck_assert_uint_eq(vq_drv_console_tx_pending(&r.drv, 0), 0);
	ck_assert_uint_eq(stats(&r).port[0].connects, 2);
	ck_assert_uint_eq(stats(&r).port[0].tx_dropped, 0);
	close(fd);
	rig_down(&r);
	tmp_drop(&t);
}
END_TEST

START_TEST(socket_connect_backend)
{
	struct rig r;
	struct tmp t;
	char opts[256], err[200];
	uint8_t out[16];
	int lfd, fd;

	tmp_make(&t);
	snprintf(opts, sizeof(opts), "port0=socket-connect:%s", t.path);
	/* nobody listening yet: creation fails with the reason */
	r.m = vq_machine_new(1);
	ck_assert_ptr_null(vq_machine_add_mmio(r.m, "console", NULL, opts, MMIO, IRQ, err,
					       sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
	ck_assert_uint_eq(vq_machine_watch_count(r.m), 0);
	vq_machine_free(r.m);

	lfd = unix_listen(t.path);
	rig_up(&r, opts, 0);
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	write_all(fd, "hi", 2);
	ck_assert_uint_eq(guest_read_until(&r, 0, out, 2), 2);
	ck_assert_int_eq(memcmp(out, "hi", 2), 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "there", 5), 5);
	ck_assert_uint_eq(peer_read_until(&r, fd, out, 5), 5);
	ck_assert_int_eq(memcmp(out, "there", 5), 0);
	close(fd);
	pump(&r);
	ck_assert(!vq_console_port_host_connected(r.dev, 0));
	ck_assert_uint_eq(stats(&r).port[0].hangups, 1);
	/* no peer: output is held, not dropped, and nothing breaks */
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "lost?", 5), 5);
	ck_assert_uint_eq(vq_drv_console_tx_pending(&r.drv, 0), 5);
	ck_assert_uint_eq(stats(&r).port[0].tx_dropped, 0);
	rig_down(&r);
	close(lfd);
	tmp_drop(&t);
}
END_TEST

START_TEST(socket_bad_paths_are_named)
{
	struct vq_machine *m = vq_machine_new(1);
	struct tmp t;
	char opts[512], err[200], longp[300];
	int fd;

	tmp_make(&t);
	fd = open(t.path, O_CREAT | O_WRONLY, 0600); /* something is there already */
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(opts, sizeof(opts), "port0=socket:%s", t.path);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "console", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot bind"));
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
	ck_assert_ptr_nonnull(strstr(err, t.path));
	ck_assert_int_eq(access(t.path, F_OK), 0); /* not removed: not ours */
	ck_assert_int_eq(unlink(t.path), 0);
	/* a live socket at the path is not stolen */
	fd = unix_listen(t.path);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "console", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "another process is listening on it"));
	ck_assert_ptr_nonnull(strstr(err, t.path));
	close(fd); /* now stale: the file stays, nobody listens */
	ck_assert_int_eq(access(t.path, F_OK), 0);
	ck_assert_ptr_nonnull(vq_machine_add_mmio(m, "console", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	fd = unix_connect(t.path, false); /* the replacement is ours and listens */
	close(fd);
	vq_machine_free(m);
	ck_assert_int_eq(access(t.path, F_OK), -1); /* and it went with the machine */
	m = vq_machine_new(1);
	memset(longp, 'a', 200);
	longp[200] = '\0';
	snprintf(opts, sizeof(opts), "port0=socket:/tmp/%s", longp);
	ck_assert_ptr_null(vq_machine_add_mmio(m, "console", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "longer than 107"));
	vq_machine_free(m);
	tmp_drop(&t);
}
END_TEST

START_TEST(pty_backend)
{
	enum { N = 2000 };
	uint8_t in[N], out[N];
	struct rig r;
	const char *slave;
	int fd;

	rig_up(&r, "port0=pty", 0);
	slave = vq_console_port_pty_path(r.dev, 0);
	ck_assert_ptr_nonnull(slave);
	ck_assert_int_eq(strncmp(slave, "/dev/pts/", 9), 0);
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	fd = open(slave, O_RDWR | O_NOCTTY | O_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	write_all(fd, "from-slave", 10);
	ck_assert_uint_eq(guest_read_until(&r, 0, out, 10), 10);
	ck_assert_int_eq(memcmp(out, "from-slave", 10), 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "from-guest", 10), 10);
	ck_assert_uint_eq(peer_read_until(&r, fd, out, 10), 10);
	ck_assert_int_eq(memcmp(out, "from-guest", 10), 0);
	/* raw mode: every byte value passes unchanged both ways */
	pattern(in, N, 7);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, in, N), N);
	ck_assert_uint_eq(peer_read_until(&r, fd, out, N), N);
	ck_assert_int_eq(memcmp(in, out, N), 0);
	write_all(fd, in, 1000);
	ck_assert_uint_eq(guest_read_until(&r, 0, out, 1000), 1000);
	ck_assert_int_eq(memcmp(in, out, 1000), 0);
	/* the user closing the slave is not a hang-up of the port */
	close(fd);
	pump(&r);
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	ck_assert_ptr_null(vq_console_port_pty_path(r.dev, 1));
	rig_down(&r);
}
END_TEST

START_TEST(file_backend_byte_for_byte)
{
	enum { N = 5000 };
	uint8_t in[N], got[N + 64], want[N + 64];
	char path[128], opts[200];
	const char *base = getenv("TMPDIR");
	struct rig r;
	size_t wl = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/vqcon-log.XXXXXX", base && *base ? base : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	write_all(fd, "previous\n", 9); /* appended to, not truncated */
	close(fd);
	snprintf(opts, sizeof(opts), "port0=file:%s", path);
	rig_up(&r, opts, F(VIRTIO_CONSOLE_F_EMERG_WRITE));
	pattern(in, N, 8);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, in, N), N);
	ck_assert_int_eq(vq_drv_console_emerg_write(&r.drv, '#'), 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "tail", 4), 4);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, got, 1), -VQ_E_STATE);
	ck_assert_uint_eq(stats(&r).port[0].from_guest, N + 4);
	rig_down(&r);
	memcpy(want, "previous\n", 9);
	wl = 9;
	memcpy(want + wl, in, N);
	wl += N;
	want[wl++] = '#';
	memcpy(want + wl, "tail", 4);
	wl += 4;
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, got, sizeof(got));
	close(fd);
	unlink(path);
	ck_assert_int_eq(n, (ssize_t)wl);
	ck_assert_int_eq(memcmp(got, want, wl), 0);
}
END_TEST

START_TEST(stdio_backend_on_pipes)
{
	struct rig r;
	int in[2], out[2], save0, save1, flags;
	uint8_t buf[16];

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	fflush(stdout);
	save0 = dup(0);
	save1 = dup(1);
	ck_assert_int_ge(save0, 0);
	ck_assert_int_ge(save1, 0);
	ck_assert_int_eq(dup2(in[0], 0), 0);
	ck_assert_int_eq(dup2(out[1], 1), 1);
	close(in[0]);
	close(out[1]);
	rig_up(&r, "port0=stdio", 0);
	write_all(in[1], "typed", 5);
	ck_assert_uint_eq(guest_read_until(&r, 0, buf, 5), 5);
	ck_assert_int_eq(memcmp(buf, "typed", 5), 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "printed", 7), 7);
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 7);
	ck_assert_int_eq(memcmp(buf, "printed", 7), 0);
	/* stdin closed: input ends, output goes on */
	close(in[1]);
	pump(&r);
	ck_assert(vq_console_port_host_connected(r.dev, 0));
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, "more", 4), 4);
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "more", 4), 0);
	rig_down(&r);
	/* the fds got their blocking mode back */
	flags = fcntl(0, F_GETFL);
	ck_assert(!(flags & O_NONBLOCK));
	flags = fcntl(1, F_GETFL);
	ck_assert(!(flags & O_NONBLOCK));
	dup2(save0, 0);
	dup2(save1, 1);
	close(save0);
	close(save1);
	close(out[0]);
}
END_TEST

/* ---- multiport ---- */

START_TEST(multiport_handshake_in_order)
{
	static const struct {
		uint32_t id;
		uint16_t event, value;
		const char *name;
	} want[] = {
		{0, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL},
		{1, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL},
		{2, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL},
		{0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL},
		{0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL},
		{1, VIRTIO_CONSOLE_PORT_NAME, 1, "org.vqsim.one"},
		{1, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL},
		{2, VIRTIO_CONSOLE_PORT_NAME, 1, "two"},
		{2, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL},
	};
	const struct vq_drv_console_msg *log;
	struct rig r;
	struct vq_console_stats st;
	uint32_t max = 0;
	uint8_t buf[16];
	unsigned n;

	rig_up(&r, "ports=3,name1=org.vqsim.one,name2=two", MP);
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_CONSOLE_F_MULTIPORT));
	ck_assert_int_eq(vq_drv_config_read(&r.drv, VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, &max, 4), 0);
	ck_assert_uint_eq(max, 3);
	ck_assert_uint_eq(vq_drv_console_ports(&r.drv), 3);
	n = vq_drv_console_ctrl_log(&r.drv, &log);
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < n; i++) {
		ck_assert_msg(log[i].id == want[i].id && log[i].event == want[i].event &&
				      log[i].value == want[i].value,
			      "message %u: id %u event %u value %u", i, log[i].id, log[i].event,
			      log[i].value);
		if (want[i].name) {
			ck_assert_str_eq(log[i].name, want[i].name);
			ck_assert_uint_eq(log[i].len, 8 + strlen(want[i].name)); /* no NUL */
		} else {
			ck_assert_uint_eq(log[i].len, 8);
		}
	}
	ck_assert_str_eq(vq_drv_console_port_name(&r.drv, 1), "org.vqsim.one");
	ck_assert_ptr_null(vq_drv_console_port_name(&r.drv, 0));
	ck_assert_int_eq(vq_drv_console_console_port(&r.drv), 0);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert(vq_drv_console_port_ready(&r.drv, i));
		ck_assert(vq_drv_console_host_open(&r.drv, i));
	}
	st = stats(&r);
	/* DEVICE_READY, 3 PORT_READY, and PORT_OPEN answering CONSOLE_PORT */
	ck_assert_uint_eq(st.ctrl_in, 5);
	ck_assert(vq_console_port_guest_open(r.dev, 0));
	ck_assert(!vq_console_port_guest_open(r.dev, 1));
	ck_assert_uint_eq(st.ctrl_out, 9);
	ck_assert(st.multiport);
	/* ports are independent streams */
	ck_assert_int_eq(vq_console_port_write(r.dev, 2, "two", 3), 3);
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, "zero", 4), 4);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 1, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 2, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "two", 3), 0);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 0, buf, sizeof(buf)), 4);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 1, "one", 3), 3);
	ck_assert_int_eq(vq_console_port_read(r.dev, 2, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 1, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "one", 3), 0);
	rig_down(&r);
}
END_TEST

/* A multiport device driven by a driver without MULTIPORT: port 0 only. */
START_TEST(multiport_offered_not_negotiated)
{
	struct rig r;
	uint8_t buf[8];

	rig_up(&r, "ports=2", 0);
	ck_assert_uint_eq(vq_drv_console_ports(&r.drv), 1);
	ck_assert_int_eq(vq_console_port_write(r.dev, 0, "p0", 2), 2);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 0, buf, sizeof(buf)), 2);
	/* port 1 data waits (its queues do not exist for this driver) */
	ck_assert_int_eq(vq_console_port_write(r.dev, 1, "p1", 2), 2);
	ck_assert_uint_eq(stats(&r).port[1].to_guest, 0);
	ck_assert_uint_eq(stats(&r).ctrl_out, 0);
	ck_assert(vq_console_port_guest_open(r.dev, 0));
	ck_assert(!vq_console_port_guest_open(r.dev, 1));
	ck_assert_int_eq(vq_drv_console_open(&r.drv, 0, true), -VQ_E_STATE);
	rig_down(&r);
}
END_TEST

START_TEST(guest_port_open_visible_to_host)
{
	struct rig r;
	struct vq_console_stats st;

	rig_up(&r, "ports=2", MP);
	ck_assert(!vq_console_port_guest_open(r.dev, 1));
	ck_assert_int_eq(vq_drv_console_open(&r.drv, 1, true), 0);
	ck_assert(vq_console_port_guest_open(r.dev, 1));
	ck_assert(vq_console_port_guest_open(r.dev, 0)); /* the console: opened at init */
	ck_assert_int_eq(vq_drv_console_open(&r.drv, 1, false), 0);
	ck_assert(!vq_console_port_guest_open(r.dev, 1));
	ck_assert_int_eq(vq_drv_console_open(&r.drv, 2, true), -VQ_E_INVAL);
	st = stats(&r);
	ck_assert_uint_eq(st.port[1].guest_opens, 1);
	ck_assert_uint_eq(st.port[1].guest_closes, 1);
	rig_down(&r);
}
END_TEST

START_TEST(host_connect_and_hangup_reach_guest)
{
	const struct vq_drv_console_msg *log;
	struct rig r;
	struct tmp t;
	char opts[256];
	uint8_t buf[8];
	unsigned n;
	int fd;

	tmp_make(&t);
	snprintf(opts, sizeof(opts), "ports=2,port1=socket:%s", t.path);
	rig_up(&r, opts, MP);
	ck_assert(vq_drv_console_port_ready(&r.drv, 1));
	ck_assert(vq_drv_console_host_open(&r.drv, 0)); /* buffer port: always there */
	ck_assert(!vq_drv_console_host_open(&r.drv, 1));
	n = vq_drv_console_ctrl_log(&r.drv, &log);
	for (unsigned i = 0; i < n; i++)
		ck_assert(!(log[i].id == 1 && log[i].event == VIRTIO_CONSOLE_PORT_OPEN));
	fd = unix_connect(t.path, false);
	pump(&r);
	vq_drv_console_poll(&r.drv);
	ck_assert(vq_drv_console_host_open(&r.drv, 1));
	n = vq_drv_console_ctrl_log(&r.drv, &log);
	ck_assert_uint_eq(log[n - 1].id, 1);
	ck_assert_uint_eq(log[n - 1].event, VIRTIO_CONSOLE_PORT_OPEN);
	ck_assert_uint_eq(log[n - 1].value, 1);
	write_all(fd, "p1", 2);
	ck_assert_uint_eq(guest_read_until(&r, 1, buf, 2), 2);
	ck_assert_int_eq(memcmp(buf, "p1", 2), 0);
	/* hang-up: PORT_OPEN 0 to the guest, counted */
	close(fd);
	pump(&r);
	vq_drv_console_poll(&r.drv);
	ck_assert(!vq_drv_console_host_open(&r.drv, 1));
	n = vq_drv_console_ctrl_log(&r.drv, &log);
	ck_assert_uint_eq(log[n - 1].event, VIRTIO_CONSOLE_PORT_OPEN);
	ck_assert_uint_eq(log[n - 1].value, 0);
	ck_assert_uint_eq(stats(&r).port[1].hangups, 1);
	/* and back */
	fd = unix_connect(t.path, false);
	pump(&r);
	vq_drv_console_poll(&r.drv);
	ck_assert(vq_drv_console_host_open(&r.drv, 1));
	ck_assert_uint_eq(stats(&r).port[1].connects, 2);
	close(fd);
	rig_down(&r);
	tmp_drop(&t);
}
END_TEST

START_TEST(malformed_control_messages_ignored_and_counted)
{
	const struct vq_drv_console_msg *log;
	struct rig r;
	struct vq_console_stats st, before;
	uint8_t msg[8], buf[8];
	unsigned nlog;

	rig_up(&r, "ports=2", MP);
	before = stats(&r);
	nlog = vq_drv_console_ctrl_log(&r.drv, &log);
#define MSG(id, ev, val)                                                   \
	do {                                                               \
		uint32_t id_ = VQ_LE32(id);                                \
		uint16_t ev_ = VQ_LE16(ev), val_ = VQ_LE16(val);           \
		memcpy(msg, &id_, 4);                                      \
		memcpy(msg + 4, &ev_, 2);                                  \
		memcpy(msg + 6, &val_, 2);                                 \
		ck_assert_int_eq(vq_drv_console_send_ctrl(&r.drv, msg, 8), 0); \
	} while (0)
	/* too short */
	ck_assert_int_eq(vq_drv_console_send_ctrl(&r.drv, "\0\0\0\0", 4), 0);
	/* unknown event, and one only the device may send */
	MSG(0, 99, 0);
	MSG(0, VIRTIO_CONSOLE_DEVICE_ADD, 0);
	MSG(1, VIRTIO_CONSOLE_RESIZE, 0);
	/* port ids out of range */
	MSG(50, VIRTIO_CONSOLE_PORT_READY, 1);
	MSG(2, VIRTIO_CONSOLE_PORT_OPEN, 1);
	MSG(0xffffffffu, VIRTIO_CONSOLE_PORT_OPEN, 1);
	/* out of order: a second DEVICE_READY, a second PORT_READY */
	MSG(0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	MSG(1, VIRTIO_CONSOLE_PORT_READY, 1);
#undef MSG
	st = stats(&r);
	ck_assert_uint_eq(st.ctrl_short, 1);
	ck_assert_uint_eq(st.ctrl_bad_event, 3);
	ck_assert_uint_eq(st.ctrl_bad_id, 3);
	ck_assert_uint_eq(st.ctrl_unexpected, 2);
	ck_assert_uint_eq(st.ctrl_in, before.ctrl_in);
	/* nothing re-announced, nothing changed */
	ck_assert_uint_eq(vq_drv_console_ctrl_log(&r.drv, &log), nlog);
	ck_assert(!vq_console_port_guest_open(r.dev, 1));
	ck_assert(!(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* and the ports still work */
	ck_assert_int_eq(vq_console_port_write(r.dev, 1, "ok", 2), 2);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 1, buf, sizeof(buf)), 2);
	rig_down(&r);
}
END_TEST

/* Raw control queues: a control receive buffer under a header is returned
 * empty (message kept), a short one gets the message cut and counted. */
START_TEST(small_control_buffers)
{
	struct rig r;
	struct vq_mem *mem;
	uint64_t token;
	uint32_t len;
	uint8_t got[16];
	uint64_t want[VQ_FEATURE_WORDS] = {MP, 0};
	struct vq_buf c[4] = {
		{.gpa = BUF, .len = 4, .writable = true},
		{.gpa = BUF + 0x100, .len = 8, .writable = true},
		{.gpa = BUF + 0x200, .len = 8, .writable = true},
		{.gpa = BUF + 0x300, .len = 10, .writable = true},
	};
	struct vq_buf tx = {.gpa = BUF + 0x800, .len = 8, .writable = false};
	static const uint8_t ready[8] = {0, 0, 0, 0, VIRTIO_CONSOLE_DEVICE_READY, 0, 1, 0};
	static const uint8_t port1_ready[8] = {1, 0, 0, 0, VIRTIO_CONSOLE_PORT_READY, 0, 1, 0};

	rig_dev(&r, "ports=2,name1=abcdefgh");
	ck_assert_int_eq(vq_drv_init(&r.drv, want, 6), 0);
	mem = vq_machine_mem(r.m);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_ge(vq_drv_add(&r.drv, VQ_CONSOLE_CTRL_RXQ, &c[i], 1, i + 1), 0);
	ck_assert_int_ge(vq_drv_kick(&r.drv, VQ_CONSOLE_CTRL_RXQ), 0);
	vq_mem_write(mem, tx.gpa, ready, 8);
	ck_assert_int_eq(vq_drv_submit(&r.drv, VQ_CONSOLE_CTRL_TXQ, &tx, 1, &len), 0);
	ck_assert_uint_eq(len, 0);
	vq_machine_run(r.m, 100);
	/* 4-byte buffer: used 0; then DEVICE_ADD 0 and 1 in the 8-byte ones */
	ck_assert_int_eq(vq_drv_get_used(&r.drv, VQ_CONSOLE_CTRL_RXQ, &token, &len), 1);
	ck_assert_uint_eq(token, 1);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, VQ_CONSOLE_CTRL_RXQ, &token, &len), 1);
	ck_assert_uint_eq(token, 2);
	ck_assert_uint_eq(len, 8);
	vq_mem_read(mem, BUF + 0x100, got, 8);
	ck_assert_int_eq(memcmp(got, "\0\0\0\0\1\0\0\0", 8), 0);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, VQ_CONSOLE_CTRL_RXQ, &token, &len), 1);
	ck_assert_uint_eq(token, 3);
	vq_mem_read(mem, BUF + 0x200, got, 8);
	ck_assert_int_eq(memcmp(got, "\1\0\0\0\1\0\0\0", 8), 0);
	/* PORT_READY 1: PORT_NAME (16 bytes) into a 10-byte buffer */
	vq_mem_write(mem, tx.gpa, port1_ready, 8);
	ck_assert_int_eq(vq_drv_submit(&r.drv, VQ_CONSOLE_CTRL_TXQ, &tx, 1, &len), 0);
	vq_machine_run(r.m, 100);
	ck_assert_int_eq(vq_drv_get_used(&r.drv, VQ_CONSOLE_CTRL_RXQ, &token, &len), 1);
	ck_assert_uint_eq(token, 4);
	ck_assert_uint_eq(len, 10);
	vq_mem_read(mem, BUF + 0x300, got, 10);
	ck_assert_int_eq(memcmp(got, "\1\0\0\0\7\0\1\0ab", 10), 0);
	ck_assert_uint_eq(stats(&r).ctrl_small_buffers, 1);
	ck_assert_uint_eq(stats(&r).ctrl_truncated, 1);
	rig_down(&r);
}
END_TEST

/* ---- EMERG_WRITE, SIZE ---- */

START_TEST(emergency_write_reaches_port0)
{
	struct rig r;
	uint8_t buf[8];
	uint16_t cols = 0;
	uint32_t v = VQ_LE32(0x41u);

	/* unconfigured device: allowed (spec 5.3.4) */
	rig_dev(&r, NULL);
	ck_assert_int_eq(vq_drv_console_emerg_write(&r.drv, '!'), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, sizeof(buf)), 1);
	ck_assert_uint_eq(buf[0], '!');
	ck_assert_int_eq(vq_drv_console_init(&r.drv, F(VIRTIO_CONSOLE_F_EMERG_WRITE)), 0);
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_CONSOLE_F_EMERG_WRITE));
	ck_assert_int_eq(vq_drv_console_emerg_write(&r.drv, 'Z'), 0);
	/* a 1-byte write of the low byte works too */
	ck_assert_int_eq(vq_drv_config_write(&r.drv, VIRTIO_CONSOLE_CONFIG_EMERG_WR, &v, 1), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, sizeof(buf)), 2);
	ck_assert_int_eq(memcmp(buf, "ZA", 2), 0);
	ck_assert_uint_eq(stats(&r).emerg_writes, 3);
	/* read-only fields do not take writes */
	ck_assert_int_eq(vq_drv_config_write(&r.drv, VIRTIO_CONSOLE_CONFIG_COLS, &v, 2), 0);
	ck_assert_int_eq(vq_drv_config_read(&r.drv, VIRTIO_CONSOLE_CONFIG_COLS, &cols, 2), 0);
	ck_assert_uint_eq(cols, 80);
	ck_assert_uint_eq(stats(&r).config_bad_writes, 1);
	rig_down(&r);

	/* emerg=off: not offered, a write outputs nothing */
	rig_up(&r, "emerg=off", F(VIRTIO_CONSOLE_F_EMERG_WRITE));
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_CONSOLE_F_EMERG_WRITE));
	ck_assert_int_eq(vq_drv_console_emerg_write(&r.drv, '!'), -VQ_E_STATE);
	ck_assert_int_eq(vq_drv_config_write(&r.drv, VIRTIO_CONSOLE_CONFIG_EMERG_WR, &v, 4), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(stats(&r).emerg_writes, 0);
	ck_assert_uint_eq(stats(&r).config_bad_writes, 1);
	rig_down(&r);
}
END_TEST

/* Emergency bytes for a full host buffer wait (bounded), then go out. */
START_TEST(emergency_write_waits_for_room)
{
	struct rig r;
	uint8_t buf[16], big[8] = "12345678";

	rig_up(&r, "buffer=8", 0);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, big, 8), 8);
	ck_assert_int_eq(vq_drv_console_emerg_write(&r.drv, '!'), 0);
	for (int i = 0; i < VQ_CONSOLE_EMERG_PENDING + 2; i++)
		ck_assert_int_eq(vq_drv_console_emerg_write(&r.drv, 'x'), 0);
	ck_assert_uint_eq(stats(&r).emerg_dropped, 3); /* 1 + 66 > 64 waiting */
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, 8), 8);
	ck_assert_int_eq(memcmp(buf, big, 8), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, buf, 1), 1);
	ck_assert_uint_eq(buf[0], '!');
	rig_down(&r);
}
END_TEST

START_TEST(size_config_and_resize_interrupt)
{
	const struct vq_drv_console_msg *log;
	struct rig r;
	uint16_t cols = 0, rows = 0;
	uint32_t gen0, gen1;
	unsigned n;

	rig_up(&r, "cols=132,rows=43", F(VIRTIO_CONSOLE_F_SIZE));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_CONSOLE_F_SIZE));
	ck_assert_int_eq(vq_drv_config_read(&r.drv, VIRTIO_CONSOLE_CONFIG_COLS, &cols, 2), 0);
	ck_assert_int_eq(vq_drv_config_read(&r.drv, VIRTIO_CONSOLE_CONFIG_ROWS, &rows, 2), 0);
	ck_assert_uint_eq(cols, 132);
	ck_assert_uint_eq(rows, 43);
	vq_drv_ack_interrupt(&r.drv);
	vq_machine_read(r.m, MMIO + VIRTIO_MMIO_CONFIG_GENERATION, 4, &gen0);
	ck_assert_int_eq(vq_console_resize(r.dev, 100, 30), 0);
	ck_assert(vq_machine_irq_level(r.m, IRQ));
	ck_assert_uint_eq(vq_drv_ack_interrupt(&r.drv), VIRTIO_MMIO_INT_CONFIG);
	vq_machine_read(r.m, MMIO + VIRTIO_MMIO_CONFIG_GENERATION, 4, &gen1);
	ck_assert_uint_ne(gen0, gen1);
	ck_assert_int_eq(vq_drv_config_read(&r.drv, VIRTIO_CONSOLE_CONFIG_COLS, &cols, 2), 0);
	ck_assert_int_eq(vq_drv_config_read(&r.drv, VIRTIO_CONSOLE_CONFIG_ROWS, &rows, 2), 0);
	ck_assert_uint_eq(cols, 100);
	ck_assert_uint_eq(rows, 30);
	rig_down(&r);

	/* multiport: the console port hears RESIZE (cols, rows) */
	rig_up(&r, "ports=2", MP | F(VIRTIO_CONSOLE_F_SIZE));
	ck_assert_int_eq(vq_drv_console_size(&r.drv, &cols, &rows), -VQ_E_STATE);
	ck_assert_int_eq(vq_console_resize(r.dev, 120, 50), 0);
	vq_drv_console_poll(&r.drv);
	ck_assert_int_eq(vq_drv_console_size(&r.drv, &cols, &rows), 0);
	ck_assert_uint_eq(cols, 120);
	ck_assert_uint_eq(rows, 50);
	n = vq_drv_console_ctrl_log(&r.drv, &log);
	ck_assert_uint_eq(log[n - 1].id, 0);
	ck_assert_uint_eq(log[n - 1].event, VIRTIO_CONSOLE_RESIZE);
	ck_assert_uint_eq(log[n - 1].len, 12);
	rig_down(&r);
}
END_TEST

/* ---- back-pressure ---- */

/* A socket peer that does not read: the device stops taking transmit
 * chains, drops nothing, and drains in order once the peer reads. */
START_TEST(back_pressure_peer_not_reading)
{
	enum { MAX = 4 << 20, CHUNK = 8192 };
	uint8_t *in = malloc(MAX), *out = malloc(MAX);
	struct rig r;
	struct tmp t;
	char opts[256];
	size_t posted = 0, got = 0;
	uint64_t chains;
	int fd, pend;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	pattern(in, MAX, 9);
	tmp_make(&t);
	snprintf(opts, sizeof(opts), "port0=socket:%s", t.path);
	rig_up(&r, opts, 0);
	fd = unix_connect(t.path, true);
	pump(&r);
	while (posted < MAX) {
		long n = vq_drv_console_write(&r.drv, 0, in + posted, CHUNK);

		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		posted += (size_t)n;
	}
	ck_assert_uint_lt(posted, MAX); /* the socket filled up first */
	ck_assert_uint_ge(stats(&r).port[0].tx_stalls, 1);
	ck_assert_uint_gt(vq_drv_console_tx_pending(&r.drv, 0), 0);
	/* chains wait in the avail ring, not popped */
	pend = vq_ring_pending(&r.dev->queues[1].ring);
	ck_assert_int_gt(pend, 0);
	chains = r.dev->queues[1].chains;
	vq_machine_write(r.m, MMIO + VIRTIO_MMIO_QUEUE_NOTIFY, 4, 1);
	vq_machine_run(r.m, 100);
	vq_machine_poll(r.m, 0);
	ck_assert_uint_eq(r.dev->queues[1].chains, chains);
	/* the peer reads: everything arrives, in order */
	got = peer_read_until(&r, fd, out, posted);
	ck_assert_uint_eq(got, posted);
	ck_assert_int_eq(memcmp(in, out, posted), 0);
	vq_drv_console_poll(&r.drv);
	ck_assert_uint_eq(vq_drv_console_tx_pending(&r.drv, 0), 0);
	ck_assert_uint_eq(stats(&r).port[0].tx_dropped, 0);
	ck_assert_uint_eq(stats(&r).port[0].from_guest, posted);
	close(fd);
	rig_down(&r);
	tmp_drop(&t);
	free(in);
	free(out);
}
END_TEST

/* A guest that does not read: the device stops reading the socket once its
 * buffer is full; the peer's writes block; then all arrive in order. */
START_TEST(back_pressure_guest_not_reading)
{
	enum { MAX = 4 << 20, BUFSZ = 4096 };
	uint8_t *in = malloc(MAX), *out = malloc(MAX);
	struct rig r;
	struct tmp t;
	char opts[256];
	size_t sent = 0, got = 0;
	uint64_t q;
	int fd, idle = 0;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	pattern(in, MAX, 10);
	tmp_make(&t);
	snprintf(opts, sizeof(opts), "port0=socket:%s,buffer=%d", t.path, BUFSZ);
	rig_up(&r, opts, 0);
	fd = unix_connect(t.path, true);
	pump(&r);
	while (sent < MAX && idle < 3) {
		ssize_t n = write(fd, in + sent, MAX - sent > 65536 ? 65536 : MAX - sent);

		if (n > 0)
			sent += (size_t)n;
		if (vq_machine_poll(r.m, 0) == 0 && n <= 0)
			idle++;
	}
	ck_assert_uint_lt(sent, MAX);
	/* receive buffers full (8 x 256), device buffer full, rest in the socket */
	ck_assert_int_eq(vq_console_port_queued(r.dev, 0, &q, NULL), 0);
	ck_assert_uint_eq(q, BUFSZ);
	ck_assert_uint_eq(stats(&r).port[0].host_in,
			  BUFSZ + VQ_DRV_CONSOLE_RX_BUFS * VQ_DRV_CONSOLE_RX_BUF_SIZE);
	while (got < sent) {
		size_t before = got;

		got += guest_read_until(&r, 0, out + got, sent - got);
		if (got == before)
			break;
	}
	ck_assert_uint_eq(got, sent);
	ck_assert_int_eq(memcmp(in, out, sent), 0);
	close(fd);
	rig_down(&r);
	tmp_drop(&t);
	free(in);
	free(out);
}
END_TEST

/* ---- reset, memory faults ---- */

START_TEST(reset_keeps_waiting_data_and_redoes_handshake)
{
	enum { N = 8000 };
	uint8_t in[N], out[N], big[3000];
	const struct vq_drv_console_msg *log;
	struct rig r;
	unsigned n, adds = 0;
	size_t delivered = VQ_DRV_CONSOLE_RX_BUFS * VQ_DRV_CONSOLE_RX_BUF_SIZE;

	rig_up(&r, "ports=2,buffer=4096", MP);
	pattern(in, N, 11);
	ck_assert_int_eq(vq_console_port_write(r.dev, 1, in, N), 4096 + delivered);
	/* port 0: one chain in the host buffer, the next held */
	pattern(big, sizeof(big), 12);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, big, 3000), 3000);
	ck_assert_uint_eq(stats(&r).port[0].from_guest, 3000);
	ck_assert_int_eq(vq_drv_console_init(&r.drv, MP), 0);
	n = vq_drv_console_ctrl_log(&r.drv, &log);
	for (unsigned i = 0; i < n; i++)
		adds += log[i].event == VIRTIO_CONSOLE_DEVICE_ADD;
	ck_assert_uint_eq(adds, 2);
	ck_assert(vq_drv_console_port_ready(&r.drv, 1));
	/* what was in the old driver's buffers went with it; the rest is kept */
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 1, out, N), 4096);
	ck_assert_int_eq(memcmp(out, in + delivered, 4096), 0);
	ck_assert_int_eq(vq_console_port_write(r.dev, 1, in + delivered + 4096,
					       N - delivered - 4096),
			 N - delivered - 4096);
	ck_assert_int_eq(vq_drv_console_read(&r.drv, 1, out, N), N - delivered - 4096);
	rig_down(&r);
}
END_TEST

START_TEST(reset_discards_held_chain_counted)
{
	struct rig r;
	uint8_t big[3000], out[3000];

	rig_up(&r, "buffer=1024", 0);
	pattern(big, sizeof(big), 13);
	ck_assert_int_eq(vq_drv_console_write(&r.drv, 0, big, 3000), 3000);
	/* 1024 in the host buffer; chain 2 held with nothing written */
	ck_assert_int_eq(vq_drv_console_init(&r.drv, 0), 0);
	ck_assert_uint_eq(stats(&r).port[0].tx_discarded, 1024);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, sizeof(out)), 1024);
	ck_assert_int_eq(memcmp(out, big, 1024), 0);
	rig_down(&r);
}
END_TEST

/* A 64-byte transmit chain (pattern seed) on a port whose host buffer
 * takes 16 bytes: after the run, 16 are out and the rest of the chain is
 * held by the device. Returns the guest memory; data gets the pattern. */
static struct vq_mem *held_tx_chain(struct rig *r, uint8_t data[64], uint64_t seed)
{
	struct vq_buf tx = {.gpa = BUF, .len = 64, .writable = false};
	struct vq_mem *mem;

	rig_dev(r, "buffer=16");
	ck_assert_int_eq(vq_drv_init(&r->drv, NULL, 2), 0);
	mem = vq_machine_mem(r->m);
	pattern(data, 64, seed);
	vq_mem_write(mem, BUF, data, 64);
	ck_assert_int_ge(vq_drv_add(&r->drv, 1, &tx, 1, 1), 0);
	ck_assert_int_ge(vq_drv_kick(&r->drv, 1), 0);
	vq_machine_run(r->m, 100);
	return mem;
}

/* A held transmit chain whose memory becomes unreachable (a fault range
 * added after it was popped): the queue fails, DEVICE_NEEDS_RESET. */
START_TEST(held_chain_memory_fault_needs_reset)
{
	struct rig r;
	uint8_t out[64], data[64];
	struct vq_mem *mem = held_tx_chain(&r, data, 14);

	ck_assert_int_ge(vq_mem_fault_add(mem, BUF, 64, VQ_ACC_READ), 0);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, sizeof(out)), 16);
	ck_assert_int_eq(memcmp(out, data, 16), 0);
	ck_assert(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(r.dev->last_error, -VQ_E_RING_DESC_MEM);
	ck_assert_uint_eq(stats(&r).port[0].tx_dropped, 48);
	rig_down(&r);
}
END_TEST

/* Issue 8.3: QueueReady=0 on the transmitq while the device holds a chain
 * of it: the chain is dropped (counted as discarded), and when the host
 * side has room again not one more byte of it is read (spec 4.2.2.1).
 * Failed before: the console went on reading the stopped queue's chain. */
START_TEST(queue_stop_drops_held_chain)
{
	struct rig r;
	uint8_t out[64], data[64];

	held_tx_chain(&r, data, 15);
	/* 16 bytes out, 48 held; the driver stops the transmitq */
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_QUEUE_SEL, 4, 1), 0);
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_QUEUE_READY, 4, 0), 0);
	ck_assert_uint_eq(stats(&r).port[0].tx_discarded, 48);
	/* room again: only the 16 bytes sent before the stop come out */
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, sizeof(out)), 16);
	ck_assert_int_eq(memcmp(out, data, 16), 0);
	vq_machine_run(r.m, 100);
	ck_assert_int_eq(vq_console_port_read(r.dev, 0, out, sizeof(out)), 0);
	ck_assert_uint_eq(stats(&r).port[0].from_guest, 16);
	ck_assert(!(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	rig_down(&r);
}
END_TEST

/* ---- options ---- */

START_TEST(bad_options_are_named)
{
	static const struct {
		const char *opts, *msg;
	} bad[] = {
		{"ports=0", "ports '0' must be a number from 1 to 31"},
		{"ports=32", "ports '32' must be a number from 1 to 31"},
		{"ports=two", "ports 'two' must be a number"},
		{"port0=serial", "port0: backend 'serial' unknown"},
		{"port0=socket:", "port0: backend 'socket:' needs a path"},
		{"port1=pty", "port1 given but ports=1"},
		{"ports=2,name2=x", "name2 given but ports=2"},
		{"ports=2,port0=stdio,port1=stdio", "stdio can back only one port"},
		{"cols=70000", "cols '70000' must be a number from 0 to 65535"},
		{"emerg=maybe", "emerg 'maybe' must be on or off"},
		{"buffer=0", "buffer '0' must be a size from 1"},
		{"ports=2,multiport=off", "ports=2 needs multiport"},
		{"queue-size=100", "queue-size '100' must be a power of two"},
		{"colour=blue", "unknown option 'colour'"},
	};
	struct vq_machine *m = vq_machine_new(1);
	char err[200], longname[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(!vq_machine_add_mmio(m, "console", NULL, bad[i].opts, MMIO, IRQ, err,
						   sizeof(err)),
			      "'%s' accepted", bad[i].opts);
		ck_assert_msg(strstr(err, bad[i].msg), "'%s': got '%s'", bad[i].opts, err);
	}
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "name0=", 6);
	longname[6 + 128] = '\0';
	ck_assert_ptr_null(vq_machine_add_mmio(m, "console", NULL, longname, MMIO, IRQ, err,
					       sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "name0 must be 1 to 127 bytes"));
	ck_assert_ptr_nonnull(vq_machine_add_mmio(m, "console", NULL,
						  "ports=31,multiport=on,cols=1,rows=2,emerg=on,"
						  "buffer=100,queue-size=64,name30=last,port30=none",
						  MMIO, IRQ, err, sizeof(err)));
	vq_machine_free(m);
}
END_TEST

static Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, buffer_port_both_ways);
	tcase_add_test(tc, used_lengths_and_guest_memory);
	tcase_add_test(tc, wrong_direction_chains_are_counted);
	tcase_add_test(tc, byte_order_kept_over_many_chains);
	tcase_add_test(tc, guest_write_larger_than_one_chain_and_buffer);
	tcase_add_test(tc, host_data_waits_for_receive_buffers);
	tcase_add_test(tc, socket_server_backend);
	tcase_add_test(tc, socket_held_output_goes_to_next_peer);
	tcase_add_test(tc, socket_connect_backend);
	tcase_add_test(tc, socket_bad_paths_are_named);
	tcase_add_test(tc, pty_backend);
	tcase_add_test(tc, file_backend_byte_for_byte);
	tcase_add_test(tc, stdio_backend_on_pipes);
	tcase_add_test(tc, multiport_handshake_in_order);
	tcase_add_test(tc, multiport_offered_not_negotiated);
	tcase_add_test(tc, guest_port_open_visible_to_host);
	tcase_add_test(tc, host_connect_and_hangup_reach_guest);
	tcase_add_test(tc, malformed_control_messages_ignored_and_counted);
	tcase_add_test(tc, small_control_buffers);
	tcase_add_test(tc, emergency_write_reaches_port0);
	tcase_add_test(tc, emergency_write_waits_for_room);
	tcase_add_test(tc, size_config_and_resize_interrupt);
	tcase_add_test(tc, back_pressure_peer_not_reading);
	tcase_add_test(tc, back_pressure_guest_not_reading);
	tcase_add_test(tc, reset_keeps_waiting_data_and_redoes_handshake);
	tcase_add_test(tc, reset_discards_held_chain_counted);
	tcase_add_test(tc, held_chain_memory_fault_needs_reset);
	tcase_add_test(tc, queue_stop_drops_held_chain);
	tcase_add_test(tc, bad_options_are_named);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(console_suite());
}

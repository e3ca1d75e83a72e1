/* vhost_user.c - a device whose logic is another process: vqsim as the
 * front-end of a vhost-user back-end (qemu-storage-daemon, DPDK, virtiofsd).
 *
 * The device is an ordinary vq_dev on the machine's bus (mmio or pci): the
 * transport decodes the guest's register accesses into vq_dev calls as for
 * any device, and this class turns those into vhost-user messages, playing
 * QEMU's part. At creation it connects, reads the back-end's features (the
 * features offered to the guest, minus what cannot cross vhost-user), its
 * protocol features and its config. At DRIVER_OK it shares every guest
 * memory region (the machine's memfds) and hands over each ready ring
 * (NUM, BASE, ADDR, KICK, CALL, ENABLE); a notification becomes a write to
 * the ring's kick eventfd, a write to a call eventfd becomes the ring's
 * interrupt (traced with the used entries the back-end wrote); a reset
 * stops every ring (ENABLE 0, GET_VRING_BASE). Config reads and writes go
 * through GET/SET_CONFIG when the back-end has the CONFIG protocol feature;
 * otherwise the front-end makes the config (net: MAC, link up), as QEMU does.
 *
 * Every reply is hostile input: checked for request, flags, size and
 * descriptors, and awaited at most timeout ms. A back-end that breaks the
 * protocol, does not answer or leaves makes the device DEVICE_NEEDS_RESET
 * with VHOST_PEER naming what happened; the machine keeps running.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "../virtio.h"
#include "../vhost/vhost_user.h"

#define FE_TIMEOUT_MS_DEFAULT 5000u
#define FE_QUEUE_SIZE_DEFAULT 256u

/* What the front-end knows of each device type it can stand for. */
struct fe_kind {
	const char *name;
	uint32_t device_id;
	uint32_t config_len;   /* bytes of config space */
	unsigned queues;       /* default queue count */
};

static const struct fe_kind kinds[] = {
	{"net", VIRTIO_ID_NET, 12, 2},
	{"blk", VIRTIO_ID_BLOCK, 60, 1},
	{"console", VIRTIO_ID_CONSOLE, 12, 2},
	{"rng", VIRTIO_ID_RNG, 0, 1},
	{"scsi", 8, 36, 3},
	{"vsock", 19, 8, 3},
	{"fs", 26, 40, 2},
};

/* Features that cannot cross vhost-user or that the front-end would have to
 * implement itself, taken out of what the back-end offers: vhost-user's own
 * bit 30 and LOG_ALL (26), ACCESS_PLATFORM (no IOTLB here),
 * NOTIFICATION_DATA (a kick eventfd carries no data), RING_RESET (no
 * per-ring reset message). net: the control queue and all that needs it
 * (QEMU runs it, not the back-end). */
#define FE_MASK_ALL ((1ull << VHOST_USER_F_PROTOCOL_FEATURES) | (1ull << 26) | \
		     (1ull << VIRTIO_F_ACCESS_PLATFORM) | (1ull << VIRTIO_F_NOTIFICATION_DATA) | \
		     (1ull << VIRTIO_F_RING_RESET))
#define FE_MASK_NET (0x7full << 17 | (1ull << 57) | (1ull << 60))

/* Protocol features the front-end speaks. */
#define FE_PROTOCOL ((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
		     (1ull << VHOST_USER_PROTOCOL_F_CONFIG) | \
		     (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE))

struct fe_ring {
	int kick, call;        /* eventfds, ours */
	bool started;
	bool packed;           /* the layout it was handed over in */
	uint16_t num;          /* its size, */
	uint64_t used;         /* and its used area: kept past a device reset */
	uint16_t used_seen;    /* split: used idx last traced */
};

struct fe {
	const struct fe_kind *kind;
	struct vq_dev_class cls;   /* per device: name and device id of the kind */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char cls_name[32];
	int sock;
	unsigned timeout_ms;
	uint64_t backend_features, protocol;
	unsigned backend_queues;   /* GET_QUEUE_NUM (MQ), else 0 */
	bool started, dead;
	bool config_window;        /* config=window: GET_CONFIG of the driver's window */
	uint8_t config[VHOST_USER_CONFIG_MAX];
	struct fe_ring vr[VQ_DEV_MAX_QUEUES];
	struct vq_vhost_frontend_stats st;
};

static int fe_realize(struct vq_dev *d);

static struct fe *fe_of(const struct vq_dev *d)
{
	return d && d->cls && d->cls->realize == fe_realize ? d->priv : NULL;
}

static void fe_trace(struct vq_dev *d, enum vq_ev kind, int q, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fe_trace(struct vq_dev *d, enum vq_ev kind, int q, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	if (!d->tracer || !d->tracer->on)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	vq_trace(d->tracer, kind, d->name, q, "%s", text);
}

/* The back-end broke the protocol, did not answer or left: no message goes
 * out any more, the device needs a reset (once the device exists). */
static int fe_fail(struct vq_dev *d, struct fe *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fe_fail(struct vq_dev *d, struct fe *f, const char *fmt, ...)
{
	char why[240];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!f->dead) {
		f->dead = true;
		f->st.failures++;
		if (f->sock >= 0) {
			if (d->env.unwatch)
				d->env.unwatch(d->env.ctx, d, f->sock);
			close(f->sock);
			f->sock = -1;
		}
		snprintf(f->st.last_error, sizeof(f->st.last_error), "%s", why);
		if (d->cls)
			vq_dev_needs_reset(d, -VQ_E_VHOST_PEER, why);
	}
	return -VQ_E_VHOST_PEER;
}

/* Wait at most the timeout for the socket to be readable. */
static bool fe_readable(struct fe *f)
{
	struct pollfd p = {.fd = f->sock, .events = POLLIN};
	int rc;

	do
		rc = poll(&p, 1, (int)f->timeout_ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

/* Send m; when reply is given (a GET) or the back-end acks (REPLY_ACK), wait
 * for the answer and check it: the same request, the reply flag, size in
 * [min, max], no descriptors. Returns 0 or -VQ_E_VHOST_PEER (device failed). */
static int fe_call(struct vq_dev *d, struct fe *f, struct vq_vhost_msg *m,
		   struct vq_vhost_msg *reply, uint32_t min, uint32_t max)
{
	const char *name = vq_vhost_req_name(m->request);
	struct vq_vhost_msg ack;
	char why[160];
	bool want_ack = !reply && (f->protocol & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	int rc;

	if (f->dead)
		return -VQ_E_VHOST_PEER;
	m->flags = VHOST_USER_VERSION | (want_ack ? VHOST_USER_NEED_REPLY : 0);
	if (vq_vhost_send(f->sock, m) < 0)
		return fe_fail(d, f, "vhost-user %s: the back-end is gone (%s)", name,
			       strerror(errno));
	f->st.messages++;
	fe_trace(d, VQ_EV_DEVICE, -1, "vhost-user -> %s", name);
	if (!reply && !want_ack)
		return 0;
	if (!reply) {
		reply = &ack;
		min = max = 8;
	}
	if (!fe_readable(f))
		return fe_fail(d, f, "vhost-user %s: no reply within %u ms", name, f->timeout_ms);
	rc = vq_vhost_recv(f->sock, reply, why, sizeof(why));
	if (rc == 0)
		return fe_fail(d, f, "vhost-user %s: the back-end closed the connection", name);
	if (rc < 0)
		return fe_fail(d, f, "vhost-user %s reply: %s", name, why);
	if (reply->nfds) {
		vq_vhost_msg_close_fds(reply);
		return fe_fail(d, f, "vhost-user %s: reply carries %u file descriptors", name,
			       reply->nfds);
	}
	if (reply->request != m->request || !(reply->flags & VHOST_USER_REPLY))
		return fe_fail(d, f, "vhost-user %s: answered with %s (flags 0x%x)", name,
			       vq_vhost_req_name(reply->request), reply->flags);
	if (reply->size < min || reply->size > max)
		return fe_fail(d, f, "vhost-user %s: reply of %u bytes, expected %u..%u", name,
			       reply->size, min, max);
	if (reply == &ack && VQ_LE64(ack.p.u64) != 0)
		return fe_fail(d, f, "vhost-user %s: the back-end refused it (ack %" PRIu64 ")",
			       name, (uint64_t)VQ_LE64(ack.p.u64));
	return 0;
}

static int fe_u64(struct vq_dev *d, struct fe *f, uint32_t req, uint64_t v)
{
	struct vq_vhost_msg m = {.request = req, .size = 8, .nfds = 0};

	m.p.u64 = VQ_LE64(v);
	return fe_call(d, f, &m, NULL, 0, 0);
}

static int fe_get_u64(struct vq_dev *d, struct fe *f, uint32_t req, uint64_t *v)
{
	struct vq_vhost_msg m = {.request = req}, r;
	int rc = fe_call(d, f, &m, &r, 8, 8);

	if (rc == 0)
		*v = VQ_LE64(r.p.u64);
	return rc;
}

static int fe_state(struct vq_dev *d, struct fe *f, uint32_t req, unsigned q, uint32_t num)
{
	struct vq_vhost_msg m = {.request = req, .size = sizeof(struct vq_vhost_state)};

	m.p.state.index = VQ_LE32(q);
	m.p.state.num = VQ_LE32(num);
	return fe_call(d, f, &m, NULL, 0, 0);
}

static int fe_vring_fd(struct vq_dev *d, struct fe *f, uint32_t req, unsigned q, int fd)
{
	struct vq_vhost_msg m = {.request = req, .size = 8, .nfds = 1};

	m.p.u64 = VQ_LE64((uint64_t)q);
	m.fds[0] = fd;
	return fe_call(d, f, &m, NULL, 0, 0);
}

/* GET_CONFIG of [off, off+len) into f->config. */
static int fe_get_config(struct vq_dev *d, struct fe *f, uint32_t off, uint32_t len)
{
	struct vq_vhost_msg m = {.request = VHOST_USER_GET_CONFIG, .size = 12 + len}, r;
	int rc;

	m.p.config.offset = VQ_LE32(off);
	m.p.config.size = VQ_LE32(len);
	if ((rc = fe_call(d, f, &m, &r, 12 + len, 12 + len)) < 0)
		return rc;
	if (VQ_LE32(r.p.config.size) != len)
		return fe_fail(d, f, "vhost-user GET_CONFIG: reply says %u bytes in a %u-byte payload",
			       VQ_LE32(r.p.config.size), r.size);
	memcpy(f->config + off, r.p.config.payload, len);
	return 0;
}

/* ---- the class ---------------------------------------------------------- */

static void fe_on_call(struct vq_dev *d, int fd, unsigned revents, void *arg);
static void fe_on_sock(struct vq_dev *d, int fd, unsigned revents, void *arg);

static int fe_realize(struct vq_dev *d)
{
	struct fe *f = d->priv;
	int rc;

	for (unsigned q = 0; q < d->nqueues; q++)
		if ((rc = vq_dev_watch_fd(d, f->vr[q].call, POLLIN, fe_on_call,
					  (void *)(uintptr_t)q)) < 0)
			return rc;
	return vq_dev_watch_fd(d, f->sock, POLLIN, fe_on_sock, NULL);
}

/* The used entries the back-end wrote since the last look: at each call,
 * before each kick and when the ring stops, so that entries published
 * without a call (interrupts suppressed) are traced too (split rings: the
 * used ring is plain to read; packed: calls are traced alone). */
static void fe_trace_used(struct vq_dev *d, struct fe *f, unsigned q)
{
	struct fe_ring *r = &f->vr[q];
	uint16_t idx;

	if (!r->started || r->packed || !d->tracer || !d->tracer->on ||
	    vq_mem_read16(d->mem, r->used + 2, &idx) < 0)
		return;
	for (uint16_t i = r->used_seen; i != idx && (uint16_t)(i - r->used_seen) < r->num; i++) {
		uint32_t id = 0, len = 0;
		uint64_t e = r->used + 4 + 8ull * (i % r->num);

		vq_mem_read32(d->mem, e, &id);
		vq_mem_read32(d->mem, e + 4, &len);
		fe_trace(d, VQ_EV_USED, (int)q, "outside device used id %u len %u (used idx %u)",
			 id, len, (uint16_t)(i + 1));
		f->st.used_seen++;
	}
	r->used_seen = idx;
}

static void fe_on_call(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct fe *f = d->priv;
	unsigned q = (unsigned)(uintptr_t)arg;
	uint64_t n;

	(void)revents;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	f->st.calls++;
	/* a call for a ring the back-end no longer has (qemu-storage-daemon
	 * calls after GET_VRING_BASE) is no interrupt for the guest */
	if (!f->vr[q].started || !(d->status & VIRTIO_STATUS_DRIVER_OK)) {
		f->st.calls_ignored++;
		fe_trace(d, VQ_EV_DEVICE, (int)q, "outside device called on a stopped ring: ignored");
		return;
	}
	fe_trace(d, VQ_EV_DEVICE, (int)q, "outside device called (%" PRIu64 " signal%s)", n,
		 n == 1 ? "" : "s");
	fe_trace_used(d, f, q);
	vq_dev_interrupt(d, VQ_IRQ_VRING, q);
}

/* The back-end never speaks first on this socket: readable means it left
 * (or broke the protocol). */
static void fe_on_sock(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct fe *f = d->priv;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	(void)arg;
	if (n == 0 || (revents & (POLLHUP | POLLERR)))
		fe_fail(d, f, "vhost-user: the back-end closed the connection");
	else if (n > 0)
		fe_fail(d, f, "vhost-user: the back-end sent a message nobody asked for");
}

/* Hand ring q to the back-end. */
static int fe_ring_start(struct vq_dev *d, struct fe *f, unsigned q)
{
	struct vq_queue *vq = &d->queues[q];
	bool packed = vq_dev_has_feature(d, VIRTIO_F_RING_PACKED);
	struct vq_vhost_msg m = {.request = VHOST_USER_SET_VRING_ADDR,
				 .size = sizeof(struct vq_vhost_addr)};
	int rc;

	m.p.addr.index = VQ_LE32(q);
	/* ring addresses in the front-end's "virtual" space: the memory table
	 * maps it one to one onto guest-physical addresses */
	m.p.addr.desc = VQ_LE64(vq->addr.desc);
	m.p.addr.avail = VQ_LE64(vq->addr.driver);
	m.p.addr.used = VQ_LE64(vq->addr.device);
	if ((rc = fe_state(d, f, VHOST_USER_SET_VRING_NUM, q, vq->num)) < 0 ||
	    (rc = fe_state(d, f, VHOST_USER_SET_VRING_BASE, q, packed ? 0x8000u : 0)) < 0 ||
	    (rc = fe_call(d, f, &m, NULL, 0, 0)) < 0 ||
	    (rc = fe_vring_fd(d, f, VHOST_USER_SET_VRING_KICK, q, f->vr[q].kick)) < 0 ||
	    (rc = fe_vring_fd(d, f, VHOST_USER_SET_VRING_CALL, q, f->vr[q].call)) < 0)
		return rc;
	if (f->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES) &&
	    (rc = fe_state(d, f, VHOST_USER_SET_VRING_ENABLE, q, 1)) < 0)
		return rc;
	f->vr[q].started = true;
	f->vr[q].packed = packed;
	f->vr[q].num = vq->num;
	f->vr[q].used = vq->addr.device;
	f->vr[q].used_seen = 0;
	return 0;
}

/* Take ring q back: disable it, then GET_VRING_BASE (the back-end stops). */
static void fe_ring_stop(struct vq_dev *d, struct fe *f, unsigned q)
{
	struct vq_vhost_msg m = {.request = VHOST_USER_GET_VRING_BASE,
				 .size = sizeof(struct vq_vhost_state)}, r;

	if (!f->vr[q].started)
		return;
	fe_trace_used(d, f, q); /* what it wrote since the last call */
	f->vr[q].started = false;
	if (f->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES) &&
	    fe_state(d, f, VHOST_USER_SET_VRING_ENABLE, q, 0) < 0)
		return;
	m.p.state.index = VQ_LE32(q);
	if (fe_call(d, f, &m, &r, 8, 8) < 0)
		return;
	if (VQ_LE32(r.p.state.index) != q) {
		fe_fail(d, f, "vhost-user GET_VRING_BASE: asked for ring %u, the reply names %u", q,
			VQ_LE32(r.p.state.index));
		return;
	}
	fe_trace(d, VQ_EV_DEVICE, (int)q, "outside device stopped at base 0x%x",
		 VQ_LE32(r.p.state.num));
}

/* DRIVER_OK: features, the memory table, every ready ring. */
static void fe_driver_ok(struct vq_dev *d)
{
	struct fe *f = d->priv;
	struct vq_vhost_msg m = {.request = VHOST_USER_SET_MEM_TABLE};
	unsigned n = vq_mem_region_count(d->mem);
	/* the features the front-end implements itself (net's MAC, STATUS)
	 * are not the back-end's to know */
	uint64_t feat = d->driver_features[0] & f->backend_features;

	if (f->dead)
		return;
	if (f->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
		feat |= 1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	if (fe_u64(d, f, VHOST_USER_SET_FEATURES, feat) < 0)
		return;
	if (n > VHOST_USER_MAX_REGIONS) {
		fe_fail(d, f, "vhost-user SET_MEM_TABLE: %u memory regions, the protocol carries %d",
			n, VHOST_USER_MAX_REGIONS);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vq_vhost_region *r = &m.p.memory.regions[m.nfds];
		uint64_t gpa, size;
		const char *name;
		int fd;

		if (vq_mem_region_info(d->mem, i, &gpa, &size, &name, &fd) < 0 || fd < 0)
			continue;
		r->gpa = VQ_LE64(gpa);
		r->size = VQ_LE64(size);
		r->uva = VQ_LE64(gpa); /* front-end addresses = guest-physical */
		r->mmap_offset = 0;
		m.fds[m.nfds++] = fd;
	}
	m.p.memory.nregions = VQ_LE32(m.nfds);
	m.size = (uint32_t)(8 + m.nfds * sizeof(struct vq_vhost_region));
	if (fe_call(d, f, &m, NULL, 0, 0) < 0)
		return;
	for (unsigned q = 0; q < d->nqueues; q++)
		if (d->queues[q].ready && fe_ring_start(d, f, q) < 0)
			return;
	f->started = true;
	f->st.starts++;
}

static void fe_queue_notify(struct vq_dev *d, unsigned q)
{
	struct fe *f = d->priv;
	uint64_t one = 1;

	if (f->dead || !f->vr[q].started)
		return;
	fe_trace_used(d, f, q); /* entries written without a call (suppressed) */
	if (write(f->vr[q].kick, &one, sizeof(one)) == (ssize_t)sizeof(one))
		f->st.kicks++;
}

static void fe_queue_stop(struct vq_dev *d, unsigned q)
{
	fe_ring_stop(d, d->priv, q);
}

static int fe_connect(struct fe *f, char *err, size_t errlen);
static int fe_handshake(struct vq_dev *d, struct fe *f, char *err, size_t errlen);

/* A reset of a device whose back-end left connects again (QEMU's
 * reconnect): the back-end must offer what it offered before. */
static void fe_reconnect(struct vq_dev *d, struct fe *f)
{
	uint64_t before = f->backend_features;
	char err[240];

	f->dead = false;
	if (fe_connect(f, err, sizeof(err)) < 0 || fe_handshake(d, f, err, sizeof(err)) < 0) {
		if (!f->dead) /* connect failed: nothing was sent */
			fe_fail(d, f, "%s", err);
		return;
	}
	if (f->backend_features != before) {
		fe_fail(d, f, "vhost-user: the back-end came back with features 0x%" PRIx64
			      " instead of 0x%" PRIx64, f->backend_features, before);
		return;
	}
	f->st.reconnects++;
	fe_trace(d, VQ_EV_DEVICE, -1, "vhost-user: connected again to %s", f->path);
	if (d->env.watch)
		vq_dev_watch_fd(d, f->sock, POLLIN, fe_on_sock, NULL);
}

static void fe_reset(struct vq_dev *d)
{
	struct fe *f = d->priv;

	if (f->dead) {
		for (unsigned q = 0; q < d->nqueues; q++)
			f->vr[q].started = false;
		f->started = false;
		fe_reconnect(d, f);
		return;
	}
	for (unsigned q = 0; q < d->nqueues; q++)
		fe_ring_stop(d, f, q);
	if (f->started && (f->protocol & (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE))) {
		struct vq_vhost_msg m = {.request = VHOST_USER_RESET_DEVICE};

		fe_call(d, f, &m, NULL, 0, 0);
	}
	f->started = false;
}

static bool fe_config_remote(const struct fe *f)
{
	return f->protocol & (1ull << VHOST_USER_PROTOCOL_F_CONFIG);
}

/* The whole config, as QEMU reads it (offset 0, every byte), or with
 * config=window exactly the driver's window: back-ends that ignore the
 * offset (qemu-storage-daemon 7.2 does) show then. */
static void fe_config_read(struct vq_dev *d, uint32_t off, uint32_t len)
{
	struct fe *f = d->priv;

	if (!fe_config_remote(f) || f->dead || !len || off + len > d->config_len)
		return;
	if (f->config_window)
		fe_get_config(d, f, off, len);
	else
		fe_get_config(d, f, 0, d->config_len);
}

static void fe_config_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	struct fe *f = d->priv;
	struct vq_vhost_msg m = {.request = VHOST_USER_SET_CONFIG, .size = 12 + len};

	if (!fe_config_remote(f) || f->dead || !len || off + len > d->config_len)
		return;
	m.p.config.offset = VQ_LE32(off);
	m.p.config.size = VQ_LE32(len);
	memcpy(m.p.config.payload, f->config + off, len);
	fe_call(d, f, &m, NULL, 0, 0);
}

static int fe_validate_features(struct vq_dev *d, const uint64_t *features)
{
	/* blk without MQ has one request queue (spec 5.2.2) */
	if (d->cls->device_id == VIRTIO_ID_BLOCK && !(features[0] & (1ull << 12)))
		vq_dev_limit_queues(d, 1);
	return 0;
}

static void fe_free(struct fe *f)
{
	if (f->sock >= 0)
		close(f->sock);
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
		if (f->vr[q].kick >= 0)
			close(f->vr[q].kick);
		if (f->vr[q].call >= 0)
			close(f->vr[q].call);
	}
	free(f);
}

static void fe_destroy(struct vq_dev *d)
{
	fe_free(d->priv);
	d->priv = NULL;
}

/* ---- creation ----------------------------------------------------------- */

static int fe_connect(struct fe *f, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = f->timeout_ms / 1000,
			     .tv_usec = (suseconds_t)(f->timeout_ms % 1000) * 1000};

	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->sock < 0) {
		snprintf(err, errlen, "vhost-user: socket: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	/* a reply cut short must not block forever either */
	setsockopt(f->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(f->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(f->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "vhost-user: cannot connect to '%s': %s", f->path,
			 strerror(errno));
		close(f->sock);
		f->sock = -1;
		return -VQ_E_SYS;
	}
	return 0;
}

/* The config the front-end makes for a back-end without the CONFIG
 * protocol feature (as QEMU does for net, fs, vsock). */
static int fe_local_config(struct fe *f, struct vq_opts *o, uint64_t *extra, char *err,
			   size_t errlen)
{
	const char *s = NULL;
	uint64_t v;
	int rc;

	switch (f->kind->device_id) {
	case VIRTIO_ID_NET: {
		uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

		if ((rc = vq_opts_str(o, "mac", &s, err, errlen)) < 0)
			return rc;
		if (s && vq_parse_mac(s, mac) < 0) {
			snprintf(err, errlen, "vhost-user: mac '%s' is not xx:xx:xx:xx:xx:xx", s);
			return -VQ_E_INVAL;
		}
		memcpy(f->config, mac, 6);
		f->config[6] = 1; /* VIRTIO_NET_S_LINK_UP */
		f->config[8] = 1; /* max_virtqueue_pairs */
		*extra = (1ull << 5) | (1ull << 16); /* MAC, STATUS */
		break;
	}
	case 26: /* fs: tag[36], num_request_queues */
		s = "vqsim";
		if ((rc = vq_opts_str(o, "tag", &s, err, errlen)) < 0)
			return rc;
		if (strlen(s) > 36) {
			snprintf(err, errlen, "vhost-user: tag '%s' is longer than 36 bytes", s);
			return -VQ_E_INVAL;
		}
		memcpy(f->config, s, strlen(s));
		f->config[36] = 1;
		break;
	case 19: /* vsock: guest_cid */
		v = 3;
		if ((rc = vq_opts_uint(o, "guest-cid", 3, UINT32_MAX, &v, err, errlen)) < 0)
			return rc;
		for (int i = 0; i < 8; i++)
			f->config[i] = (uint8_t)(v >> (8 * i));
		break;
	}
	return 0;
}

static int fe_handshake(struct vq_dev *d, struct fe *f, char *err, size_t errlen)
{
	struct vq_vhost_msg m = {.request = VHOST_USER_SET_OWNER};
	int rc;

	if ((rc = fe_get_u64(d, f, VHOST_USER_GET_FEATURES, &f->backend_features)) < 0)
		goto fail;
	if (f->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		uint64_t p = 0;

		if ((rc = fe_get_u64(d, f, VHOST_USER_GET_PROTOCOL_FEATURES, &p)) < 0 ||
		    (rc = fe_u64(d, f, VHOST_USER_SET_PROTOCOL_FEATURES, p & FE_PROTOCOL)) < 0)
			goto fail;
		f->protocol = p & FE_PROTOCOL;
		if (f->protocol & (1ull << VHOST_USER_PROTOCOL_F_MQ)) {
			uint64_t n = 0;

			if ((rc = fe_get_u64(d, f, VHOST_USER_GET_QUEUE_NUM, &n)) < 0)
				goto fail;
			f->backend_queues = n > VQ_DEV_MAX_QUEUES ? VQ_DEV_MAX_QUEUES : (unsigned)n;
		}
	}
	if ((rc = fe_call(d, f, &m, NULL, 0, 0)) < 0)
		goto fail;
	if (fe_config_remote(f) && f->kind->config_len &&
	    (rc = fe_get_config(d, f, 0, f->kind->config_len)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s", f->st.last_error);
	return rc;
}

static int fe_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
		     const char *name, struct vq_opts *o, char *err, size_t errlen)
{
	static const char *const allowed[] = {"socket", "type", "queue-size", "queues",
					      "timeout", "mac", "tag", "guest-cid", "config", NULL};
	const char *path = NULL, *type = NULL, *config = "whole";
	uint64_t qsize = FE_QUEUE_SIZE_DEFAULT, timeout = FE_TIMEOUT_MS_DEFAULT, queues = 0;
	uint64_t offered, extra = 0;
	unsigned nq;
	struct fe *f;
	int rc;

	(void)prng;
	if ((rc = vq_opts_check(o, allowed, err, errlen)) < 0 ||
	    (rc = vq_opts_str(o, "socket", &path, err, errlen)) < 0 ||
	    (rc = vq_opts_str(o, "type", &type, err, errlen)) < 0 ||
	    (rc = vq_opts_pow2(o, "queue-size", 1, VIRTQ_MAX_SIZE, &qsize, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(o, "queues", 1, VQ_DEV_MAX_QUEUES, &queues, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(o, "timeout", 1, 600000, &timeout, err, errlen)) < 0 ||
	    (rc = vq_opts_str(o, "config", &config, err, errlen)) < 0)
		return rc;
	if (strcmp(config, "whole") != 0 && strcmp(config, "window") != 0) {
		snprintf(err, errlen, "vhost-user: config '%s' unknown (whole or window)", config);
		return -VQ_E_INVAL;
	}
	if (!path || !*path) {
		snprintf(err, errlen, "vhost-user: socket=PATH is required");
		return -VQ_E_INVAL;
	}
	if (strlen(path) >= sizeof(f->path)) {
		snprintf(err, errlen, "vhost-user: socket path '%s' is longer than %zu bytes", path,
			 sizeof(f->path) - 1);
		return -VQ_E_INVAL;
	}
	if (!type) {
		snprintf(err, errlen, "vhost-user: type=KIND is required (net, blk, console, rng, "
				      "scsi, vsock or fs)");
		return -VQ_E_INVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "vhost-user: out of memory");
		return -VQ_E_NOMEM;
	}
	f->sock = -1;
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++)
		f->vr[q].kick = f->vr[q].call = -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, type) == 0)
			f->kind = &kinds[i];
	if (!f->kind) {
		snprintf(err, errlen, "vhost-user: type '%s' unknown (net, blk, console, rng, scsi, "
				      "vsock or fs)", type);
		rc = -VQ_E_INVAL;
		goto fail;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->timeout_ms = (unsigned)timeout;
	f->config_window = strcmp(config, "window") == 0;
	if ((rc = fe_local_config(f, o, &extra, err, errlen)) < 0 ||
	    (rc = fe_connect(f, err, errlen)) < 0 ||
	    (rc = fe_handshake(d, f, err, errlen)) < 0)
		goto fail;
	nq = f->kind->queues;
	if (f->kind->device_id == VIRTIO_ID_BLOCK && (f->backend_features & (1ull << 12))) {
		unsigned cfgq = (unsigned)f->config[34] | (unsigned)f->config[35] << 8;

		nq = cfgq ? cfgq : 1;
	}
	if (queues)
		nq = (unsigned)queues;
	if (f->backend_queues && nq > f->backend_queues) {
		snprintf(err, errlen, "vhost-user: %u queues asked, the back-end has %u", nq,
			 f->backend_queues);
		rc = -VQ_E_INVAL;
		goto fail;
	}
	for (unsigned q = 0; q < nq; q++) {
		f->vr[q].kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->vr[q].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->vr[q].kick < 0 || f->vr[q].call < 0) {
			snprintf(err, errlen, "vhost-user: eventfd: %s", strerror(errno));
			rc = -VQ_E_SYS;
			goto fail;
		}
	}
	offered = (f->backend_features & ~FE_MASK_ALL) | extra;
	if (f->kind->device_id == VIRTIO_ID_NET)
		offered &= ~FE_MASK_NET;
	snprintf(f->cls_name, sizeof(f->cls_name), "vhost-user-%s", f->kind->name);
	f->cls = (struct vq_dev_class){
		.name = f->cls_name,
		.device_id = f->kind->device_id,
		.realize = fe_realize,
		.validate_features = fe_validate_features,
		.driver_ok = fe_driver_ok,
		.queue_notify = fe_queue_notify,
		.queue_stop = fe_queue_stop,
		.config_read = fe_config_read,
		.config_write = fe_config_write,
		.reset = fe_reset,
		.destroy = fe_destroy,
	};
	rc = vq_dev_init(d, &f->cls, name, mem, nq, (uint16_t)qsize, offered, 0);
	if (rc < 0) {
		snprintf(err, errlen, "vhost-user: %s", vq_strerror(rc));
		goto fail;
	}
	/* vq_dev_init adds VERSION_1; the offer is exactly the back-end's */
	d->host_features[0] = offered;
	d->priv = f;
	d->config = f->config;
	d->config_len = f->kind->config_len;
	d->outside_ms = f->timeout_ms;
	return 0;
fail:
	fe_free(f);
	return rc;
}

const struct vq_dev_type vq_vhost_user_type = {
	.name = "vhost-user",
	.summary = "a device served by another process over vhost-user (qemu-storage-daemon, "
		   "DPDK, virtiofsd): vqsim is the front-end",
	.options = "socket=PATH,type=net|blk|console|rng|scsi|vsock|fs,queue-size=N,queues=N,"
		   "timeout=MS,config=whole|window,mac=MAC,tag=TAG,guest-cid=N",
	.create = fe_create,
};

int vq_vhost_frontend_get_stats(const struct vq_dev *d, struct vq_vhost_frontend_stats *st)
{
	const struct fe *f = fe_of(d);

	if (!f || !st)
		return -VQ_E_INVAL;
	*st = f->st;
	st->features = f->backend_features;
	st->protocol = f->protocol;
	st->dead = f->dead;
	return 0;
}

void vq_vhost_frontend_disconnect(struct vq_dev *d, const char *why)
{
	struct fe *f = fe_of(d);

	if (f)
		fe_fail(d, f, "vhost-user: %s", why ? why : "disconnected");
}

const char *vq_vhost_frontend_kind(const struct vq_dev *d)
{
	const struct fe *f = fe_of(d);

	return f ? f->kind->name : NULL;
}

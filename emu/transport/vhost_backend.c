/* vhost_backend.c - a vqsim device served over vhost-user: the front-end
 * (QEMU, or any other) plays the driver through messages on a UNIX socket,
 * shares its guest memory as file descriptors, and kicks and is called
 * through eventfds.
 *
 * The back-end decodes messages into vq_dev calls, as mmio.c decodes
 * register accesses: features, queue size and addresses, ring start and
 * stop, config. It plays the driver-status part itself: when the first
 * ring starts it resets the device and walks ACKNOWLEDGE, DRIVER, the
 * front-end's features, FEATURES_OK and DRIVER_OK; each ring then starts
 * where the front-end says (SET_VRING_BASE); when the last ring stops the
 * device is reset. The front-end's memory table replaces the machine's
 * guest memory (every region is removed first). Kicks go through the
 * machine's notification path (fault points, coalescing), so a device
 * runs from the machine's event queue as in simulation; the trace marks
 * what came from outside ("vhost-user ...").
 *
 * Everything on the socket is hostile input: vq_vhost_check() enforces
 * each request's shape, the handlers check values and order, a refused
 * message is answered with a nack when the front-end asked for one
 * (REPLY_ACK) and logged; a message that cannot be framed closes the
 * connection. No descriptor outlives the message or the connection that
 * brought it.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../backend/unix_sock.h"
#include "../transport.h"
#include "../virtio.h"

#define PROTOCOL_OFFERED                                                        \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIG) | (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE))

static void on_conn(struct vq_dev *d, int fd, unsigned revents, void *arg);
static void on_listen(struct vq_dev *d, int fd, unsigned revents, void *arg);

static void btrace(struct vq_vhost_backend *b, enum vq_ev kind, int q, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void btrace(struct vq_vhost_backend *b, enum vq_ev kind, int q, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!b->tracer)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vq_trace(b->tracer, kind, b->dev->name, q, "vhost-user %s", line);
}

/* Record why a message was refused; returns -VQ_E_VHOST_MSG (or rc). */
static int refuse(struct vq_vhost_backend *b, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct vq_vhost_backend *b, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->last_error, sizeof(b->last_error), fmt, ap);
	va_end(ap);
	b->stats.refused++;
	btrace(b, VQ_EV_ERROR, -1, "refused: %s", b->last_error);
	return rc;
}

static void close_fd(struct vq_vhost_backend *b, int *fd, bool watched)
{
	if (*fd < 0)
		return;
	if (watched)
		vq_dev_unwatch_fd(b->dev, *fd);
	close(*fd);
	*fd = -1;
}

/* Front-end virtual address -> guest-physical, through the memory table. */
static bool uva_to_gpa(const struct vq_vhost_backend *b, uint64_t uva, uint64_t *gpa)
{
	for (unsigned i = 0; i < b->nregions; i++) {
		const struct vq_vhost_region *r = &b->regions[i];

		if (uva - r->uva < r->size) {
			*gpa = r->gpa + (uva - r->uva);
			return true;
		}
	}
	return false;
}

/* Rings start disabled once protocol features are in use: QEMU acks them
 * through SET_FEATURES' bit 30 for some devices and only through
 * SET_PROTOCOL_FEATURES for others (vhost-user net). */
static bool protocol_on(const struct vq_vhost_backend *b)
{
	return (b->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) || b->protocol_set;
}

/* What the back-end offers: the device's features, less those vhost-user
 * cannot carry here (no IOTLB messages for ACCESS_PLATFORM, kicks carry no
 * NOTIFICATION_DATA, no per-ring reset message for RING_RESET), plus the
 * protocol-features bit. */
static uint64_t offered_features(const struct vq_dev *d)
{
	uint64_t no = (1ull << VIRTIO_F_ACCESS_PLATFORM) | (1ull << VIRTIO_F_NOTIFICATION_DATA) |
		      (1ull << VIRTIO_F_RING_RESET);

	return (d->host_features[0] & ~no) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
}

/* ---- device bring-up and rings ---------------------------------------- */

static void device_down(struct vq_vhost_backend *b)
{
	if (!b->dev_up)
		return;
	vq_dev_reset(b->dev);
	b->dev_up = false;
	btrace(b, VQ_EV_STATUS, -1, "device reset (no ring running)");
}

/* virtio-net features whose machinery lives in the front-end when it runs
 * the control queue itself (QEMU's vhost-user net): acked to the back-end
 * without CTRL_VQ, which the device's dependency rules refuse. */
#define NET_CTRL_FEATURES                                                        \
	((1ull << 18) | (1ull << 19) | (1ull << 20) | (1ull << 21) | (1ull << 22) | \
	 (1ull << 23))

/* The driver's status walk, with the front-end's features. */
static int device_up(struct vq_vhost_backend *b)
{
	struct vq_dev *d = b->dev;
	uint64_t f = b->features & ~(1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE;
	int rc;

	if (d->cls->device_id == VIRTIO_ID_NET && !(f & (1ull << 17)) && (f & NET_CTRL_FEATURES)) {
		btrace(b, VQ_EV_FEATURES, -1, "control-queue features 0x%" PRIx64 " stay with the "
		       "front-end (no CTRL_VQ here)", (uint64_t)(f & NET_CTRL_FEATURES));
		f &= ~NET_CTRL_FEATURES;
	}
	vq_dev_reset(d);
	if ((rc = vq_dev_write_status(d, st)) < 0 ||
	    (rc = vq_dev_write_status(d, st |= VIRTIO_STATUS_DRIVER)) < 0 ||
	    (rc = vq_dev_write_driver_features(d, 0, (uint32_t)f)) < 0 ||
	    (rc = vq_dev_write_driver_features(d, 1, (uint32_t)(f >> 32))) < 0 ||
	    (rc = vq_dev_write_status(d, st |= VIRTIO_STATUS_FEATURES_OK)) < 0 ||
	    (rc = vq_dev_write_status(d, st |= VIRTIO_STATUS_DRIVER_OK)) < 0) {
		refuse(b, rc, "device start (status 0x%x, features 0x%" PRIx64 ") refused: %s", st,
		       f, d->last_error_msg);
		vq_dev_reset(d); /* a refusal leaves the device reset, not half way up */
		return rc;
	}
	b->dev_up = true;
	btrace(b, VQ_EV_STATUS, -1, "device started, features 0x%" PRIx64, f);
	return 0;
}

/* Start ring q once it has everything: size, addresses, a kick fd, and
 * (with protocol features) SET_VRING_ENABLE 1. */
static int ring_try_start(struct vq_vhost_backend *b, unsigned q)
{
	struct vq_vhost_vring *vr = &b->vr[q];
	struct vq_queue *vq;
	struct vq_ring_addr a;
	int rc;

	if (vr->started || vr->kick < 0 || !vr->addr_set || !vr->num)
		return 0;
	if (protocol_on(b) && !vr->enabled)
		return 0;
	if (!uva_to_gpa(b, vr->addr.desc, &a.desc) || !uva_to_gpa(b, vr->addr.avail, &a.driver) ||
	    !uva_to_gpa(b, vr->addr.used, &a.device))
		return refuse(b, -VQ_E_VHOST_MSG,
			      "ring %u: addresses desc 0x%" PRIx64 " avail 0x%" PRIx64
			      " used 0x%" PRIx64 " are outside every memory region", q,
			      vr->addr.desc, vr->addr.avail, vr->addr.used);
	if (!b->dev_up && (rc = device_up(b)) < 0)
		return rc;
	if (!(vq = vq_dev_queue(b->dev, q)))
		return refuse(b, -VQ_E_VHOST_MSG, "ring %u: the device has no such queue now", q);
	vq->num = vr->num;
	vq->addr = a;
	if ((rc = vq_dev_queue_start(b->dev, q, vr->base)) < 0)
		return refuse(b, rc, "ring %u: %s", q, b->dev->last_error_msg);
	vr->started = true;
	btrace(b, VQ_EV_DEVICE, (int)q, "ring started: size %u, base %u, desc 0x%" PRIx64
	       " avail 0x%" PRIx64 " used 0x%" PRIx64, vr->num, vr->base, a.desc, a.driver,
	       a.device);
	/* chains made available before the kick fd came are served now */
	b->host.notify(b->host.ctx, b->dev, q);
	return 0;
}

/* Stop ring q; its state goes to vr->base. */
static void ring_stop(struct vq_vhost_backend *b, unsigned q)
{
	struct vq_vhost_vring *vr = &b->vr[q];
	struct vq_queue *vq = vq_dev_queue(b->dev, q);
	bool any = false;

	if (vr->started && vq) {
		uint32_t base;

		if (vq_ring_get_base(&vq->ring, &base) == 0)
			vr->base = base;
		vq_dev_queue_reset(b->dev, q);
		btrace(b, VQ_EV_DEVICE, (int)q, "ring stopped at avail %u", vr->base);
	}
	vr->started = false;
	close_fd(b, &vr->kick, true);
	for (unsigned i = 0; i < VQ_DEV_MAX_QUEUES; i++)
		any |= b->vr[i].started;
	if (!any)
		device_down(b);
}

static void on_kick(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct vq_vhost_backend *b = d->host.ctx;
	unsigned q = (unsigned)(uintptr_t)arg;
	uint64_t v;

	(void)revents;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	b->stats.kicks++;
	if (!b->vr[q].started) {
		btrace(b, VQ_EV_NOTIFY, (int)q, "kick ignored: ring not started");
		return;
	}
	btrace(b, VQ_EV_NOTIFY, (int)q, "kick");
	b->host.notify(b->host.ctx, d, q);
}

/* The device's interrupts: a used-buffer notification writes the ring's
 * call eventfd; a configuration change has no channel (BACKEND_REQ is not
 * offered) and is traced. */
static void on_interrupt(void *ctx, enum vq_irq_kind kind, unsigned queue)
{
	struct vq_vhost_backend *b = ctx;
	uint64_t one = 1;

	if (kind == VQ_IRQ_VRING && queue < VQ_DEV_MAX_QUEUES && b->vr[queue].call >= 0) {
		if (write(b->vr[queue].call, &one, sizeof(one)) == sizeof(one)) {
			b->stats.calls++;
			btrace(b, VQ_EV_IRQ, (int)queue, "call");
		}
	} else if (kind == VQ_IRQ_CONFIG) {
		btrace(b, VQ_EV_IRQ, -1, "configuration change (no channel to the front-end)");
		if ((b->dev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
			for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++)
				if (b->vr[q].err >= 0 && b->vr[q].started)
					(void)!write(b->vr[q].err, &one, sizeof(one));
	}
}

/* ---- messages ------------------------------------------------------------ */

static int set_mem_table(struct vq_vhost_backend *b, struct vq_vhost_msg *m)
{
	struct vq_mem *mem = b->dev->mem;
	unsigned n = VQ_LE32(m->p.memory.nregions);
	struct vq_vhost_region r[VHOST_USER_MAX_REGIONS];
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		r[i].gpa = VQ_LE64(m->p.memory.regions[i].gpa);
		r[i].size = VQ_LE64(m->p.memory.regions[i].size);
		r[i].uva = VQ_LE64(m->p.memory.regions[i].uva);
		r[i].mmap_offset = VQ_LE64(m->p.memory.regions[i].mmap_offset);
		if (r[i].size == 0 || r[i].uva + r[i].size < r[i].uva)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_MEM_TABLE: region %u: size 0x%" PRIx64
				      " at user address 0x%" PRIx64, i, r[i].size, r[i].uva);
	}
	/* the rings re-translate when the generation moves; stop them anyway
	 * if the front-end swaps memory under running rings */
	vq_mem_remove_all(mem);
	b->nregions = 0;
	for (unsigned i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "vhost%u", i);
		rc = vq_mem_add_region_fd(mem, name, r[i].gpa, r[i].size, m->fds[i],
					  r[i].mmap_offset);
		if (rc < 0) {
			vq_mem_remove_all(mem);
			b->nregions = 0;
			return refuse(b, rc == -VQ_E_SYS ? rc : -VQ_E_VHOST_MSG,
				      "SET_MEM_TABLE: region %u: gpa 0x%" PRIx64 " size 0x%" PRIx64
				      " offset 0x%" PRIx64 ": %s", i, r[i].gpa, r[i].size,
				      r[i].mmap_offset,
				      rc == -VQ_E_SYS ? strerror(errno)
						      : "misaligned, overlapping or too many regions");
		}
		m->fds[i] = -1; /* the region owns it now */
		b->regions[b->nregions++] = r[i];
		btrace(b, VQ_EV_MACHINE, -1, "memory region %u: gpa 0x%" PRIx64 " size 0x%" PRIx64
		       " user 0x%" PRIx64 " offset 0x%" PRIx64, i, r[i].gpa, r[i].size, r[i].uva,
		       r[i].mmap_offset);
	}
	return 0;
}

/* The ring index a message names, checked. */
static int ring_index(struct vq_vhost_backend *b, const struct vq_vhost_msg *m, uint32_t idx,
		      unsigned *q)
{
	if (idx >= VQ_DEV_MAX_QUEUES || idx >= b->dev->nqueues)
		return refuse(b, -VQ_E_VHOST_MSG, "%s: ring %u, the device has %u",
			      vq_vhost_req_name(m->request), idx, b->dev->nqueues);
	*q = idx;
	return 0;
}

static int set_vring_fd(struct vq_vhost_backend *b, struct vq_vhost_msg *m)
{
	uint64_t v = VQ_LE64(m->p.u64);
	unsigned q = 0;
	int rc, fd = m->nfds ? m->fds[0] : -1;

	if ((rc = ring_index(b, m, (uint32_t)(v & VHOST_USER_VRING_IDX_MASK), &q)) < 0)
		return rc;
	if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD))
		return refuse(b, -VQ_E_VHOST_MSG, "%s: unknown bits in 0x%" PRIx64,
			      vq_vhost_req_name(m->request), v);
	struct vq_vhost_vring *vr = &b->vr[q];
	switch (m->request) {
	case VHOST_USER_SET_VRING_KICK:
		close_fd(b, &vr->kick, true);
		if (fd >= 0) {
			if ((rc = vq_dev_watch_fd(b->dev, fd, POLLIN, on_kick, (void *)(uintptr_t)q)) < 0)
				return refuse(b, rc, "SET_VRING_KICK: ring %u: cannot watch the fd", q);
			vr->kick = fd;
			m->fds[0] = -1;
		}
		return ring_try_start(b, q);
	case VHOST_USER_SET_VRING_CALL:
		close_fd(b, &vr->call, false);
		vr->call = fd;
		break;
	default:
		close_fd(b, &vr->err, false);
		vr->err = fd;
		break;
	}
	if (fd >= 0)
		m->fds[0] = -1;
	return 0;
}

/* Handle one checked request; *reply set when the request has an answer. */
static int handle(struct vq_vhost_backend *b, struct vq_vhost_msg *m, struct vq_vhost_msg *rep,
		  bool *has_reply)
{
	struct vq_dev *d = b->dev;
	unsigned q = 0;
	int rc;

	*has_reply = false;
	switch (m->request) {
	case VHOST_USER_GET_FEATURES:
		vq_vhost_reply_init(rep, m->request, 8);
		rep->p.u64 = VQ_LE64(offered_features(d));
		*has_reply = true;
		return 0;
	case VHOST_USER_SET_FEATURES: {
		uint64_t f = VQ_LE64(m->p.u64);
		uint64_t offered = offered_features(d);

		if (f & ~offered)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_FEATURES 0x%" PRIx64 ": bits 0x%" PRIx64
				      " were not offered", f, f & ~offered);
		b->features = f;
		btrace(b, VQ_EV_FEATURES, -1, "features 0x%" PRIx64, f);
		return 0;
	}
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		vq_vhost_reply_init(rep, m->request, 8);
		rep->p.u64 = VQ_LE64(PROTOCOL_OFFERED);
		*has_reply = true;
		return 0;
	case VHOST_USER_SET_PROTOCOL_FEATURES: {
		uint64_t f = VQ_LE64(m->p.u64);

		if (f & ~PROTOCOL_OFFERED)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_PROTOCOL_FEATURES 0x%" PRIx64
				      ": bits 0x%" PRIx64 " were not offered", f,
				      f & ~(uint64_t)PROTOCOL_OFFERED);
		b->protocol = f;
		b->protocol_set = true;
		return 0;
	}
	case VHOST_USER_GET_QUEUE_NUM:
		vq_vhost_reply_init(rep, m->request, 8);
		rep->p.u64 = VQ_LE64((uint64_t)d->nqueues);
		*has_reply = true;
		return 0;
	case VHOST_USER_SET_OWNER:
		if (b->owner)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_OWNER: the session has an owner");
		b->owner = true;
		return 0;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		for (q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
			ring_stop(b, q);
			b->vr[q].base = 0;
		}
		device_down(b);
		if (m->request == VHOST_USER_RESET_OWNER)
			b->owner = false;
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(b, m);
	case VHOST_USER_SET_VRING_NUM: {
		uint32_t num = VQ_LE32(m->p.state.num);
		struct vq_queue *vq;

		if ((rc = ring_index(b, m, VQ_LE32(m->p.state.index), &q)) < 0)
			return rc;
		vq = &d->queues[q];
		if (num == 0 || num > vq->num_max_init || (num & (num - 1)))
			return refuse(b, -VQ_E_VHOST_MSG, "SET_VRING_NUM: ring %u: size %u (a power of "
				      "two up to %u)", q, num, vq->num_max_init);
		if (b->vr[q].started)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_VRING_NUM: ring %u is running", q);
		b->vr[q].num = (uint16_t)num;
		return 0;
	}
	case VHOST_USER_SET_VRING_ADDR: {
		struct vq_vhost_addr a = {
			.index = VQ_LE32(m->p.addr.index), .flags = VQ_LE32(m->p.addr.flags),
			.desc = VQ_LE64(m->p.addr.desc), .used = VQ_LE64(m->p.addr.used),
			.avail = VQ_LE64(m->p.addr.avail), .log = VQ_LE64(m->p.addr.log)};
		uint64_t g;

		if ((rc = ring_index(b, m, a.index, &q)) < 0)
			return rc;
		if (!uva_to_gpa(b, a.desc, &g) || !uva_to_gpa(b, a.avail, &g) ||
		    !uva_to_gpa(b, a.used, &g))
			return refuse(b, -VQ_E_VHOST_MSG, "SET_VRING_ADDR: ring %u: desc 0x%" PRIx64
				      " avail 0x%" PRIx64 " used 0x%" PRIx64
				      ": outside every memory region", q, a.desc, a.avail, a.used);
		if (b->vr[q].started)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_VRING_ADDR: ring %u is running", q);
		b->vr[q].addr = a;
		b->vr[q].addr_set = true;
		return ring_try_start(b, q);
	}
	case VHOST_USER_SET_VRING_BASE:
		if ((rc = ring_index(b, m, VQ_LE32(m->p.state.index), &q)) < 0)
			return rc;
		if (b->vr[q].started)
			return refuse(b, -VQ_E_VHOST_MSG, "SET_VRING_BASE: ring %u is running", q);
		b->vr[q].base = VQ_LE32(m->p.state.num);
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		if ((rc = ring_index(b, m, VQ_LE32(m->p.state.index), &q)) < 0)
			return rc;
		ring_stop(b, q);
		vq_vhost_reply_init(rep, m->request, 8);
		rep->p.state.index = VQ_LE32(q);
		rep->p.state.num = VQ_LE32(b->vr[q].base);
		*has_reply = true;
		return 0;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return set_vring_fd(b, m);
	case VHOST_USER_SET_VRING_ENABLE:
		if ((rc = ring_index(b, m, VQ_LE32(m->p.state.index), &q)) < 0)
			return rc;
		if (!protocol_on(b))
			return refuse(b, -VQ_E_VHOST_MSG, "SET_VRING_ENABLE without "
				      "VHOST_USER_F_PROTOCOL_FEATURES negotiated");
		b->vr[q].enabled = VQ_LE32(m->p.state.num) != 0;
		return b->vr[q].enabled ? ring_try_start(b, q) : 0;
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG: {
		uint32_t off = VQ_LE32(m->p.config.offset), size = VQ_LE32(m->p.config.size);

		if (!(b->protocol & (1ull << VHOST_USER_PROTOCOL_F_CONFIG)))
			return refuse(b, -VQ_E_VHOST_MSG, "%s without the CONFIG protocol feature",
				      vq_vhost_req_name(m->request));
		if (off > VHOST_USER_CONFIG_MAX || size > VHOST_USER_CONFIG_MAX - off)
			return refuse(b, -VQ_E_VHOST_MSG, "%s: offset %u size %u past %u bytes",
				      vq_vhost_req_name(m->request), off, size, VHOST_USER_CONFIG_MAX);
		if (m->request == VHOST_USER_SET_CONFIG) {
			if (off > d->config_len || size > d->config_len - off ||
			    vq_dev_config_write(d, off, m->p.config.payload, size) < 0)
				return refuse(b, -VQ_E_VHOST_MSG, "SET_CONFIG: offset %u size %u: the "
					      "device has %u config bytes", off, size, d->config_len);
			return 0;
		}
		vq_vhost_reply_init(rep, m->request, 12 + size);
		rep->p.config.offset = m->p.config.offset;
		rep->p.config.size = m->p.config.size;
		/* bytes past the device's config read as 0, as on a bus */
		if (off < d->config_len)
			vq_dev_config_read(d, off, rep->p.config.payload,
					   size < d->config_len - off ? size : d->config_len - off);
		*has_reply = true;
		return 0;
	}
	default:
		return refuse(b, -VQ_E_VHOST_MSG, "%s is not supported by this back-end",
			      vq_vhost_req_name(m->request));
	}
}

static void disconnect(struct vq_vhost_backend *b, const char *why)
{
	if (b->conn < 0)
		return;
	btrace(b, VQ_EV_MACHINE, -1, "front-end gone: %s", why);
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++) {
		ring_stop(b, q);
		close_fd(b, &b->vr[q].call, false);
		close_fd(b, &b->vr[q].err, false);
		memset(&b->vr[q], 0, sizeof(b->vr[q]));
		b->vr[q].kick = b->vr[q].call = b->vr[q].err = -1;
	}
	device_down(b);
	vq_mem_remove_all(b->dev->mem);
	b->nregions = 0;
	b->features = b->protocol = 0;
	b->protocol_set = b->owner = false;
	close_fd(b, &b->conn, true);
	if (b->listen_fd >= 0)
		vq_dev_watch_fd(b->dev, b->listen_fd, POLLIN, on_listen, b);
}

int vq_vhost_backend_message(struct vq_vhost_backend *b)
{
	struct vq_vhost_msg m, rep;
	char why[200];
	bool has_reply = false;
	int rc;

	rc = vq_vhost_recv(b->conn, &m, why, sizeof(why));
	if (rc <= 0) {
		if (rc < 0)
			refuse(b, rc, "%s", why);
		disconnect(b, rc == 0 ? "end of file" : why);
		return rc < 0 ? rc : 0;
	}
	b->stats.messages++;
	btrace(b, VQ_EV_REG, -1, "%s size %u fds %u%s", vq_vhost_req_name(m.request), m.size,
	       m.nfds, m.flags & VHOST_USER_NEED_REPLY ? " (reply wanted)" : "");
	rc = vq_vhost_check(&m, why, sizeof(why));
	if (rc < 0)
		refuse(b, rc, "%s", why);
	else
		rc = handle(b, &m, &rep, &has_reply);
	vq_vhost_msg_close_fds(&m);
	if (!has_reply && (m.flags & VHOST_USER_NEED_REPLY) &&
	    (b->protocol & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK))) {
		vq_vhost_reply_init(&rep, m.request, 8);
		rep.p.u64 = VQ_LE64(rc < 0 ? 1 : 0);
		has_reply = true;
	}
	if (has_reply && vq_vhost_send(b->conn, &rep) < 0) {
		disconnect(b, "reply could not be sent");
		return -VQ_E_SYS;
	}
	return 1;
}

static void on_conn(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct vq_vhost_backend *b = arg;

	(void)d;
	(void)fd;
	if (revents & (POLLIN | POLLHUP | POLLERR))
		vq_vhost_backend_message(b);
}

int vq_vhost_backend_attach(struct vq_vhost_backend *b, int conn)
{
	int rc;

	if (b->conn >= 0)
		return -VQ_E_STATE;
	if ((rc = vq_dev_watch_fd(b->dev, conn, POLLIN, on_conn, b)) < 0)
		return rc;
	b->conn = conn;
	b->stats.connections++;
	btrace(b, VQ_EV_MACHINE, -1, "front-end connected");
	return 0;
}

static void on_listen(struct vq_dev *d, int fd, unsigned revents, void *arg)
{
	struct vq_vhost_backend *b = arg;
	int c;

	(void)revents;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	/* one front-end at a time: the next waits in the backlog */
	vq_dev_unwatch_fd(d, fd);
	if (vq_vhost_backend_attach(b, c) < 0) {
		close(c);
		vq_dev_watch_fd(d, fd, POLLIN, on_listen, b);
	}
}

int vq_vhost_backend_init(struct vq_vhost_backend *b, struct vq_dev *d,
			  const struct vq_transport_host *host, struct vq_tracer *tracer)
{
	if (!d || !host || !host->notify)
		return -VQ_E_INVAL;
	memset(b, 0, sizeof(*b));
	b->dev = d;
	b->host = *host;
	b->tracer = tracer;
	b->listen_fd = b->conn = -1;
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++)
		b->vr[q].kick = b->vr[q].call = b->vr[q].err = -1;
	b->saved_host = d->host;
	d->host = (struct vq_dev_host){.interrupt = on_interrupt, .ctx = b};
	return 0;
}

int vq_vhost_backend_listen(struct vq_vhost_backend *b, const char *path, char *err,
			    size_t errlen)
{
	int fd, rc;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "socket path '%s' is too long", path);
		return -VQ_E_INVAL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	if ((rc = vq_unix_bind(fd, SOCK_STREAM, path, err, errlen)) < 0) {
		close(fd);
		return rc;
	}
	if (listen(fd, 4) < 0 || (rc = vq_dev_watch_fd(b->dev, fd, POLLIN, on_listen, b)) < 0) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		vq_unix_unlink(path);
		close(fd);
		return -VQ_E_SYS;
	}
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->listen_fd = fd;
	btrace(b, VQ_EV_MACHINE, -1, "listening on %s", path);
	return 0;
}

void vq_vhost_backend_close(struct vq_vhost_backend *b)
{
	if (!b->dev)
		return;
	disconnect(b, "back-end closed");
	if (b->listen_fd >= 0) {
		vq_dev_unwatch_fd(b->dev, b->listen_fd);
		close(b->listen_fd);
		b->listen_fd = -1;
		vq_unix_unlink(b->path);
	}
	b->dev->host = b->saved_host;
	b->dev = NULL;
}

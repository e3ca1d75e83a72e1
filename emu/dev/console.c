/* console.c - virtio-console (spec 5.3).
 *
 * Ports are byte streams between the guest's receiveq/transmitq and a
 * chardev backend (emu/backend/chardev_*.c) or, for "buffer" ports, the C
 * API of console.h. With MULTIPORT the control queues carry the port
 * protocol: the guest says DEVICE_READY, the device announces each port
 * (DEVICE_ADD), the guest answers PORT_READY, and the device then says
 * which port is the console (CONSOLE_PORT), names ports (PORT_NAME) and
 * tells whether the host side is connected (PORT_OPEN); the guest's own
 * PORT_OPEN says when it opens or closes a port.
 *
 * Ordering and bounds, one direction at a time:
 * - host -> guest: bytes wait in a per-port ring (buffer=BYTES) until the
 *   guest posts receive buffers. A full ring stops the backend being read;
 *   the C API takes only what fits.
 * - guest -> host: a transmit chain is written straight from guest memory.
 *   If the backend takes only part, the chain is held (not used yet) with an
 *   offset, and the transmitq is not popped again until the backend is
 *   writable (POLLOUT) or, for buffer ports, the host reads.
 * - control messages owed to the guest are per-port flags, not a queue: a
 *   fixed set of bits cannot overflow, and the value sent (PORT_OPEN) is the
 *   state when it is sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/chardev.h"
#include "dev.h"

#define CONSOLE_QUEUE_MAX_DEFAULT 256
#define CONSOLE_COLS_DEFAULT 80
#define CONSOLE_ROWS_DEFAULT 25
#define CONSOLE_PORT 0   /* the console port (CONSOLE_PORT, RESIZE) */

_Static_assert(sizeof(struct virtio_console_config) == VIRTIO_CONSOLE_CONFIG_SIZE,
	       "config layout");
_Static_assert(sizeof(struct virtio_console_control) == VIRTIO_CONSOLE_CONTROL_SIZE,
	       "control header layout");

/* Control messages a port still owes the guest, sent in this bit order. */
enum {
	OWE_ADD = 1u << 0,
	OWE_CONSOLE = 1u << 1,
	OWE_NAME = 1u << 2,
	OWE_OPEN = 1u << 3,
	OWE_RESIZE = 1u << 4,
	OWE_LAST = OWE_RESIZE
};

/* A bounded byte FIFO; storage is allocated on first use, so idle ports of
 * a device with a large buffer= cost nothing. */
struct bytering {
	uint8_t *buf;
	size_t cap, head, len;
};

struct console;

struct con_port {
	struct console *con;
	unsigned idx;
	enum vq_chardev_kind kind;
	char path[VQ_CHARDEV_PATH_MAX];
	char name[VQ_CONSOLE_NAME_MAX + 1];
	struct vq_chardev *chr;        /* NULL for buffer ports */
	struct bytering inq;           /* host -> guest, waiting for receive buffers */
	struct bytering outq;          /* guest -> host, buffer ports: waiting for a read */
	struct vq_chain txc;           /* the transmit chain being written out */
	uint64_t tx_off;               /* its bytes already written */
	bool tx_held, tx_stalled, tx_running;
	uint8_t emerg[VQ_CONSOLE_EMERG_PENDING]; /* port 0: emerg_wr bytes not yet out */
	unsigned emerg_len;
	bool host_connected, guest_open;
	bool fault_hung;               /* an injected hang-up (fault.h) until a reconnect */
	bool added, ready;             /* DEVICE_ADD sent, PORT_READY 1 received */
	unsigned owed;                 /* OWE_* */
	struct vq_console_port_stats st;
};

struct console {
	struct vq_dev *dev;
	unsigned nports;
	bool multiport, emerg;         /* offered */
	uint16_t cols, rows;
	size_t bufsize;
	bool ctrl_ready;               /* DEVICE_READY 1 received */
	uint8_t config[VIRTIO_CONSOLE_CONFIG_SIZE];
	struct vq_chain rxc, cinc, coutc; /* scratch chains (pushed at once) */
	struct vq_console_stats st;    /* device-wide counters (port[] unused here) */
	struct con_port port[VQ_CONSOLE_MAX_PORTS];
};

static const struct vq_dev_class console_class;

static struct console *con_of(const struct vq_dev *d)
{
	return d && d->cls == &console_class ? d->priv : NULL;
}

/* ---- byte FIFO ---------------------------------------------------------- */

static bool ring_ready(struct bytering *r)
{
	if (!r->buf)
		r->buf = malloc(r->cap);
	return r->buf != NULL;
}

static size_t ring_room(struct bytering *r)
{
	return ring_ready(r) ? r->cap - r->len : 0;
}

static size_t ring_put(struct bytering *r, const void *src, size_t n)
{
	size_t room = ring_room(r), tail, first;

	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	tail = (r->head + r->len) % r->cap;
	first = n < r->cap - tail ? n : r->cap - tail;
	memcpy(r->buf + tail, src, first);
	memcpy(r->buf, (const uint8_t *)src + first, n - first);
	r->len += n;
	return n;
}

/* The oldest contiguous run of bytes: its length, and *p. */
static size_t ring_peek(const struct bytering *r, const uint8_t **p, size_t skip)
{
	size_t at;

	if (skip >= r->len)
		return 0;
	at = (r->head + skip) % r->cap;
	*p = r->buf + at;
	return r->len - skip < r->cap - at ? r->len - skip : r->cap - at;
}

static void ring_drop(struct bytering *r, size_t n)
{
	r->head = (r->head + n) % r->cap;
	r->len -= n;
	if (r->len == 0)
		r->head = 0;
}

static size_t ring_get(struct bytering *r, void *dst, size_t cap)
{
	size_t done = 0;
	const uint8_t *p;
	size_t n;

	while (done < cap && (n = ring_peek(r, &p, 0)) > 0) {
		if (n > cap - done)
			n = cap - done;
		memcpy((uint8_t *)dst + done, p, n);
		ring_drop(r, n);
		done += n;
	}
	return done;
}

/* ---- state -------------------------------------------------------------- */

static bool dev_live(const struct vq_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static bool multiport_on(const struct console *con)
{
	return vq_dev_has_feature(con->dev, VIRTIO_CONSOLE_F_MULTIPORT);
}

/* May the device use port p's queues now? Ports past 0 need MULTIPORT. */
static bool port_live(const struct con_port *p)
{
	return dev_live(p->con->dev) && (p->idx == 0 || multiport_on(p->con));
}

/* Config bytes from the device's state: driver writes to the read-only
 * fields never stick, and emerg_wr reads back 0. */
static void config_refresh(struct console *con)
{
	vq_put_le16(con->config + VIRTIO_CONSOLE_CONFIG_COLS, con->cols);
	vq_put_le16(con->config + VIRTIO_CONSOLE_CONFIG_ROWS, con->rows);
	vq_put_le32(con->config + VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, con->nports);
	vq_put_le32(con->config + VIRTIO_CONSOLE_CONFIG_EMERG_WR, 0);
}

/* ---- control queues ----------------------------------------------------- */

/* The next message owed: lowest port first, then the OWE_* bit order. */
static bool ctrl_next(const struct console *con, unsigned *port, unsigned *bit)
{
	for (unsigned i = 0; i < con->nports; i++) {
		unsigned owed = con->port[i].owed;

		for (unsigned b = 1; owed && b <= OWE_LAST; b <<= 1) {
			if (owed & b) {
				*port = i;
				*bit = b;
				return true;
			}
		}
	}
	return false;
}

static const char *event_name(unsigned ev)
{
	static const char *const names[] = {
		"DEVICE_READY", "DEVICE_ADD", "DEVICE_REMOVE", "PORT_READY",
		"CONSOLE_PORT", "RESIZE", "PORT_OPEN", "PORT_NAME",
	};
	return ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "unknown";
}

/* Lay out message bit of port into buf; returns its length. */
static size_t ctrl_build(const struct console *con, unsigned port, unsigned bit, uint8_t *buf)
{
	const struct con_port *p = &con->port[port];
	uint16_t event = VIRTIO_CONSOLE_DEVICE_ADD, value = 0;
	size_t len = VIRTIO_CONSOLE_CONTROL_SIZE;

	switch (bit) {
	case OWE_ADD:
		break;
	case OWE_CONSOLE:
		event = VIRTIO_CONSOLE_CONSOLE_PORT;
		value = 1;
		break;
	case OWE_NAME:
		event = VIRTIO_CONSOLE_PORT_NAME;
		value = 1;
		memcpy(buf + len, p->name, strlen(p->name)); /* spec: no NUL */
		len += strlen(p->name);
		break;
	case OWE_OPEN:
		event = VIRTIO_CONSOLE_PORT_OPEN;
		value = p->host_connected;
		break;
	case OWE_RESIZE:
		event = VIRTIO_CONSOLE_RESIZE;
		vq_put_le16(buf + len, con->cols);
		vq_put_le16(buf + len + 2, con->rows);
		len += sizeof(struct virtio_console_resize);
		break;
	}
	vq_put_le32(buf, port);
	vq_put_le16(buf + 4, event);
	vq_put_le16(buf + 6, value);
	return len;
}

/* Send what is owed while the guest has control receive buffers. */
static void ctrl_out_run(struct console *con)
{
	struct vq_dev *d = con->dev;
	struct vq_chain *c = &con->coutc;
	uint8_t msg[VIRTIO_CONSOLE_CONTROL_SIZE + VQ_CONSOLE_NAME_MAX];
	unsigned port, bit;
	bool pushed = false;

	if (!dev_live(d) || !multiport_on(con) || !con->ctrl_ready)
		return;
	while (ctrl_next(con, &port, &bit)) {
		size_t len, n;

		if (vq_dev_pop(d, VQ_CONSOLE_CTRL_RXQ, c) != 1)
			break;
		pushed = true;
		if (c->write_bytes < VIRTIO_CONSOLE_CONTROL_SIZE) {
			/* cannot even hold a header: give it back empty, keep the message */
			con->st.ctrl_small_buffers++;
			vq_trace(d->tracer, VQ_EV_ERROR, d->name, VQ_CONSOLE_CTRL_RXQ,
				 "control buffer of %llu bytes is under a header: used 0",
				 (unsigned long long)c->write_bytes);
			if (vq_dev_push(d, VQ_CONSOLE_CTRL_RXQ, c, 0) < 0)
				break;
			continue;
		}
		len = ctrl_build(con, port, bit, msg);
		n = vq_chain_write(c, 0, msg, len);
		if (n < len)
			con->st.ctrl_truncated++;
		con->port[port].owed &= ~bit;
		if (bit == OWE_ADD)
			con->port[port].added = true;
		con->st.ctrl_out++;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, VQ_CONSOLE_CTRL_RXQ,
			 "control out: port %u %s value %u len %zu", port,
			 event_name(vq_get_le16(msg + 4)), vq_get_le16(msg + 6), n);
		if (vq_dev_push(d, VQ_CONSOLE_CTRL_RXQ, c, (uint32_t)n) < 0)
			break;
	}
	if (pushed)
		vq_dev_publish(d, VQ_CONSOLE_CTRL_RXQ);
}

/* Ignore a control message the protocol does not allow; counted. */
static void ctrl_ignore(struct console *con, uint64_t *counter, uint32_t id, uint16_t event,
			uint16_t value, const char *why)
{
	(*counter)++;
	vq_trace(con->dev->tracer, VQ_EV_ERROR, con->dev->name, VQ_CONSOLE_CTRL_TXQ,
		 "control in: id %u event %u (%s) value %u ignored: %s", id, event,
		 event_name(event), value, why);
}

static void ctrl_handle(struct console *con, uint32_t id, uint16_t event, uint16_t value)
{
	struct vq_dev *d = con->dev;
	struct con_port *p = id < con->nports ? &con->port[id] : NULL;

	switch (event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		if (con->ctrl_ready) {
			/* spec: a port is never added twice */
			ctrl_ignore(con, &con->st.ctrl_unexpected, id, event, value,
				    "device already ready");
			return;
		}
		con->st.ctrl_in++;
		if (value != 1) {
			vq_trace(d->tracer, VQ_EV_DEVICE, d->name, VQ_CONSOLE_CTRL_TXQ,
				 "control in: the driver failed to set the device up");
			return;
		}
		con->ctrl_ready = true;
		for (unsigned i = 0; i < con->nports; i++)
			con->port[i].owed |= OWE_ADD;
		break;
	case VIRTIO_CONSOLE_PORT_READY:
		if (!p) {
			ctrl_ignore(con, &con->st.ctrl_bad_id, id, event, value, "no such port");
			return;
		}
		if (!p->added || p->ready) {
			ctrl_ignore(con, &con->st.ctrl_unexpected, id, event, value,
				    p->ready ? "port already ready" : "port not added");
			return;
		}
		con->st.ctrl_in++;
		if (value != 1) {
			vq_trace(d->tracer, VQ_EV_DEVICE, d->name, VQ_CONSOLE_CTRL_TXQ,
				 "control in: the driver failed to set port %u up", id);
			return;
		}
		p->ready = true;
		if (id == CONSOLE_PORT)
			p->owed |= OWE_CONSOLE;
		if (p->name[0])
			p->owed |= OWE_NAME;
		if (p->host_connected)
			p->owed |= OWE_OPEN;
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (!p) {
			ctrl_ignore(con, &con->st.ctrl_bad_id, id, event, value, "no such port");
			return;
		}
		if (!p->ready) {
			ctrl_ignore(con, &con->st.ctrl_unexpected, id, event, value,
				    "port not ready");
			return;
		}
		con->st.ctrl_in++;
		p->guest_open = value != 0;
		if (p->guest_open)
			p->st.guest_opens++;
		else
			p->st.guest_closes++;
		break;
	default:
		/* the device-to-driver events, and numbers the spec does not define */
		ctrl_ignore(con, &con->st.ctrl_bad_event, id, event, value,
			    event < 8 ? "not an event the driver sends" : "unknown event");
		return;
	}
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, VQ_CONSOLE_CTRL_TXQ,
		 "control in: id %u %s value %u", id, event_name(event), value);
}

/* Take the driver's control messages, then send what they made owed. */
static void ctrl_in_run(struct console *con)
{
	struct vq_dev *d = con->dev;
	struct vq_chain *c = &con->cinc;
	bool pushed = false;

	if (!dev_live(d) || !multiport_on(con))
		return;
	while (vq_dev_pop(d, VQ_CONSOLE_CTRL_TXQ, c) == 1) {
		uint8_t hdr[VIRTIO_CONSOLE_CONTROL_SIZE];

		pushed = true;
		if (vq_chain_read(c, 0, hdr, sizeof(hdr)) < sizeof(hdr)) {
			con->st.ctrl_short++;
			vq_trace(d->tracer, VQ_EV_ERROR, d->name, VQ_CONSOLE_CTRL_TXQ,
				 "control in: %llu bytes, under a header: ignored",
				 (unsigned long long)c->read_bytes);
		} else {
			ctrl_handle(con, vq_get_le32(hdr), vq_get_le16(hdr + 4), vq_get_le16(hdr + 6));
		}
		if (vq_dev_push(d, VQ_CONSOLE_CTRL_TXQ, c, 0) < 0)
			break;
	}
	if (pushed)
		vq_dev_publish(d, VQ_CONSOLE_CTRL_TXQ);
	ctrl_out_run(con);
}

/* ---- data: host -> guest ------------------------------------------------ */

/* Move waiting bytes into the guest's receive buffers. */
static void port_rx_run(struct con_port *p)
{
	struct console *con = p->con;
	struct vq_dev *d = con->dev;
	struct vq_chain *c = &con->rxc;
	unsigned q = vq_console_rxq(p->idx);
	bool pushed = false;

	if (port_live(p)) {
		while (p->inq.len && vq_dev_pop(d, q, c) == 1) {
			const uint8_t *src;
			size_t n, done = 0;

			pushed = true;
			if (c->write_bytes == 0) {
				/* spec 5.3.6.1: the driver must not put readable buffers here */
				p->st.bad_chains++;
				vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
					 "receive chain head=%u has no writable byte: used 0",
					 c->head);
			}
			/* copy first, drop from the FIFO only once the chain is used */
			while ((n = ring_peek(&p->inq, &src, done)) > 0) {
				size_t w = vq_chain_write(c, done, src, n);

				done += w;
				if (w < n)
					break;
			}
			if (vq_dev_push(d, q, c, (uint32_t)done) < 0)
				break;
			ring_drop(&p->inq, done);
			p->st.to_guest += done;
			p->st.rx_chains++;
		}
		if (pushed)
			vq_dev_publish(d, q);
	}
	vq_chardev_input_ready(p->chr); /* room again: read on */
}

/* ---- data: guest -> host ------------------------------------------------ */

static void port_state(void *opaque, bool up);

/* Hand bytes to the host side: bytes taken, 0 when it is full or has no
 * peer, -VQ_E_SYS when they cannot be written at all. */
static long sink_write(struct con_port *p, const void *data, size_t len)
{
	long n;

	if (p->con->dev->faults && p->con->dev->faults->armed[VQ_FP_CONSOLE_WRITE] &&
	    !p->fault_hung) {
		/* fault point console.write: the host-side peer hangs up */
		struct vq_fault_ctx c = {.who = p->con->dev->name,
					 .queue = (int)vq_console_txq(p->idx), .len = len};

		if (vq_fault_check(p->con->dev->faults, VQ_FP_CONSOLE_WRITE, &c)) {
			p->fault_hung = true;
			port_state(p, false);
		}
	}
	if (p->fault_hung)
		return 0; /* no peer: the bytes wait */
	if (!p->chr)
		return (long)ring_put(&p->outq, data, len);
	n = vq_chardev_write(p->chr, data, len);
	return n == -VQ_E_NOT_READY ? 0 : n;
}

/* Write pending emergency bytes; true when none are left. */
static bool emerg_flush(struct con_port *p)
{
	while (p->emerg_len) {
		long n = sink_write(p, p->emerg, p->emerg_len);

		if (n < 0) {
			p->con->st.emerg_dropped += p->emerg_len;
			p->emerg_len = 0;
			break;
		}
		if (n == 0)
			return false;
		memmove(p->emerg, p->emerg + n, p->emerg_len - (size_t)n);
		p->emerg_len -= (unsigned)n;
	}
	return true;
}

/* Write out the rest of the held chain. 1 when all of it is out (or lost
 * to a hard backend error, counted), 0 when the host side is full, -1 when
 * the queue failed. */
static int tx_flush_chain(struct con_port *p, unsigned q)
{
	struct vq_chain *c = &p->txc;
	uint64_t skip = p->tx_off;

	/* held since an earlier event: memory may have changed under it */
	if (vq_dev_chain_check(p->con->dev, q, c) < 0) {
		p->st.tx_dropped += c->read_bytes - p->tx_off;
		return -1;
	}
	for (uint32_t i = 0; i < c->nread; i++) {
		const struct vq_seg *s = &c->seg[i];
		size_t want;
		long n;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		want = s->len - (size_t)skip;
		n = sink_write(p, (const uint8_t *)s->host + skip, want);
		if (n < 0) {
			p->st.tx_dropped += c->read_bytes - p->tx_off;
			vq_trace(p->con->dev->tracer, VQ_EV_ERROR, p->con->dev->name, (int)q,
				 "backend write failed: %llu bytes dropped",
				 (unsigned long long)(c->read_bytes - p->tx_off));
			p->tx_off = c->read_bytes;
			return 1;
		}
		p->tx_off += (uint64_t)n;
		p->st.from_guest += (uint64_t)n;
		if ((size_t)n < want)
			return 0;
		skip = 0;
	}
	return 1;
}

/* Take transmit chains while the host side keeps up. */
static void port_tx_run(struct con_port *p)
{
	struct vq_dev *d = p->con->dev;
	unsigned q = vq_console_txq(p->idx);
	bool pushed = false;

	if (p->tx_running)
		return; /* a backend callback from inside our own write */
	p->tx_running = true;
	/* emergency bytes go out between chains, even on an unconfigured device */
	if (!p->tx_held && !emerg_flush(p))
		goto stalled;
	while (port_live(p)) {
		int rc;

		if (!p->tx_held) {
			if (!emerg_flush(p))
				goto stalled;
			if (vq_dev_pop(d, q, &p->txc) != 1)
				break;
			p->tx_held = true;
			p->tx_off = 0;
			if (p->txc.nseg > p->txc.nread) {
				/* spec 5.3.6.1: no writable buffers in a transmitq */
				p->st.bad_chains++;
				vq_trace(d->tracer, VQ_EV_ERROR, d->name, (int)q,
					 "transmit chain head=%u has writable buffers: ignored",
					 p->txc.head);
			}
		}
		rc = tx_flush_chain(p, q);
		if (rc < 0) {
			p->tx_held = false;
			break;
		}
		if (rc == 0)
			goto stalled;
		p->tx_held = false;
		p->tx_stalled = false;
		p->st.tx_chains++;
		pushed = true;
		if (vq_dev_push(d, q, &p->txc, 0) < 0)
			break;
	}
	goto out;
stalled:
	if (!p->tx_stalled) {
		p->tx_stalled = true;
		p->st.tx_stalls++;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "host side full: transmitq paused with %llu bytes held",
			 (unsigned long long)(p->tx_held ? p->txc.read_bytes - p->tx_off : 0));
	}
out:
	if (pushed)
		vq_dev_publish(d, q);
	p->tx_running = false;
}

static void emerg_write(struct console *con, uint8_t ch)
{
	struct con_port *p = &con->port[0];

	con->st.emerg_writes++;
	vq_trace(con->dev->tracer, VQ_EV_DEVICE, con->dev->name, -1, "emerg_wr 0x%02x", ch);
	if (p->emerg_len >= sizeof(p->emerg)) {
		con->st.emerg_dropped++;
		return;
	}
	p->emerg[p->emerg_len++] = ch;
	if (!p->tx_held)
		port_tx_run(p); /* flushes it, and whatever it was blocking */
}

/* ---- backend callbacks -------------------------------------------------- */

static size_t port_room(void *opaque)
{
	return ring_room(&((struct con_port *)opaque)->inq);
}

static void port_input(void *opaque, const uint8_t *data, size_t len)
{
	struct con_port *p = opaque;

	p->st.host_in += ring_put(&p->inq, data, len); /* len <= room: all of it */
	port_rx_run(p);
}

static void port_writable(void *opaque)
{
	port_tx_run(opaque);
}

static void port_state(void *opaque, bool up)
{
	struct con_port *p = opaque;
	struct vq_dev *d = p->con->dev;

	p->host_connected = up;
	if (up)
		p->fault_hung = false;
	if (up)
		p->st.connects++;
	else
		p->st.hangups++;
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "port %u: host %s", p->idx,
		 up ? "connected" : "hung up");
	if (p->ready) {
		p->owed |= OWE_OPEN;
		ctrl_out_run(p->con);
	}
	/* a hang-up may come from inside our own write: tx_running guards it */
	if (up)
		port_tx_run(p);
}

static const struct vq_chardev_ops port_ops = {
	.room = port_room,
	.input = port_input,
	.writable = port_writable,
	.state = port_state,
};

/* ---- class hooks -------------------------------------------------------- */

static int console_realize(struct vq_dev *d)
{
	struct console *con = d->priv;

	for (unsigned i = 0; i < con->nports; i++) {
		struct con_port *p = &con->port[i];
		char msg[128]; /* leaves room for the "console portN: " prefix */
		int rc;

		if (p->kind == VQ_CHARDEV_BUFFER) {
			p->host_connected = true; /* the C API is always there */
			continue;
		}
		rc = vq_chardev_open(p->kind, p->path, d, &port_ops, p, &p->chr, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(d->last_error_msg, sizeof(d->last_error_msg), "console port%u: %s",
				 i, msg);
			d->last_error = rc;
			return rc;
		}
		p->host_connected = vq_chardev_connected(p->chr);
	}
	return 0;
}

static void console_driver_ok(struct vq_dev *d)
{
	struct console *con = d->priv;

	/* buffers posted before DRIVER_OK: serve them now */
	for (unsigned i = 0; i < con->nports; i++) {
		port_rx_run(&con->port[i]);
		port_tx_run(&con->port[i]);
	}
	ctrl_in_run(con);
}

static void console_queue_notify(struct vq_dev *d, unsigned q)
{
	struct console *con = d->priv;
	unsigned port;

	if (con->multiport && q == VQ_CONSOLE_CTRL_RXQ) {
		ctrl_out_run(con);
		return;
	}
	if (con->multiport && q == VQ_CONSOLE_CTRL_TXQ) {
		ctrl_in_run(con);
		return;
	}
	port = q < 2 ? 0 : (q - 2) / 2;
	if (port >= con->nports)
		return;
	if (q % 2 == 0)
		port_rx_run(&con->port[port]);
	else
		port_tx_run(&con->port[port]);
}

static void console_config_read(struct vq_dev *d, uint32_t off, uint32_t len)
{
	(void)off;
	(void)len;
	config_refresh(d->priv);
}

static void console_config_write(struct vq_dev *d, uint32_t off, uint32_t len)
{
	struct console *con = d->priv;
	uint8_t ch = con->config[VIRTIO_CONSOLE_CONFIG_EMERG_WR];

	/* only the low byte of emerg_wr is writable, and only if offered; the
	 * spec allows it before negotiation ("even on an unconfigured device") */
	if (con->emerg && off <= VIRTIO_CONSOLE_CONFIG_EMERG_WR &&
	    off + len > VIRTIO_CONSOLE_CONFIG_EMERG_WR) {
		config_refresh(con);
		emerg_write(con, ch);
		return;
	}
	con->st.config_bad_writes++;
	vq_trace(d->tracer, VQ_EV_ERROR, d->name, -1,
		 "config write of %u bytes at 0x%x: read-only field%s, ignored", len, off,
		 con->emerg ? "" : " (EMERG_WRITE not offered)");
	config_refresh(con);
}

/* QueueReady=0 or a queue reset: a port's transmit chain of that queue is
 * forgotten, unsent bytes counted as discarded (as at a device reset). */
static void console_queue_stop(struct vq_dev *d, unsigned q)
{
	struct console *con = d->priv;

	for (unsigned i = 0; i < con->nports; i++) {
		struct con_port *p = &con->port[i];

		if (vq_console_txq(p->idx) != q || !p->tx_held)
			continue;
		p->st.tx_discarded += p->txc.read_bytes - p->tx_off;
		p->tx_held = p->tx_stalled = false;
		vq_trace(d->tracer, VQ_EV_DEVICE, d->name, (int)q,
			 "queue stopped: held transmit chain head=%u dropped", p->txc.head);
	}
}

static void console_reset(struct vq_dev *d)
{
	struct console *con = d->priv;

	con->ctrl_ready = false;
	for (unsigned i = 0; i < con->nports; i++) {
		struct con_port *p = &con->port[i];

		/* the ring is gone: the guest abandoned the chain; what waits in
		 * the FIFOs stays for the next driver */
		if (p->tx_held)
			p->st.tx_discarded += p->txc.read_bytes - p->tx_off;
		p->tx_held = p->tx_stalled = false;
		p->added = p->ready = p->guest_open = false;
		p->owed = 0;
	}
	config_refresh(con);
}

static void console_destroy(struct vq_dev *d)
{
	struct console *con = d->priv;

	if (!con)
		return;
	for (unsigned i = 0; i < VQ_CONSOLE_MAX_PORTS; i++) {
		struct con_port *p = &con->port[i];

		vq_chardev_close(p->chr);
		free(p->inq.buf);
		free(p->outq.buf);
		vq_chain_release(&p->txc);
	}
	vq_chain_release(&con->rxc);
	vq_chain_release(&con->cinc);
	vq_chain_release(&con->coutc);
	free(con);
	d->priv = NULL;
	d->config = NULL;
	d->config_len = 0;
}

static const struct vq_dev_class console_class = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.realize = console_realize,
	.driver_ok = console_driver_ok,
	.queue_notify = console_queue_notify,
	.queue_stop = console_queue_stop,
	.config_read = console_config_read,
	.config_write = console_config_write,
	.reset = console_reset,
	.destroy = console_destroy,
};

/* ---- creation ----------------------------------------------------------- */

static int parse_ports(struct console *con, struct vq_opts *opts, char *err, size_t errlen)
{
	char key[16], msg[160];
	bool stdio_taken = false;
	int rc;

	for (unsigned i = 0; i < VQ_CONSOLE_MAX_PORTS; i++) {
		struct con_port *p = &con->port[i];
		const char *val = NULL;

		snprintf(key, sizeof(key), "port%u", i);
		if ((rc = vq_opts_str(opts, key, &val, err, errlen)) < 0)
			return rc;
		if (val && i >= con->nports) {
			snprintf(err, errlen, "console: port%u given but ports=%u", i, con->nports);
			return -VQ_E_INVAL;
		}
		if (val) {
			if (vq_chardev_parse(val, &p->kind, p->path, sizeof(p->path), msg,
					     sizeof(msg)) < 0) {
				snprintf(err, errlen, "console: port%u: %s", i, msg);
				return -VQ_E_INVAL;
			}
			if (p->kind == VQ_CHARDEV_STDIO && stdio_taken) {
				snprintf(err, errlen,
					 "console: port%u: stdio can back only one port", i);
				return -VQ_E_INVAL;
			}
			stdio_taken |= p->kind == VQ_CHARDEV_STDIO;
		}
		snprintf(key, sizeof(key), "name%u", i);
		val = NULL;
		if ((rc = vq_opts_str(opts, key, &val, err, errlen)) < 0)
			return rc;
		if (val && i >= con->nports) {
			snprintf(err, errlen, "console: name%u given but ports=%u", i, con->nports);
			return -VQ_E_INVAL;
		}
		if (val && (!val[0] || strlen(val) > VQ_CONSOLE_NAME_MAX)) {
			snprintf(err, errlen, "console: name%u must be 1 to %d bytes", i,
				 VQ_CONSOLE_NAME_MAX);
			return -VQ_E_INVAL;
		}
		if (val)
			memcpy(p->name, val, strlen(val) + 1);
	}
	return 0;
}

static int console_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
			  const char *name, struct vq_opts *opts, char *err, size_t errlen)
{
	static const char *const fixed[] = {"ports", "multiport", "cols", "rows", "emerg",
					    "buffer", "queue-size"};
	enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
	char keys[2 * VQ_CONSOLE_MAX_PORTS][12];
	const char *allowed[NFIXED + 2 * VQ_CONSOLE_MAX_PORTS + 1];
	uint64_t nports = 1, cols = CONSOLE_COLS_DEFAULT, rows = CONSOLE_ROWS_DEFAULT;
	uint64_t bufsize = VQ_CONSOLE_BUFFER_DEFAULT, qmax = CONSOLE_QUEUE_MAX_DEFAULT;
	bool multiport = false, emerg = true;
	uint64_t features;
	struct console *con;
	int rc, mp = 0;

	(void)prng;
	for (unsigned i = 0; i < NFIXED; i++)
		allowed[i] = fixed[i];
	for (unsigned i = 0; i < VQ_CONSOLE_MAX_PORTS; i++) {
		snprintf(keys[2 * i], sizeof(keys[0]), "port%u", i);
		snprintf(keys[2 * i + 1], sizeof(keys[0]), "name%u", i);
		allowed[NFIXED + 2 * i] = keys[2 * i];
		allowed[NFIXED + 2 * i + 1] = keys[2 * i + 1];
	}
	allowed[NFIXED + 2 * VQ_CONSOLE_MAX_PORTS] = NULL;
	if ((rc = vq_opts_check(opts, allowed, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(opts, "ports", 1, VQ_CONSOLE_MAX_PORTS, &nports, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(opts, "cols", 0, 65535, &cols, err, errlen)) < 0 ||
	    (rc = vq_opts_uint(opts, "rows", 0, 65535, &rows, err, errlen)) < 0 ||
	    (rc = vq_opts_size(opts, "buffer", 1, VQ_CONSOLE_BUFFER_MAX, &bufsize, err,
			       errlen)) < 0 ||
	    (rc = vq_opts_pow2(opts, "queue-size", 1, VIRTQ_MAX_SIZE, &qmax, err, errlen)) < 0 ||
	    (rc = vq_opts_bool(opts, "emerg", &emerg, err, errlen)) < 0 ||
	    (rc = mp = vq_opts_bool(opts, "multiport", &multiport, err, errlen)) < 0)
		return rc;
	if (mp == 0)
		multiport = nports > 1;
	else if (!multiport && nports > 1) {
		snprintf(err, errlen, "console: ports=%" PRIu64 " needs multiport (multiport=off given)",
			 nports);
		return -VQ_E_INVAL;
	}
	con = calloc(1, sizeof(*con));
	if (!con) {
		snprintf(err, errlen, "console: out of memory");
		return -VQ_E_NOMEM;
	}
	con->nports = (unsigned)nports;
	con->multiport = multiport;
	con->emerg = emerg;
	con->cols = (uint16_t)cols;
	con->rows = (uint16_t)rows;
	con->bufsize = bufsize;
	for (unsigned i = 0; i < VQ_CONSOLE_MAX_PORTS; i++) {
		struct con_port *p = &con->port[i];

		p->con = con;
		p->idx = i;
		p->kind = VQ_CHARDEV_BUFFER;
		p->inq.cap = p->outq.cap = bufsize;
		vq_chain_init(&p->txc);
	}
	vq_chain_init(&con->rxc);
	vq_chain_init(&con->cinc);
	vq_chain_init(&con->coutc);
	if ((rc = parse_ports(con, opts, err, errlen)) < 0) {
		free(con);
		return rc;
	}
	features = (1ull << VIRTIO_CONSOLE_F_SIZE) | (1ull << VIRTIO_F_INDIRECT_DESC) |
		   (1ull << VIRTIO_F_EVENT_IDX);
	if (multiport)
		features |= 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
	if (emerg)
		features |= 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE;
	rc = vq_dev_init(d, &console_class, name, mem, multiport ? 2 + 2 * con->nports : 2,
			 (uint16_t)qmax, features, 0);
	if (rc < 0) {
		snprintf(err, errlen, "console: %s", vq_strerror(rc));
		free(con);
		return rc;
	}
	con->dev = d;
	con->st.nports = con->nports;
	con->st.multiport = multiport;
	config_refresh(con);
	d->priv = con;
	d->config = con->config;
	d->config_len = VIRTIO_CONSOLE_CONFIG_SIZE;
	return 0;
}

/* ---- host-side C API ---------------------------------------------------- */

long vq_console_port_write(struct vq_dev *d, unsigned port, const void *data, size_t len)
{
	struct console *con = con_of(d);
	struct con_port *p;
	size_t done = 0, n;

	if (!con || port >= con->nports || (!data && len))
		return -VQ_E_INVAL;
	p = &con->port[port];
	/* top up as the guest's buffers take bytes: ends when nothing fits */
	while (done < len && (n = ring_put(&p->inq, (const uint8_t *)data + done, len - done))) {
		done += n;
		p->st.host_in += n;
		port_rx_run(p);
	}
	return (long)done;
}

long vq_console_port_read(struct vq_dev *d, unsigned port, void *buf, size_t cap)
{
	struct console *con = con_of(d);
	struct con_port *p;
	size_t n;

	if (!con || port >= con->nports || (!buf && cap))
		return -VQ_E_INVAL;
	p = &con->port[port];
	if (p->chr)
		return -VQ_E_STATE;
	n = ring_get(&p->outq, buf, cap);
	port_tx_run(p); /* room again: the held chain and the transmitq go on */
	return (long)n;
}

int vq_console_resize(struct vq_dev *d, uint16_t cols, uint16_t rows)
{
	struct console *con = con_of(d);

	if (!con)
		return -VQ_E_INVAL;
	con->cols = cols;
	con->rows = rows;
	config_refresh(con);
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "resize %ux%u", cols, rows);
	vq_dev_config_changed(d);
	if (con->port[CONSOLE_PORT].ready) {
		con->port[CONSOLE_PORT].owed |= OWE_RESIZE;
		ctrl_out_run(con);
	}
	return 0;
}

bool vq_console_port_guest_open(const struct vq_dev *d, unsigned port)
{
	const struct console *con = con_of(d);

	if (!con || port >= con->nports)
		return false;
	if (multiport_on(con))
		return con->port[port].guest_open;
	return port == 0 && dev_live(d);
}

bool vq_console_port_host_connected(const struct vq_dev *d, unsigned port)
{
	const struct console *con = con_of(d);

	return con && port < con->nports && con->port[port].host_connected;
}

const char *vq_console_port_pty_path(const struct vq_dev *d, unsigned port)
{
	const struct console *con = con_of(d);

	return con && port < con->nports ? vq_chardev_pty_path(con->port[port].chr) : NULL;
}

int vq_console_port_queued(const struct vq_dev *d, unsigned port, uint64_t *to_guest,
			   uint64_t *from_guest)
{
	const struct console *con = con_of(d);
	const struct con_port *p;

	if (!con || port >= con->nports)
		return -VQ_E_INVAL;
	p = &con->port[port];
	if (to_guest)
		*to_guest = p->inq.len;
	if (from_guest)
		*from_guest = p->outq.len + p->emerg_len +
			      (p->tx_held ? p->txc.read_bytes - p->tx_off : 0);
	return 0;
}

int vq_console_get_stats(const struct vq_dev *d, struct vq_console_stats *st)
{
	const struct console *con = con_of(d);

	if (!con || !st)
		return -VQ_E_INVAL;
	*st = con->st;
	for (unsigned i = 0; i < VQ_CONSOLE_MAX_PORTS; i++)
		st->port[i] = con->port[i].st;
	return 0;
}

const struct vq_dev_type vq_console_type = {
	.name = "console",
	.summary = "virtio-console (spec 5.3): ports on stdio, UNIX sockets, ptys, log files "
		   "or the C API",
	.options = "ports=N,multiport=on|off,portI=buffer|stdio|socket:PATH|"
		   "socket-connect:PATH|pty|file:PATH,nameI=NAME,cols=N,rows=N,emerg=on|off,"
		   "buffer=BYTES,queue-size=N",
	.create = console_create,
};

/* drv/console.c - reference-driver helpers for virtio-console (spec 5.3). */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* Bounds on the helpers' loops: events per machine run, service rounds
 * (run + reap) per call, and read rounds (each reposts what it consumed). */
#define DRV_CONSOLE_RUN_MAX 100000u
#define DRV_CONSOLE_SERVICE_ROUNDS 64
#define DRV_CONSOLE_READ_ROUNDS 4096

/* A filled receive buffer not yet consumed by the caller. */
struct drv_con_filled {
	uint16_t slot;
	uint32_t len, off;
};

struct drv_con_port {
	bool queues;                 /* its queues are set up */
	bool added, ready, host_open, guest_open;
	char name[VQ_CONSOLE_NAME_MAX + 1];
	uint64_t rx_gpa, tx_gpa;     /* buffer pools */
	struct drv_con_filled filled[VQ_DRV_CONSOLE_RX_BUFS];
	unsigned fhead, fcount;      /* FIFO of filled buffers, in used order */
	uint32_t tx_len[VQ_DRV_CONSOLE_TX_BUFS]; /* bytes of a busy slot; 0 = free */
};

struct drv_console {
	bool multiport;
	unsigned nports;
	int console_port;
	bool resized;
	uint16_t cols, rows;
	uint64_t ctrl_rx_gpa, ctrl_tx_gpa;
	bool ctrl_tx_busy[VQ_DRV_CONSOLE_CTRL_TX_BUFS];
	struct vq_drv_console_msg log[VQ_DRV_CONSOLE_LOG];
	unsigned nlog;
	struct drv_con_port port[VQ_CONSOLE_MAX_PORTS];
};

static void drv_console_free(struct vq_drv *d)
{
	free(d->dev_state);
	d->dev_state = NULL;
}

static struct drv_console *state(const struct vq_drv *d)
{
	return d->dev_state_free == drv_console_free ? d->dev_state : NULL;
}

/* ---- posting buffers ---------------------------------------------------- */

static int post_rx(struct vq_drv *d, struct drv_con_port *p, unsigned port, unsigned slot)
{
	struct vq_buf b = {.gpa = p->rx_gpa + (uint64_t)slot * VQ_DRV_CONSOLE_RX_BUF_SIZE,
			   .len = VQ_DRV_CONSOLE_RX_BUF_SIZE, .writable = true};
	int rc = vq_drv_add(d, vq_console_rxq(port), &b, 1, slot);

	return rc < 0 ? rc : 0;
}

static int post_ctrl_rx(struct vq_drv *d, struct drv_console *s, unsigned slot)
{
	struct vq_buf b = {.gpa = s->ctrl_rx_gpa + (uint64_t)slot * VQ_DRV_CONSOLE_CTRL_BUF_SIZE,
			   .len = VQ_DRV_CONSOLE_CTRL_BUF_SIZE, .writable = true};
	int rc = vq_drv_add(d, VQ_CONSOLE_CTRL_RXQ, &b, 1, slot);

	return rc < 0 ? rc : 0;
}

/* Put msg on the control transmitq (no wait). */
static int ctrl_send(struct vq_drv *d, struct drv_console *s, const void *msg, uint32_t len)
{
	struct vq_buf b;
	unsigned slot;
	int rc;

	for (slot = 0; slot < VQ_DRV_CONSOLE_CTRL_TX_BUFS && s->ctrl_tx_busy[slot]; slot++)
		;
	if (slot == VQ_DRV_CONSOLE_CTRL_TX_BUFS)
		return -VQ_E_NOSPC;
	b = (struct vq_buf){.gpa = s->ctrl_tx_gpa + (uint64_t)slot * VQ_DRV_CONSOLE_CTRL_TX_SIZE,
			    .len = len, .writable = false};
	if ((rc = vq_mem_write(vq_machine_mem(d->m), b.gpa, msg, len)) < 0)
		return rc;
	if ((rc = vq_drv_add(d, VQ_CONSOLE_CTRL_TXQ, &b, 1, slot)) < 0)
		return rc;
	s->ctrl_tx_busy[slot] = true;
	rc = vq_drv_kick(d, VQ_CONSOLE_CTRL_TXQ);
	return rc < 0 ? rc : 0;
}

static int ctrl_send_msg(struct vq_drv *d, struct drv_console *s, uint32_t id, uint16_t event,
			 uint16_t value)
{
	uint8_t msg[VIRTIO_CONSOLE_CONTROL_SIZE];
	uint32_t id_le = VQ_LE32(id);
	uint16_t ev_le = VQ_LE16(event), val_le = VQ_LE16(value);

	memcpy(msg, &id_le, 4);
	memcpy(msg + 4, &ev_le, 2);
	memcpy(msg + 6, &val_le, 2);
	return ctrl_send(d, s, msg, sizeof(msg));
}

/* ---- reaping ------------------------------------------------------------ */

/* What a Linux driver does with each control message from the device. */
static void ctrl_handle(struct vq_drv *d, struct drv_console *s, const uint8_t *buf,
			uint32_t len)
{
	struct vq_drv_console_msg m = {0};
	struct drv_con_port *p;

	if (len < VIRTIO_CONSOLE_CONTROL_SIZE)
		return; /* nothing to act on */
	m.id = vq_get_le32(buf);
	m.event = vq_get_le16(buf + 4);
	m.value = vq_get_le16(buf + 6);
	m.len = len;
	if (m.event == VIRTIO_CONSOLE_PORT_NAME) {
		uint32_t n = len - VIRTIO_CONSOLE_CONTROL_SIZE;

		if (n > VQ_CONSOLE_NAME_MAX)
			n = VQ_CONSOLE_NAME_MAX;
		memcpy(m.name, buf + VIRTIO_CONSOLE_CONTROL_SIZE, n);
		m.name[n] = '\0';
	}
	if (m.event == VIRTIO_CONSOLE_RESIZE && len >= VIRTIO_CONSOLE_CONTROL_SIZE + 4) {
		m.cols = vq_get_le16(buf + 8);  /* spec 1.2 order: cols, rows */
		m.rows = vq_get_le16(buf + 10);
	}
	if (s->nlog < VQ_DRV_CONSOLE_LOG)
		s->log[s->nlog++] = m;
	if (m.id >= s->nports)
		return; /* a port the driver never set up queues for: ignored */
	p = &s->port[m.id];
	switch (m.event) {
	case VIRTIO_CONSOLE_DEVICE_ADD:
		if (p->added)
			break;
		p->added = true;
		p->ready = ctrl_send_msg(d, s, m.id, VIRTIO_CONSOLE_PORT_READY, 1) == 0;
		break;
	case VIRTIO_CONSOLE_DEVICE_REMOVE:
		p->added = p->ready = p->host_open = p->guest_open = false;
		break;
	case VIRTIO_CONSOLE_CONSOLE_PORT:
		/* spec 5.3.6.2: the driver MUST answer with PORT_OPEN 1 */
		if (!m.value || !p->ready)
			break;
		s->console_port = (int)m.id;
		if (ctrl_send_msg(d, s, m.id, VIRTIO_CONSOLE_PORT_OPEN, 1) == 0)
			p->guest_open = true;
		break;
	case VIRTIO_CONSOLE_RESIZE:
		if (len >= VIRTIO_CONSOLE_CONTROL_SIZE + 4) {
			s->resized = true;
			s->cols = m.cols;
			s->rows = m.rows;
		}
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		p->host_open = m.value != 0;
		break;
	case VIRTIO_CONSOLE_PORT_NAME:
		memcpy(p->name, m.name, sizeof(p->name));
		break;
	}
}

static int reap_ctrl(struct vq_drv *d, struct drv_console *s)
{
	uint8_t buf[VQ_DRV_CONSOLE_CTRL_BUF_SIZE];
	uint64_t token;
	uint32_t len;
	int n = 0, reposted = 0;

	if (!s->multiport)
		return 0;
	while (vq_drv_get_used(d, VQ_CONSOLE_CTRL_RXQ, &token, &len) == 1) {
		n++;
		if (token >= VQ_DRV_CONSOLE_CTRL_BUFS)
			continue;
		if (len > sizeof(buf))
			len = sizeof(buf); /* trust only the buffer we gave */
		if (vq_mem_read(vq_machine_mem(d->m),
				s->ctrl_rx_gpa + token * VQ_DRV_CONSOLE_CTRL_BUF_SIZE, buf, len) == 0)
			ctrl_handle(d, s, buf, len);
		if (post_ctrl_rx(d, s, (unsigned)token) == 0)
			reposted++;
	}
	while (vq_drv_get_used(d, VQ_CONSOLE_CTRL_TXQ, &token, NULL) == 1) {
		n++;
		if (token < VQ_DRV_CONSOLE_CTRL_TX_BUFS)
			s->ctrl_tx_busy[token] = false;
	}
	if (reposted)
		vq_drv_kick(d, VQ_CONSOLE_CTRL_RXQ);
	return n;
}

static int reap_port(struct vq_drv *d, struct drv_con_port *p, unsigned port)
{
	uint64_t token;
	uint32_t len;
	int n = 0;

	while (vq_drv_get_used(d, vq_console_txq(port), &token, NULL) == 1) {
		n++;
		if (token < VQ_DRV_CONSOLE_TX_BUFS)
			p->tx_len[token] = 0;
	}
	while (p->fcount < VQ_DRV_CONSOLE_RX_BUFS &&
	       vq_drv_get_used(d, vq_console_rxq(port), &token, &len) == 1) {
		struct drv_con_filled *f;

		n++;
		if (token >= VQ_DRV_CONSOLE_RX_BUFS)
			continue;
		f = &p->filled[(p->fhead + p->fcount++) % VQ_DRV_CONSOLE_RX_BUFS];
		f->slot = (uint16_t)token;
		f->len = len > VQ_DRV_CONSOLE_RX_BUF_SIZE ? VQ_DRV_CONSOLE_RX_BUF_SIZE : len;
		f->off = 0;
	}
	return n;
}

/* Run the machine and reap until nothing moves (bounded). */
static int service(struct vq_drv *d, struct drv_console *s)
{
	int total = 0;

	for (int round = 0; round < DRV_CONSOLE_SERVICE_ROUNDS; round++) {
		int n;

		vq_machine_run(d->m, DRV_CONSOLE_RUN_MAX);
		if (vq_drv_irq_pending(d))
			vq_drv_ack_interrupt(d); /* what the interrupt handler does */
		n = reap_ctrl(d, s);
		for (unsigned i = 0; i < s->nports; i++)
			if (s->port[i].queues)
				n += reap_port(d, &s->port[i], i);
		total += n;
		if (n == 0 && vq_machine_pending(d->m) == 0)
			break;
	}
	return total;
}

/* ---- init --------------------------------------------------------------- */

static int setup_port(struct vq_drv *d, struct drv_con_port *p, unsigned port)
{
	int rc;

	if ((rc = vq_drv_setup_queue(d, vq_console_rxq(port), 0)) < 0 ||
	    (rc = vq_drv_setup_queue(d, vq_console_txq(port), 0)) < 0)
		return rc;
	p->rx_gpa = vq_drv_alloc(d, VQ_DRV_CONSOLE_RX_BUFS * VQ_DRV_CONSOLE_RX_BUF_SIZE, 64);
	p->tx_gpa = vq_drv_alloc(d, VQ_DRV_CONSOLE_TX_BUFS * VQ_DRV_CONSOLE_TX_BUF_SIZE, 64);
	if (!p->rx_gpa || !p->tx_gpa)
		return -VQ_E_NOMEM;
	p->queues = true;
	return 0;
}

int vq_drv_console_init(struct vq_drv *d, uint64_t features)
{
	uint64_t want[VQ_FEATURE_WORDS] = {features, 0};
	struct drv_console *s;
	int rc;

	if (d->dev_state_free)
		d->dev_state_free(d);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -VQ_E_NOMEM;
	d->dev_state = s;
	d->dev_state_free = drv_console_free;
	s->console_port = -1;
	s->nports = 1;
	if ((rc = vq_drv_negotiate(d, want)) < 0)
		return rc;
	s->multiport = vq_drv_has_feature(d, VIRTIO_CONSOLE_F_MULTIPORT);
	if (s->multiport) {
		uint32_t max = 0;

		if ((rc = vq_drv_config_read(d, VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, &max, 4)) < 0)
			return rc;
		max = VQ_LE32(max);
		if (max == 0)
			return -VQ_E_INVAL;
		s->nports = max > VQ_CONSOLE_MAX_PORTS ? VQ_CONSOLE_MAX_PORTS : max;
	}
	if ((rc = setup_port(d, &s->port[0], 0)) < 0)
		return rc;
	if (s->multiport) {
		if ((rc = vq_drv_setup_queue(d, VQ_CONSOLE_CTRL_RXQ, 0)) < 0 ||
		    (rc = vq_drv_setup_queue(d, VQ_CONSOLE_CTRL_TXQ, 0)) < 0)
			return rc;
		s->ctrl_rx_gpa = vq_drv_alloc(
			d, VQ_DRV_CONSOLE_CTRL_BUFS * VQ_DRV_CONSOLE_CTRL_BUF_SIZE, 64);
		s->ctrl_tx_gpa = vq_drv_alloc(
			d, VQ_DRV_CONSOLE_CTRL_TX_BUFS * VQ_DRV_CONSOLE_CTRL_TX_SIZE, 64);
		if (!s->ctrl_rx_gpa || !s->ctrl_tx_gpa)
			return -VQ_E_NOMEM;
		for (unsigned i = 1; i < s->nports; i++)
			if ((rc = setup_port(d, &s->port[i], i)) < 0)
				return rc;
	}
	if ((rc = vq_drv_driver_ok(d)) < 0)
		return rc;
	for (unsigned i = 0; i < s->nports; i++) {
		for (unsigned b = 0; b < VQ_DRV_CONSOLE_RX_BUFS; b++)
			if ((rc = post_rx(d, &s->port[i], i, b)) < 0)
				return rc;
		if ((rc = vq_drv_kick(d, vq_console_rxq(i))) < 0)
			return rc;
	}
	if (s->multiport) {
		for (unsigned b = 0; b < VQ_DRV_CONSOLE_CTRL_BUFS; b++)
			if ((rc = post_ctrl_rx(d, s, b)) < 0)
				return rc;
		if ((rc = vq_drv_kick(d, VQ_CONSOLE_CTRL_RXQ)) < 0)
			return rc;
		if ((rc = ctrl_send_msg(d, s, 0, VIRTIO_CONSOLE_DEVICE_READY, 1)) < 0)
			return rc;
	}
	service(d, s);
	return 0;
}

unsigned vq_drv_console_ports(const struct vq_drv *d)
{
	const struct drv_console *s = state(d);

	return s ? s->nports : 0;
}

/* The initialised state and port p, or NULL with *rc set. */
static struct drv_con_port *port_of(struct vq_drv *d, unsigned port, struct drv_console **sp,
				    long *rc)
{
	struct drv_console *s = state(d);

	if (!s) {
		*rc = -VQ_E_STATE;
		return NULL;
	}
	if (port >= s->nports) {
		*rc = -VQ_E_INVAL;
		return NULL;
	}
	if (!s->port[port].queues) {
		*rc = -VQ_E_STATE;
		return NULL;
	}
	*sp = s;
	return &s->port[port];
}

/* ---- data --------------------------------------------------------------- */

long vq_drv_console_write(struct vq_drv *d, unsigned port, const void *data, size_t len)
{
	struct drv_console *s;
	struct drv_con_port *p;
	size_t done = 0;
	long rc = 0;

	if (!(p = port_of(d, port, &s, &rc)))
		return rc;
	if (!data && len)
		return -VQ_E_INVAL;
	service(d, s);
	while (done < len) {
		unsigned slot;
		uint32_t n;
		struct vq_buf b;

		for (slot = 0; slot < VQ_DRV_CONSOLE_TX_BUFS && p->tx_len[slot]; slot++)
			;
		if (slot == VQ_DRV_CONSOLE_TX_BUFS) {
			/* all in flight: let the device take some, then look again */
			vq_drv_kick(d, vq_console_txq(port));
			service(d, s);
			for (slot = 0; slot < VQ_DRV_CONSOLE_TX_BUFS && p->tx_len[slot]; slot++)
				;
			if (slot == VQ_DRV_CONSOLE_TX_BUFS)
				break;
		}
		n = len - done > VQ_DRV_CONSOLE_TX_BUF_SIZE ? VQ_DRV_CONSOLE_TX_BUF_SIZE
							     : (uint32_t)(len - done);
		b = (struct vq_buf){.gpa = p->tx_gpa + (uint64_t)slot * VQ_DRV_CONSOLE_TX_BUF_SIZE,
				    .len = n, .writable = false};
		if ((rc = vq_mem_write(vq_machine_mem(d->m), b.gpa, (const uint8_t *)data + done,
				       n)) < 0 ||
		    (rc = vq_drv_add(d, vq_console_txq(port), &b, 1, slot)) < 0)
			return done ? (long)done : rc;
		p->tx_len[slot] = n;
		done += n;
	}
	rc = vq_drv_kick(d, vq_console_txq(port));
	service(d, s);
	return rc < 0 && !done ? rc : (long)done;
}

uint64_t vq_drv_console_tx_pending(const struct vq_drv *d, unsigned port)
{
	const struct drv_console *s = state(d);
	uint64_t sum = 0;

	if (!s || port >= s->nports)
		return 0;
	for (unsigned i = 0; i < VQ_DRV_CONSOLE_TX_BUFS; i++)
		sum += s->port[port].tx_len[i];
	return sum;
}

/* Copy filled bytes out, reposting consumed buffers; *reposted counts them. */
static size_t take(struct vq_drv *d, struct drv_con_port *p, unsigned port, uint8_t *buf,
		   size_t cap, unsigned *reposted)
{
	size_t done = 0;

	while (p->fcount && done < cap) {
		struct drv_con_filled *f = &p->filled[p->fhead];
		size_t n = f->len - f->off;

		if (n > cap - done)
			n = cap - done;
		if (n && vq_mem_read(vq_machine_mem(d->m),
				     p->rx_gpa + (uint64_t)f->slot * VQ_DRV_CONSOLE_RX_BUF_SIZE +
					     f->off,
				     buf + done, n) < 0)
			break;
		f->off += (uint32_t)n;
		done += n;
		if (f->off < f->len)
			break;
		if (post_rx(d, p, port, f->slot) == 0)
			(*reposted)++;
		p->fhead = (p->fhead + 1) % VQ_DRV_CONSOLE_RX_BUFS;
		p->fcount--;
	}
	return done;
}

long vq_drv_console_read(struct vq_drv *d, unsigned port, void *buf, size_t cap)
{
	struct drv_console *s;
	struct drv_con_port *p;
	size_t done = 0;
	long rc = 0;

	if (!(p = port_of(d, port, &s, &rc)))
		return rc;
	if (!buf && cap)
		return -VQ_E_INVAL;
	for (int round = 0; round < DRV_CONSOLE_READ_ROUNDS && done < cap; round++) {
		unsigned reposted = 0;
		size_t n;

		service(d, s);
		n = take(d, p, port, (uint8_t *)buf + done, cap - done, &reposted);
		done += n;
		if (reposted)
			vq_drv_kick(d, vq_console_rxq(port)); /* the device may have more */
		else if (n == 0)
			break;
	}
	return (long)done;
}

int vq_drv_console_poll(struct vq_drv *d)
{
	struct drv_console *s = state(d);

	return s ? service(d, s) : -VQ_E_STATE;
}

/* ---- control ------------------------------------------------------------ */

int vq_drv_console_send_ctrl(struct vq_drv *d, const void *msg, uint32_t len)
{
	struct drv_console *s = state(d);
	int rc;

	if (!s || !s->multiport)
		return -VQ_E_STATE;
	if (!msg || len == 0 || len > VQ_DRV_CONSOLE_CTRL_TX_SIZE)
		return -VQ_E_INVAL;
	rc = ctrl_send(d, s, msg, len);
	if (rc == -VQ_E_NOSPC) {
		service(d, s);
		rc = ctrl_send(d, s, msg, len);
	}
	service(d, s);
	return rc;
}

int vq_drv_console_open(struct vq_drv *d, unsigned port, bool open)
{
	struct drv_console *s = state(d);
	uint8_t msg[VIRTIO_CONSOLE_CONTROL_SIZE];
	uint32_t id = VQ_LE32(port);
	uint16_t ev = VQ_LE16(VIRTIO_CONSOLE_PORT_OPEN), val = VQ_LE16(open ? 1 : 0);
	int rc;

	if (!s || !s->multiport)
		return -VQ_E_STATE;
	if (port >= s->nports)
		return -VQ_E_INVAL;
	if (!s->port[port].ready)
		return -VQ_E_STATE;
	memcpy(msg, &id, 4);
	memcpy(msg + 4, &ev, 2);
	memcpy(msg + 6, &val, 2);
	if ((rc = vq_drv_console_send_ctrl(d, msg, sizeof(msg))) == 0)
		s->port[port].guest_open = open;
	return rc;
}

const char *vq_drv_console_port_name(const struct vq_drv *d, unsigned port)
{
	const struct drv_console *s = state(d);

	return s && port < s->nports && s->port[port].name[0] ? s->port[port].name : NULL;
}

bool vq_drv_console_host_open(const struct vq_drv *d, unsigned port)
{
	const struct drv_console *s = state(d);

	return s && port < s->nports && s->port[port].host_open;
}

bool vq_drv_console_port_ready(const struct vq_drv *d, unsigned port)
{
	const struct drv_console *s = state(d);

	return s && port < s->nports && s->port[port].ready;
}

int vq_drv_console_console_port(const struct vq_drv *d)
{
	const struct drv_console *s = state(d);

	return s ? s->console_port : -1;
}

int vq_drv_console_size(const struct vq_drv *d, uint16_t *cols, uint16_t *rows)
{
	const struct drv_console *s = state(d);

	if (!s || !s->resized)
		return -VQ_E_STATE;
	if (cols)
		*cols = s->cols;
	if (rows)
		*rows = s->rows;
	return 0;
}

unsigned vq_drv_console_ctrl_log(const struct vq_drv *d, const struct vq_drv_console_msg **log)
{
	const struct drv_console *s = state(d);

	if (log)
		*log = s ? s->log : NULL;
	return s ? s->nlog : 0;
}

int vq_drv_console_emerg_write(struct vq_drv *d, uint8_t ch)
{
	uint32_t feat = 0, v = VQ_LE32((uint32_t)ch);
	int rc;

	/* read the offer from the register: no negotiation needed (spec 5.3.4) */
	if ((rc = vq_drv_reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0)) < 0 ||
	    (rc = vq_drv_reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES, &feat)) < 0)
		return rc;
	if (!(feat & (1u << VIRTIO_CONSOLE_F_EMERG_WRITE)))
		return -VQ_E_STATE;
	return vq_drv_config_write(d, VIRTIO_CONSOLE_CONFIG_EMERG_WR, &v, 4);
}

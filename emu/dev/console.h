/* console.h - virtio-console (spec 5.3): ports over character backends.
 *
 * Port 0 uses receiveq/transmitq (queues 0 and 1). With MULTIPORT the device
 * also has the control queues (2: control receiveq, 3: control transmitq)
 * and ports 1..N-1 on queues 4, 5, 6, 7, ... A port's backend is a chardev
 * (stdio, socket, pty, file) or "buffer": the C API below is then the
 * host's end of the port.
 *
 * Nothing is dropped on the way: data for the guest waits in a bounded
 * per-port buffer until the guest posts receive buffers (a full buffer
 * stops the backend being read); data from the guest waits in the guest's
 * own transmit chain while the backend cannot take it (the device stops
 * popping that port's transmitq until the backend is writable again).
 */
#ifndef VQSIM_DEV_CONSOLE_H
#define VQSIM_DEV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../device.h"

struct vq_dev_type;
/* Device type "console": options
 * ports=N,multiport=on|off,portI=stdio|socket:PATH|socket-connect:PATH|pty|
 * file:PATH|buffer,nameI=NAME,cols=N,rows=N,emerg=on|off,buffer=BYTES,
 * queue-size=N. */
extern const struct vq_dev_type vq_console_type;

/* ---- spec constants (5.3.3 - 5.3.6) ---- */

/* Feature bits. */
#define VIRTIO_CONSOLE_F_SIZE        0   /* cols/rows in config */
#define VIRTIO_CONSOLE_F_MULTIPORT   1   /* max_nr_ports + control queues */
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2   /* emerg_wr in config */

/* Config space, little-endian. */
struct virtio_console_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
};
#define VIRTIO_CONSOLE_CONFIG_COLS     0
#define VIRTIO_CONSOLE_CONFIG_ROWS     2
#define VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CONFIG_EMERG_WR 8
#define VIRTIO_CONSOLE_CONFIG_SIZE     12

/* Control message header (both control queues), little-endian. PORT_NAME
 * is followed by the name (UTF-8, no NUL), RESIZE by struct
 * virtio_console_resize. */
struct virtio_console_control {
	uint32_t id;      /* port number */
	uint16_t event;   /* VIRTIO_CONSOLE_DEVICE_READY, ... */
	uint16_t value;   /* extra information for the event */
};
#define VIRTIO_CONSOLE_CONTROL_SIZE 8

/* RESIZE payload, in the order of spec 1.2 (cols first). Linux kernels
 * before 2023 read it rows first. */
struct virtio_console_resize {
	uint16_t cols;
	uint16_t rows;
};

/* Control events. */
#define VIRTIO_CONSOLE_DEVICE_READY  0   /* driver: ready for control messages (value 1 ok) */
#define VIRTIO_CONSOLE_DEVICE_ADD    1   /* device: port id exists */
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2   /* device: port id is gone */
#define VIRTIO_CONSOLE_PORT_READY    3   /* driver: port id set up (value 1 ok, 0 failed) */
#define VIRTIO_CONSOLE_CONSOLE_PORT  4   /* device: port id is a console */
#define VIRTIO_CONSOLE_RESIZE        5   /* device: console size changed */
#define VIRTIO_CONSOLE_PORT_OPEN     6   /* both: port id opened (1) / closed (0) */
#define VIRTIO_CONSOLE_PORT_NAME     7   /* device: port id is named (name follows) */

/* ---- limits and layout ---- */

/* Ports: 2 queues each plus the 2 control queues must fit VQ_DEV_MAX_QUEUES. */
#define VQ_CONSOLE_MAX_PORTS ((VQ_DEV_MAX_QUEUES - 2) / 2)
#define VQ_CONSOLE_NAME_MAX 127            /* bytes of a port name */
#define VQ_CONSOLE_BUFFER_DEFAULT 16384u   /* per-port bound of waiting data */
#define VQ_CONSOLE_BUFFER_MAX (16u << 20)
#define VQ_CONSOLE_EMERG_PENDING 64        /* emergency bytes waiting for a busy backend */
#define VQ_CONSOLE_CTRL_RXQ 2              /* control receiveq (c_ivq) */
#define VQ_CONSOLE_CTRL_TXQ 3              /* control transmitq (c_ovq) */

/* receiveq / transmitq of port p (spec 5.3.2 queue numbering). */
static inline unsigned vq_console_rxq(unsigned port)
{
	return port == 0 ? 0 : 2 + 2 * port;
}
static inline unsigned vq_console_txq(unsigned port)
{
	return port == 0 ? 1 : 3 + 2 * port;
}

/* ---- host-side C API ---- */

/* Data for the guest on port: as much of data as fits the port's bound is
 * taken and delivered once the guest posts receive buffers. Returns the
 * bytes accepted (0 when the bound is reached: try again after the guest
 * reads), or -VQ_E_INVAL (not a console, no such port). */
long vq_console_port_write(struct vq_dev *d, unsigned port, const void *data, size_t len);
/* What the guest wrote on port, for ports whose backend is "buffer": up to
 * cap bytes in order. Returns the bytes copied (0 when none), -VQ_E_INVAL
 * (not a console, no such port) or -VQ_E_STATE (the port has a backend:
 * its output goes there). Reading makes room: the device resumes taking
 * the guest's transmit buffers. */
long vq_console_port_read(struct vq_dev *d, unsigned port, void *buf, size_t cap);
/* New console size: updates cols/rows in config and raises a config change
 * interrupt; with MULTIPORT negotiated also sends RESIZE for the console
 * port (port 0) once the guest has it ready. 0 or -VQ_E_INVAL. */
int vq_console_resize(struct vq_dev *d, uint16_t cols, uint16_t rows);

/* Port state: has the guest opened port (PORT_OPEN 1; without MULTIPORT,
 * port 0 counts as open once DRIVER_OK)? Is a host peer connected (always
 * for buffer/stdio/pty/file; sockets while a peer is there)? false for a
 * bad device or port. */
bool vq_console_port_guest_open(const struct vq_dev *d, unsigned port);
bool vq_console_port_host_connected(const struct vq_dev *d, unsigned port);
/* The slave path of a pty port, else NULL. */
const char *vq_console_port_pty_path(const struct vq_dev *d, unsigned port);
/* Bytes waiting: for the guest (not yet in receive buffers) and from the
 * guest (buffer ports: not yet read; plus the untransmitted rest of a
 * transmit chain held by back-pressure). 0 or -VQ_E_INVAL. */
int vq_console_port_queued(const struct vq_dev *d, unsigned port, uint64_t *to_guest,
			   uint64_t *from_guest);

struct vq_console_port_stats {
	uint64_t host_in;       /* bytes accepted from the host (backend reads, port_write) */
	uint64_t to_guest;      /* bytes written into receive buffers */
	uint64_t from_guest;    /* bytes taken from transmit buffers to the host side */
	uint64_t rx_chains, tx_chains;  /* chains completed on receiveq / transmitq */
	uint64_t tx_stalls;     /* times the transmitq stopped: backend or buffer full */
	uint64_t connects;      /* host peers that connected */
	uint64_t hangups;       /* host peers that hung up */
	uint64_t guest_opens, guest_closes; /* PORT_OPEN 1 / 0 from the guest */
	uint64_t bad_chains;    /* receive chains with no writable byte (used 0), or
				   transmit chains carrying writable buffers */
	uint64_t tx_dropped;    /* bytes lost to a backend write error (EIO, ENOSPC) */
	uint64_t tx_discarded;  /* untransmitted bytes of a held chain dropped by reset */
};

struct vq_console_stats {
	unsigned nports;
	bool multiport;               /* MULTIPORT offered */
	uint64_t emerg_writes;        /* emerg_wr characters accepted */
	uint64_t emerg_dropped;       /* ... that could not be output (backend full) */
	uint64_t config_bad_writes;   /* writes to read-only config fields (ignored) */
	uint64_t ctrl_in;             /* well-formed control messages from the driver */
	uint64_t ctrl_out;            /* control messages sent to the driver */
	uint64_t ctrl_short;          /* driver messages under 8 bytes (ignored) */
	uint64_t ctrl_bad_event;      /* unknown or device-only events from the driver */
	uint64_t ctrl_bad_id;         /* port id out of range */
	uint64_t ctrl_unexpected;     /* out of protocol order (port not added, ...) */
	uint64_t ctrl_small_buffers;  /* control receive buffers under 8 bytes (used 0) */
	uint64_t ctrl_truncated;      /* messages cut to fit a small control buffer */
	struct vq_console_port_stats port[VQ_CONSOLE_MAX_PORTS];
};

/* Counters of a console device. 0 or -VQ_E_INVAL (not a console). */
int vq_console_get_stats(const struct vq_dev *d, struct vq_console_stats *st);

#endif

/* drv/console.h - reference-driver helpers for virtio-console (spec 5.3).
 *
 * What the Linux console driver does, reduced to calls a test can make:
 * initialise with chosen features (with MULTIPORT: every port's queues,
 * then the control handshake: DEVICE_READY, a PORT_READY for each
 * DEVICE_ADD, names, console port and host open state recorded), write
 * bytes to a port (split into chains of VQ_DRV_CONSOLE_TX_BUF_SIZE), read
 * what the device delivered (receive buffers reposted as they are
 * consumed), open/close a port, emergency-write a character.
 *
 * The helpers run the machine's events but never poll file descriptors:
 * data from a backend fd enters only when the caller runs vq_machine_poll.
 */
#ifndef VQSIM_DRV_CONSOLE_H
#define VQSIM_DRV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dev/console.h"

struct vq_drv;

/* Buffers per port: receive buffers kept posted, transmit chains in flight. */
#define VQ_DRV_CONSOLE_RX_BUFS 8
#define VQ_DRV_CONSOLE_RX_BUF_SIZE 256
#define VQ_DRV_CONSOLE_TX_BUFS 8
#define VQ_DRV_CONSOLE_TX_BUF_SIZE 1024
/* Control queues: receive buffers posted, messages sent in flight. */
#define VQ_DRV_CONSOLE_CTRL_BUFS 16
#define VQ_DRV_CONSOLE_CTRL_BUF_SIZE 256
#define VQ_DRV_CONSOLE_CTRL_TX_BUFS 8
#define VQ_DRV_CONSOLE_CTRL_TX_SIZE 64
/* Control messages from the device kept for inspection. */
#define VQ_DRV_CONSOLE_LOG 256

/* One control message received from the device. */
struct vq_drv_console_msg {
	uint32_t id;
	uint16_t event, value;
	uint32_t len;                         /* bytes the device wrote */
	char name[VQ_CONSOLE_NAME_MAX + 1];   /* PORT_NAME: the name */
	uint16_t cols, rows;                  /* RESIZE: the size */
};

/* Negotiate features (console bits and ring bits, low word; VERSION_1 is
 * added), set up port 0's queues and, with MULTIPORT, the control queues and
 * the queues of every port up to max_nr_ports; DRIVER_OK; post receive
 * buffers; with MULTIPORT run the handshake until the device is quiet
 * (PORT_READY 1 for each DEVICE_ADD, PORT_OPEN 1 for the CONSOLE_PORT).
 * 0, -VQ_E_NOMEM, -VQ_E_INVAL (max_nr_ports 0) or a vq_drv_* error. */
int vq_drv_console_init(struct vq_drv *d, uint64_t features);
/* Ports the driver uses: max_nr_ports with MULTIPORT, else 1 (0 before init). */
unsigned vq_drv_console_ports(const struct vq_drv *d);

/* Queue len bytes for port as transmit chains of at most
 * VQ_DRV_CONSOLE_TX_BUF_SIZE, kick and run the machine. Returns the bytes
 * posted (fewer than len when every transmit buffer is still held by the
 * device: back-pressure; call again later), or -VQ_E_INVAL / -VQ_E_STATE
 * (not initialised, port not set up) or a ring error. */
long vq_drv_console_write(struct vq_drv *d, unsigned port, const void *data, size_t len);
/* Bytes posted on port's transmitq that the device has not used yet. */
uint64_t vq_drv_console_tx_pending(const struct vq_drv *d, unsigned port);
/* Run the machine, reap the receive buffers the device filled and copy up
 * to cap bytes out in order, reposting each buffer once it is consumed.
 * Returns the bytes copied (0 when nothing came), or -VQ_E_INVAL /
 * -VQ_E_STATE. */
long vq_drv_console_read(struct vq_drv *d, unsigned port, void *buf, size_t cap);
/* Run the machine, handle control messages (answering DEVICE_ADD), reap
 * used buffers. Returns how many used elements were handled, or
 * -VQ_E_STATE before init. */
int vq_drv_console_poll(struct vq_drv *d);

/* Send PORT_OPEN (value open) for port, as a guest application opening or
 * closing it. 0, -VQ_E_INVAL (no such port), -VQ_E_STATE (no MULTIPORT or
 * port not ready), -VQ_E_NOSPC (control transmit buffers all in flight). */
int vq_drv_console_open(struct vq_drv *d, unsigned port, bool open);
/* Send raw bytes (1..VQ_DRV_CONSOLE_CTRL_TX_SIZE) on the control transmitq,
 * for tests of malformed messages. 0 or the errors of vq_drv_console_open. */
int vq_drv_console_send_ctrl(struct vq_drv *d, const void *msg, uint32_t len);

/* State learnt from control messages: port name (NULL if none), is the host
 * side open, is port ready (PORT_READY 1 sent), the console port (-1 if
 * none), the last RESIZE (returns 0, or -VQ_E_STATE if none came). */
const char *vq_drv_console_port_name(const struct vq_drv *d, unsigned port);
bool vq_drv_console_host_open(const struct vq_drv *d, unsigned port);
bool vq_drv_console_port_ready(const struct vq_drv *d, unsigned port);
int vq_drv_console_console_port(const struct vq_drv *d);
int vq_drv_console_size(const struct vq_drv *d, uint16_t *cols, uint16_t *rows);
/* The control messages received so far, in order: *log gets the array (at
 * most VQ_DRV_CONSOLE_LOG entries); returns how many. */
unsigned vq_drv_console_ctrl_log(const struct vq_drv *d, const struct vq_drv_console_msg **log);

/* Write ch to emerg_wr (4-byte access, as Linux does). Works before feature
 * negotiation, as the spec allows. 0, -VQ_E_STATE (EMERG_WRITE not offered)
 * or a bus error. */
int vq_drv_console_emerg_write(struct vq_drv *d, uint8_t ch);

#endif

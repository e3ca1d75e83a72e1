/* vhost_user.h - the vhost-user protocol (QEMU's docs/interop/vhost-user.rst):
 * message layout, request numbers, and a codec that reads and writes
 * messages with their file descriptors over a UNIX stream socket.
 *
 * Direction-neutral: the back-end transport (emu/transport/vhost_backend.c)
 * uses it now, a front-end device can use it later. Every message read is
 * hostile input: vq_vhost_recv() bounds the payload and the descriptors,
 * vq_vhost_check() applies each request's size and fd-count rule, and the
 * descriptors a message carried are closed on every path that does not
 * take them (vq_vhost_msg_close_fds()).
 */
#ifndef VQSIM_VHOST_USER_H
#define VQSIM_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

#include "../base.h"

enum vq_vhost_req {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_REQ_MAX = 41
};

/* Header flags. */
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY 0x4u
#define VHOST_USER_NEED_REPLY 0x8u

/* Virtio feature bit 30 in GET/SET_FEATURES: protocol features exist. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
enum {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
	VHOST_USER_PROTOCOL_F_CONFIG = 9,
	VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHOST_USER_PROTOCOL_F_STATUS = 16,
};

/* In SET_VRING_KICK/CALL/ERR's u64: the ring index and "no fd". */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD (1u << 8)

#define VHOST_USER_MAX_REGIONS 8
#define VHOST_USER_MAX_FDS 8
#define VHOST_USER_CONFIG_MAX 256
#define VHOST_USER_HDR_SIZE 12u

struct vq_vhost_state {
	uint32_t index, num;
};

struct vq_vhost_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;   /* front-end virtual addresses */
};

struct vq_vhost_region {
	uint64_t gpa, size, uva, mmap_offset;
};

struct vq_vhost_memory {
	uint32_t nregions, padding;
	struct vq_vhost_region regions[VHOST_USER_MAX_REGIONS];
};

struct vq_vhost_mem_reg {
	uint64_t padding;
	struct vq_vhost_region region;
};

struct vq_vhost_config {
	uint32_t offset, size, flags;
	uint8_t payload[VHOST_USER_CONFIG_MAX];
};

/* One message as it travels: 12-byte header, payload, descriptors. The
 * payload is kept in wire format (little-endian, packed as the spec lays
 * it out, which matches these structs on x86-64 and every LE 64-bit host). */
struct vq_vhost_msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct vq_vhost_state state;
		struct vq_vhost_addr addr;
		struct vq_vhost_memory memory;
		struct vq_vhost_mem_reg mem_reg;
		struct vq_vhost_config config;
		uint8_t bytes[sizeof(struct vq_vhost_memory)];
	} p;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

#define VHOST_USER_PAYLOAD_MAX (sizeof(((struct vq_vhost_msg *)0)->p))

/* The request's name ("SET_VRING_ADDR"), or "UNKNOWN". */
const char *vq_vhost_req_name(uint32_t request);

/* Read one message from sock (blocking until whole). Returns 1 with *m
 * filled, 0 at end of file before a header, or -VQ_E_VHOST_MSG (a header
 * or payload cut short, a payload larger than any message, more than
 * VHOST_USER_MAX_FDS descriptors, a bad version) / -VQ_E_SYS with why
 * naming the problem. On error no descriptor is left open. */
int vq_vhost_recv(int sock, struct vq_vhost_msg *m, char *why, size_t whylen);

/* Write m (header, m->size payload bytes, m->nfds descriptors). 0 or
 * -VQ_E_SYS. The descriptors stay the caller's. */
int vq_vhost_send(int sock, const struct vq_vhost_msg *m);

/* Check m against its request's rule for the front-end -> back-end
 * direction: payload size (exact, or bounded for variable ones) and the
 * number of descriptors. 0, or -VQ_E_VHOST_MSG with why naming the rule. */
int vq_vhost_check(const struct vq_vhost_msg *m, char *why, size_t whylen);

/* Close every descriptor m still carries (set to -1). */
void vq_vhost_msg_close_fds(struct vq_vhost_msg *m);

/* Make *m a reply to req with a payload of size bytes (zeroed). */
void vq_vhost_reply_init(struct vq_vhost_msg *m, uint32_t request, uint32_t size);

#endif

/* msg.c - the vhost-user message codec: framing, descriptor passing and
 * each request's size rule. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vhost_user.h"

static const char *const names[VHOST_USER_REQ_MAX] = {
	[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
	[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
	[VHOST_USER_SET_OWNER] = "SET_OWNER",
	[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
	[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
	[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
	[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
	[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
	[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
	[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
	[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
	[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
	[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VHOST_USER_SEND_RARP] = "SEND_RARP",
	[VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
	[VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
	[VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
	[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
	[VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
	[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
	[VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
	[VHOST_USER_SET_STATUS] = "SET_STATUS",
	[VHOST_USER_GET_STATUS] = "GET_STATUS",
};

const char *vq_vhost_req_name(uint32_t request)
{
	return request < VHOST_USER_REQ_MAX && names[request] ? names[request] : "UNKNOWN";
}

void vq_vhost_msg_close_fds(struct vq_vhost_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* Read exactly len bytes (no descriptors expected). 1, 0 at EOF before any
 * byte, or -1 (errno set; EPROTO for EOF in the middle). */
static int read_full(int sock, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(sock, (char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (got == 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

int vq_vhost_recv(int sock, struct vq_vhost_msg *m, char *why, size_t whylen)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint8_t hdr[VHOST_USER_HDR_SIZE];
	struct iovec iov = {hdr, sizeof(hdr)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(why, whylen, "recvmsg: %s", strerror(errno));
		return -VQ_E_SYS;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VHOST_USER_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(why, whylen, "more than %d file descriptors with one message",
			 VHOST_USER_MAX_FDS);
		rc = -VQ_E_VHOST_MSG;
		goto fail;
	}
	if (n == 0 && m->nfds == 0)
		return 0;
	if ((size_t)n < sizeof(hdr)) {
		/* the rest of the header may follow in another segment */
		rc = read_full(sock, hdr + n, sizeof(hdr) - (size_t)n);
		if (rc <= 0) {
			snprintf(why, whylen, "header cut short after %zd of %u bytes", n,
				 VHOST_USER_HDR_SIZE);
			rc = -VQ_E_VHOST_MSG;
			goto fail;
		}
	}
	memcpy(&m->request, hdr, 4);
	memcpy(&m->flags, hdr + 4, 4);
	memcpy(&m->size, hdr + 8, 4);
	m->request = VQ_LE32(m->request);
	m->flags = VQ_LE32(m->flags);
	m->size = VQ_LE32(m->size);
	if ((m->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION) {
		snprintf(why, whylen, "%s: version %u in flags 0x%x, expected %u",
			 vq_vhost_req_name(m->request), m->flags & VHOST_USER_VERSION_MASK, m->flags,
			 VHOST_USER_VERSION);
		rc = -VQ_E_VHOST_MSG;
		goto fail;
	}
	if (m->size > VHOST_USER_PAYLOAD_MAX) {
		snprintf(why, whylen, "%s: payload of %u bytes, no message has more than %zu",
			 vq_vhost_req_name(m->request), m->size, VHOST_USER_PAYLOAD_MAX);
		rc = -VQ_E_VHOST_MSG;
		goto fail;
	}
	if (m->size && read_full(sock, m->p.bytes, m->size) <= 0) {
		snprintf(why, whylen, "%s: payload cut short (%u bytes announced)",
			 vq_vhost_req_name(m->request), m->size);
		rc = -VQ_E_VHOST_MSG;
		goto fail;
	}
	return 1;
fail:
	vq_vhost_msg_close_fds(m);
	return rc;
}

int vq_vhost_send(int sock, const struct vq_vhost_msg *m)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint32_t hdr[3] = {VQ_LE32(m->request), VQ_LE32(m->flags), VQ_LE32(m->size)};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)m->p.bytes, m->size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = m->size ? 2 : 1};
	size_t total = sizeof(hdr) + m->size;
	ssize_t n;

	if (m->size > VHOST_USER_PAYLOAD_MAX || m->nfds > VHOST_USER_MAX_FDS)
		return -VQ_E_INVAL;
	if (m->nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(m->nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(m->nfds * sizeof(int));
		memcpy(CMSG_DATA(c), m->fds, m->nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -VQ_E_SYS;
	/* a stream socket may take part of it: send the rest without fds */
	while ((size_t)n < total) {
		size_t off = (size_t)n;
		const char *p = off < sizeof(hdr) ? (const char *)hdr + off
						  : (const char *)m->p.bytes + (off - sizeof(hdr));
		size_t len = off < sizeof(hdr) ? sizeof(hdr) - off : total - off;
		ssize_t k = send(sock, p, len, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -VQ_E_SYS;
		n += k;
	}
	return 0;
}

void vq_vhost_reply_init(struct vq_vhost_msg *m, uint32_t request, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->request = request;
	m->flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
	m->size = size;
}

/* Payload rules, front-end to back-end: exact size (or at least min and at
 * most max for variable ones) and descriptor count. */
struct rule {
	uint16_t min, max;
	uint8_t fds_min, fds_max;
	bool served;         /* a rule exists: the request is served */
};

#define SZ(t) ((uint16_t)sizeof(t))
static const struct rule rules[VHOST_USER_REQ_MAX] = {
	[VHOST_USER_GET_FEATURES] = {0, 0, 0, 0, true},
	[VHOST_USER_SET_FEATURES] = {8, 8, 0, 0, true},
	[VHOST_USER_SET_OWNER] = {0, 0, 0, 0, true},
	[VHOST_USER_RESET_OWNER] = {0, 0, 0, 0, true},
	[VHOST_USER_SET_MEM_TABLE] = {8, SZ(struct vq_vhost_memory), 1, VHOST_USER_MAX_REGIONS, true},
	[VHOST_USER_SET_VRING_NUM] = {8, 8, 0, 0, true},
	[VHOST_USER_SET_VRING_ADDR] = {SZ(struct vq_vhost_addr), SZ(struct vq_vhost_addr), 0, 0, true},
	[VHOST_USER_SET_VRING_BASE] = {8, 8, 0, 0, true},
	[VHOST_USER_GET_VRING_BASE] = {8, 8, 0, 0, true},
	[VHOST_USER_SET_VRING_KICK] = {8, 8, 0, 1, true},
	[VHOST_USER_SET_VRING_CALL] = {8, 8, 0, 1, true},
	[VHOST_USER_SET_VRING_ERR] = {8, 8, 0, 1, true},
	[VHOST_USER_GET_PROTOCOL_FEATURES] = {0, 0, 0, 0, true},
	[VHOST_USER_SET_PROTOCOL_FEATURES] = {8, 8, 0, 0, true},
	[VHOST_USER_GET_QUEUE_NUM] = {0, 0, 0, 0, true},
	[VHOST_USER_SET_VRING_ENABLE] = {8, 8, 0, 0, true},
	[VHOST_USER_SET_BACKEND_REQ_FD] = {0, 0, 1, 1, true},
	[VHOST_USER_GET_CONFIG] = {12, SZ(struct vq_vhost_config), 0, 0, true},
	[VHOST_USER_SET_CONFIG] = {12, SZ(struct vq_vhost_config), 0, 0, true},
	[VHOST_USER_RESET_DEVICE] = {0, 0, 0, 0, true},
	[VHOST_USER_GET_MAX_MEM_SLOTS] = {0, 0, 0, 0, true},
	[VHOST_USER_ADD_MEM_REG] = {SZ(struct vq_vhost_mem_reg), SZ(struct vq_vhost_mem_reg), 1, 1, true},
	[VHOST_USER_REM_MEM_REG] = {SZ(struct vq_vhost_mem_reg), SZ(struct vq_vhost_mem_reg), 0, 1, true},
	[VHOST_USER_SET_STATUS] = {8, 8, 0, 0, true},
	[VHOST_USER_GET_STATUS] = {0, 0, 0, 0, true},
};

int vq_vhost_check(const struct vq_vhost_msg *m, char *why, size_t whylen)
{
	const char *name = vq_vhost_req_name(m->request);
	const struct rule *r;

	if (m->request >= VHOST_USER_REQ_MAX || !names[m->request]) {
		snprintf(why, whylen, "unknown request %u", m->request);
		return -VQ_E_VHOST_MSG;
	}
	r = &rules[m->request];
	if (!r->served) {
		snprintf(why, whylen, "%s is not supported", name);
		return -VQ_E_VHOST_MSG;
	}
	if (m->flags & VHOST_USER_REPLY) {
		snprintf(why, whylen, "%s: a reply where a request was due (flags 0x%x)", name,
			 m->flags);
		return -VQ_E_VHOST_MSG;
	}
	if (m->size < r->min || m->size > r->max) {
		if (r->min == r->max)
			snprintf(why, whylen, "%s: payload of %u bytes, the request has %u", name,
				 m->size, r->min);
		else
			snprintf(why, whylen, "%s: payload of %u bytes, the request has %u..%u", name,
				 m->size, r->min, r->max);
		return -VQ_E_VHOST_MSG;
	}
	if (m->nfds < r->fds_min || m->nfds > r->fds_max) {
		snprintf(why, whylen, "%s: %u file descriptors, the request takes %u..%u", name,
			 m->nfds, r->fds_min, r->fds_max);
		return -VQ_E_VHOST_MSG;
	}
	switch (m->request) {
	case VHOST_USER_SET_MEM_TABLE: {
		uint32_t n = VQ_LE32(m->p.memory.nregions);

		if (n == 0 || n > VHOST_USER_MAX_REGIONS ||
		    m->size < 8 + n * sizeof(struct vq_vhost_region)) {
			snprintf(why, whylen, "SET_MEM_TABLE: %u regions in a %u-byte payload (1..%d)",
				 n, m->size, VHOST_USER_MAX_REGIONS);
			return -VQ_E_VHOST_MSG;
		}
		if (m->nfds != n) {
			snprintf(why, whylen, "SET_MEM_TABLE: %u regions but %u file descriptors", n,
				 m->nfds);
			return -VQ_E_VHOST_MSG;
		}
		break;
	}
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR: {
		bool nofd = VQ_LE64(m->p.u64) & VHOST_USER_VRING_NOFD;

		if (nofd != (m->nfds == 0)) {
			snprintf(why, whylen, "%s: %s flag with %u file descriptors", name,
				 nofd ? "no-fd" : "no no-fd", m->nfds);
			return -VQ_E_VHOST_MSG;
		}
		break;
	}
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG: {
		uint32_t sz = VQ_LE32(m->p.config.size);

		if (sz > VHOST_USER_CONFIG_MAX || m->size != 12 + sz) {
			snprintf(why, whylen, "%s: config size %u in a %u-byte payload (at most %d)",
				 name, sz, m->size, VHOST_USER_CONFIG_MAX);
			return -VQ_E_VHOST_MSG;
		}
		break;
	}
	}
	return 0;
}

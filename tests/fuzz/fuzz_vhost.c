/* fuzz_vhost.c - the vhost-user back-end fed arbitrary message sequences
 * with file descriptors, as a hostile front-end would send them.
 *
 * The input is a program: messages (the request biased to the real ones,
 * the payload shaped like the request's mostly, its size right mostly,
 * eventfds or the guest-memory memfd attached), guest-memory writes biased
 * to the ring areas the program set up (so the device pops chains the
 * input wrote), kicks, and machine runs. Each message is written to a
 * socketpair and handled at once, as the back-end's fd watch would.
 * Checked beyond crashes and the sanitizers:
 * - every message is handled or refused, never left half done: the
 *   back-end answers each request that wants a reply;
 * - a machine run after any message ends (bounded work per kick);
 * - at the end of the input the front-end leaves: the back-end is
 *   disconnected, every memory region it mapped is gone, the device is
 *   reset, and no file descriptor is left open (the lowest free descriptor
 *   is the one it was before the input).
 * A blk device (RAM backend) is served; the machine is made once. */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "machine.h"

#define GUEST   (1u << 20)            /* the front-end's guest memory */
#define UVA     0x7f0000000000ull     /* where it "has" it mapped */
#define RUN_BOUND 20000

static struct vq_machine *m;
static struct vq_dev *blk;
static struct vq_vhost_backend *b;
static int memfd = -1;
static uint8_t *guest;

static void setup_once(void)
{
	char err[256];

	m = vq_machine_new(1);
	blk = m ? vq_machine_add_mmio(m, "blk", "blk0", "size=64K", 0x0a000000, 5, err,
				      sizeof(err))
		: NULL;
	b = blk ? vq_machine_serve_vhost(m, blk, NULL, err, sizeof(err)) : NULL;
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	if (!b || memfd < 0 || ftruncate(memfd, GUEST) < 0)
		abort();
	guest = mmap(NULL, GUEST, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (guest == MAP_FAILED)
		abort();
}

static const uint32_t requests[] = {
	VHOST_USER_GET_FEATURES,       VHOST_USER_SET_FEATURES,
	VHOST_USER_SET_OWNER,          VHOST_USER_RESET_OWNER,
	VHOST_USER_SET_MEM_TABLE,      VHOST_USER_SET_VRING_NUM,
	VHOST_USER_SET_VRING_ADDR,     VHOST_USER_SET_VRING_BASE,
	VHOST_USER_GET_VRING_BASE,     VHOST_USER_SET_VRING_KICK,
	VHOST_USER_SET_VRING_CALL,     VHOST_USER_SET_VRING_ERR,
	VHOST_USER_GET_PROTOCOL_FEATURES, VHOST_USER_SET_PROTOCOL_FEATURES,
	VHOST_USER_GET_QUEUE_NUM,      VHOST_USER_SET_VRING_ENABLE,
	VHOST_USER_GET_CONFIG,         VHOST_USER_SET_CONFIG,
	VHOST_USER_RESET_DEVICE,       VHOST_USER_SET_STATUS,
	VHOST_USER_ADD_MEM_REG,        VHOST_USER_SET_LOG_BASE,
};

/* The payload size a request has, for the "mostly right" choice. */
static uint32_t natural_size(uint32_t req, const struct vq_vhost_msg *msg)
{
	switch (req) {
	case VHOST_USER_SET_MEM_TABLE:
		return 8 + (msg->p.memory.nregions % 3) * (uint32_t)sizeof(struct vq_vhost_region);
	case VHOST_USER_SET_VRING_ADDR:
		return sizeof(struct vq_vhost_addr);
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		return 12 + (msg->p.config.size % 64);
	case VHOST_USER_ADD_MEM_REG:
		return sizeof(struct vq_vhost_mem_reg);
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_SET_OWNER:
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_RESET_DEVICE:
		return 0;
	default:
		return 8;
	}
}

/* An address in the front-end's space: mostly inside its guest memory. */
static uint64_t pick_uva(struct fuzz_in *in)
{
	uint32_t off = fuzz_u32(in);

	return (fuzz_u8(in) & 7) ? UVA + off % GUEST : fuzz_u64(in);
}

static void op_message(struct fuzz_in *in, int fe, int *kick)
{
	struct vq_vhost_msg msg;
	uint8_t sel = fuzz_u8(in);
	uint32_t req = sel < 240 ? requests[sel % (sizeof(requests) / sizeof(requests[0]))]
				 : fuzz_u32(in);
	uint8_t shape = fuzz_u8(in);
	unsigned nfds = 0;
	int fds[3] = {-1, -1, -1};
	char why[200];

	memset(&msg, 0, sizeof(msg));
	msg.request = req;
	msg.flags = VHOST_USER_VERSION | ((shape & 1) ? VHOST_USER_NEED_REPLY : 0);
	switch (req) {
	case VHOST_USER_SET_MEM_TABLE: {
		unsigned n = fuzz_u8(in) % 3;

		msg.p.memory.nregions = n;
		for (unsigned i = 0; i < n; i++) {
			uint32_t half = GUEST / 2;

			msg.p.memory.regions[i].gpa = (fuzz_u8(in) & 3) ? i * half : fuzz_u32(in);
			msg.p.memory.regions[i].size = (fuzz_u8(in) & 3) ? half : fuzz_u32(in);
			msg.p.memory.regions[i].uva = UVA + i * half;
			msg.p.memory.regions[i].mmap_offset = (fuzz_u8(in) & 3) ? i * half
										: fuzz_u32(in);
		}
		nfds = (fuzz_u8(in) & 3) ? n : fuzz_u8(in) % 3;
		for (unsigned i = 0; i < nfds; i++)
			fds[i] = dup(memfd);
		break;
	}
	case VHOST_USER_SET_VRING_ADDR:
		msg.p.addr.index = fuzz_u8(in) % 3;
		msg.p.addr.desc = pick_uva(in);
		msg.p.addr.used = pick_uva(in);
		msg.p.addr.avail = pick_uva(in);
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		msg.p.u64 = fuzz_u8(in) % 3;
		if (fuzz_u8(in) & 3) {
			fds[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			nfds = 1;
			if (req == VHOST_USER_SET_VRING_KICK && *kick < 0)
				*kick = dup(fds[0]); /* the harness kicks through it */
		} else {
			msg.p.u64 |= VHOST_USER_VRING_NOFD;
		}
		break;
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		msg.p.config.offset = fuzz_u8(in) % 80;
		msg.p.config.size = fuzz_u8(in) % 64;
		for (unsigned i = 0; i < 8; i++)
			msg.p.config.payload[i] = fuzz_u8(in);
		break;
	default: {
		uint32_t idx = fuzz_u8(in) % 3, num = 1u << (fuzz_u8(in) % 10);

		if (fuzz_u8(in) & 1) { /* a u64 (features) or a state */
			msg.p.u64 = fuzz_u64(in);
		} else {
			msg.p.state.index = idx;
			msg.p.state.num = num;
		}
		break;
	}
	}
	msg.size = (shape & 6) ? natural_size(req, &msg) : fuzz_u16(in) % 300;
	if (msg.size > VHOST_USER_PAYLOAD_MAX)
		msg.size = VHOST_USER_PAYLOAD_MAX;
	for (unsigned i = 0; i < nfds; i++)
		msg.fds[i] = fds[i];
	msg.nfds = nfds;
	if (vq_vhost_send(fe, &msg) == 0) {
		int rc = vq_vhost_backend_message(b);

		FUZZ_CHECK(rc != 0, "the back-end saw end of file on a live connection");
		/* an answer is read back when one came (GET_*, or an ack) */
		if (rc > 0) {
			struct vq_vhost_msg r;
			int fl = fcntl(fe, F_GETFL);

			fcntl(fe, F_SETFL, fl | O_NONBLOCK);
			while (vq_vhost_recv(fe, &r, why, sizeof(why)) == 1)
				vq_vhost_msg_close_fds(&r);
			fcntl(fe, F_SETFL, fl);
		}
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	int sv[2], kick = -1, probe, expect;
	unsigned steps = 0;

	if (!m)
		setup_once();
	/* the lowest free descriptor now: it must be free again at the end */
	expect = dup(0);
	close(expect);
	memset(guest, 0, GUEST);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (vq_vhost_backend_attach(b, sv[1]) < 0)
		abort();
	while (in.n && steps++ < 64 && b->conn >= 0) {
		switch (fuzz_u8(&in) % 4) {
		case 0:
		case 1:
			op_message(&in, sv[0], &kick);
			break;
		case 2: { /* the guest writes its rings and buffers */
			uint32_t off = fuzz_u16(&in) % 0x4000;
			unsigned len = fuzz_u8(&in) % 32 + 1;

			for (unsigned i = 0; i < len && off + i < GUEST; i++)
				guest[off + i] = fuzz_u8(&in);
			break;
		}
		default: {
			uint64_t one = 1;

			if (kick >= 0 && write(kick, &one, 8) != 8)
				abort();
			while (vq_machine_poll(m, 0) > 0)
				;
			FUZZ_CHECK(vq_machine_run(m, RUN_BOUND) < RUN_BOUND, "no end to the work");
			break;
		}
		}
	}
	close(sv[0]);
	if (b->conn >= 0)
		vq_vhost_backend_message(b); /* end of file: the back-end lets go */
	FUZZ_CHECK(vq_machine_run(m, RUN_BOUND) < RUN_BOUND, "no end to the work");
	if (kick >= 0)
		close(kick);
	FUZZ_CHECK(b->conn < 0, "still connected after the front-end left");
	FUZZ_CHECK(vq_mem_region_count(vq_machine_mem(m)) == 0,
		   "%u memory regions left after the front-end left",
		   vq_mem_region_count(vq_machine_mem(m)));
	FUZZ_CHECK(blk->status == 0, "device status 0x%x after the front-end left", blk->status);
	probe = dup(0);
	close(probe);
	FUZZ_CHECK(probe == expect, "a file descriptor leaked (lowest free %d, was %d)", probe,
		   expect);
	return 0;
}

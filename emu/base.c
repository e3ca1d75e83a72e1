/* base.c - error names, trace dispatch and the seeded PRNG. */
#include <stdio.h>
#include <string.h>

#include "base.h"

static const struct {
	const char *name;
	const char *text;
} err_table[VQ_E__COUNT] = {
	[VQ_OK] = {"OK", "success"},
	[VQ_E_NOMEM] = {"NOMEM", "out of host memory"},
	[VQ_E_INVAL] = {"INVAL", "invalid argument"},
	[VQ_E_SYS] = {"SYS", "operating-system call failed"},
	[VQ_E_NOSPC] = {"NOSPC", "no free space (ring or table full)"},
	[VQ_E_STATE] = {"STATE", "operation not allowed in the current state"},
	[VQ_E_MEM_UNMAPPED] = {"MEM_UNMAPPED", "range is not wholly inside guest memory (touches a hole)"},
	[VQ_E_MEM_WRAP] = {"MEM_WRAP", "address + length wraps past 2^64"},
	[VQ_E_MEM_FAULT] = {"MEM_FAULT", "access hits an injected memory fault"},
	[VQ_E_RING_LAYOUT] = {"RING_LAYOUT", "queue size or ring placement invalid (size not a power of two in 1..32768, misaligned, or outside guest memory)"},
	[VQ_E_RING_AVAIL_IDX] = {"RING_AVAIL_IDX", "available index more than the queue size ahead of the chains used"},
	[VQ_E_RING_HEAD] = {"RING_HEAD", "available ring entry (chain head) is not below the queue size"},
	[VQ_E_RING_NEXT] = {"RING_NEXT", "descriptor next index is not below the queue or table size"},
	[VQ_E_RING_LOOP] = {"RING_LOOP", "descriptor chain longer than the queue size (loop)"},
	[VQ_E_RING_DESC_MEM] = {"RING_DESC_MEM", "descriptor buffer is not wholly inside guest memory"},
	[VQ_E_RING_ORDER] = {"RING_ORDER", "device-readable descriptor after a device-writable one"},
	[VQ_E_RING_INDIRECT_LEN] = {"RING_INDIRECT_LEN", "indirect table length is 0 or not a multiple of 16"},
	[VQ_E_RING_INDIRECT_NEXT] = {"RING_INDIRECT_NEXT", "descriptor has both INDIRECT and NEXT set"},
	[VQ_E_RING_INDIRECT_NESTED] = {"RING_INDIRECT_NESTED", "INDIRECT descriptor inside an indirect table"},
	[VQ_E_RING_INDIRECT_MEM] = {"RING_INDIRECT_MEM", "indirect table is not wholly inside guest memory"},
	[VQ_E_RING_INDIRECT_FEATURE] = {"RING_INDIRECT_FEATURE", "INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC negotiated"},
	[VQ_E_RING_CHAIN_BYTES] = {"RING_CHAIN_BYTES", "descriptor chain totals more than 2^32 bytes"},
	[VQ_E_RING_RING_MEM] = {"RING_RING_MEM", "a ring area is no longer inside accessible guest memory"},
	[VQ_E_RING_USED_ID] = {"RING_USED_ID", "used element id is out of range or not in flight"},
	[VQ_E_RING_USED_IDX] = {"RING_USED_IDX", "used index moved by more than the chains in flight"},
	[VQ_E_RING_USED_LEN] = {"RING_USED_LEN", "used length exceeds the chain's writable bytes"},
	[VQ_E_RING_BROKEN] = {"RING_BROKEN", "queue is broken until reset"},
	[VQ_E_FEATURES] = {"FEATURES", "feature set refused by the device"},
	[VQ_E_STATUS] = {"STATUS", "illegal device status transition"},
	[VQ_E_BAD_ACCESS] = {"BAD_ACCESS", "register access refused (offset, width or direction)"},
	[VQ_E_NOT_READY] = {"NOT_READY", "device or queue not ready"},
	[VQ_E_TIMEOUT] = {"TIMEOUT", "bounded wait ran out"},
	[VQ_E_RING_WRITE_RING] = {"RING_WRITE_RING",
				  "device-writable buffer overlaps a descriptor table or ring area "
				  "(spec 2.7.5.1)"},
	[VQ_E_VHOST_MSG] = {"VHOST_MSG",
			    "vhost-user message breaks the protocol (payload size, file descriptors, "
			    "order or values; QEMU docs/interop/vhost-user.rst)"},
	/* advanced ring features (feat) */
	[VQ_E_RING_IOMMU] = {"RING_IOMMU",
			     "device address (IOVA) not mapped by the IOMMU for the access "
			     "(VIRTIO_F_ACCESS_PLATFORM, spec 6.1)"},
	/* packed ring */
	[VQ_E_RING_PACKED_ID] = {"RING_PACKED_ID", "packed descriptor's buffer id is not below the queue size"},
	[VQ_E_RING_PACKED_ID_BUSY] = {"RING_PACKED_ID_BUSY", "packed buffer id made available while still in flight"},
	[VQ_E_RING_PACKED_CHAIN] = {"RING_PACKED_CHAIN", "packed chain runs over descriptors still in flight (longer than the free ring)"},
	[VQ_E_RING_PACKED_AVAIL] = {"RING_PACKED_AVAIL", "packed chain continues into a descriptor not marked available (spec 2.8.1)"},
	[VQ_E_RING_PACKED_INDIRECT_FLAGS] = {"RING_PACKED_INDIRECT_FLAGS", "packed indirect table entry with a flag other than WRITE (spec 2.8.19)"},
	[VQ_E_VHOST_PEER] = {"VHOST_PEER", "the vhost-user back-end broke the protocol, did not answer within the timeout or closed the connection"},
	[VQ_E_NO_DEVICE] = {"NO_DEVICE", "no device the driver can drive there: virtio-mmio magic, version or DeviceID 0 (spec 4.2.3.1.1); pci vendor or device id not virtio's (spec 4.1.2.2), or a required virtio structure absent or unusable (spec 4.1.4.1)"},
};

static int err_index(int err)
{
	if (err < 0)
		err = -err;
	return err < VQ_E__COUNT ? err : -1;
}

const char *vq_errname(int err)
{
	int i = err_index(err);
	return i >= 0 && err_table[i].name ? err_table[i].name : "UNKNOWN";
}

const char *vq_strerror(int err)
{
	int i = err_index(err);
	return i >= 0 && err_table[i].text ? err_table[i].text : "unknown error";
}

static const char *const ev_names[VQ_EV__COUNT] = {
	[VQ_EV_REG] = "reg",       [VQ_EV_NOTIFY] = "notify", [VQ_EV_CHAIN] = "chain",
	[VQ_EV_USED] = "used",     [VQ_EV_IRQ] = "irq",       [VQ_EV_STATUS] = "status",
	[VQ_EV_FEATURES] = "features", [VQ_EV_CONFIG] = "config", [VQ_EV_ERROR] = "error",
	[VQ_EV_FAULT] = "fault",   [VQ_EV_DEVICE] = "device", [VQ_EV_MACHINE] = "machine",
};

const char *vq_ev_name(enum vq_ev kind)
{
	return (unsigned)kind < VQ_EV__COUNT ? ev_names[kind] : "?";
}

void vq_tracev(struct vq_tracer *t, enum vq_ev kind, const char *who, int queue,
	       const char *fmt, va_list ap)
{
	char text[512];

	if (!t || !t->on || !t->emit)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	t->emit(t->ctx, kind, who ? who : "-", queue, text);
}

void vq_trace(struct vq_tracer *t, enum vq_ev kind, const char *who, int queue,
	      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vq_tracev(t, kind, who, queue, fmt, ap);
	va_end(ap);
}

/* splitmix64 spreads one 64-bit seed over the 256-bit xoshiro state. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void vq_prng_seed(struct vq_prng *p, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		p->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t vq_prng_next(struct vq_prng *p)
{
	uint64_t *s = p->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void vq_prng_fill(struct vq_prng *p, void *dst, size_t len)
{
	uint8_t *out = dst;

	while (len >= 8) {
		uint64_t v = VQ_LE64(vq_prng_next(p));
		memcpy(out, &v, 8);
		out += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = VQ_LE64(vq_prng_next(p));
		memcpy(out, &v, len);
	}
}

/* empty.c - an empty virtio-mmio transport: DeviceID 0, no device behind
 * it, as the unused slots of QEMU's virtio-mmio machines (spec 4.2.2:
 * "0x0 ... no device"). A driver that probes it must read MagicValue,
 * Version and DeviceID and stop there (spec 4.2.3.1.1); the transport
 * answers any other access with a refusal it counts (bad_accesses), so a
 * test sees a driver that went further.
 */
#include <stdio.h>

#include "../dev.h"

static const struct vq_dev_class empty_class = {
	.name = "empty",
	.device_id = 0,
};

static int empty_create(struct vq_dev *d, struct vq_mem *mem, struct vq_prng *prng,
			const char *name, struct vq_opts *o, char *err, size_t errlen)
{
	static const char *const allowed[] = {NULL};
	int rc;

	(void)prng;
	if ((rc = vq_opts_check(o, allowed, err, errlen)) < 0)
		return rc;
	rc = vq_dev_init(d, &empty_class, name, mem, 0, 0, 0, 0);
	if (rc < 0)
		snprintf(err, errlen, "empty: %s", vq_strerror(rc));
	return rc;
}

const struct vq_dev_type vq_empty_type = {
	.name = "empty",
	.summary = "an empty virtio-mmio transport (DeviceID 0, no device), as QEMU's unused slots",
	.options = "",
	.create = empty_create,
};

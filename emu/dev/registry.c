/* registry.c - device types by name. */
#include <stdio.h>
#include <string.h>

#include "dev.h"

static const struct vq_dev_type *const types[] = {
	&vq_rng_type,
	&vq_blk_type,
	&vq_net_type,
	&vq_balloon_type,
	&vq_console_type,
	&vq_vhost_user_type,
	&vq_empty_type,
};

const struct vq_dev_type *vq_dev_type_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i]->name, name) == 0)
			return types[i];
	return NULL;
}

const struct vq_dev_type *vq_dev_type_at(unsigned i)
{
	return i < sizeof(types) / sizeof(types[0]) ? types[i] : NULL;
}

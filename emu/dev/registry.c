/* registry.c - device types by name, and "key=value,..." option strings. */
#include <stdio.h>
#include <string.h>

#include "dev.h"

static const struct vq_dev_type *const types[] = {
	&vq_rng_type,
	&vq_blk_type,
	&vq_net_type,
	&vq_balloon_type,
	&vq_console_type,
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

/* Split the next "key[=value]" item off *p; returns false at the end. */
static bool next_item(const char **p, const char **key, size_t *keylen, const char **val,
		      size_t *vallen)
{
	const char *s = *p, *end, *eq;

	while (*s == ',')
		s++;
	if (!*s)
		return false;
	end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	eq = memchr(s, '=', (size_t)(end - s));
	*key = s;
	*keylen = (size_t)((eq ? eq : end) - s);
	*val = eq ? eq + 1 : NULL;
	*vallen = eq ? (size_t)(end - eq - 1) : 0;
	*p = end;
	return true;
}

int vq_opt_get(const char *opts, const char *key, char *val, size_t vallen)
{
	const char *p = opts ? opts : "", *k, *v;
	size_t kl, vl;
	int found = 0;

	/* the last occurrence wins, as on a command line */
	while (next_item(&p, &k, &kl, &v, &vl)) {
		if (kl != strlen(key) || strncmp(k, key, kl) != 0)
			continue;
		if (vallen) {
			if (!v) {
				v = "1";
				vl = 1;
			}
			if (vl >= vallen)
				vl = vallen - 1;
			memcpy(val, v, vl);
			val[vl] = '\0';
		}
		found = 1;
	}
	return found;
}

int vq_opt_check(const char *opts, const char *const *allowed, char *err, size_t errlen)
{
	const char *p = opts ? opts : "", *k, *v;
	size_t kl, vl;

	while (next_item(&p, &k, &kl, &v, &vl)) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strlen(*a) == kl && strncmp(*a, k, kl) == 0)
				ok = true;
		if (!ok) {
			char list[160] = "";
			for (const char *const *a = allowed; *a; a++) {
				if (a != allowed)
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
				strncat(list, *a, sizeof(list) - strlen(list) - 1);
			}
			snprintf(err, errlen, "unknown option '%.*s' (expected: %s)", (int)kl, k,
				 *list ? list : "none");
			return -VQ_E_INVAL;
		}
	}
	return 0;
}

/* opts.c - the one option parser (see opts.h for the syntax). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "opts.h"

/* ---- values ---- */

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Digits at *s (decimal, or hex after 0x) into *out, advancing *s past
 * them. Hand-written rather than strtoull: that one reads a leading 0 as
 * octal, skips spaces and accepts a sign. -1 if none or past 2^64. */
static int parse_digits(const char **s, uint64_t *out, bool *hex)
{
	const char *p = *s;
	unsigned base = 10;
	uint64_t v = 0;
	int d;

	*hex = false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		*hex = true;
	}
	if (hexdigit(*p) < 0 || (unsigned)hexdigit(*p) >= base)
		return -1;
	while ((d = hexdigit(*p)) >= 0 && (unsigned)d < base) {
		if (v > (UINT64_MAX - (unsigned)d) / base)
			return -1;
		v = v * base + (unsigned)d;
		p++;
	}
	*out = v;
	*s = p;
	return 0;
}

int vq_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v;
	bool hex;

	if (!s || parse_digits(&s, &v, &hex) < 0 || *s)
		return -VQ_E_INVAL;
	*out = v;
	return 0;
}

int vq_parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;
	bool hex;

	if (!s || parse_digits(&s, &v, &hex) < 0)
		return -VQ_E_INVAL;
	switch (*s) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case '\0': break;
	default: return -VQ_E_INVAL;
	}
	/* "0x1M" is ambiguous to a reader (is M a digit?): no suffix on hex */
	if (shift && (hex || s[1] || v > (UINT64_MAX >> shift)))
		return -VQ_E_INVAL;
	*out = v << shift;
	return 0;
}

int vq_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -VQ_E_INVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexdigit(s[3 * i]), lo = hexdigit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -VQ_E_INVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int vq_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "true", "yes"}, *const no[] = {"off", "false", "no"};

	for (size_t i = 0; s && i < 3; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -VQ_E_INVAL;
}

/* ---- lists ---- */

struct vq_opts *vq_opts_new(const char *who)
{
	struct vq_opts *o = calloc(1, sizeof(*o));

	if (o)
		vq_opts_set_who(o, who);
	return o;
}

void vq_opts_set_who(struct vq_opts *o, const char *who)
{
	snprintf(o->who, sizeof(o->who), "%s", who ? who : "");
}

void vq_opts_free(struct vq_opts *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].key);
		free(o->v[i].val);
	}
	free(o->v);
	free(o);
}

/* Write "who: " + the formatted message into err; returns -VQ_E_INVAL. */
__attribute__((format(printf, 4, 5)))
static int fail(const struct vq_opts *o, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err || !errlen)
		return -VQ_E_INVAL;
	if (o->who[0])
		n = snprintf(err, errlen, "%s: ", o->who);
	if (n < 0 || (size_t)n >= errlen)
		return -VQ_E_INVAL;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -VQ_E_INVAL;
}

static struct vq_opt *find(const struct vq_opts *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].key, key) == 0)
			return &o->v[i];
	return NULL;
}

/* Append, taking ownership of key and val (freed on failure). */
static int add_owned(struct vq_opts *o, char *key, char *val, char *err, size_t errlen)
{
	int rc;

	if (!key[0]) {
		rc = fail(o, err, errlen, "empty option name%s%s%s", val ? " (before '=" : "",
			  val ? val : "", val ? "')" : "");
		goto out;
	}
	if (find(o, key)) {
		rc = fail(o, err, errlen, "option '%s' given twice", key);
		goto out;
	}
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 8;
		struct vq_opt *v = realloc(o->v, cap * sizeof(*v));

		if (!v) {
			rc = -VQ_E_NOMEM;
			fail(o, err, errlen, "out of memory");
			goto out;
		}
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = (struct vq_opt){.key = key, .val = val};
	return 0;
out:
	free(key);
	free(val);
	return rc;
}

int vq_opts_add(struct vq_opts *o, const char *key, const char *val, char *err, size_t errlen)
{
	char *k = strdup(key ? key : ""), *v = val ? strdup(val) : NULL;

	if (!k || (val && !v)) {
		free(k);
		free(v);
		return fail(o, err, errlen, "out of memory"), -VQ_E_NOMEM;
	}
	return add_owned(o, k, v, err, errlen);
}

int vq_opts_parse(struct vq_opts *o, const char *s, char *err, size_t errlen)
{
	const char *p = s ? s : "";

	if (!*p)
		return 0;
	for (;;) {
		size_t kl = strcspn(p, "=,"), n = 0;
		char *key = strndup(p, kl), *val = NULL;
		const char *q = p + kl;
		int rc;

		if (!key)
			return fail(o, err, errlen, "out of memory"), -VQ_E_NOMEM;
		if (*q == '=') {
			/* a value runs to the first single comma; ",," is one comma */
			const char *e = ++q;

			while (*e && !(e[0] == ',' && e[1] != ','))
				e += e[0] == ',' ? 2 : 1;
			val = malloc((size_t)(e - q) + 1);
			if (!val) {
				free(key);
				return fail(o, err, errlen, "out of memory"), -VQ_E_NOMEM;
			}
			for (; q < e; q++) {
				val[n++] = *q;
				if (q[0] == ',')
					q++;
			}
			val[n] = '\0';
		}
		if ((rc = add_owned(o, key, val, err, errlen)) < 0)
			return rc;
		if (!*q)
			return 0;
		p = q + 1; /* past the separating comma */
		if (!*p) /* "a=1," : a trailing comma would be an empty item */
			return fail(o, err, errlen, "empty option after the last ','");
	}
}

struct vq_opts *vq_opts_from_string(const char *s, const char *who, char *err, size_t errlen)
{
	struct vq_opts *o = vq_opts_new(who);

	if (!o) {
		snprintf(err, errlen, "%s%sout of memory", who ? who : "", who ? ": " : "");
		return NULL;
	}
	if (vq_opts_parse(o, s, err, errlen) < 0) {
		vq_opts_free(o);
		return NULL;
	}
	return o;
}

bool vq_opts_has(const struct vq_opts *o, const char *key)
{
	return o && find(o, key);
}

size_t vq_opts_count(const struct vq_opts *o)
{
	return o ? o->n : 0;
}

const char *vq_opts_key(const struct vq_opts *o, size_t i)
{
	return o && i < o->n ? o->v[i].key : NULL;
}

int vq_opts_check(const struct vq_opts *o, const char *const *allowed, char *err,
		  size_t errlen)
{
	for (size_t i = 0; o && i < o->n; i++) {
		const char *const *a = allowed;
		char list[512] = "";
		size_t len = 0;

		while (*a && strcmp(*a, o->v[i].key))
			a++;
		if (*a)
			continue;
		for (a = allowed; *a && len < sizeof(list); a++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						a == allowed ? "" : ", ", *a);
		return fail(o, err, errlen, "unknown option '%s' (expected: %s)", o->v[i].key,
			    allowed[0] ? list : "none");
	}
	return 0;
}

const char *vq_opts_unused(const struct vq_opts *o)
{
	for (size_t i = 0; o && i < o->n; i++)
		if (!o->v[i].used)
			return o->v[i].key;
	return NULL;
}

/* ---- getters ---- */

/* The item key with a value, marked used: 1; 0 if absent; negative (with
 * a message) for a bare key. */
static int lookup(struct vq_opts *o, const char *key, struct vq_opt **out, char *err,
		  size_t errlen)
{
	struct vq_opt *it = o ? find(o, key) : NULL;

	*out = NULL;
	if (!it)
		return 0;
	it->used = true;
	if (!it->val)
		return fail(o, err, errlen, "%s needs a value (%s=...)", key, key);
	*out = it;
	return 1;
}

int vq_opts_str(struct vq_opts *o, const char *key, const char **out, char *err,
		size_t errlen)
{
	struct vq_opt *it;
	int rc = lookup(o, key, &it, err, errlen);

	if (rc > 0)
		*out = it->val;
	return rc;
}

/* " from MIN to MAX", or "" for the whole 64-bit range. */
static const char *range_text(char *buf, size_t len, uint64_t min, uint64_t max)
{
	if (min == 0 && max == UINT64_MAX)
		return "";
	snprintf(buf, len, " from %" PRIu64 " to %" PRIu64, min, max);
	return buf;
}

/* vq_opts_uint() and vq_opts_size(): parse the value of key with parse,
 * check the range; what names the syntax in the error. */
static int number_opt(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		      uint64_t *out, char *err, size_t errlen,
		      int (*parse)(const char *, uint64_t *), const char *what, const char *syntax)
{
	struct vq_opt *it = NULL;
	uint64_t v;
	char r[64];
	int rc = lookup(o, key, &it, err, errlen);

	if (rc <= 0)
		return rc;
	if (parse(it->val, &v) < 0 || v < min || v > max)
		return fail(o, err, errlen, "%s '%s' must be a %s%s (%s)", key, it->val, what,
			    range_text(r, sizeof(r), min, max), syntax);
	*out = v;
	return 1;
}

int vq_opts_uint(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen)
{
	return number_opt(o, key, min, max, out, err, errlen, vq_parse_uint, "number",
			  "decimal or 0x hex");
}

int vq_opts_pow2(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen)
{
	struct vq_opt *it;
	uint64_t v;
	int rc = lookup(o, key, &it, err, errlen);

	if (rc <= 0)
		return rc;
	if (vq_parse_uint(it->val, &v) < 0 || v < min || v > max || (v & (v - 1)))
		return fail(o, err, errlen,
			    "%s '%s' must be a power of two from %" PRIu64 " to %" PRIu64, key,
			    it->val, min, max);
	*out = v;
	return 1;
}

int vq_opts_size(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen)
{
	return number_opt(o, key, min, max, out, err, errlen, vq_parse_size, "size",
			  "bytes, or with suffix K, M, G or T");
}

int vq_opts_bool(struct vq_opts *o, const char *key, bool *out, char *err, size_t errlen)
{
	struct vq_opt *it = o ? find(o, key) : NULL;

	if (!it)
		return 0;
	it->used = true;
	if (!it->val) {
		*out = true;
		return 1;
	}
	if (vq_parse_bool(it->val, out) < 0)
		return fail(o, err, errlen,
			    "%s '%s' must be on or off (also true/false, yes/no)", key, it->val);
	return 1;
}

bool vq_opts_remove(struct vq_opts *o, const char *key)
{
	struct vq_opt *it = o ? find(o, key) : NULL;

	if (!it)
		return false;
	free(it->key);
	free(it->val);
	memmove(it, it + 1, (size_t)(o->v + o->n - (it + 1)) * sizeof(*it));
	o->n--;
	return true;
}

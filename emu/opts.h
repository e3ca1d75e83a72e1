/* opts.h - THE option parser: every device, backend, machine and shell
 * option goes through it, so a user learns one syntax (modelled on QEMU's
 * QemuOpts/keyval).
 *
 * An option list is built from a string "key=value,key2=value2" (",," is a
 * literal comma inside a value: path=/tmp/a,,b.img names /tmp/a,b.img; a
 * bare "key" is a flag, true for a boolean) or key by key with
 * vq_opts_add() (the Lua shell passes a table that way: no joining, no
 * escaping). A key given twice is refused. Typed getters read values and
 * mark keys used; vq_opts_check() refuses keys outside an allowed list, in
 * the order they were given.
 *
 * Value syntax, the same everywhere:
 *   integer  decimal digits ("010000" is ten thousand: never octal), or
 *            0x followed by hex digits; no sign, no spaces
 *   size     an integer, optionally followed by one of K, M, G, T (binary
 *            multiples, either case); "1M" is 1048576. "1MB", "1MiB" and a
 *            suffix after 0x hex are refused
 *   boolean  on, true, yes (and a bare key) / off, false, no
 * Errors name the key and the value: "blk: size '1X' must be ...".
 */
#ifndef VQSIM_OPTS_H
#define VQSIM_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vq_opt {
	char *key;
	char *val;              /* NULL: a bare key ("readonly") */
	bool used;              /* read by a getter */
};

struct vq_opts {
	struct vq_opt *v;
	size_t n, cap;
	char who[24];           /* error prefix ("blk"), empty for none */
};

/* An empty list whose errors are prefixed "who: " (who may be NULL).
 * NULL when out of memory. */
struct vq_opts *vq_opts_new(const char *who);
/* Free o and its strings (NULL is fine). */
void vq_opts_free(struct vq_opts *o);
/* Set the error prefix ("blk"; NULL or "" for none). */
void vq_opts_set_who(struct vq_opts *o, const char *who);
/* Append the items of s ("k=v,k2=v2", ",," escapes a comma; NULL or "" adds
 * nothing). 0, or -VQ_E_INVAL with a message naming the bad item (empty or
 * malformed key, key given twice) or -VQ_E_NOMEM. */
int vq_opts_parse(struct vq_opts *o, const char *s, char *err, size_t errlen);
/* Append key=val (val NULL: a bare key); the value is taken literally.
 * 0, -VQ_E_INVAL (key empty or already given: message in err) or
 * -VQ_E_NOMEM. */
int vq_opts_add(struct vq_opts *o, const char *key, const char *val, char *err, size_t errlen);
/* Parse s into a new list (who as for vq_opts_new). NULL with a message in
 * err on error. */
struct vq_opts *vq_opts_from_string(const char *s, const char *who, char *err, size_t errlen);

/* Whether key was given (does not mark it used). */
bool vq_opts_has(const struct vq_opts *o, const char *key);
/* Number of items, and item i's key (NULL past the end), in given order. */
size_t vq_opts_count(const struct vq_opts *o);
const char *vq_opts_key(const struct vq_opts *o, size_t i);
/* Check that every key is in the NULL-terminated list allowed: 0, or
 * -VQ_E_INVAL with "unknown option 'k' (expected: a, b, ...)" naming the
 * first unknown key in given order. */
int vq_opts_check(const struct vq_opts *o, const char *const *allowed, char *err,
		  size_t errlen);
/* The first key no getter has read, or NULL. */
const char *vq_opts_unused(const struct vq_opts *o);

/* The typed getters. Each returns 1 and sets *out when key was given, 0
 * (leaving *out alone) when it was not, or -VQ_E_INVAL with a message
 * naming key and value ("who: key 'value' must be ...") when the value is
 * malformed or out of range. */
/* A string value (a bare key is an error: it needs a value). */
int vq_opts_str(struct vq_opts *o, const char *key, const char **out, char *err,
		size_t errlen);
/* An integer in [min, max]. */
int vq_opts_uint(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen);
/* A power of two in [min, max] (queue sizes). */
int vq_opts_pow2(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen);
/* A size (integer with optional K/M/G/T suffix) in [min, max]. */
int vq_opts_size(struct vq_opts *o, const char *key, uint64_t min, uint64_t max,
		 uint64_t *out, char *err, size_t errlen);
/* A boolean (a bare key is true). */
int vq_opts_bool(struct vq_opts *o, const char *key, bool *out, char *err, size_t errlen);

/* The value parsers behind the getters, for option-like input elsewhere
 * (command-line numbers, trace filters, Lua strings). 0, or -VQ_E_INVAL
 * when s is malformed or does not fit in 64 bits. */
int vq_parse_uint(const char *s, uint64_t *out);
int vq_parse_size(const char *s, uint64_t *out);
int vq_parse_bool(const char *s, bool *out);
/* A MAC address, exactly "xx:xx:xx:xx:xx:xx" (hex, either case). */
int vq_parse_mac(const char *s, uint8_t mac[6]);

/* Remove key (and its value) from o, e.g. an option one layer reads before
 * handing o to another. Returns true when key was there. */
bool vq_opts_remove(struct vq_opts *o, const char *key);

#endif

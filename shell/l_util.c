/* l_util.c - helpers every binding file shares: classes, errors, sizes,
 * feature names, hexdumps.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvq.h"

/* ---- errors ---- */

int lvq_errorf(lua_State *L, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	luaL_error(L, "%s", msg);
	abort(); /* not reached: luaL_error does not return */
}

/* ---- classes ---- */

static int class_index(lua_State *L)
{
	int (*getter)(lua_State *) = (int (*)(lua_State *))lua_touserdata(L, lua_upvalueindex(2));

	if (getter && lua_type(L, 2) == LUA_TSTRING && getter(L))
		return 1;
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

/* Set methods in the table on top, each named "type:name" for errors. */
static void add_methods(lua_State *L, const char *type, const luaL_Reg *methods)
{
	char name[64];

	for (const luaL_Reg *r = methods; r->name; r++) {
		snprintf(name, sizeof(name), "%s:%s", type, r->name);
		lvq_push_named_function(L, r->func, name);
		lua_setfield(L, -2, r->name);
	}
}

static const char *class_type(const char *tname)
{
	return strchr(tname, '.') ? strchr(tname, '.') + 1 : tname;
}

void lvq_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
		  const luaL_Reg *meta, int (*getter)(lua_State *L), const char *const *fields)
{
	const char *type = class_type(tname);

	luaL_newmetatable(L, tname);
	if (meta)
		luaL_setfuncs(L, meta, 0);
	lua_newtable(L); /* methods */
	add_methods(L, type, methods);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "__methods");
	/* light userdata carries the getter (a function pointer in a void *
	 * is fine on every platform Lua itself supports) */
	lua_pushlightuserdata(L, *(void **)&getter);
	lua_pushcclosure(L, class_index, 2);
	lua_setfield(L, -2, "__index");
	lua_newtable(L);
	for (int i = 0; fields && fields[i]; i++) {
		lua_pushstring(L, fields[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "__fields");
	lua_pop(L, 1);
}

void lvq_class_add(lua_State *L, const char *tname, const luaL_Reg *methods)
{
	luaL_getmetatable(L, tname);
	if (lua_getfield(L, -1, "__methods") == LUA_TTABLE)
		add_methods(L, class_type(tname), methods);
	lua_pop(L, 2);
}

void *lvq_newobj(lua_State *L, size_t size, const char *tname, int owner)
{
	void *p;

	if (owner)
		owner = lua_absindex(L, owner);
	p = lua_newuserdatauv(L, size, 1);
	memset(p, 0, size);
	luaL_setmetatable(L, tname);
	if (owner) {
		lua_pushvalue(L, owner);
		lua_setiuservalue(L, -2, 1);
	}
	return p;
}

void lvq_pushowner(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_pushvalue(L, idx);
	while (!luaL_testudata(L, -1, LVQ_MACHINE)) {
		if (lua_type(L, -1) != LUA_TUSERDATA) {
			lua_pop(L, 1);
			luaL_error(L, "object has no machine");
		}
		lua_getiuservalue(L, -1, 1);
		lua_remove(L, -2);
	}
}

void lvq_push_named_function(lua_State *L, lua_CFunction f, const char *name)
{
	/* a closure (its name as upvalue), not a light C function: two names
	 * for one C function (m:run, m:continue) are two values, so help()
	 * finds each under its own name */
	lua_pushstring(L, name);
	lua_pushcclosure(L, f, 1);
	lvq_name_function(L, name);
}

void lvq_name_function(lua_State *L, const char *name)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "vqsim.funcnames");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, "vqsim.funcnames");
	}
	lua_pushvalue(L, -2);
	lua_pushstring(L, name);
	lua_rawset(L, -3);
	lua_pop(L, 1);
}

/* ---- errors ---- */

int lvq_fail(lua_State *L, const char *who, int rc)
{
	luaL_error(L, "%s: %s: %s", who, vq_errname(rc), vq_strerror(rc));
	abort(); /* not reached */
}

int lvq_fail_dev(lua_State *L, const struct vq_dev *d, int rc, uint64_t errors_before)
{
	char who[VQ_DEV_NAME_MAX + 16];

	/* a ring error names its queue: the device keeps the queue's first error */
	for (unsigned q = 0; rc == -VQ_E_RING_BROKEN && q < d->nqueues; q++) {
		if (d->queues[q].ring.error && d->queues[q].ring.error != -VQ_E_RING_BROKEN) {
			const struct vq_ring *r = &d->queues[q].ring;

			snprintf(who, sizeof(who), "%s.q%u", d->name, q);
			if (r->error_detail[0])
				luaL_error(L, "%s: %s: %s (%s; device needs reset)", who,
					   vq_errname(r->error), vq_strerror(r->error), r->error_detail);
			luaL_error(L, "%s: %s: %s (device needs reset)", who, vq_errname(r->error),
				   vq_strerror(r->error));
		}
	}
	if (d->stats.errors != errors_before && d->last_error_msg[0])
		luaL_error(L, "%s: %s: %s", d->name, vq_errname(rc), d->last_error_msg);
	lvq_fail(L, d->name, rc);
}

/* ---- numbers ---- */

/* Numbers follow Lua's own rule (lua_tointegerx: 2^20 and 1024.0 are
 * integers, 1.5 is not); strings follow emu/opts (decimal, 0x hex, sizes
 * with K/M/G/T), the same syntax as device options. */

bool lvq_tointeger(lua_State *L, int idx, lua_Integer *out)
{
	int ok = 0;

	if (lua_type(L, idx) != LUA_TNUMBER)
		return false;
	*out = lua_tointegerx(L, idx, &ok);
	return ok;
}

/* What the value at idx is, for a message: "1.5", "a string 'x'", "nil". */
static const char *describe(lua_State *L, int idx)
{
	switch (lua_type(L, idx)) {
	case LUA_TNUMBER: return lua_pushfstring(L, "%s", luaL_tolstring(L, idx, NULL));
	case LUA_TSTRING: return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
	default: return luaL_typename(L, idx);
	}
}

/* Value at idx as an integer in [min, max] into *v: NULL, or why not. */
static const char *to_int(lua_State *L, int idx, lua_Integer min, lua_Integer max,
			  lua_Integer *v)
{
	uint64_t u;

	if (lua_type(L, idx) == LUA_TSTRING) {
		if (vq_parse_uint(lua_tostring(L, idx), &u) < 0 || u > (uint64_t)LUA_MAXINTEGER)
			return lua_pushfstring(L, "integer expected (decimal or 0x hex), got %s",
					       describe(L, idx));
		*v = (lua_Integer)u;
	} else if (!lvq_tointeger(L, idx, v)) {
		return lua_pushfstring(L, "integer expected, got %s", describe(L, idx));
	}
	if (*v < min || *v > max)
		return lua_pushfstring(L, "%I is out of range %I..%I", *v, min, max);
	return NULL;
}

lua_Integer lvq_checkint(lua_State *L, int arg, const char *name, lua_Integer min,
			 lua_Integer max)
{
	lua_Integer v = 0;
	const char *why = to_int(L, arg, min, max, &v);

	if (why)
		luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s", name, why));
	return v;
}

lua_Integer lvq_fieldint(lua_State *L, int idx, const char *fn, const char *field,
			 lua_Integer min, lua_Integer max)
{
	lua_Integer v = 0;
	const char *why = to_int(L, lua_absindex(L, idx), min, max, &v);

	if (why)
		luaL_error(L, "bad field '%s' to '%s' (%s)", field, fn, why);
	return v;
}

/* Value at idx as a size into *v: NULL, or why not. */
static const char *to_size(lua_State *L, int idx, uint64_t *v)
{
	lua_Integer i;

	if (lua_type(L, idx) == LUA_TSTRING) {
		if (vq_parse_size(lua_tostring(L, idx), v) == 0)
			return NULL;
		return lua_pushfstring(L, "malformed size %s (expected e.g. 4096, 0x1000, \"64K\", "
				       "\"16M\", \"1G\")", describe(L, idx));
	}
	if (lvq_tointeger(L, idx, &i) && i >= 0) {
		*v = (uint64_t)i;
		return NULL;
	}
	return lua_pushfstring(L, "size expected (a non-negative integer or a string such as "
			       "\"64K\"), got %s", describe(L, idx));
}

uint64_t lvq_checksize(lua_State *L, int arg)
{
	uint64_t v = 0;
	const char *why = to_size(L, arg, &v);

	if (why)
		luaL_argerror(L, arg, why);
	return v;
}

uint64_t lvq_fieldsize(lua_State *L, int idx, const char *fn, const char *field)
{
	uint64_t v = 0;
	const char *why = to_size(L, lua_absindex(L, idx), &v);

	if (why)
		luaL_error(L, "bad field '%s' to '%s' (%s)", field, fn, why);
	return v;
}

uint64_t lvq_optsize(lua_State *L, int arg, uint64_t def)
{
	return lua_isnoneornil(L, arg) ? def : lvq_checksize(L, arg);
}

uint64_t lvq_checkrange(lua_State *L, int arg, uint64_t max)
{
	lua_Integer v = luaL_checkinteger(L, arg);

	if (max <= (uint64_t)LUA_MAXINTEGER && (v < 0 || (uint64_t)v > max))
		luaL_argerror(L, arg, lua_pushfstring(L, "out of range 0..%I", (lua_Integer)max));
	return (uint64_t)v;
}

/* ---- options tables ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **lvq_sortedkeys(lua_State *L, int idx, const char *fn, size_t *n)
{
	const char **keys;
	size_t count = 0, i = 0;

	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		/* the message names no key: which one lua_next meets first varies */
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: options must be given as name = value (the table has "
				   "a key that is not a string)", fn);
		count++;
	}
	keys = lua_newuserdatauv(L, (count ? count : 1) * sizeof(*keys), 0);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		keys[i++] = lua_tostring(L, -1); /* anchored by the table */
	}
	qsort(keys, count, sizeof(*keys), cmp_str);
	*n = count;
	return keys;
}

void lvq_checkopts(lua_State *L, int idx, const char *fn, const char *const *allowed)
{
	size_t n;
	const char **keys;

	if (!lua_istable(L, idx))
		return;
	keys = lvq_sortedkeys(L, idx, fn, &n);
	for (size_t i = 0; i < n; i++) {
		const char *const *a = allowed;
		luaL_Buffer b;

		while (*a && strcmp(*a, keys[i]))
			a++;
		if (*a)
			continue;
		luaL_buffinit(L, &b);
		for (a = allowed; *a; a++) {
			if (a != allowed)
				luaL_addstring(&b, ", ");
			luaL_addstring(&b, *a);
		}
		luaL_pushresult(&b);
		luaL_error(L, "%s: unknown option '%s' (accepted: %s)", fn, keys[i],
			   lua_tostring(L, -1));
	}
	lua_pop(L, 1); /* the key array */
}

const char *lvq_hex(char *buf, uint64_t v)
{
	snprintf(buf, 24, "0x%" PRIx64, v);
	return buf;
}

void lvq_setint(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

/* ---- features ---- */

static const struct {
	const char *name;
	unsigned bit;
} feature_names[] = {
	{"INDIRECT_DESC", VIRTIO_F_INDIRECT_DESC},
	{"EVENT_IDX", VIRTIO_F_EVENT_IDX},
	{"VERSION_1", VIRTIO_F_VERSION_1},
	{"ACCESS_PLATFORM", VIRTIO_F_ACCESS_PLATFORM},
	{"RING_PACKED", VIRTIO_F_RING_PACKED},
	{"IN_ORDER", VIRTIO_F_IN_ORDER},
	{"ORDER_PLATFORM", VIRTIO_F_ORDER_PLATFORM},
	{"SR_IOV", VIRTIO_F_SR_IOV},
	{"NOTIFICATION_DATA", VIRTIO_F_NOTIFICATION_DATA},
	{"NOTIF_CONFIG_DATA", VIRTIO_F_NOTIF_CONFIG_DATA},
	{"RING_RESET", VIRTIO_F_RING_RESET},
};

/* Device-specific bits (0..23, and a few above) mean different things on
 * each device type, so their names are scoped: a blk driver says "FLUSH",
 * "BLK_F_FLUSH" or "VIRTIO_BLK_F_FLUSH"; a net driver cannot say "FLUSH". */
struct dev_feature {
	uint32_t device_id;
	const char *prefix;     /* "BLK" in VIRTIO_BLK_F_FLUSH */
	const char *name;
	unsigned bit;
};

static const struct dev_feature dev_features[] = {
	{VIRTIO_ID_BLOCK, "BLK", "SIZE_MAX", VIRTIO_BLK_F_SIZE_MAX},
	{VIRTIO_ID_BLOCK, "BLK", "SEG_MAX", VIRTIO_BLK_F_SEG_MAX},
	{VIRTIO_ID_BLOCK, "BLK", "GEOMETRY", VIRTIO_BLK_F_GEOMETRY},
	{VIRTIO_ID_BLOCK, "BLK", "RO", VIRTIO_BLK_F_RO},
	{VIRTIO_ID_BLOCK, "BLK", "BLK_SIZE", VIRTIO_BLK_F_BLK_SIZE},
	{VIRTIO_ID_BLOCK, "BLK", "FLUSH", VIRTIO_BLK_F_FLUSH},
	{VIRTIO_ID_BLOCK, "BLK", "TOPOLOGY", VIRTIO_BLK_F_TOPOLOGY},
	{VIRTIO_ID_BLOCK, "BLK", "CONFIG_WCE", VIRTIO_BLK_F_CONFIG_WCE},
	{VIRTIO_ID_BLOCK, "BLK", "MQ", VIRTIO_BLK_F_MQ},
	{VIRTIO_ID_BLOCK, "BLK", "DISCARD", VIRTIO_BLK_F_DISCARD},
	{VIRTIO_ID_BLOCK, "BLK", "WRITE_ZEROES", VIRTIO_BLK_F_WRITE_ZEROES},
	{VIRTIO_ID_BLOCK, "BLK", "LIFETIME", VIRTIO_BLK_F_LIFETIME},
	{VIRTIO_ID_BLOCK, "BLK", "SECURE_ERASE", VIRTIO_BLK_F_SECURE_ERASE},
	{VIRTIO_ID_BLOCK, "BLK", "ZONED", VIRTIO_BLK_F_ZONED},
	{VIRTIO_ID_NET, "NET", "CSUM", VIRTIO_NET_F_CSUM},
	{VIRTIO_ID_NET, "NET", "GUEST_CSUM", VIRTIO_NET_F_GUEST_CSUM},
	{VIRTIO_ID_NET, "NET", "CTRL_GUEST_OFFLOADS", VIRTIO_NET_F_CTRL_GUEST_OFFLOADS},
	{VIRTIO_ID_NET, "NET", "MTU", VIRTIO_NET_F_MTU},
	{VIRTIO_ID_NET, "NET", "MAC", VIRTIO_NET_F_MAC},
	{VIRTIO_ID_NET, "NET", "GUEST_TSO4", VIRTIO_NET_F_GUEST_TSO4},
	{VIRTIO_ID_NET, "NET", "GUEST_TSO6", VIRTIO_NET_F_GUEST_TSO6},
	{VIRTIO_ID_NET, "NET", "GUEST_ECN", VIRTIO_NET_F_GUEST_ECN},
	{VIRTIO_ID_NET, "NET", "GUEST_UFO", VIRTIO_NET_F_GUEST_UFO},
	{VIRTIO_ID_NET, "NET", "HOST_TSO4", VIRTIO_NET_F_HOST_TSO4},
	{VIRTIO_ID_NET, "NET", "HOST_TSO6", VIRTIO_NET_F_HOST_TSO6},
	{VIRTIO_ID_NET, "NET", "HOST_ECN", VIRTIO_NET_F_HOST_ECN},
	{VIRTIO_ID_NET, "NET", "HOST_UFO", VIRTIO_NET_F_HOST_UFO},
	{VIRTIO_ID_NET, "NET", "MRG_RXBUF", VIRTIO_NET_F_MRG_RXBUF},
	{VIRTIO_ID_NET, "NET", "STATUS", VIRTIO_NET_F_STATUS},
	{VIRTIO_ID_NET, "NET", "CTRL_VQ", VIRTIO_NET_F_CTRL_VQ},
	{VIRTIO_ID_NET, "NET", "CTRL_RX", VIRTIO_NET_F_CTRL_RX},
	{VIRTIO_ID_NET, "NET", "CTRL_VLAN", VIRTIO_NET_F_CTRL_VLAN},
	{VIRTIO_ID_NET, "NET", "CTRL_RX_EXTRA", VIRTIO_NET_F_CTRL_RX_EXTRA},
	{VIRTIO_ID_NET, "NET", "GUEST_ANNOUNCE", VIRTIO_NET_F_GUEST_ANNOUNCE},
	{VIRTIO_ID_NET, "NET", "MQ", VIRTIO_NET_F_MQ},
	{VIRTIO_ID_NET, "NET", "CTRL_MAC_ADDR", VIRTIO_NET_F_CTRL_MAC_ADDR},
	{VIRTIO_ID_CONSOLE, "CONSOLE", "SIZE", VIRTIO_CONSOLE_F_SIZE},
	{VIRTIO_ID_CONSOLE, "CONSOLE", "MULTIPORT", VIRTIO_CONSOLE_F_MULTIPORT},
	{VIRTIO_ID_CONSOLE, "CONSOLE", "EMERG_WRITE", VIRTIO_CONSOLE_F_EMERG_WRITE},
	{VIRTIO_ID_BALLOON, "BALLOON", "MUST_TELL_HOST", VIRTIO_BALLOON_F_MUST_TELL_HOST},
	{VIRTIO_ID_BALLOON, "BALLOON", "STATS_VQ", VIRTIO_BALLOON_F_STATS_VQ},
	{VIRTIO_ID_BALLOON, "BALLOON", "DEFLATE_ON_OOM", VIRTIO_BALLOON_F_DEFLATE_ON_OOM},
	{VIRTIO_ID_BALLOON, "BALLOON", "FREE_PAGE_HINT", VIRTIO_BALLOON_F_FREE_PAGE_HINT},
	{VIRTIO_ID_BALLOON, "BALLOON", "PAGE_POISON", VIRTIO_BALLOON_F_PAGE_POISON},
	{VIRTIO_ID_BALLOON, "BALLOON", "PAGE_REPORTING", VIRTIO_BALLOON_F_PAGE_REPORTING},
};
#define NDEV_FEATURES (sizeof(dev_features) / sizeof(dev_features[0]))

int lvq_feature_bit_for(uint32_t device_id, const char *name)
{
	if (strncmp(name, "VIRTIO_", 7) == 0)
		name += 7;
	if (strncmp(name, "F_", 2) == 0)
		name += 2;
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (strcmp(feature_names[i].name, name) == 0)
			return (int)feature_names[i].bit;
	for (size_t i = 0; i < NDEV_FEATURES; i++) {
		const struct dev_feature *f = &dev_features[i];
		size_t pl = strlen(f->prefix);

		if (f->device_id != device_id)
			continue;
		if (strcmp(f->name, name) == 0 ||
		    (strncmp(name, f->prefix, pl) == 0 && strncmp(name + pl, "_F_", 3) == 0 &&
		     strcmp(name + pl + 3, f->name) == 0))
			return (int)f->bit;
	}
	return -1;
}

int lvq_feature_bit(const char *name)
{
	return lvq_feature_bit_for(0, name);
}

const char *lvq_feature_name_for(uint32_t device_id, unsigned bit)
{
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (feature_names[i].bit == bit)
			return feature_names[i].name;
	for (size_t i = 0; i < NDEV_FEATURES; i++)
		if (dev_features[i].device_id == device_id && dev_features[i].bit == bit)
			return dev_features[i].name;
	return NULL;
}

const char *lvq_feature_name(unsigned bit)
{
	return lvq_feature_name_for(0, bit);
}

void lvq_pushdevfeatures(lua_State *L)
{
	static const struct {
		uint32_t id;
		const char *type;
	} types[] = {
		{VIRTIO_ID_BLOCK, "blk"}, {VIRTIO_ID_NET, "net"},
		{VIRTIO_ID_CONSOLE, "console"}, {VIRTIO_ID_BALLOON, "balloon"},
		{VIRTIO_ID_RNG, "rng"}, /* none: an empty table, as errors cite it */
	};

	lua_newtable(L);
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		lua_newtable(L);
		for (size_t i = 0; i < NDEV_FEATURES; i++)
			if (dev_features[i].device_id == types[t].id)
				lvq_setint(L, dev_features[i].name, dev_features[i].bit);
		lua_setfield(L, -2, types[t].type);
	}
}

static const char *device_type_name(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK: return "blk";
	case VIRTIO_ID_NET: return "net";
	case VIRTIO_ID_CONSOLE: return "console";
	case VIRTIO_ID_BALLOON: return "balloon";
	case VIRTIO_ID_RNG: return "rng";
	default: return NULL;
	}
}

/* Raise for a bad feature list: an argument error, or with fn set an error
 * about field 'features' of an options table passed to fn. */
static void features_error(lua_State *L, int arg, const char *fn, const char *msg)
{
	if (fn)
		luaL_error(L, "bad field 'features' to '%s' (%s)", fn, msg);
	luaL_argerror(L, arg, msg);
}

static void check_features(lua_State *L, int arg, uint64_t *words, uint32_t device_id,
			   const char *fn)
{
	memset(words, 0, VQ_FEATURE_WORDS * sizeof(*words));
	if (lua_isnoneornil(L, arg))
		return;
	if (!lua_istable(L, arg))
		features_error(L, arg, fn, lua_pushfstring(L, "list of feature names expected, got %s",
							   luaL_typename(L, arg)));
	for (lua_Integer i = 1;; i++) {
		int bit;

		lua_geti(L, arg, i);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			break;
		}
		if (lua_type(L, -1) == LUA_TNUMBER) {
			lua_Integer b;
			bit = lvq_tointeger(L, -1, &b) && b >= 0 && b < 64 * VQ_FEATURE_WORDS ? (int)b
											     : -1;
		} else if (lua_type(L, -1) == LUA_TSTRING) {
			bit = lvq_feature_bit_for(device_id, lua_tostring(L, -1));
		} else {
			bit = -1;
		}
		if (bit < 0) {
			const char *t = device_type_name(device_id);
			if (t)
				features_error(L, arg, fn, lua_pushfstring(L, "unknown feature '%s' for "
						"a %s device (see vqsim.features, vqsim.dev_features.%s)",
						luaL_tolstring(L, -1, NULL), t, t));
			features_error(L, arg, fn, lua_pushfstring(L, "unknown feature '%s' (see "
					"vqsim.features)", luaL_tolstring(L, -1, NULL)));
		}
		words[bit / 64] |= UINT64_C(1) << (bit % 64);
		lua_pop(L, 1);
	}
}

void lvq_checkfeatures_for(lua_State *L, int arg, uint64_t *words, uint32_t device_id)
{
	check_features(L, arg, words, device_id, NULL);
}

void lvq_fieldfeatures(lua_State *L, int idx, uint64_t *words, uint32_t device_id,
		       const char *fn)
{
	check_features(L, lua_absindex(L, idx), words, device_id, fn);
}

void lvq_checkfeatures(lua_State *L, int arg, uint64_t *words)
{
	check_features(L, arg, words, 0, NULL);
}

void lvq_pushfeatures_for(lua_State *L, const uint64_t *words, uint32_t device_id)
{
	lua_Integer n = 0;

	lua_newtable(L);
	for (unsigned bit = 0; bit < 64 * VQ_FEATURE_WORDS; bit++) {
		const char *name;

		if (!((words[bit / 64] >> (bit % 64)) & 1))
			continue;
		if ((name = lvq_feature_name_for(device_id, bit)))
			lua_pushstring(L, name);
		else
			lua_pushinteger(L, bit);
		lua_rawseti(L, -2, ++n);
	}
}

void lvq_pushfeatures(lua_State *L, const uint64_t *words)
{
	lvq_pushfeatures_for(L, words, 0);
}

/* ---- hexdump ---- */

void lvq_pushhexdump(lua_State *L, const uint8_t *p, size_t len, uint64_t addr)
{
	luaL_Buffer b;
	char line[128];

	luaL_buffinit(L, &b);
	for (size_t off = 0; off < len; off += 16) {
		int pos = snprintf(line, sizeof(line), "%010" PRIx64 " ", addr + off);

		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				line[pos++] = ' ';
			if (off + i < len)
				pos += snprintf(line + pos, sizeof(line) - (size_t)pos, " %02x", p[off + i]);
			else
				pos += snprintf(line + pos, sizeof(line) - (size_t)pos, "   ");
		}
		pos += snprintf(line + pos, sizeof(line) - (size_t)pos, "  |");
		for (size_t i = 0; i < 16 && off + i < len; i++)
			line[pos++] = isprint(p[off + i]) ? (char)p[off + i] : '.';
		line[pos++] = '|';
		if (off + 16 < len)
			line[pos++] = '\n';
		luaL_addlstring(&b, line, (size_t)pos);
	}
	luaL_pushresult(&b);
}

/* ---- mmio register names (spec 4.2.2) ---- */

static const struct {
	const char *name;
	uint32_t off;
} regs[] = {
	{"MagicValue", VIRTIO_MMIO_MAGIC_VALUE},
	{"Version", VIRTIO_MMIO_VERSION},
	{"DeviceID", VIRTIO_MMIO_DEVICE_ID},
	{"VendorID", VIRTIO_MMIO_VENDOR_ID},
	{"DeviceFeatures", VIRTIO_MMIO_DEVICE_FEATURES},
	{"DeviceFeaturesSel", VIRTIO_MMIO_DEVICE_FEATURES_SEL},
	{"DriverFeatures", VIRTIO_MMIO_DRIVER_FEATURES},
	{"DriverFeaturesSel", VIRTIO_MMIO_DRIVER_FEATURES_SEL},
	{"QueueSel", VIRTIO_MMIO_QUEUE_SEL},
	{"QueueNumMax", VIRTIO_MMIO_QUEUE_NUM_MAX},
	{"QueueNum", VIRTIO_MMIO_QUEUE_NUM},
	{"QueueReady", VIRTIO_MMIO_QUEUE_READY},
	{"QueueNotify", VIRTIO_MMIO_QUEUE_NOTIFY},
	{"InterruptStatus", VIRTIO_MMIO_INTERRUPT_STATUS},
	{"InterruptACK", VIRTIO_MMIO_INTERRUPT_ACK},
	{"Status", VIRTIO_MMIO_STATUS},
	{"QueueDescLow", VIRTIO_MMIO_QUEUE_DESC_LOW},
	{"QueueDescHigh", VIRTIO_MMIO_QUEUE_DESC_HIGH},
	{"QueueDriverLow", VIRTIO_MMIO_QUEUE_DRIVER_LOW},
	{"QueueDriverHigh", VIRTIO_MMIO_QUEUE_DRIVER_HIGH},
	{"QueueDeviceLow", VIRTIO_MMIO_QUEUE_DEVICE_LOW},
	{"QueueDeviceHigh", VIRTIO_MMIO_QUEUE_DEVICE_HIGH},
	{"SHMSel", VIRTIO_MMIO_SHM_SEL},
	{"SHMLenLow", VIRTIO_MMIO_SHM_LEN_LOW},
	{"SHMLenHigh", VIRTIO_MMIO_SHM_LEN_HIGH},
	{"SHMBaseLow", VIRTIO_MMIO_SHM_BASE_LOW},
	{"SHMBaseHigh", VIRTIO_MMIO_SHM_BASE_HIGH},
	{"QueueReset", VIRTIO_MMIO_QUEUE_RESET},
	{"ConfigGeneration", VIRTIO_MMIO_CONFIG_GENERATION},
	{"Config", VIRTIO_MMIO_CONFIG},
};

const char *lvq_reg_name(uint32_t off)
{
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (regs[i].off == off)
			return regs[i].name;
	return NULL;
}

long lvq_reg_offset(const char *name)
{
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (strcasecmp(regs[i].name, name) == 0)
			return (long)regs[i].off;
	return -1;
}

void lvq_pushseg(lua_State *L, uint64_t gpa, uint32_t len, bool write)
{
	lua_createtable(L, 0, 3);
	lvq_setint(L, "gpa", (lua_Integer)gpa);
	lvq_setint(L, "len", len);
	lua_pushboolean(L, write);
	lua_setfield(L, -2, "write");
}

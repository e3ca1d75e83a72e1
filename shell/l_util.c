/* l_util.c - helpers every binding file shares: classes, errors, sizes,
 * feature names, hexdumps.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lvq.h"

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

void lvq_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
		  const luaL_Reg *meta, int (*getter)(lua_State *L), const char *const *fields)
{
	const char *type = strchr(tname, '.') ? strchr(tname, '.') + 1 : tname;
	char name[64];

	luaL_newmetatable(L, tname);
	if (meta)
		luaL_setfuncs(L, meta, 0);
	lua_newtable(L); /* methods */
	for (const luaL_Reg *r = methods; r->name; r++) {
		lua_pushcfunction(L, r->func);
		snprintf(name, sizeof(name), "%s:%s", type, r->name);
		lvq_name_function(L, name);
		lua_setfield(L, -2, r->name);
	}
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
			snprintf(who, sizeof(who), "%s.q%u", d->name, q);
			luaL_error(L, "%s: %s: %s (device needs reset)", who,
				   vq_errname(d->queues[q].ring.error),
				   vq_strerror(d->queues[q].ring.error));
		}
	}
	if (d->stats.errors != errors_before && d->last_error_msg[0])
		luaL_error(L, "%s: %s: %s", d->name, vq_errname(rc), d->last_error_msg);
	lvq_fail(L, d->name, rc);
}

/* ---- numbers ---- */

/* Parse "64M", "4k", "0x1000", "1G" into *out; false if malformed. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return false;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = UINT64_C(1) << 10; end++; break;
	case 'M': mul = UINT64_C(1) << 20; end++; break;
	case 'G': mul = UINT64_C(1) << 30; end++; break;
	case 'T': mul = UINT64_C(1) << 40; end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'B' || *end == 'b'))
		end++;
	if (*end || (v && mul > UINT64_MAX / v))
		return false;
	*out = v * mul;
	return true;
}

uint64_t lvq_checksize(lua_State *L, int arg)
{
	uint64_t v;

	if (lua_type(L, arg) == LUA_TNUMBER) {
		if (!lua_isinteger(L, arg) || lua_tointeger(L, arg) < 0)
			luaL_argerror(L, arg, "size must be a non-negative integer");
		return (uint64_t)lua_tointeger(L, arg);
	}
	if (lua_type(L, arg) == LUA_TSTRING && parse_size(lua_tostring(L, arg), &v))
		return v;
	luaL_argerror(L, arg, lua_type(L, arg) == LUA_TSTRING
				      ? "malformed size (expected e.g. 4096, \"64K\", \"16M\", \"1G\")"
				      : lua_pushfstring(L, "size expected, got %s", luaL_typename(L, arg)));
	return 0;
}

uint64_t lvq_fieldsize(lua_State *L, int idx, const char *fn, const char *field)
{
	uint64_t v;

	if (lua_isinteger(L, idx) && lua_tointeger(L, idx) >= 0)
		return (uint64_t)lua_tointeger(L, idx);
	if (lua_type(L, idx) == LUA_TSTRING && parse_size(lua_tostring(L, idx), &v))
		return v;
	luaL_error(L, "bad field '%s' to '%s' (size expected, e.g. 4096, \"64K\", \"16M\"; got %s)",
		   field, fn, lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx)
							       : luaL_typename(L, idx));
	return 0;
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

int lvq_feature_bit(const char *name)
{
	if (strncmp(name, "VIRTIO_F_", 9) == 0)
		name += 9;
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (strcmp(feature_names[i].name, name) == 0)
			return (int)feature_names[i].bit;
	return -1;
}

const char *lvq_feature_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (feature_names[i].bit == bit)
			return feature_names[i].name;
	return NULL;
}

void lvq_checkfeatures(lua_State *L, int arg, uint64_t *words)
{
	memset(words, 0, VQ_FEATURE_WORDS * sizeof(*words));
	if (lua_isnoneornil(L, arg))
		return;
	luaL_checktype(L, arg, LUA_TTABLE);
	for (lua_Integer i = 1;; i++) {
		int bit;

		lua_geti(L, arg, i);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			break;
		}
		if (lua_isinteger(L, -1)) {
			lua_Integer b = lua_tointeger(L, -1);
			bit = b >= 0 && b < 64 * VQ_FEATURE_WORDS ? (int)b : -1;
		} else if (lua_type(L, -1) == LUA_TSTRING) {
			bit = lvq_feature_bit(lua_tostring(L, -1));
		} else {
			bit = -1;
		}
		if (bit < 0)
			luaL_argerror(L, arg, lua_pushfstring(L, "unknown feature '%s' (see vqsim.features)",
							      luaL_tolstring(L, -1, NULL)));
		words[bit / 64] |= UINT64_C(1) << (bit % 64);
		lua_pop(L, 1);
	}
}

void lvq_pushfeatures(lua_State *L, const uint64_t *words)
{
	lua_Integer n = 0;

	lua_newtable(L);
	for (unsigned bit = 0; bit < 64 * VQ_FEATURE_WORDS; bit++) {
		const char *name;

		if (!((words[bit / 64] >> (bit % 64)) & 1))
			continue;
		if ((name = lvq_feature_name(bit)))
			lua_pushstring(L, name);
		else
			lua_pushinteger(L, bit);
		lua_rawseti(L, -2, ++n);
	}
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

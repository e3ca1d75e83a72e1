/* l_vqsim.c - the vqsim module table: constructors, constants, version,
 * error names (vqsim-lua(7) MODULE).
 */
#include <string.h>

#include "lvq.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

static int v_errname(lua_State *L)
{
	lua_pushstring(L, vq_errname((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int v_strerror(lua_State *L)
{
	lua_pushstring(L, vq_strerror((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int v_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lvq_checksize(L, 1));
	return 1;
}

static int v_hexdump(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);

	lvq_pushhexdump(L, (const uint8_t *)s, len, (uint64_t)luaL_optinteger(L, 2, 0));
	return 1;
}

static int v_devices(lua_State *L)
{
	const struct vq_dev_type *t;

	lua_newtable(L);
	for (unsigned i = 0; (t = vq_dev_type_at(i)); i++) {
		lua_createtable(L, 0, 3);
		lua_pushstring(L, t->name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, t->summary ? t->summary : "");
		lua_setfield(L, -2, "summary");
		lua_pushstring(L, t->options ? t->options : "");
		lua_setfield(L, -2, "options");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static const luaL_Reg funcs[] = {
	{"machine", lvq_machine_new}, {"errname", v_errname}, {"strerror", v_strerror},
	{"size", v_size},             {"hexdump", v_hexdump}, {"devices", v_devices},
	{NULL, NULL},
};

const char *lvq_default_transport = "mmio";
const char *lvq_default_outside;

/* Parse spec into an option list: "socket" from the text after
 * "vhost-user:" up to the first comma, the rest as options. */
static struct vq_opts *outside_opts(const char *spec, char *err, size_t errlen)
{
	const char *path = spec + strlen("vhost-user:"), *comma = strchr(path, ',');
	char sock[256];
	struct vq_opts *o;

	if (strncmp(spec, "vhost-user:", 11) != 0 || comma == path || !*path) {
		snprintf(err, errlen, "'%s': expected vhost-user:PATH,type=KIND[,options]", spec);
		return NULL;
	}
	if ((size_t)(comma ? comma - path : (ptrdiff_t)strlen(path)) >= sizeof(sock)) {
		snprintf(err, errlen, "'%s': socket path too long", spec);
		return NULL;
	}
	snprintf(sock, sizeof(sock), "%.*s", (int)(comma ? comma - path : (ptrdiff_t)strlen(path)),
		 path);
	o = vq_opts_from_string(comma ? comma + 1 : "", "vhost-user", err, errlen);
	if (!o)
		return NULL;
	if (vq_opts_has(o, "socket") || vq_opts_add(o, "socket", sock, err, errlen) < 0) {
		if (vq_opts_has(o, "socket"))
			snprintf(err, errlen, "'%s': the socket is the PATH after vhost-user:", spec);
		vq_opts_free(o);
		return NULL;
	}
	return o;
}

int lvq_outside_check(const char *spec, char *err, size_t errlen)
{
	struct vq_opts *o = outside_opts(spec, err, errlen);
	const char *type = NULL;

	if (!o)
		return -1;
	if (vq_opts_str(o, "type", &type, err, errlen) < 0 || !type) {
		if (!type)
			snprintf(err, errlen, "'%s': type=KIND is missing (blk, net, ...)", spec);
		vq_opts_free(o);
		return -1;
	}
	vq_opts_free(o);
	return 0;
}

/* vqsim.defaults.outside from lvq_default_outside (checked by main). */
static void push_outside(lua_State *L)
{
	char err[256];
	struct vq_opts *o = outside_opts(lvq_default_outside, err, sizeof(err));
	const char *type = NULL;

	lua_newtable(L);
	if (!o)
		return;
	lua_newtable(L);
	for (size_t i = 0; i < vq_opts_count(o); i++) {
		const char *k = vq_opts_key(o, i), *v = NULL;

		vq_opts_str(o, k, &v, err, sizeof(err));
		if (strcmp(k, "type") == 0)
			type = v;
		lua_pushstring(L, v ? v : "");
		lua_setfield(L, -2, k);
	}
	if (type)
		lua_setfield(L, -2, type);
	else
		lua_pop(L, 1);
	vq_opts_free(o);
}

int luaopen_vqsim(lua_State *L)
{
	static const struct {
		const char *name;
		unsigned v;
	} status[] = {
		{"ACKNOWLEDGE", VIRTIO_STATUS_ACKNOWLEDGE}, {"DRIVER", VIRTIO_STATUS_DRIVER},
		{"DRIVER_OK", VIRTIO_STATUS_DRIVER_OK},     {"FEATURES_OK", VIRTIO_STATUS_FEATURES_OK},
		{"DEVICE_NEEDS_RESET", VIRTIO_STATUS_DEVICE_NEEDS_RESET},
		{"NEEDS_RESET", VIRTIO_STATUS_DEVICE_NEEDS_RESET}, {"FAILED", VIRTIO_STATUS_FAILED},
	};
	char name[48];

	lvq_open_machine(L);
	lvq_open_mem(L);
	lvq_open_device(L);
	lvq_open_driver(L);
	lvq_open_ring(L);
	lvq_open_devring(L);

	luaL_newlibtable(L, funcs);
	for (const luaL_Reg *r = funcs; r->name; r++) {
		snprintf(name, sizeof(name), "vqsim.%s", r->name);
		lvq_push_named_function(L, r->func, name);
		lua_setfield(L, -2, r->name);
	}
	lua_pushliteral(L, PACKAGE_VERSION);
	lua_setfield(L, -2, "version");
	lvq_setint(L, "seed", 1);

	lua_newtable(L); /* features: name -> bit */
	for (unsigned bit = 0; bit < 64 * VQ_FEATURE_WORDS; bit++)
		if (lvq_feature_name(bit))
			lvq_setint(L, lvq_feature_name(bit), bit);
	lua_setfield(L, -2, "features");
	lvq_pushdevfeatures(L); /* device-specific names, by device type */
	lua_setfield(L, -2, "dev_features");

	lua_newtable(L);
	for (size_t i = 0; i < sizeof(status) / sizeof(status[0]); i++)
		lvq_setint(L, status[i].name, status[i].v);
	lua_setfield(L, -2, "status");

	lua_newtable(L); /* register offsets by name */
	for (uint32_t off = 0; off <= VIRTIO_MMIO_CONFIG; off += 4)
		if (lvq_reg_name(off))
			lvq_setint(L, lvq_reg_name(off), off);
	lua_setfield(L, -2, "regs");

	lua_newtable(L); /* error codes: name -> positive code */
	for (int e = 1; e < VQ_E__COUNT; e++)
		lvq_setint(L, vq_errname(e), e);
	lua_setfield(L, -2, "E");

	lua_newtable(L); /* descriptor and ring flags */
	lvq_setint(L, "NEXT", VIRTQ_DESC_F_NEXT);
	lvq_setint(L, "WRITE", VIRTQ_DESC_F_WRITE);
	lvq_setint(L, "INDIRECT", VIRTQ_DESC_F_INDIRECT);
	lvq_setint(L, "NO_INTERRUPT", VIRTQ_AVAIL_F_NO_INTERRUPT);
	lvq_setint(L, "NO_NOTIFY", VIRTQ_USED_F_NO_NOTIFY);
	lua_setfield(L, -2, "flags");

	/* vqsim.defaults: what m:add and the driver use when not told
	 * (--transport, --ring) */
	lua_newtable(L);
	lua_pushstring(L, lvq_default_transport);
	lua_setfield(L, -2, "transport");
	lua_pushstring(L, lvq_default_ring);
	lua_setfield(L, -2, "ring");
	if (lvq_default_outside) {
		push_outside(L);
		lua_setfield(L, -2, "outside");
	}
	lua_setfield(L, -2, "defaults");

	lua_pushvalue(L, -1);
	lua_setglobal(L, "vqsim");
	lvq_open_help(L);
	return 1;
}

/* l_drv_console.c - the driver object's virtio-console (spec 5.3): d:console_init, console_write,
 * console_read, console_open, console_port_name, console_host_open,
 * console_emerg_write, console_send_ctrl, console_ctrl_log helpers (vqsim-lua(7) DRIVER).
 */
#include <string.h>

#include "l_driver.h"

/* ---- console (spec 5.3) ---- */

static int r_console_init(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_init");
	static const char *const allowed[] = {"features", "ring", NULL};
	uint64_t feats = lvq_drv_opt_features(L, dr, 2, "console_init", allowed);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_console_init(&dr->drv, feats);

	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "console_init", rc, before);
	lua_settop(L, 1);
	return 1;
}

static unsigned check_port(lua_State *L, struct lvq_driver *dr, int arg, const char *fn)
{
	lua_Integer p = luaL_checkinteger(L, arg);
	unsigned n = vq_drv_console_ports(&dr->drv);

	if (!n)
		luaL_error(L, "%s: %s: driver not initialised (d:console_init first)",
			   dr->slot->dev.name, fn);
	if (p < 0 || p >= (lua_Integer)n)
		luaL_argerror(L, arg, lua_pushfstring(L, "no port %I (the driver has %d)", p, (int)n));
	return (unsigned)p;
}

static int r_console_write(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_write");
	unsigned port = check_port(L, dr, 2, "console_write");
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	long n = vq_drv_console_write(&dr->drv, port, s, len);

	if (n < 0)
		return lvq_drv_helper_fail(L, dr, "console_write", (int)n, before);
	lua_pushinteger(L, n);
	return 1;
}

static int r_console_read(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_read");
	unsigned port = check_port(L, dr, 2, "console_read");
	size_t cap = lua_isnoneornil(L, 3) ? 65536 : (size_t)lvq_checkrange(L, 3, 1u << 24);
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	long n;

	n = vq_drv_console_read(&dr->drv, port, luaL_buffinitsize(L, &b, cap ? cap : 1), cap);
	if (n < 0)
		return lvq_drv_helper_fail(L, dr, "console_read", (int)n, before);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

static int r_console_open(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_open");
	unsigned port = check_port(L, dr, 2, "console_open");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	luaL_checktype(L, 3, LUA_TBOOLEAN);
	rc = vq_drv_console_open(&dr->drv, port, lua_toboolean(L, 3));
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: console_open: STATE: port %d is not ready or MULTIPORT "
				     "was not negotiated (spec 5.3.6.2)", dr->slot->dev.name,
				  (int)port);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "console_open", rc, before);
	return 0;
}

static int r_console_port_name(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_port_name");
	unsigned port = check_port(L, dr, 2, "console_port_name");
	const char *name = vq_drv_console_port_name(&dr->drv, port);

	if (name)
		lua_pushstring(L, name);
	else
		lua_pushnil(L);
	return 1;
}

static int r_console_host_open(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_host_open");
	unsigned port = check_port(L, dr, 2, "console_host_open");

	lua_pushboolean(L, vq_drv_console_host_open(&dr->drv, port));
	return 1;
}

static int r_console_emerg_write(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_emerg_write");
	uint64_t before = dr->slot->dev.stats.errors;
	uint8_t ch;
	int rc;

	if (lua_type(L, 2) == LUA_TSTRING) {
		if (lua_rawlen(L, 2) != 1)
			return luaL_argerror(L, 2, "one character expected");
		ch = (uint8_t)lua_tostring(L, 2)[0];
	} else {
		ch = (uint8_t)lvq_checkrange(L, 2, 255);
	}
	rc = vq_drv_console_emerg_write(&dr->drv, ch);
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: console_emerg_write: STATE: EMERG_WRITE not offered "
				     "(option emerg=on, spec 5.3.4)", dr->slot->dev.name);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "console_emerg_write", rc, before);
	return 0;
}

static int r_console_send_ctrl(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_send_ctrl");
	size_t len;
	const char *s = luaL_checklstring(L, 2, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (len < 1 || len > VQ_DRV_CONSOLE_CTRL_TX_SIZE)
		return luaL_argerror(L, 2, "message must be 1..64 bytes");
	rc = vq_drv_console_send_ctrl(&dr->drv, s, (uint32_t)len);
	if (rc == -VQ_E_STATE)
		return luaL_error(L, "%s: console_send_ctrl: STATE: MULTIPORT not negotiated "
				     "(no control queue, spec 5.3.2)", dr->slot->dev.name);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "console_send_ctrl", rc, before);
	return 0;
}

static const char *const console_events[] = {
	"DEVICE_READY", "DEVICE_ADD", "DEVICE_REMOVE", "PORT_READY", "CONSOLE_PORT", "RESIZE",
	"PORT_OPEN", "PORT_NAME",
};

static int r_console_ctrl_log(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_CONSOLE, "console_ctrl_log");
	const struct vq_drv_console_msg *log;
	unsigned n = vq_drv_console_ctrl_log(&dr->drv, &log);

	lua_createtable(L, (int)n, 0);
	for (unsigned i = 0; i < n; i++) {
		lua_createtable(L, 0, 6);
		lvq_setint(L, "id", log[i].id);
		if (log[i].event < sizeof(console_events) / sizeof(console_events[0]))
			lua_pushstring(L, console_events[log[i].event]);
		else
			lua_pushinteger(L, log[i].event);
		lua_setfield(L, -2, "event");
		lvq_setint(L, "value", log[i].value);
		lvq_setint(L, "len", log[i].len);
		if (log[i].event == VIRTIO_CONSOLE_PORT_NAME) {
			lua_pushstring(L, log[i].name);
			lua_setfield(L, -2, "name");
		} else if (log[i].event == VIRTIO_CONSOLE_RESIZE) {
			lvq_setint(L, "cols", log[i].cols);
			lvq_setint(L, "rows", log[i].rows);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

const luaL_Reg lvq_drv_console_methods[] = {
	{"console_init", r_console_init},
	{"console_write", r_console_write},
	{"console_read", r_console_read},
	{"console_open", r_console_open},
	{"console_port_name", r_console_port_name},
	{"console_host_open", r_console_host_open},
	{"console_emerg_write", r_console_emerg_write},
	{"console_send_ctrl", r_console_send_ctrl},
	{"console_ctrl_log", r_console_ctrl_log},
	{NULL, NULL},
};

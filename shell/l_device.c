/* l_device.c - the device object: raw mmio registers, status, features,
 * the device's view of its queues, statistics (vqsim-lua(7) DEVICE).
 */
#include <string.h>

#include "lvq.h"

struct lvq_device *lvq_checkdevice(lua_State *L, int arg)
{
	struct lvq_device *ld = luaL_checkudata(L, arg, LVQ_DEVICE);
	struct lvq_machine *lm;

	lua_getiuservalue(L, arg, 1);
	lm = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!lm || !lm->m)
		luaL_argerror(L, arg, "machine is closed");
	return ld;
}

/* Register offset at arg: a number or a register name. */
static uint32_t check_reg(lua_State *L, int arg)
{
	if (lua_type(L, arg) == LUA_TSTRING) {
		long off = lvq_reg_offset(lua_tostring(L, arg));
		if (off < 0)
			luaL_argerror(L, arg, lua_pushfstring(L, "unknown register '%s' (see help "
						"\"device\")", lua_tostring(L, arg)));
		return (uint32_t)off;
	}
	return (uint32_t)lvq_checkrange(L, arg, VIRTIO_MMIO_SIZE - 1);
}

static unsigned check_width(lua_State *L, int arg)
{
	lua_Integer w = luaL_optinteger(L, arg, 4);

	if (w != 1 && w != 2 && w != 4)
		luaL_argerror(L, arg, "width must be 1, 2 or 4");
	return (unsigned)w;
}

static int do_read(lua_State *L, struct vq_slot *s, uint32_t off, unsigned width)
{
	uint32_t v = 0;
	int rc = vq_machine_read(s->machine, s->base + off, width, &v);

	lua_pushinteger(L, v);
	if (rc < 0) {
		lua_pushstring(L, vq_errname(rc));
		return 2;
	}
	return 1;
}

static int do_write(lua_State *L, struct vq_slot *s, uint32_t off, unsigned width,
		    uint32_t v)
{
	uint64_t before = s->dev.stats.errors;
	int rc = vq_machine_write(s->machine, s->base + off, width, v);

	if (rc < 0) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, vq_errname(rc));
		if (s->dev.stats.errors != before && s->dev.last_error_msg[0])
			lua_pushfstring(L, "%s: %s", s->dev.name, s->dev.last_error_msg);
		else
			lua_pushfstring(L, "%s: %s", s->dev.name, vq_strerror(rc));
		return 3;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int d_read(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	uint32_t off = check_reg(L, 2);

	return do_read(L, ld->slot, off, check_width(L, 3));
}

static int d_write(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	uint32_t off = check_reg(L, 2);
	lua_Integer v = luaL_checkinteger(L, 3);

	if (v < 0 || v > (lua_Integer)UINT32_MAX)
		return luaL_argerror(L, 3, "value does not fit in 32 bits");
	return do_write(L, ld->slot, off, check_width(L, 4), (uint32_t)v);
}

/* dev:reg(name [, value]): read, or write when value is given. */
static int d_reg(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	uint32_t off = check_reg(L, 2);

	if (lua_isnoneornil(L, 3))
		return do_read(L, ld->slot, off, 4);
	lua_Integer v = luaL_checkinteger(L, 3);
	if (v < 0 || v > (lua_Integer)UINT32_MAX)
		return luaL_argerror(L, 3, "value does not fit in 32 bits");
	return do_write(L, ld->slot, off, 4, (uint32_t)v);
}

static int d_status_str(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	char buf[96];
	uint8_t st = lua_isnoneornil(L, 2) ? ld->slot->dev.status
					   : (uint8_t)lvq_checkrange(L, 2, 255);

	lua_pushstring(L, vq_dev_status_str(st, buf, sizeof(buf)));
	return 1;
}

static int d_has(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	int bit = lua_isinteger(L, 2) ? (int)lua_tointeger(L, 2)
				      : lvq_feature_bit_for(ld->slot->dev.cls->device_id,
							  luaL_checkstring(L, 2));

	if (bit < 0 || bit >= 64 * VQ_FEATURE_WORDS)
		return luaL_argerror(L, 2, "unknown feature (see vqsim.features)");
	lua_pushboolean(L, vq_dev_has_feature(&ld->slot->dev, (unsigned)bit));
	return 1;
}

static int d_stats(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	const struct vq_dev_stats *st = &ld->slot->dev.stats;
	const struct vq_mmio_stats *ms = &ld->slot->mmio.stats;

	lua_createtable(L, 0, 14);
	lvq_setint(L, "notifies", (lua_Integer)st->notifies);
	lvq_setint(L, "notifies_ignored", (lua_Integer)st->notifies_ignored);
	lvq_setint(L, "chains", (lua_Integer)st->chains);
	lvq_setint(L, "used", (lua_Integer)st->used);
	lvq_setint(L, "interrupts", (lua_Integer)st->interrupts);
	lvq_setint(L, "suppressed", (lua_Integer)st->suppressed);
	lvq_setint(L, "errors", (lua_Integer)st->errors);
	lvq_setint(L, "resets", (lua_Integer)st->resets);
	lvq_setint(L, "reg_reads", (lua_Integer)ms->reads);
	lvq_setint(L, "reg_writes", (lua_Integer)ms->writes);
	lvq_setint(L, "bad_accesses", (lua_Integer)ms->bad_accesses);
	lvq_setint(L, "mmio_notifies", (lua_Integer)ms->notifies);
	lvq_setint(L, "mmio_interrupts", (lua_Integer)ms->interrupts);
	if (ld->slot->dev.cls->device_id == VIRTIO_ID_RNG)
		lvq_setint(L, "bytes_served", (lua_Integer)vq_rng_bytes_served(&ld->slot->dev));
	return 1;
}

static struct vq_queue *check_queue(lua_State *L, struct lvq_device *ld, int arg)
{
	unsigned q = (unsigned)lvq_checkrange(L, arg, VQ_DEV_MAX_QUEUES - 1);
	struct vq_queue *vq = vq_dev_queue(&ld->slot->dev, q);

	if (!vq)
		luaL_argerror(L, arg, lua_pushfstring(L, "%s has no queue %d", ld->slot->dev.name,
						      (int)q));
	return vq;
}

/* dev:queue(i): a snapshot of the device's view of queue i. */
static int d_queue(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	struct vq_queue *vq = check_queue(L, ld, 2);

	lua_createtable(L, 0, 16);
	lvq_setint(L, "index", lua_tointeger(L, 2));
	lvq_setint(L, "num_max", vq->num_max);
	lvq_setint(L, "num", vq->num);
	lua_pushboolean(L, vq->ready);
	lua_setfield(L, -2, "ready");
	lvq_setint(L, "desc", (lua_Integer)vq->addr.desc);
	lvq_setint(L, "driver", (lua_Integer)vq->addr.driver);
	lvq_setint(L, "device", (lua_Integer)vq->addr.device);
	lvq_setint(L, "notifies", (lua_Integer)vq->notifies);
	lvq_setint(L, "chains", (lua_Integer)vq->chains);
	lvq_setint(L, "used", (lua_Integer)vq->used);
	lvq_setint(L, "interrupts", (lua_Integer)vq->interrupts);
	lvq_setint(L, "errors", (lua_Integer)vq->errors);
	if (vq->ready) {
		lvq_setint(L, "last_avail", vq->ring.last_avail);
		lvq_setint(L, "used_idx", vq->ring.used_idx);
		lua_pushboolean(L, vq->ring.notify_enabled);
		lua_setfield(L, -2, "notify_enabled");
	}
	if (vq->ring.error) {
		lua_pushstring(L, vq_errname(vq->ring.error));
		lua_setfield(L, -2, "error");
	}
	return 1;
}

/* dev:ring(i): raw access to the ring areas the device was given. */
static int d_ring(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	struct vq_queue *vq = check_queue(L, ld, 2);

	if (!vq->num)
		return luaL_error(L, "%s.q%d: queue size is 0", ld->slot->dev.name,
				  (int)lua_tointeger(L, 2));
	lvq_pushqueue(L, 1, ld->slot, NULL, (unsigned)lua_tointeger(L, 2));
	return 1;
}

static int d_reset(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);

	return do_write(L, ld->slot, VIRTIO_MMIO_STATUS, 4, 0);
}

static int d_config(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, UINT32_MAX);
	uint32_t len = (uint32_t)lvq_optsize(L, 3, ld->slot->dev.config_len - (off < ld->slot->dev.config_len ? off : ld->slot->dev.config_len));
	luaL_Buffer b;
	int rc;

	if (len > 4096)
		return luaL_argerror(L, 3, "length above 4096");
	rc = vq_dev_config_read(&ld->slot->dev, off, luaL_buffinitsize(L, &b, len), len);
	if (rc < 0)
		return luaL_error(L, "%s: config(%d, %d): %s: config space is %d bytes",
				  ld->slot->dev.name, (int)off, (int)len, vq_errname(rc),
				  (int)ld->slot->dev.config_len);
	luaL_pushresultsize(&b, len);
	return 1;
}

static int d_getter(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	struct vq_dev *d = &ld->slot->dev;
	const char *k = lua_tostring(L, 2);

	if (strcmp(k, "name") == 0) {
		lua_pushstring(L, d->name);
	} else if (strcmp(k, "type") == 0) {
		const char *t = d->cls->name;
		lua_pushstring(L, strncmp(t, "virtio-", 7) == 0 ? t + 7 : t);
	} else if (strcmp(k, "id") == 0) {
		lua_pushinteger(L, d->cls->device_id);
	} else if (strcmp(k, "base") == 0) {
		lua_pushinteger(L, (lua_Integer)ld->slot->base);
	} else if (strcmp(k, "irq") == 0) {
		lua_pushinteger(L, ld->slot->irq);
	} else if (strcmp(k, "status") == 0) {
		lua_pushinteger(L, d->status);
	} else if (strcmp(k, "needs_reset") == 0) {
		lua_pushboolean(L, d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	} else if (strcmp(k, "features") == 0) {
		lvq_pushfeatures_for(L, d->driver_features, d->cls->device_id);
	} else if (strcmp(k, "offered") == 0) {
		lvq_pushfeatures_for(L, d->host_features, d->cls->device_id);
	} else if (strcmp(k, "error") == 0) {
		if (d->last_error)
			lua_pushstring(L, vq_errname(d->last_error));
		else
			lua_pushnil(L);
	} else if (strcmp(k, "error_msg") == 0) {
		if (d->last_error)
			lua_pushstring(L, d->last_error_msg);
		else
			lua_pushnil(L);
	} else if (strcmp(k, "nqueues") == 0) {
		lua_pushinteger(L, d->nqueues);
	} else if (strcmp(k, "config_generation") == 0) {
		lua_pushinteger(L, d->config_generation);
	} else if (strcmp(k, "interrupt_status") == 0) {
		lua_pushinteger(L, ld->slot->mmio.interrupt_status);
	} else if (strcmp(k, "machine") == 0) {
		lua_getiuservalue(L, 1, 1);
	} else {
		return 0;
	}
	return 1;
}

static int d_tostring(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	struct vq_dev *d = &ld->slot->dev;
	char buf[96];

	lua_pushfstring(L, "%s: %s (id %d) on mmio %s irq %d, status %s", d->name, d->cls->name,
			(int)d->cls->device_id, LVQ_HEX(ld->slot->base), (int)ld->slot->irq,
			vq_dev_status_str(d->status, buf, sizeof(buf)));
	if (d->last_error)
		lua_pushfstring(L, ", last error %s (%s)", vq_errname(d->last_error),
				d->last_error_msg);
	else
		lua_pushliteral(L, "");
	lua_concat(L, 2);
	return 1;
}

static const luaL_Reg methods[] = {
	{"read", d_read},     {"write", d_write},   {"reg", d_reg},
	{"status_str", d_status_str}, {"has", d_has}, {"stats", d_stats},
	{"queue", d_queue},   {"ring", d_ring},     {"reset", d_reset},
	{"config", d_config}, {NULL, NULL},
};

static const luaL_Reg meta[] = {{"__tostring", d_tostring}, {NULL, NULL}};

static const char *const fields[] = {
	"name", "type", "id", "base", "irq", "status", "needs_reset", "features", "offered",
	"error", "error_msg", "nqueues", "config_generation", "interrupt_status", "machine",
	NULL,
};

void lvq_open_device(lua_State *L)
{
	lvq_newclass(L, LVQ_DEVICE, methods, meta, d_getter, fields);
}

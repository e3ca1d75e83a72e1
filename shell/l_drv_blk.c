/* l_drv_blk.c - the driver object's virtio-blk (spec 5.2): d:blk_read, blk_write, blk_flush, blk_get_id,
 * blk_discard, blk_write_zeroes, blk_capacity, blk_used_len helpers (vqsim-lua(7) DRIVER).
 */
#include <string.h>

#include "l_driver.h"

/* ---- blk (spec 5.2) ---- */

#define LVQ_BLK_MAX_BYTES (UINT32_C(16) << 20)

static void push_blk_status(lua_State *L, int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK: lua_pushliteral(L, "OK"); break;
	case VIRTIO_BLK_S_IOERR: lua_pushliteral(L, "IOERR"); break;
	case VIRTIO_BLK_S_UNSUPP: lua_pushliteral(L, "UNSUPP"); break;
	default: lua_pushinteger(L, st); break;
	}
}

#define BLK_READY(fn) lvq_drv_check_ready(L, VIRTIO_ID_BLOCK, fn, 0, "d:init")

static int r_blk_read(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_read");
	uint64_t sector = lvq_drv_check_u64(L, 2, UINT64_MAX >> 1);
	uint32_t len = (uint32_t)lvq_checkrange(L, 3, LVQ_BLK_MAX_BYTES);
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	int st = vq_drv_blk_read(&dr->drv, sector, luaL_buffinitsize(L, &b, len ? len : 1), len);

	if (st < 0)
		return lvq_drv_helper_fail(L, dr, "blk_read", st, before);
	if (st != VIRTIO_BLK_S_OK) {
		lua_pushnil(L);
		push_blk_status(L, st);
		return 2;
	}
	luaL_pushresultsize(&b, len);
	return 1;
}

static int r_blk_write(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_write");
	uint64_t sector = lvq_drv_check_u64(L, 2, UINT64_MAX >> 1);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int st;

	if (len > LVQ_BLK_MAX_BYTES)
		return luaL_argerror(L, 3, "data longer than 16 MiB");
	st = vq_drv_blk_write(&dr->drv, sector, s, (uint32_t)len);
	if (st < 0)
		return lvq_drv_helper_fail(L, dr, "blk_write", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_flush(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_flush");
	uint64_t before = dr->slot->dev.stats.errors;
	int st = vq_drv_blk_flush(&dr->drv);

	if (st < 0)
		return lvq_drv_helper_fail(L, dr, "blk_flush", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_get_id(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_get_id");
	uint64_t before = dr->slot->dev.stats.errors;
	uint8_t id[VIRTIO_BLK_ID_BYTES];
	size_t n = 0;
	int st = vq_drv_blk_get_id(&dr->drv, id);

	if (st < 0)
		return lvq_drv_helper_fail(L, dr, "blk_get_id", st, before);
	if (st != VIRTIO_BLK_S_OK) {
		lua_pushnil(L);
		push_blk_status(L, st);
		return 2;
	}
	while (n < sizeof(id) && id[n])
		n++;
	lua_pushlstring(L, (const char *)id, n);
	return 1;
}

static int r_blk_discard(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_discard");
	uint64_t sector = lvq_drv_check_u64(L, 2, UINT64_MAX >> 1);
	uint32_t n = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);
	uint64_t before = dr->slot->dev.stats.errors;
	int st = vq_drv_blk_discard(&dr->drv, sector, n);

	if (st < 0)
		return lvq_drv_helper_fail(L, dr, "blk_discard", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_write_zeroes(lua_State *L)
{
	struct lvq_driver *dr = BLK_READY("blk_write_zeroes");
	uint64_t sector = lvq_drv_check_u64(L, 2, UINT64_MAX >> 1);
	uint32_t n = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);
	bool unmap = lua_toboolean(L, 4);
	uint64_t before = dr->slot->dev.stats.errors;
	int st = vq_drv_blk_write_zeroes(&dr->drv, sector, n, unmap);

	if (st < 0)
		return lvq_drv_helper_fail(L, dr, "blk_write_zeroes", st, before);
	push_blk_status(L, st);
	return 1;
}

static int r_blk_capacity(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BLOCK, "blk_capacity");
	uint64_t before = dr->slot->dev.stats.errors;
	int64_t cap = vq_drv_blk_capacity(&dr->drv);

	if (cap < 0)
		return lvq_drv_helper_fail(L, dr, "blk_capacity", (int)cap, before);
	lua_pushinteger(L, (lua_Integer)cap);
	return 1;
}

static int r_blk_used_len(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_BLOCK, "blk_used_len");

	lua_pushinteger(L, vq_drv_blk_used_len(&dr->drv));
	return 1;
}

const luaL_Reg lvq_drv_blk_methods[] = {
	{"blk_read", r_blk_read},
	{"blk_write", r_blk_write},
	{"blk_flush", r_blk_flush},
	{"blk_get_id", r_blk_get_id},
	{"blk_discard", r_blk_discard},
	{"blk_write_zeroes", r_blk_write_zeroes},
	{"blk_capacity", r_blk_capacity},
	{"blk_used_len", r_blk_used_len},
	{NULL, NULL},
};

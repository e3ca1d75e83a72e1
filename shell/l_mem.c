/* l_mem.c - the guest memory object m.mem: byte and scalar access, fault
 * injection, hexdumps (vqsim-lua(7) MEMORY).
 */
#include <stdlib.h>
#include <string.h>

#include "lvq.h"

#define MEM_READ_MAX (UINT64_C(64) << 20) /* largest single mem:read */

static struct vq_mem *checkmem(lua_State *L, int arg)
{
	struct lvq_machine *lm;

	luaL_checkudata(L, arg, LVQ_MEM);
	lua_getiuservalue(L, arg, 1);
	lm = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!lm || !lm->m)
		luaL_argerror(L, arg, "machine is closed");
	return vq_machine_mem(lm->m);
}

static int mem_fail(lua_State *L, int rc, uint64_t gpa, uint64_t len)
{
	return luaL_error(L, "mem: %s: %s (%s, %I bytes)", vq_errname(rc), vq_strerror(rc),
			  LVQ_HEX(gpa), (lua_Integer)len);
}

static int l_read(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	uint64_t gpa = lvq_checksize(L, 2), len = lvq_checksize(L, 3);
	luaL_Buffer b;
	int rc;

	if (len > MEM_READ_MAX)
		return luaL_argerror(L, 3, "length above 64 MiB");
	rc = vq_mem_read(mem, gpa, luaL_buffinitsize(L, &b, len), len);
	if (rc < 0)
		return mem_fail(L, rc, gpa, len);
	luaL_pushresultsize(&b, len);
	return 1;
}

static int l_write(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	uint64_t gpa = lvq_checksize(L, 2);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	int rc = vq_mem_write(mem, gpa, s, len);

	if (rc < 0)
		return mem_fail(L, rc, gpa, len);
	return 0;
}

static int l_fill(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	uint64_t gpa = lvq_checksize(L, 2), len = lvq_checksize(L, 3);
	int c = (int)lvq_checkrange(L, 4, 255);
	int rc;

	rc = vq_mem_fill(mem, gpa, c, len);
	if (rc < 0)
		return mem_fail(L, rc, gpa, len);
	return 0;
}

/* mem:uN(gpa [, v]): read, or write when v is given. */
static int scalar(lua_State *L, unsigned bytes)
{
	struct vq_mem *mem = checkmem(L, 1);
	uint64_t gpa = lvq_checksize(L, 2), v = 0;
	int rc;

	if (!lua_isnoneornil(L, 3)) {
		lua_Integer x = luaL_checkinteger(L, 3);
		if (bytes < 8 && (x < 0 || (uint64_t)x >> (8 * bytes)))
			return luaL_argerror(L, 3, lua_pushfstring(L, "value does not fit in %d bits",
								   (int)(8 * bytes)));
		switch (bytes) {
		case 1: rc = vq_mem_write8(mem, gpa, (uint8_t)x); break;
		case 2: rc = vq_mem_write16(mem, gpa, (uint16_t)x); break;
		case 4: rc = vq_mem_write32(mem, gpa, (uint32_t)x); break;
		default: rc = vq_mem_write64(mem, gpa, (uint64_t)x); break;
		}
		if (rc < 0)
			return mem_fail(L, rc, gpa, bytes);
		return 0;
	}
	switch (bytes) {
	case 1: { uint8_t x = 0; rc = vq_mem_read8(mem, gpa, &x); v = x; break; }
	case 2: { uint16_t x = 0; rc = vq_mem_read16(mem, gpa, &x); v = x; break; }
	case 4: { uint32_t x = 0; rc = vq_mem_read32(mem, gpa, &x); v = x; break; }
	default: rc = vq_mem_read64(mem, gpa, &v); break;
	}
	if (rc < 0)
		return mem_fail(L, rc, gpa, bytes);
	lua_pushinteger(L, (lua_Integer)v);
	return 1;
}

static int l_u8(lua_State *L) { return scalar(L, 1); }
static int l_u16(lua_State *L) { return scalar(L, 2); }
static int l_u32(lua_State *L) { return scalar(L, 4); }
static int l_u64(lua_State *L) { return scalar(L, 8); }

static int l_fault(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	uint64_t gpa = lvq_checksize(L, 2), len = lvq_checksize(L, 3);
	const char *dir = luaL_optstring(L, 4, "rw");
	unsigned acc;
	int id;

	if (strcmp(dir, "r") == 0)
		acc = VQ_ACC_READ;
	else if (strcmp(dir, "w") == 0)
		acc = VQ_ACC_WRITE;
	else if (strcmp(dir, "rw") == 0)
		acc = VQ_ACC_RW;
	else
		return luaL_argerror(L, 4, "direction must be \"r\", \"w\" or \"rw\"");
	id = vq_mem_fault_add(mem, gpa, len, acc);
	if (id < 0)
		return mem_fail(L, id, gpa, len);
	lua_pushinteger(L, id);
	return 1;
}

static int l_unfault(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);

	if (lua_isnoneornil(L, 2)) {
		vq_mem_fault_clear(mem);
		return 0;
	}
	if (vq_mem_fault_remove(mem, (int)luaL_checkinteger(L, 2)) < 0)
		return luaL_argerror(L, 2, "no fault with this id");
	return 0;
}

static int l_fault_hits(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	const struct vq_mem_fault *f = vq_mem_fault_get(mem, (int)luaL_checkinteger(L, 2));

	if (!f)
		return luaL_argerror(L, 2, "no fault with this id");
	lua_pushinteger(L, (lua_Integer)f->hits);
	return 1;
}

static int l_hexdump(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	uint64_t gpa = lvq_checksize(L, 2), len = lvq_optsize(L, 3, 64);
	uint8_t *buf;
	int rc;

	if (len > (UINT64_C(1) << 20))
		return luaL_argerror(L, 3, "length above 1 MiB");
	buf = lua_newuserdatauv(L, len ? len : 1, 0);
	rc = vq_mem_read(mem, gpa, buf, len);
	if (rc < 0)
		return mem_fail(L, rc, gpa, len);
	lvq_pushhexdump(L, buf, len, gpa);
	return 1;
}

static int l_dump(lua_State *L)
{
	size_t n;
	const char *s;

	lua_settop(L, 3);
	l_hexdump(L);
	s = lua_tolstring(L, -1, &n);
	fwrite(s, 1, n, stdout);
	fputc('\n', stdout);
	return 0;
}

static int l_regions(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);

	lua_newtable(L);
	for (unsigned i = 0; i < vq_mem_region_count(mem); i++) {
		uint64_t gpa, size;
		const char *name;
		vq_mem_region_info(mem, i, &gpa, &size, &name, NULL);
		lua_createtable(L, 0, 3);
		lvq_setint(L, "gpa", (lua_Integer)gpa);
		lvq_setint(L, "size", (lua_Integer)size);
		lua_pushstring(L, name ? name : "");
		lua_setfield(L, -2, "name");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int l_stats(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	struct vq_mem_stats st;

	vq_mem_get_stats(mem, &st);
	lua_createtable(L, 0, 3);
	lvq_setint(L, "translations", (lua_Integer)st.translations);
	lvq_setint(L, "refused", (lua_Integer)st.refused);
	lvq_setint(L, "fault_hits", (lua_Integer)st.fault_hits);
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct vq_mem *mem = checkmem(L, 1);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	luaL_addstring(&b, "mem:");
	for (unsigned i = 0; i < vq_mem_region_count(mem); i++) {
		uint64_t gpa, size;
		const char *name;
		vq_mem_region_info(mem, i, &gpa, &size, &name, NULL);
		lua_pushfstring(L, " [%s, %s) %s%s", LVQ_HEX(gpa), LVQ_HEX(gpa + size),
				name ? name : "", i + 1 < vq_mem_region_count(mem) ? ";" : "");
		luaL_addvalue(&b);
	}
	if (!vq_mem_region_count(mem))
		luaL_addstring(&b, " no regions");
	luaL_pushresult(&b);
	return 1;
}

static const luaL_Reg methods[] = {
	{"read", l_read},       {"write", l_write},   {"fill", l_fill},
	{"u8", l_u8},           {"u16", l_u16},       {"u32", l_u32},
	{"u64", l_u64},         {"fault", l_fault},   {"unfault", l_unfault},
	{"fault_hits", l_fault_hits}, {"hexdump", l_hexdump}, {"dump", l_dump},
	{"regions", l_regions}, {"stats", l_stats},   {NULL, NULL},
};

static const luaL_Reg meta[] = {{"__tostring", l_tostring}, {NULL, NULL}};

void lvq_open_mem(lua_State *L)
{
	lvq_newclass(L, LVQ_MEM, methods, meta, NULL, NULL);
}

/* l_pci.c - pci quirks of a device (dev:pci_ids, dev:pci_add_cap,
 * dev:pci_hide_cap: a function presenting unusual or hostile ids and
 * capabilities to a driver, emu/transport/pci_quirk.c) and the driver's
 * view of its pci function (d.pci).
 */
#include <string.h>

#include "lvq.h"

static struct vq_slot *pci_slot(lua_State *L, const char *what)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);

	if (ld->slot->transport != VQ_SLOT_PCI)
		luaL_error(L, "%s: %s needs the pci transport (device is on mmio)",
			   ld->slot->dev.name, what);
	return ld->slot;
}

static void push_ids(lua_State *L, const struct vq_pci_ids *ids)
{
	lua_createtable(L, 0, 5);
	lvq_setint(L, "vendor", ids->vendor);
	lvq_setint(L, "device", ids->device);
	lvq_setint(L, "revision", ids->revision);
	lvq_setint(L, "subsystem_vendor", ids->subsys_vendor);
	lvq_setint(L, "subsystem", ids->subsys);
}

/* An optional integer field k of the options table at 2, in [0, max]. */
static bool opt_field(lua_State *L, const char *fn, const char *k, lua_Integer max,
		      lua_Integer *v)
{
	bool set = lua_getfield(L, 2, k) != LUA_TNIL;

	if (set)
		*v = lvq_fieldint(L, -1, fn, k, 0, max);
	lua_pop(L, 1);
	return set;
}

/* dev:pci_ids([{vendor=, device=, revision=, subsystem_vendor=,
 * subsystem=}]): present the given ids; returns the ids now presented. */
int lvq_d_pci_ids(lua_State *L)
{
	static const char *const allowed[] = {"device", "revision", "subsystem",
					      "subsystem_vendor", "vendor", NULL};
	struct vq_slot *s = pci_slot(L, "pci_ids");
	struct vq_pci_ids ids;
	lua_Integer v;

	vq_pci_get_ids(&s->pci, &ids);
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lvq_checkopts(L, 2, "pci_ids", allowed);
		if (opt_field(L, "pci_ids", "vendor", 0xffff, &v))
			ids.vendor = (uint16_t)v;
		if (opt_field(L, "pci_ids", "device", 0xffff, &v))
			ids.device = (uint16_t)v;
		if (opt_field(L, "pci_ids", "revision", 0xff, &v))
			ids.revision = (uint8_t)v;
		if (opt_field(L, "pci_ids", "subsystem_vendor", 0xffff, &v))
			ids.subsys_vendor = (uint16_t)v;
		if (opt_field(L, "pci_ids", "subsystem", 0xffff, &v))
			ids.subsys = (uint16_t)v;
		vq_pci_quirk_ids(&s->pci, &ids);
	}
	push_ids(L, &ids);
	return 1;
}

/* cfg_type names (spec 4.1.4) */
static const struct {
	const char *name;
	unsigned type, at; /* at: the transport's own capability, 0 none */
} cap_names[] = {
	{"common", VQ_PCI_CAP_COMMON_CFG, VQ_PCI_CAP_COMMON_AT},
	{"notify", VQ_PCI_CAP_NOTIFY_CFG, VQ_PCI_CAP_NOTIFY_AT},
	{"isr", VQ_PCI_CAP_ISR_CFG, VQ_PCI_CAP_ISR_AT},
	{"device", VQ_PCI_CAP_DEVICE_CFG, VQ_PCI_CAP_DEVICE_AT},
	{"pci_cfg", VQ_PCI_CAP_PCI_CFG, VQ_PCI_CAP_PCICFG_AT},
	{"shared_memory", 8, 0},
	{"vendor_data", 9, 0},
	{"msix", 0, VQ_PCI_CAP_MSIX_AT},
};

/* dev:pci_add_cap{type=, bar=, offset=, length=, cap_len=, id=, vndr=,
 * extra=, last=}: a capability first (or last) on the list; returns its
 * config offset. */
int lvq_d_pci_add_cap(lua_State *L)
{
	static const char *const allowed[] = {"bar",	"cap_len", "extra", "id",   "last",
					      "length", "offset",  "type",  "vndr", NULL};
	struct vq_slot *s = pci_slot(L, "pci_add_cap");
	struct vq_pci_cap_quirk c = {0};
	lua_Integer v;
	int at;

	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, "pci_add_cap", allowed);
	if (lua_getfield(L, 2, "type") == LUA_TSTRING) {
		const char *name = lua_tostring(L, -1);
		size_t i;

		for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (cap_names[i].type && strcmp(name, cap_names[i].name) == 0)
				break;
		if (i == sizeof(cap_names) / sizeof(cap_names[0]))
			return luaL_error(L, "pci_add_cap: unknown type '%s' (common, notify, "
					  "isr, device, pci_cfg, shared_memory, vendor_data, or "
					  "a number 0-255)",
					  name);
		c.type = (uint8_t)cap_names[i].type;
	} else if (lua_isnil(L, -1)) {
		return luaL_error(L, "pci_add_cap: field 'type' is required");
	} else {
		c.type = (uint8_t)lvq_fieldint(L, -1, "pci_add_cap", "type", 0, 0xff);
	}
	lua_pop(L, 1);
	if (opt_field(L, "pci_add_cap", "bar", 0xff, &v))
		c.bar = (uint8_t)v;
	if (opt_field(L, "pci_add_cap", "id", 0xff, &v))
		c.id = (uint8_t)v;
	if (opt_field(L, "pci_add_cap", "vndr", 0xff, &v))
		c.vndr = (uint8_t)v;
	if (opt_field(L, "pci_add_cap", "cap_len", 0xff, &v))
		c.cap_len = (uint8_t)v;
	if (opt_field(L, "pci_add_cap", "offset", UINT32_MAX, &v))
		c.offset = (uint32_t)v;
	if (opt_field(L, "pci_add_cap", "length", UINT32_MAX, &v))
		c.length = (uint32_t)v;
	c.extra = c.type == VQ_PCI_CAP_NOTIFY_CFG ? VQ_PCI_NOTIFY_MULT : 0;
	if (opt_field(L, "pci_add_cap", "extra", UINT32_MAX, &v))
		c.extra = (uint32_t)v;
	lua_getfield(L, 2, "last");
	c.last = lua_toboolean(L, -1);
	lua_pop(L, 1);
	at = vq_pci_quirk_add_cap(&s->pci, &c);
	if (at == -VQ_E_NOSPC)
		return lvq_errorf(L, "%s: pci_add_cap: no room left in config space (0x%x-0xff "
				  "holds the added capabilities)",
				  s->dev.name, VQ_PCI_QUIRK_FIRST);
	if (at < 0)
		return lvq_fail(L, "pci_add_cap", at);
	lua_pushinteger(L, at);
	return 1;
}

/* dev:pci_hide_cap(what): take a capability off the list: the transport's
 * own by name, or the one at a config offset. */
int lvq_d_pci_hide_cap(lua_State *L)
{
	struct vq_slot *s = pci_slot(L, "pci_hide_cap");
	unsigned at = 0;
	int rc;

	if (lua_type(L, 2) == LUA_TSTRING) {
		const char *name = lua_tostring(L, 2);

		for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (cap_names[i].at && strcmp(name, cap_names[i].name) == 0)
				at = cap_names[i].at;
		if (!at)
			return luaL_argerror(L, 2, lua_pushfstring(L, "unknown capability '%s' "
						"(common, notify, isr, device, pci_cfg, msix, or a "
						"config offset)", name));
	} else {
		at = (unsigned)lvq_checkint(L, 2, "offset", 0x40, 0xfc);
	}
	rc = vq_pci_quirk_unlink_cap(&s->pci, at);
	if (rc < 0)
		return lvq_errorf(L, "%s: pci_hide_cap: no capability at 0x%x on the list",
				  s->dev.name, at);
	lua_pushboolean(L, 1);
	return 1;
}

void lvq_push_drv_pci(lua_State *L, const struct vq_drv *d)
{
	if (d->ops == NULL) { /* mmio */
		lua_pushnil(L);
		return;
	}
	lua_createtable(L, 0, 11);
	lvq_setint(L, "bar_index", d->pci.bar_index);
	lvq_setint(L, "bar", (lua_Integer)d->pci.bar);
	lvq_setint(L, "common", (lua_Integer)(d->pci.common - d->pci.bar));
	lvq_setint(L, "notify", (lua_Integer)(d->pci.notify - d->pci.bar));
	lvq_setint(L, "notify_len", d->pci.notify_len);
	lvq_setint(L, "notify_mult", d->pci.notify_mult);
	lvq_setint(L, "isr", (lua_Integer)(d->pci.isr - d->pci.bar));
	if (d->pci.device) /* no DEVICE_CFG capability: nil */
		lvq_setint(L, "device_cfg", (lua_Integer)(d->pci.device - d->pci.bar));
	lvq_setint(L, "device_len", d->pci.device_len);
	lua_pushboolean(L, d->pci.msix);
	lua_setfield(L, -2, "msix");
	lvq_setint(L, "nvectors", d->pci.nvectors);
}

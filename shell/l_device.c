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

/* A generic (virtio-mmio) register offset on a pci function: the bus
 * address and width of the field of the same meaning. Raises a Lua error
 * naming the register when pci has no such field. */
static uint64_t pci_reg(lua_State *L, struct vq_slot *s, uint32_t off, unsigned *width,
			bool write, uint32_t *val)
{
	uint64_t bar = vq_pci_bar_base(&s->pci);
	const char *name = lvq_reg_name(off);
	uint32_t f;
	unsigned w;

	if (bar == UINT64_MAX)
		luaL_error(L, "%s: pci BAR 0 is not placed or memory decoding is off",
			   s->dev.name);
	if (off >= VIRTIO_MMIO_CONFIG)
		return bar + VQ_PCI_DEVICE_OFF + (off - VIRTIO_MMIO_CONFIG);
	if (off == VIRTIO_MMIO_INTERRUPT_STATUS && !write) {
		*width = 1;
		return bar + VQ_PCI_ISR_OFF;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY && write) {
		*width = 2;
		return bar + VQ_PCI_NOTIFY_OFF + (uint64_t)(*val & 0xffff) * VQ_PCI_NOTIFY_MULT;
	}
	if (vq_pci_common_field(off, &f, &w) < 0) {
		if (name)
			lvq_errorf(L, "%s: register %s does not exist on the pci transport",
				   s->dev.name, name);
		lvq_errorf(L, "%s: register 0x%x does not exist on the pci transport", s->dev.name,
			   (unsigned)off);
	}
	*width = w;
	return bar + VQ_PCI_COMMON_OFF + f;
}

static int do_read(lua_State *L, struct vq_slot *s, uint32_t off, unsigned width)
{
	uint32_t v = 0;
	uint64_t gpa = s->base + off;
	int rc;

	if (s->transport == VQ_SLOT_PCI)
		gpa = pci_reg(L, s, off, &width, false, &v);
	rc = vq_machine_read(s->machine, gpa, width, &v);

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
	uint64_t gpa = s->base + off;
	int rc;

	if (s->transport == VQ_SLOT_PCI && off == VIRTIO_MMIO_INTERRUPT_ACK) {
		lua_pushboolean(L, 1); /* pci: reading the ISR acknowledged it */
		return 1;
	}
	if (s->transport == VQ_SLOT_PCI)
		gpa = pci_reg(L, s, off, &width, true, &v);
	rc = vq_machine_write(s->machine, gpa, width, v);

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

static int do_read_gpa(lua_State *L, struct vq_slot *s, uint64_t gpa, unsigned width)
{
	uint32_t v = 0;
	int rc = vq_machine_read(s->machine, gpa, width, &v);

	lua_pushinteger(L, v);
	if (rc < 0) {
		lua_pushstring(L, vq_errname(rc));
		return 2;
	}
	return 1;
}

static int do_write_gpa(lua_State *L, struct vq_slot *s, uint64_t gpa, unsigned width,
			uint32_t v)
{
	uint64_t before = s->dev.stats.errors + s->pci.stats.bad_accesses;
	int rc = vq_machine_write(s->machine, gpa, width, v);

	if (rc < 0) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, vq_errname(rc));
		if (s->dev.stats.errors + s->pci.stats.bad_accesses != before &&
		    s->dev.last_error_msg[0])
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
	int bit = lua_type(L, 2) == LUA_TNUMBER
			  ? (int)lvq_checkint(L, 2, "feature", 0, 64 * VQ_FEATURE_WORDS - 1)
			  : lvq_feature_bit_for(ld->slot->dev.cls->device_id,
						luaL_checkstring(L, 2));

	if (bit < 0 || bit >= 64 * VQ_FEATURE_WORDS)
		return luaL_argerror(L, 2, "unknown feature (see vqsim.features)");
	lua_pushboolean(L, vq_dev_has_feature(&ld->slot->dev, (unsigned)bit));
	return 1;
}

/* ---- device-side host controls (blk, net, balloon, console) ---- */

/* The device at 1, checked to be of type id; fn names the call in errors. */
static struct vq_dev *check_type(lua_State *L, uint32_t id, const char *tname, const char *fn)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	struct vq_dev *d = &ld->slot->dev;

	if (d->cls->device_id != id)
		luaL_error(L, "%s: %s: not a virtio-%s device (it is %s)", d->name, fn, tname,
			   d->cls->name);
	return d;
}

static int host_fail(lua_State *L, struct vq_dev *d, const char *fn, int rc, const char *why)
{
	if (why)
		luaL_error(L, "%s: %s: %s: %s", d->name, fn, vq_errname(rc), why);
	luaL_error(L, "%s: %s: %s: %s", d->name, fn, vq_errname(rc), vq_strerror(rc));
	return 0;
}

static int d_receive(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_NET, "net", "receive");
	size_t len;
	const char *f = luaL_checklstring(L, 2, &len);
	int rc = vq_net_receive(d, f, len);

	if (rc < 0)
		return host_fail(L, d, "receive", rc, NULL);
	return 0;
}

static int d_set_link(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_NET, "net", "set_link");
	int rc;

	luaL_checktype(L, 2, LUA_TBOOLEAN);
	rc = vq_net_set_link(d, lua_toboolean(L, 2));
	if (rc < 0)
		return host_fail(L, d, "set_link", rc, NULL);
	return 0;
}

static int d_announce(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_NET, "net", "announce");
	int rc = vq_net_announce(d);

	if (rc == -VQ_E_STATE)
		return host_fail(L, d, "announce", rc, "GUEST_ANNOUNCE and STATUS must be "
					"negotiated (spec 5.1.6.5.4)");
	if (rc == -VQ_E_NOT_READY)
		return host_fail(L, d, "announce", rc, "driver not running (no DRIVER_OK yet)");
	if (rc < 0)
		return host_fail(L, d, "announce", rc, NULL);
	return 0;
}

static int d_set_target(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_BALLOON, "balloon", "set_target");
	int rc = vq_balloon_set_target(d, (uint32_t)lvq_checkrange(L, 2, UINT32_MAX));

	if (rc < 0)
		return host_fail(L, d, "set_target", rc, NULL);
	return 0;
}

static int d_target(lua_State *L)
{
	lua_pushinteger(L, vq_balloon_target(check_type(L, VIRTIO_ID_BALLOON, "balloon", "target")));
	return 1;
}

static int d_actual(lua_State *L)
{
	lua_pushinteger(L, vq_balloon_actual(check_type(L, VIRTIO_ID_BALLOON, "balloon", "actual")));
	return 1;
}

static int d_request_stats(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_BALLOON, "balloon", "request_stats");
	int rc = vq_balloon_request_stats(d);

	if (rc == -VQ_E_STATE)
		return host_fail(L, d, "request_stats", rc, "STATS_VQ not negotiated or driver not "
					"running (spec 5.5.6.3)");
	if (rc == -VQ_E_NOT_READY)
		return host_fail(L, d, "request_stats", rc, "no stats buffer held: the guest has "
					"not sent one since the last request");
	if (rc < 0)
		return host_fail(L, d, "request_stats", rc, NULL);
	return 0;
}

static int d_inflated(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_BALLOON, "balloon", "inflated");

	lua_pushboolean(L, vq_balloon_page_inflated(d, (uint32_t)lvq_checkrange(L, 2, UINT32_MAX)));
	return 1;
}

/* Port at arg of console d, checked against its ports. */
static unsigned check_cport(lua_State *L, struct vq_dev *d, int arg)
{
	struct vq_console_stats st;
	lua_Integer p = luaL_checkinteger(L, arg);

	vq_console_get_stats(d, &st);
	if (p < 0 || p >= (lua_Integer)st.nports)
		luaL_argerror(L, arg, lua_pushfstring(L, "%s has no port %I (ports 0..%d)", d->name,
						      p, (int)st.nports - 1));
	return (unsigned)p;
}

static int d_port_write(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_CONSOLE, "console", "port_write");
	unsigned port = check_cport(L, d, 2);
	size_t len;
	const char *s = luaL_checklstring(L, 3, &len);
	long n = vq_console_port_write(d, port, s, len);

	if (n < 0)
		return host_fail(L, d, "port_write", (int)n, NULL);
	lua_pushinteger(L, n);
	return 1;
}

static int d_port_read(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_CONSOLE, "console", "port_read");
	unsigned port = check_cport(L, d, 2);
	size_t cap = lua_isnoneornil(L, 3) ? 65536 : (size_t)lvq_checkrange(L, 3, 1u << 24);
	luaL_Buffer b;
	long n = vq_console_port_read(d, port, luaL_buffinitsize(L, &b, cap ? cap : 1), cap);

	if (n == -VQ_E_STATE)
		return host_fail(L, d, "port_read", (int)n, "the port has a backend (only "
					"buffer ports are read this way)");
	if (n < 0)
		return host_fail(L, d, "port_read", (int)n, NULL);
	luaL_pushresultsize(&b, (size_t)n);
	return 1;
}

static int d_resize(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_CONSOLE, "console", "resize");
	uint16_t cols = (uint16_t)lvq_checkrange(L, 2, 0xffff);
	uint16_t rows = (uint16_t)lvq_checkrange(L, 3, 0xffff);
	int rc = vq_console_resize(d, cols, rows);

	if (rc < 0)
		return host_fail(L, d, "resize", rc, NULL);
	return 0;
}

static int d_port_state(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_CONSOLE, "console", "port_state");
	unsigned port = check_cport(L, d, 2);
	uint64_t to = 0, from = 0;

	vq_console_port_queued(d, port, &to, &from);
	lua_createtable(L, 0, 4);
	lua_pushboolean(L, vq_console_port_guest_open(d, port));
	lua_setfield(L, -2, "guest_open");
	lua_pushboolean(L, vq_console_port_host_connected(d, port));
	lua_setfield(L, -2, "host_connected");
	lvq_setint(L, "to_guest", (lua_Integer)to);
	lvq_setint(L, "from_guest", (lua_Integer)from);
	if (vq_console_port_pty_path(d, port)) {
		lua_pushstring(L, vq_console_port_pty_path(d, port));
		lua_setfield(L, -2, "pty");
	}
	return 1;
}

/* console:pty_path(port) -> the slave path of a pty port ("/dev/pts/N"),
 * or nil when the port has another backend */
static int d_pty_path(lua_State *L)
{
	struct vq_dev *d = check_type(L, VIRTIO_ID_CONSOLE, "console", "pty_path");
	const char *p = vq_console_port_pty_path(d, check_cport(L, d, 2));

	if (p)
		lua_pushstring(L, p);
	else
		lua_pushnil(L);
	return 1;
}

#define SET(st, f) lvq_setint(L, #f, (lua_Integer)(st).f)

/* Add the counters of d's device type to the table on top of the stack. */
static void push_type_stats(lua_State *L, struct vq_dev *d)
{
	switch (d->cls->device_id) {
	case VIRTIO_ID_BLOCK: {
		struct vq_blk_stats s;
		if (vq_blk_get_stats(d, &s) < 0)
			break;
		SET(s, req_in); SET(s, req_out); SET(s, req_flush); SET(s, req_get_id);
		SET(s, req_discard); SET(s, req_write_zeroes); SET(s, req_other);
		SET(s, status_ok); SET(s, status_ioerr); SET(s, status_unsupp);
		SET(s, no_status); SET(s, short_header); SET(s, bad_length); SET(s, out_of_range);
		SET(s, readonly_refused); SET(s, not_negotiated); SET(s, backend_errors);
		SET(s, config_ignored); SET(s, bytes_read); SET(s, bytes_written);
		SET(s, bytes_zeroed); SET(s, bytes_discarded); SET(s, syncs);
		break;
	}
	case VIRTIO_ID_NET: {
		struct vq_net_stats s;
		if (vq_net_get_stats(d, &s) < 0)
			break;
		SET(s, tx_frames); SET(s, tx_bytes); SET(s, rx_frames); SET(s, rx_bytes);
		SET(s, rx_queued); SET(s, rx_drop_queue_full); SET(s, rx_drop_too_big);
		SET(s, rx_drop_runt); SET(s, rx_drop_buf_small); SET(s, rx_drop_filtered);
		SET(s, rx_drop_link_down); SET(s, rx_drop_reset); SET(s, rx_bad_buffers);
		SET(s, tx_errors); SET(s, tx_hdr_short); SET(s, tx_bad_frame); SET(s, tx_bad_offload);
		SET(s, tx_inactive_queue); SET(s, tx_link_down); SET(s, tx_backend);
		SET(s, ctrl_ok); SET(s, ctrl_err); SET(s, ignored_notifies); SET(s, announces);
		SET(s, config_writes); SET(s, backend_read_errors); SET(s, rx_drop_truncated);
		lvq_setint(L, "active_pairs", vq_net_active_pairs(d));
		break;
	}
	case VIRTIO_ID_BALLOON: {
		struct vq_balloon_counters s;
		struct vq_balloon_stats g;
		if (vq_balloon_counters(d, &s) < 0 || vq_balloon_stats(d, &g) < 0)
			break;
		SET(s, balloon_pages); SET(s, inflated); SET(s, inflate_repeat); SET(s, deflated);
		SET(s, deflate_unknown); SET(s, refused); SET(s, bad_length); SET(s, pfns_cut);
		SET(s, punch_errors);
		SET(s, reported_pages); SET(s, report_kept_pages); SET(s, report_refused);
		SET(s, hinted_pages); SET(s, hint_ignored); SET(s, hint_errors);
		SET(s, stats_buffers); SET(s, stats_errors); SET(s, stats_unknown);
		SET(s, stats_extra); SET(s, config_refused);
		lvq_setint(L, "target", vq_balloon_target(d));
		lvq_setint(L, "actual", vq_balloon_actual(d));
		/* what the guest last reported, by tag name (spec 5.5.6.3.1) */
		static const char *const tags[VIRTIO_BALLOON_S_NR] = {
			"SWAP_IN", "SWAP_OUT", "MAJFLT", "MINFLT", "MEMFREE", "MEMTOT", "AVAIL",
			"CACHES", "HTLB_PGALLOC", "HTLB_PGFAIL",
		};
		lua_createtable(L, 0, VIRTIO_BALLOON_S_NR);
		for (int t = 0; t < VIRTIO_BALLOON_S_NR; t++)
			if (g.present & (UINT32_C(1) << t))
				lvq_setint(L, tags[t], (lua_Integer)g.val[t]);
		lua_setfield(L, -2, "guest");
		lvq_setint(L, "guest_updates", (lua_Integer)g.updates);
		break;
	}
	case VIRTIO_ID_CONSOLE: {
		struct vq_console_stats s;
		if (vq_console_get_stats(d, &s) < 0)
			break;
		SET(s, nports);
		lua_pushboolean(L, s.multiport);
		lua_setfield(L, -2, "multiport");
		SET(s, emerg_writes); SET(s, emerg_dropped); SET(s, config_bad_writes);
		SET(s, ctrl_in); SET(s, ctrl_out); SET(s, ctrl_short); SET(s, ctrl_bad_event);
		SET(s, ctrl_bad_id); SET(s, ctrl_unexpected); SET(s, ctrl_small_buffers);
		SET(s, ctrl_truncated);
		lua_createtable(L, 0, (int)s.nports); /* ports[0 .. nports-1] */
		for (unsigned p = 0; p < s.nports && p < VQ_CONSOLE_MAX_PORTS; p++) {
			const struct vq_console_port_stats *ps = &s.port[p];
			lua_createtable(L, 0, 13);
			SET(*ps, host_in); SET(*ps, to_guest); SET(*ps, from_guest);
			SET(*ps, rx_chains); SET(*ps, tx_chains); SET(*ps, tx_stalls);
			SET(*ps, connects); SET(*ps, hangups); SET(*ps, guest_opens);
			SET(*ps, guest_closes); SET(*ps, bad_chains); SET(*ps, tx_dropped);
			SET(*ps, tx_discarded);
			lua_rawseti(L, -2, (lua_Integer)p);
		}
		lua_setfield(L, -2, "ports");
		break;
	}
	case VIRTIO_ID_RNG: {
		struct vq_rng_stats s;
		if (vq_rng_get_stats(d, &s) < 0)
			break;
		SET(s, bytes_served); SET(s, requests); SET(s, capped);
		break;
	}
	default:
		break;
	}
}

#undef SET

static int d_stats(lua_State *L)
{
	struct lvq_device *ld = lvq_checkdevice(L, 1);
	const struct vq_dev_stats *st = &ld->slot->dev.stats;
	const struct vq_mmio_stats *ms = &ld->slot->mmio.stats;
	struct vq_mmio_stats pcs;

	if (ld->slot->transport == VQ_SLOT_PCI) {
		const struct vq_pci_stats *p = &ld->slot->pci.stats;

		pcs = (struct vq_mmio_stats){.reads = p->reads, .writes = p->writes,
					     .bad_accesses = p->bad_accesses,
					     .notifies = p->notifies, .interrupts = p->interrupts};
		ms = &pcs;
	}

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
	if (ld->slot->transport == VQ_SLOT_PCI)
		lvq_setint(L, "isr_reads", (lua_Integer)ld->slot->pci.stats.isr_reads);
	push_type_stats(L, &ld->slot->dev);
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
	lvq_setint(L, "held_dropped", (lua_Integer)vq->held_dropped);
	/* VIRTIO_F_NOTIFICATION_DATA: the last notification's data */
	lvq_setint(L, "notify_datas", (lua_Integer)vq->notify_datas);
	lvq_setint(L, "notify_next_off", vq->notify_next_off);
	lua_pushboolean(L, vq->notify_next_wrap);
	lua_setfield(L, -2, "notify_next_wrap");
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
		/* an outside device stands for its kind: "blk" */
		if (vq_vhost_frontend_kind(d))
			t = vq_vhost_frontend_kind(d);
		lua_pushstring(L, strncmp(t, "virtio-", 7) == 0 ? t + 7 : t);
	} else if (strcmp(k, "outside") == 0) {
		/* a vhost-user front-end device: what its back-end did; else nil */
		struct vq_vhost_frontend_stats st;

		if (vq_vhost_frontend_get_stats(d, &st) < 0) {
			lua_pushnil(L);
		} else {
			lua_createtable(L, 0, 10);
			lvq_setint(L, "messages", (lua_Integer)st.messages);
			lvq_setint(L, "kicks", (lua_Integer)st.kicks);
			lvq_setint(L, "calls", (lua_Integer)st.calls);
			lvq_setint(L, "calls_ignored", (lua_Integer)st.calls_ignored);
			lvq_setint(L, "used_seen", (lua_Integer)st.used_seen);
			lvq_setint(L, "starts", (lua_Integer)st.starts);
			lvq_setint(L, "reconnects", (lua_Integer)st.reconnects);
			lvq_setint(L, "features", (lua_Integer)st.features);
			lvq_setint(L, "protocol", (lua_Integer)st.protocol);
			lua_pushboolean(L, st.dead);
			lua_setfield(L, -2, "dead");
			lua_pushstring(L, st.last_error);
			lua_setfield(L, -2, "last_error");
		}
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
		lua_pushinteger(L, ld->slot->transport == VQ_SLOT_PCI ? ld->slot->pci.isr
								      : ld->slot->mmio.interrupt_status);
	} else if (strcmp(k, "transport") == 0) {
		lua_pushstring(L, ld->slot->transport == VQ_SLOT_PCI ? "pci" : "mmio");
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

	lua_pushfstring(L, "%s: %s (id %d) on %s %s irq %d, status %s", d->name, d->cls->name,
			(int)d->cls->device_id,
			ld->slot->transport == VQ_SLOT_PCI ? "pci ecam" : "mmio",
			LVQ_HEX(ld->slot->base), (int)ld->slot->irq,
			vq_dev_status_str(d->status, buf, sizeof(buf)));
	if (d->last_error)
		lua_pushfstring(L, ", last error %s (%s)", vq_errname(d->last_error),
				d->last_error_msg);
	else
		lua_pushliteral(L, "");
	lua_concat(L, 2);
	return 1;
}

/* ---- pci-specific access ---- */

static struct vq_slot *check_pci(lua_State *L, int arg, const char *what)
{
	struct lvq_device *ld = lvq_checkdevice(L, arg);

	if (ld->slot->transport != VQ_SLOT_PCI)
		luaL_error(L, "%s: %s needs the pci transport (device is on mmio)",
			   ld->slot->dev.name, what);
	return ld->slot;
}

/* dev:pci_read(off [, width]): config space (through ECAM). */
static int d_pci_read(lua_State *L)
{
	struct vq_slot *s = check_pci(L, 1, "pci_read");
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, VQ_PCI_ECAM_FN_SIZE - 1);

	return do_read_gpa(L, s, s->base + off, check_width(L, 3));
}

/* dev:pci_write(off, value [, width]) */
static int d_pci_write(lua_State *L)
{
	struct vq_slot *s = check_pci(L, 1, "pci_write");
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, VQ_PCI_ECAM_FN_SIZE - 1);
	uint32_t v = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);

	return do_write_gpa(L, s, s->base + off, check_width(L, 4), v);
}

/* dev:pci_strap(off, value [, width]): config-space bytes as the
 * function's hardware presents them, read-only ones included. */
static int d_pci_strap(lua_State *L)
{
	struct vq_slot *s = check_pci(L, 1, "pci_strap");
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, VQ_PCI_CFG_SIZE - 1);
	uint32_t v = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);
	unsigned w = check_width(L, 4);

	if (off % w || off + w > VQ_PCI_CFG_SIZE)
		return lvq_errorf(L, "%s: pci_strap: offset 0x%x is not aligned to width %u or "
				  "runs past the %u-byte config space", s->dev.name, (unsigned)off,
				  w, VQ_PCI_CFG_SIZE);
	if (w < 4 && v >> (8 * w))
		return lvq_errorf(L, "%s: pci_strap: value 0x%x does not fit in %u bytes",
				  s->dev.name, (unsigned)v, w);
	vq_pci_cfg_strap(&s->pci, off, w, v);
	return 0;
}

/* dev:bar_read(off [, width]) / dev:bar_write(off, value [, width]): BAR 0. */
static int d_bar_read(lua_State *L)
{
	struct vq_slot *s = check_pci(L, 1, "bar_read");
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, VQ_PCI_BAR_SIZE - 1);
	uint64_t bar = vq_pci_bar_base(&s->pci);

	if (bar == UINT64_MAX)
		return luaL_error(L, "%s: BAR 0 is not decoded", s->dev.name);
	return do_read_gpa(L, s, bar + off, check_width(L, 3));
}

static int d_bar_write(lua_State *L)
{
	struct vq_slot *s = check_pci(L, 1, "bar_write");
	uint32_t off = (uint32_t)lvq_checkrange(L, 2, VQ_PCI_BAR_SIZE - 1);
	uint32_t v = (uint32_t)lvq_checkrange(L, 3, UINT32_MAX);
	uint64_t bar = vq_pci_bar_base(&s->pci);

	if (bar == UINT64_MAX)
		return luaL_error(L, "%s: BAR 0 is not decoded", s->dev.name);
	return do_write_gpa(L, s, bar + off, check_width(L, 4), v);
}

/* dev:msix(vector): {addr=, data=, masked=, pending=} of a table entry. */
static int d_msix(lua_State *L)
{
	struct vq_slot *s = check_pci(L, 1, "msix");
	unsigned v = (unsigned)lvq_checkrange(L, 2, s->pci.nvectors - 1);

	lua_createtable(L, 0, 4);
	lvq_setint(L, "addr",
		   (lua_Integer)(s->pci.msix_table[v][0] | (uint64_t)s->pci.msix_table[v][1] << 32));
	lvq_setint(L, "data", (lua_Integer)s->pci.msix_table[v][2]);
	lua_pushboolean(L, s->pci.msix_table[v][3] & 1);
	lua_setfield(L, -2, "masked");
	lua_pushboolean(L, (s->pci.pba[v / 64] >> (v % 64)) & 1);
	lua_setfield(L, -2, "pending");
	lua_pushboolean(L, vq_pci_msix_enabled(&s->pci));
	lua_setfield(L, -2, "enabled");
	return 1;
}

static const luaL_Reg methods[] = {
	{"pci_read", d_pci_read}, {"pci_write", d_pci_write}, {"pci_strap", d_pci_strap},
	{"bar_read", d_bar_read},
	{"bar_write", d_bar_write}, {"msix", d_msix},
	{"pci_ids", lvq_d_pci_ids}, {"pci_add_cap", lvq_d_pci_add_cap},
	{"pci_hide_cap", lvq_d_pci_hide_cap},
	{"read", d_read},     {"write", d_write},   {"reg", d_reg},
	{"status_str", d_status_str}, {"has", d_has}, {"stats", d_stats},
	{"queue", d_queue},   {"ring", d_ring},     {"reset", d_reset},
	{"config", d_config},
	{"receive", d_receive}, {"set_link", d_set_link}, {"announce", d_announce},
	{"set_target", d_set_target}, {"target", d_target}, {"actual", d_actual},
	{"request_stats", d_request_stats}, {"inflated", d_inflated},
	{"port_write", d_port_write}, {"port_read", d_port_read}, {"resize", d_resize},
	{"port_state", d_port_state}, {"pty_path", d_pty_path}, {NULL, NULL},
};

static const luaL_Reg meta[] = {{"__tostring", d_tostring}, {NULL, NULL}};

static const char *const fields[] = {
	"name", "type", "outside", "id", "base", "irq", "status", "needs_reset", "features", "offered",
	"error", "error_msg", "nqueues", "config_generation", "interrupt_status", "machine",
	"transport", NULL,
};

void lvq_open_device(lua_State *L)
{
	lvq_newclass(L, LVQ_DEVICE, methods, meta, d_getter, fields);
}

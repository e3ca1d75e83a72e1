/* l_drv_net.c - the driver object's virtio-net (spec 5.1): d:net_init, net_send, net_recv, net_post_rx,
 * net_ctrl, net_set_pairs, net_mac helpers (vqsim-lua(7) DRIVER).
 */
#include <string.h>

#include "l_driver.h"

/* ---- net (spec 5.1) ---- */

static int r_net_init(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_init");
	static const char *const allowed[] = {"features", "no_rx", "rx_buf_len", "rx_bufs", "ring", NULL};
	uint64_t feats = lvq_drv_opt_features(L, dr, 2, "net_init", allowed);
	struct vq_drv_net_cfg cfg = {
		.rx_buf_len = (uint32_t)lvq_drv_opt_field(L, 2, "rx_buf_len", VQ_NET_FRAME_MAX + 12u, 0,
						  "net_init"),
		.rx_bufs = (uint16_t)lvq_drv_opt_field(L, 2, "rx_bufs", VIRTQ_MAX_SIZE, 0, "net_init"),
	};
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "no_rx");
		cfg.no_rx = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (cfg.rx_buf_len && cfg.rx_buf_len < VIRTIO_NET_HDR_LEN)
		return luaL_error(L, "bad field 'rx_buf_len' to 'net_init' (at least the %d-byte "
				     "header, spec 5.1.6.3.1)", (int)VIRTIO_NET_HDR_LEN);
	rc = vq_drv_net_init(&dr->drv, feats, &cfg);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "net_init", rc, before);
	lua_settop(L, 1);
	return 1;
}

/* Which pair at arg (default 0), checked against the pairs set up. */
static unsigned check_pair(lua_State *L, struct lvq_driver *dr, int arg, const char *fn)
{
	lua_Integer p = luaL_optinteger(L, arg, 0);
	unsigned n = vq_drv_net_pairs(&dr->drv);

	if (!n)
		luaL_error(L, "%s: %s: driver not initialised (d:net_init first)",
			   dr->slot->dev.name, fn);
	if (p < 0 || p >= (lua_Integer)n)
		luaL_argerror(L, arg, lua_pushfstring(L, "no queue pair %I (%d set up)", p, (int)n));
	return (unsigned)p;
}

static const char *const net_hdr_fields[] = {
	"flags", "gso_type", "hdr_len", "gso_size", "csum_start", "csum_offset", "num_buffers",
	NULL,
};

static int r_net_send(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_send");
	size_t len;
	const char *frame = luaL_checklstring(L, 2, &len);
	unsigned pair = check_pair(L, dr, 3, "net_send");
	struct virtio_net_hdr hdr = {0};
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (len > VQ_NET_FRAME_MAX)
		return luaL_argerror(L, 2, "frame longer than 65553 bytes (mtu 65535 + a tagged Ethernet header)");
	if (!lua_isnoneornil(L, 4)) {
		uint16_t v[7] = {0};
		luaL_checktype(L, 4, LUA_TTABLE);
		lvq_checkopts(L, 4, "net_send", net_hdr_fields);
		for (int i = 0; net_hdr_fields[i]; i++)
			v[i] = (uint16_t)lvq_drv_opt_field(L, 4, net_hdr_fields[i], i < 2 ? 0xff : 0xffff, 0,
						   "net_send");
		hdr.flags = (uint8_t)v[0];
		hdr.gso_type = (uint8_t)v[1];
		vq_put_le16(&hdr.hdr_len, v[2]);
		vq_put_le16(&hdr.gso_size, v[3]);
		vq_put_le16(&hdr.csum_start, v[4]);
		vq_put_le16(&hdr.csum_offset, v[5]);
		vq_put_le16(&hdr.num_buffers, v[6]);
	}
	rc = vq_drv_net_send(&dr->drv, pair, frame, (uint32_t)len, &hdr);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "net_send", rc, before);
	return 0;
}

static int r_net_recv(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_recv");
	unsigned pair = check_pair(L, dr, 2, "net_recv");
	struct virtio_net_hdr hdr;
	uint64_t before = dr->slot->dev.stats.errors;
	luaL_Buffer b;
	long n = vq_drv_net_recv(&dr->drv, pair, luaL_buffinitsize(L, &b, VQ_NET_FRAME_MAX),
				 VQ_NET_FRAME_MAX, &hdr);

	if (n < 0)
		return lvq_drv_helper_fail(L, dr, "net_recv", (int)n, before);
	if (n == 0) {
		lua_pushnil(L);
		return 1;
	}
	luaL_pushresultsize(&b, (size_t)n > VQ_NET_FRAME_MAX ? VQ_NET_FRAME_MAX : (size_t)n);
	lua_createtable(L, 0, 7);
	lvq_setint(L, "flags", hdr.flags);
	lvq_setint(L, "gso_type", hdr.gso_type);
	lvq_setint(L, "hdr_len", vq_get_le16(&hdr.hdr_len));
	lvq_setint(L, "gso_size", vq_get_le16(&hdr.gso_size));
	lvq_setint(L, "csum_start", vq_get_le16(&hdr.csum_start));
	lvq_setint(L, "csum_offset", vq_get_le16(&hdr.csum_offset));
	lvq_setint(L, "num_buffers", vq_get_le16(&hdr.num_buffers));
	return 2;
}

static int r_net_post_rx(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_post_rx");
	unsigned n = (unsigned)lvq_checkrange(L, 2, VIRTQ_MAX_SIZE);
	unsigned pair = check_pair(L, dr, 3, "net_post_rx");
	uint64_t before = dr->slot->dev.stats.errors;
	int rc = vq_drv_net_post_rx(&dr->drv, pair, n);

	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "net_post_rx", rc, before);
	lua_pushinteger(L, rc);
	return 1;
}

/* Control classes and their commands by name (spec 5.1.6.5). */
static const struct {
	const char *cls;
	uint8_t cls_v;
	const char *cmd;
	uint8_t cmd_v;
} net_ctrl_names[] = {
	{"RX", VIRTIO_NET_CTRL_RX, "PROMISC", VIRTIO_NET_CTRL_RX_PROMISC},
	{"RX", VIRTIO_NET_CTRL_RX, "ALLMULTI", VIRTIO_NET_CTRL_RX_ALLMULTI},
	{"RX", VIRTIO_NET_CTRL_RX, "ALLUNI", VIRTIO_NET_CTRL_RX_ALLUNI},
	{"RX", VIRTIO_NET_CTRL_RX, "NOMULTI", VIRTIO_NET_CTRL_RX_NOMULTI},
	{"RX", VIRTIO_NET_CTRL_RX, "NOUNI", VIRTIO_NET_CTRL_RX_NOUNI},
	{"RX", VIRTIO_NET_CTRL_RX, "NOBCAST", VIRTIO_NET_CTRL_RX_NOBCAST},
	{"MAC", VIRTIO_NET_CTRL_MAC, "TABLE_SET", VIRTIO_NET_CTRL_MAC_TABLE_SET},
	{"MAC", VIRTIO_NET_CTRL_MAC, "ADDR_SET", VIRTIO_NET_CTRL_MAC_ADDR_SET},
	{"VLAN", VIRTIO_NET_CTRL_VLAN, "ADD", VIRTIO_NET_CTRL_VLAN_ADD},
	{"VLAN", VIRTIO_NET_CTRL_VLAN, "DEL", VIRTIO_NET_CTRL_VLAN_DEL},
	{"ANNOUNCE", VIRTIO_NET_CTRL_ANNOUNCE, "ACK", VIRTIO_NET_CTRL_ANNOUNCE_ACK},
	{"MQ", VIRTIO_NET_CTRL_MQ, "VQ_PAIRS_SET", VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET},
	{"GUEST_OFFLOADS", VIRTIO_NET_CTRL_GUEST_OFFLOADS, "SET",
	 VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET},
};
#define NNET_CTRL (sizeof(net_ctrl_names) / sizeof(net_ctrl_names[0]))

/* Push the control queue's answer: "OK", "ERR", else the byte. */
static int push_ack(lua_State *L, int ack)
{
	if (ack == VIRTIO_NET_OK)
		lua_pushliteral(L, "OK");
	else if (ack == VIRTIO_NET_ERR)
		lua_pushliteral(L, "ERR");
	else
		lua_pushinteger(L, ack);
	return 1;
}

static int r_net_ctrl(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_ctrl");
	int cls = -1, cmd = -1;
	size_t len = 0;
	const char *data = luaL_optlstring(L, 4, "", &len);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (lua_type(L, 2) == LUA_TSTRING) {
		for (size_t i = 0; i < NNET_CTRL; i++)
			if (strcmp(net_ctrl_names[i].cls, lua_tostring(L, 2)) == 0)
				cls = net_ctrl_names[i].cls_v;
		if (cls < 0)
			return luaL_argerror(L, 2, "unknown class (RX, MAC, VLAN, ANNOUNCE, MQ, "
						   "GUEST_OFFLOADS, or a number)");
	} else {
		cls = (int)lvq_checkrange(L, 2, 255);
	}
	if (lua_type(L, 3) == LUA_TSTRING) {
		for (size_t i = 0; i < NNET_CTRL; i++)
			if (net_ctrl_names[i].cls_v == cls &&
			    strcmp(net_ctrl_names[i].cmd, lua_tostring(L, 3)) == 0)
				cmd = net_ctrl_names[i].cmd_v;
		if (cmd < 0)
			return luaL_argerror(L, 3, lua_pushfstring(L, "unknown command '%s' of class "
						"%d (see help \"net_ctrl\")", lua_tostring(L, 3), cls));
	} else {
		cmd = (int)lvq_checkrange(L, 3, 255);
	}
	if (len > VQ_NET_CTRL_DATA_MAX)
		return luaL_argerror(L, 4, "command data longer than 16384 bytes");
	if (vq_drv_net_ctrlq(&dr->drv) < 0)
		return luaL_error(L, "%s: net_ctrl: no control queue (d:net_init with "
				     "features={\"CTRL_VQ\"}, spec 5.1.2)", dr->slot->dev.name);
	rc = vq_drv_net_ctrl(&dr->drv, (uint8_t)cls, (uint8_t)cmd, data, (uint32_t)len);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "net_ctrl", rc, before);
	return push_ack(L, rc);
}

static int r_net_set_pairs(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_set_pairs");
	unsigned n = (unsigned)lvq_checkrange(L, 2, 0xffff);
	uint64_t before = dr->slot->dev.stats.errors;
	int rc;

	if (vq_drv_net_ctrlq(&dr->drv) < 0)
		return luaL_error(L, "%s: net_set_pairs: no control queue (d:net_init with "
				     "features={\"CTRL_VQ\", \"MQ\"})", dr->slot->dev.name);
	rc = vq_drv_net_set_pairs(&dr->drv, n);
	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "net_set_pairs", rc, before);
	return push_ack(L, rc);
}

static int r_net_mac(lua_State *L)
{
	struct lvq_driver *dr = lvq_drv_check_type(L, VIRTIO_ID_NET, "net_mac");
	uint64_t before = dr->slot->dev.stats.errors;
	uint8_t mac[6];
	int rc = vq_drv_net_mac(&dr->drv, mac);
	char s[18];

	if (rc < 0)
		return lvq_drv_helper_fail(L, dr, "net_mac", rc, before);
	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	lua_pushstring(L, s);
	return 1;
}

const luaL_Reg lvq_drv_net_methods[] = {
	{"net_init", r_net_init},
	{"net_send", r_net_send},
	{"net_recv", r_net_recv},
	{"net_post_rx", r_net_post_rx},
	{"net_ctrl", r_net_ctrl},
	{"net_set_pairs", r_net_set_pairs},
	{"net_mac", r_net_mac},
	{NULL, NULL},
};

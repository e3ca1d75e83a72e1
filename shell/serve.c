/* serve.c - vqsim --vhost-user PATH --device TYPE[,options]: one device
 * served to a vhost-user front-end (QEMU: -chardev socket,path=PATH) until
 * SIGINT or SIGTERM; and the Lua side of the same, m:serve{} and friends.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lvq.h"

static volatile sig_atomic_t serve_stop;

static void on_stop(int sig)
{
	(void)sig;
	serve_stop = 1;
}

/* Print the back-end's counters to stderr. */
static void print_stats(const char *progname, const struct vq_vhost_backend *b)
{
	fprintf(stderr, "%s: %llu connection(s), %llu message(s) (%llu refused), %llu kick(s), "
		"%llu call(s)\n", progname, (unsigned long long)b->stats.connections,
		(unsigned long long)b->stats.messages, (unsigned long long)b->stats.refused,
		(unsigned long long)b->stats.kicks, (unsigned long long)b->stats.calls);
	if (b->last_error[0])
		fprintf(stderr, "%s: last refused message: %s\n", progname, b->last_error);
}

int lvq_serve_vhost(const char *progname, const char *path, const char *device, uint64_t seed)
{
	char type[32], err[256];
	const char *comma = strchr(device, ',');
	size_t tlen = comma ? (size_t)(comma - device) : strlen(device);
	struct sigaction sa = {.sa_handler = on_stop};
	struct vq_vhost_backend *b;
	struct vq_machine *m;
	struct vq_dev *d;
	int rc = 0;

	if (tlen == 0 || tlen >= sizeof(type)) {
		fprintf(stderr, "%s: --device: '%s' does not start with a device type (blk, net, "
			"rng, console, balloon)\n", progname, device);
		return 2;
	}
	memcpy(type, device, tlen);
	type[tlen] = 0;
	if (!(m = vq_machine_new(seed)))
		return 1;
	if (lvq_trace_default)
		vq_machine_trace_sink(m, lvq_trace_default, lvq_trace_format, &lvq_trace_filter);
	d = vq_machine_add_mmio(m, type, NULL, comma ? comma + 1 : NULL, LVQ_MMIO_BASE,
				LVQ_IRQ_BASE, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "%s: --device: %s\n", progname, err);
		vq_machine_free(m);
		return 2;
	}
	if (!(b = vq_machine_serve_vhost(m, d, path, err, sizeof(err)))) {
		fprintf(stderr, "%s: --vhost-user: %s\n", progname, err);
		vq_machine_free(m);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "%s: serving %s (%s) over vhost-user on %s; SIGINT or SIGTERM stops\n",
		progname, d->name, d->cls->name, path);
	while (!serve_stop) {
		if (vq_machine_poll(m, 200) < 0 && errno != EINTR) {
			fprintf(stderr, "%s: poll: %s\n", progname, strerror(errno));
			rc = 1;
			break;
		}
		/* bounded: a device that makes work without end cannot hang us */
		vq_machine_run(m, 1000000);
	}
	print_stats(progname, b);
	vq_machine_free(m); /* closes the connection, unlinks the socket */
	return rc;
}

/* m:serve{socket = PATH, device = dev} -> true: serve dev over vhost-user
 * (the machine's memory becomes the front-end's); m:poll() + m:run() drive it. */
int lvq_m_serve(lua_State *L)
{
	static const char *const allowed[] = {"device", "socket", NULL};
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct lvq_device *ld;
	const char *path;
	char err[256];

	luaL_checktype(L, 2, LUA_TTABLE);
	lvq_checkopts(L, 2, "machine:serve", allowed);
	if (lua_getfield(L, 2, "socket") != LUA_TSTRING)
		return luaL_error(L, "machine:serve: socket = PATH (a string) is required");
	path = lua_tostring(L, -1);
	lua_getfield(L, 2, "device");
	ld = luaL_testudata(L, -1, LVQ_DEVICE);
	if (!ld)
		return luaL_error(L, "machine:serve: device = a device of this machine is required");
	if (!vq_machine_serve_vhost(lm->m, &ld->slot->dev, path, err, sizeof(err)))
		return luaL_error(L, "machine:serve: %s", err);
	lua_pushboolean(L, 1);
	return 1;
}

/* m:unserve(dev): stop serving dev. */
int lvq_m_unserve(lua_State *L)
{
	struct lvq_machine *lm = lvq_checkmachine(L, 1);
	struct lvq_device *ld = lvq_checkdevice(L, 2);

	vq_machine_unserve_vhost(lm->m, &ld->slot->dev);
	return 0;
}

/* m:vhost(dev) -> {socket=, connected=, connections=, messages=, refused=,
 * kicks=, calls=, last_error=, features=, rings_started=} or nil. */
int lvq_m_vhost(lua_State *L)
{
	(void)lvq_checkmachine(L, 1);
	struct lvq_device *ld = lvq_checkdevice(L, 2);
	const struct vq_vhost_backend *b = ld->slot->vhost;
	unsigned started = 0;

	if (!b) {
		lua_pushnil(L);
		return 1;
	}
	for (unsigned q = 0; q < VQ_DEV_MAX_QUEUES; q++)
		started += b->vr[q].started;
	lua_createtable(L, 0, 10);
	lua_pushstring(L, b->path);
	lua_setfield(L, -2, "socket");
	lua_pushboolean(L, b->conn >= 0);
	lua_setfield(L, -2, "connected");
	lvq_setint(L, "connections", (lua_Integer)b->stats.connections);
	lvq_setint(L, "messages", (lua_Integer)b->stats.messages);
	lvq_setint(L, "refused", (lua_Integer)b->stats.refused);
	lvq_setint(L, "kicks", (lua_Integer)b->stats.kicks);
	lvq_setint(L, "calls", (lua_Integer)b->stats.calls);
	lvq_setint(L, "features", (lua_Integer)b->features);
	lvq_setint(L, "rings_started", started);
	lua_pushstring(L, b->last_error);
	lua_setfield(L, -2, "last_error");
	return 1;
}

/* l_driver.h - what the driver object's files share: l_driver.c (the
 * object, its init sequence, queues, heap, config space, rng) and the
 * per-device helpers in l_drv_blk.c, l_drv_net.c, l_drv_balloon.c and
 * l_drv_console.c.
 *
 * Conventions of the helpers (help "driver"): a device's answer comes back
 * as a name ("OK", "IOERR", "UNSUPP" for blk; "OK", "ERR" for net control),
 * an integer if the byte has no name; the request not being answered at
 * all (transport errors, DEVICE_NEEDS_RESET, guest heap exhausted) raises.
 */
#ifndef VQSIM_SHELL_L_DRIVER_H
#define VQSIM_SHELL_L_DRIVER_H

#include "lvq.h"

/* Raise for rc, naming the device and, for a broken ring, the queue. */
int lvq_drv_fail(lua_State *L, struct lvq_driver *dr, int rc, uint64_t errors_before)
	__attribute__((noreturn));
/* The driver at 1, checked to drive a device of type id. Raises
 * "NAME: fn: not a virtio-TYPE device" otherwise. */
struct lvq_driver *lvq_drv_check_type(lua_State *L, uint32_t id, const char *fn);
/* lvq_drv_check_type(), and queue q set up by the driver (raises "...
 * queue is not set up (init first)" otherwise). */
struct lvq_driver *lvq_drv_check_ready(lua_State *L, uint32_t id, const char *fn, unsigned q,
				       const char *init);
/* Raise for a helper's negative rc: "NAME: fn: ERRNAME: description". */
int lvq_drv_helper_fail(lua_State *L, struct lvq_driver *dr, const char *fn, int rc,
			uint64_t errors_before);
/* A non-negative integer argument up to max (any size: sectors may be
 * huge); raises otherwise. */
uint64_t lvq_drv_check_u64(lua_State *L, int arg, uint64_t max);
/* Read the option table at arg (nil: none) for fn, refusing keys outside
 * allowed: its features field, scoped to the driver's device type, into
 * the low feature word (with RING_PACKED when the table or
 * vqsim.defaults.ring asks for packed). */
uint64_t lvq_drv_opt_features(lua_State *L, struct lvq_driver *dr, int arg, const char *fn,
			      const char *const *allowed);
/* Integer field k of the table at arg, 0..max, or def when absent. */
uint64_t lvq_drv_opt_field(lua_State *L, int arg, const char *k, uint64_t max, uint64_t def,
			   const char *fn);

/* The helpers each file adds to the driver class. */
extern const luaL_Reg lvq_drv_blk_methods[];
extern const luaL_Reg lvq_drv_net_methods[];
extern const luaL_Reg lvq_drv_balloon_methods[];
extern const luaL_Reg lvq_drv_console_methods[];

#endif

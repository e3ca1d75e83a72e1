-- The reference driver's side of the split ring (spec 2.7): where it puts
-- the rings, how it moves the available index, and how it asks for, or
-- does without, notifications in both directions. Played against the
-- device by reading and writing the rings directly.
-- these rules are the split layout's: the file asks for it
vqsim.defaults.ring = "split"
local F = require "fixtures"

-- q with n one-buffer chains added and kicked, the machine run, reaped.
local function requests(m, q, n)
  for _ = 1, n do
    q:add{{F.BUF, 16, "w"}}
    q:kick()
    m:run()
    ok(q:reap() ~= nil, "the request completed")
  end
end

test("the driver aligns descriptor table 16, available ring 2, used ring 4, at every size",
     {spec = "2.7.1", tags = "driver"}, function()
  for _, size in ipairs{1, 2, 4, 8, 32, 256, 1024} do
    local m = vqsim.machine{seed = 1}
    local rng = m:add("rng", {["queue-size"] = size})
    local d = m:driver(rng)
    d:init{}
    local a = d:queue(0).addrs
    eq(d:queue(0).num, size)
    eq(a.desc % 16, 0, "descriptor table, size " .. size)
    eq(a.driver % 2, 0, "available ring, size " .. size)
    eq(a.device % 4, 0, "used ring, size " .. size)
  end
end)

test("the available index only moves forward, one for each chain, as the ring wraps",
     {spec = "2.7.6.1", tags = "driver"}, function()
  local m, rng, d, q = F.rng()
  local last = q:avail_idx()
  for i = 1, 3 * q.num do
    q:add{{F.BUF, 16, "w"}}
    q:kick()                   -- the index is published here
    local now = q:avail_idx()
    eq((now - last) & 0xffff, 1, "chain " .. i .. ": the index moved by one")
    last = now
    m:run()
    ok(q:reap() ~= nil)
  end
  eq(last, (3 * q.num) & 0xffff)
end)

test("without EVENT_IDX the driver sets avail flags 0 or 1, with it 0 and uses used_event",
     {spec = "2.7.7.1", tags = "driver"}, function()
  local m, rng, d, q = F.rng()
  eq(q:avail_flags(), 0, "interrupts wanted after init")
  q:interrupts(false)
  eq(q:avail_flags(), 1, "NO_INTERRUPT to do without them")
  requests(m, q, 3)
  eq(q:avail_flags(), 1)
  q:interrupts(true)
  eq(q:avail_flags(), 0)

  local m2, rng2, d2, q2 = F.rng{features = {"EVENT_IDX"}}
  eq(q2:avail_flags(), 0)
  q2:interrupts(false)
  eq(q2:avail_flags(), 0, "with EVENT_IDX the flags stay 0")
  requests(m2, q2, 3)
  eq(q2:avail_flags(), 0)
  local ue = q2:used_event()
  ok(((ue - q2:used_idx()) & 0xffff) > 0x7fff or ue ~= q2:used_idx(),
     "used_event put where the device will not reach it")
  q2:interrupts(true)
  eq(q2:avail_flags(), 0)
  eq(q2:used_event(), q2:used_idx(), "used_event at the next used element")
end)

test("the driver does not notify while the device says NO_NOTIFY; without EVENT_IDX it ignores avail_event",
     {spec = "2.7.10.1", tags = "driver"}, function()
  local m, rng, d, q = F.rng()
  local n0 = rng:queue(0).notifies
  q:used_flags(1)              -- the device: no notifications, please
  q:add{{F.BUF, 16, "w"}}
  eq(q:kick(), false, "no notification sent")
  eq(rng:queue(0).notifies, n0)
  q:used_flags(0)
  q:avail_event(0x1234)        -- meaningless without EVENT_IDX
  q:add{{F.BUF + 64, 16, "w"}}
  eq(q:kick(), true, "flags 0: notified, avail_event ignored")
  m:run()
  eq(rng:queue(0).notifies, n0 + 1)

  local m2, rng2, d2, q2 = F.rng{features = {"EVENT_IDX"}}
  local n2 = rng2:queue(0).notifies
  q2:avail_event((q2:avail_idx() + 10) & 0xffff)   -- the device wants a kick 10 chains on
  q2:add{{F.BUF, 16, "w"}}
  eq(q2:kick(), false, "avail_event not crossed: no notification")
  q2:avail_event(q2:avail_idx())                    -- crossed by the next chain
  q2:add{{F.BUF + 64, 16, "w"}}
  eq(q2:kick(), true, "avail_event crossed: notified")
  m2:run()
  eq(rng2:queue(0).notifies, n2 + 1)
end)

test("the driver takes from a device-writable buffer only the used length",
     {spec = "2.7.8.3", tags = "driver"}, function()
  -- the rng device serves at most 64 KiB a request (spec 5.4.6.1 lets it):
  -- a 96 KiB buffer comes back with used length 65536
  local m, rng, d, q = F.rng()
  local got = d:rng_read(96 * 1024)
  eq(#got, 65536, "the bytes the device wrote, not the whole buffer")
  eq(rng:stats().capped, 1, "the device capped the request")
end)

-- m:device_ring{}: the device side of a split ring driven by the script.
-- The driver's side is written by hand into guest memory; each test checks
-- what the ring's device side returns and what it writes back.
local RAM, DESC, AVAIL, USED = 0x10000, 0x10000, 0x10100, 0x10200

local function machine()
  local m = vqsim.machine{seed = 1, ram = 0}
  m:add_ram(RAM, 0x10000)
  return m
end

-- descriptor i: addr, len, flags (1 NEXT, 2 WRITE, 4 INDIRECT), next
local function desc(m, i, addr, len, flags, next)
  local at = DESC + 16 * i
  m.mem:u64(at, addr); m.mem:u32(at + 8, len); m.mem:u16(at + 12, flags); m.mem:u16(at + 14, next or 0)
end

-- make heads available, in order
local function offer(m, ...)
  local idx = m.mem:u16(AVAIL + 2)
  for _, h in ipairs{...} do
    m.mem:u16(AVAIL + 4 + 2 * (idx % 8), h)
    idx = idx + 1
  end
  m.mem:u16(AVAIL + 2, idx)
end

local function ring(m, features)
  return assert(m:device_ring{num = 8, desc = DESC, driver = AVAIL, device = USED,
                              features = features})
end

test("a chain popped, pushed and published as the driver reads it", {spec = "2.7.8"}, function()
  local m = machine()
  local r = ring(m)
  desc(m, 0, 0x12000, 16, 1, 1)
  desc(m, 1, 0x13000, 64, 2)
  offer(m, 0)
  eq(r:pending(), 1, "one chain available")
  local c = r:pop()
  eq({c.head, c.ndesc, c.read_bytes, c.write_bytes}, {0, 2, 16, 64})
  eq(c.segs, {{gpa = 0x12000, len = 16, write = false}, {gpa = 0x13000, len = 64, write = true}})
  eq(r:pop(), nil, "nothing more")
  eq(r.in_flight, {0})
  ok(r:push(c, 40))
  eq(m.mem:u16(USED + 2), 0, "used idx moves only at publish")
  r:publish()
  eq(m.mem:u16(USED + 2), 1, "used idx")
  eq({m.mem:u32(USED + 4), m.mem:u32(USED + 8)}, {0, 40}, "used element: id, len")
  eq(r.in_flight, {})
end)

test("a ring error is a result, and the ring stays broken until reset", {spec = "2.7.5.1"}, function()
  local m = machine()
  local r = ring(m)
  desc(m, 0, 0x12000, 16, 1, 1)
  desc(m, 1, 0x12000, 16, 1, 0) -- loops back to 0
  offer(m, 0)
  local c, err, detail = r:pop()
  eq(c, nil)
  eq(err, "RING_LOOP")
  ok(detail:find("more than 8 descriptors", 1, true), detail)
  eq(r.error, "RING_LOOP")
  local _, again, why = r:pop()
  eq(again, "RING_BROKEN", "a later call says the ring is broken")
  ok(why:find("first RING_LOOP", 1, true), why)
  eq(select(2, r:publish()), "RING_BROKEN")
  r:reset()
  desc(m, 1, 0x13000, 16, 2)
  m.mem:fill(AVAIL, 0x100, 0); m.mem:fill(USED, 0x100, 0)
  ok(r:init(), "set up again")
  eq(r.error, nil)
  offer(m, 0)
  eq(r:pop().ndesc, 2, "the fixed chain pops")
end)

test("batched pops of a clone return the chains single pops return", {spec = "2.7.6"}, function()
  local m = machine()
  local r = ring(m)
  for i = 0, 4 do desc(m, i, 0x12000 + 0x100 * i, 32 + i, 2) end
  offer(m, 4, 2, 0, 3)
  local rb = r:clone()
  local singles = {}
  for _ = 1, 4 do singles[#singles + 1] = r:pop() end
  eq(r:pop(), nil)
  local batch = rb:pop_batch(3)
  eq(#batch, 3, "max honoured")
  for _, c in ipairs(rb:pop_batch(3)) do batch[#batch + 1] = c end
  eq(batch, singles)
  eq({singles[1].head, singles[2].head, singles[3].head, singles[4].head}, {4, 2, 0, 3})
end)

test("used length past the writable bytes: clamped and reported", {spec = "2.7.8.2"}, function()
  local m = machine()
  local r = ring(m)
  desc(m, 0, 0x13000, 64, 2)
  offer(m, 0)
  local c = r:pop()
  local okay, err, detail = r:push(c, 100)
  eq({okay, err}, {nil, "RING_USED_LEN"})
  ok(detail:find("100 bytes written, the chain has 64 writable", 1, true), detail)
  r:publish()
  eq(m.mem:u32(USED + 8), 64, "the element carries the clamped length")
  eq(r.error, nil, "a device's mistake does not break the ring")
end)

test("EVENT_IDX: publish says whether the driver asked for an interrupt", {spec = "2.7.10"}, function()
  local m = machine()
  local r = ring(m, {"EVENT_IDX"})
  for i = 0, 2 do desc(m, i, 0x13000 + 0x100 * i, 16, 2) end
  offer(m, 0, 1, 2)
  r:push(r:pop(), 0)
  eq(r:publish(), true, "the first decision after init interrupts (nothing to measure from)")
  m.mem:u16(AVAIL + 4 + 2 * 8, 2) -- used_event: interrupt once used idx passes 2
  r:push(r:pop(), 0)
  eq(r:publish(), false, "used idx 2: not past used_event 2")
  r:push(r:pop(), 0)
  eq(r:publish(), true, "used idx 3 passes used_event 2")
end)

test("bad arguments and refused geometry", function()
  local m = machine()
  raises(function() m:device_ring{num = 8, desc = DESC, driver = AVAIL, device = USED, size = 1} end,
         "unknown option 'size'")
  raises(function() m:device_ring{num = 0, desc = DESC, driver = AVAIL, device = USED} end, "num")
  local r, err, detail, broken = m:device_ring{num = 8, desc = 0x9000, driver = AVAIL, device = USED}
  eq({r, err}, {nil, "RING_LAYOUT"})
  ok(detail:find("desc 0x9000", 1, true), detail)
  ok(tostring(broken):find("RING_LAYOUT", 1, true), tostring(broken))
  local good = ring(m)
  raises(function() good:push(3, 0) end, "no chain with head 3 is in flight")
  raises(function() good:pop_batch(0) end, "max")
  local kept
  do
    local m2 <close> = machine()
    kept = ring(m2)
  end
  raises(function() kept:pop() end, "machine is closed")
end)

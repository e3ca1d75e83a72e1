-- Packed virtqueue rules (spec 2.8), played by a broken driver through raw
-- ring access: descriptors written by hand (q:desc with id and A/U flags),
-- made available with q:post(slot [, wrap]). Each broken rule must set
-- DEVICE_NEEDS_RESET (spec 2.1.2) and raise a configuration change
-- interrupt. Runs under `vqsim --ring packed` (tests/shell/conformance.sh).
-- these rules are the packed layout's: the file asks for it (a plain run defaults to split)
vqsim.defaults.ring = "packed"
local F = require "fixtures"

local function packed_rng(features)
  local m, rng, d, q = F.rng{features = features}
  eq(q.layout, "packed", "the driver negotiated RING_PACKED")
  return m, rng, d, q
end

test("the reference driver's chains come back with their ids", {spec = "2.8.6"}, function()
  local m, rng, d, q = packed_rng()
  for i = 1, 3 * q.num do
    eq(#d:rng_read(1 + i % 7), 1 + i % 7)
  end
  eq(rng:stats().bytes_served > 0, true)
  ok(not rng.needs_reset)
end)

test("a used descriptor is written at the chain's first slot with its id", {spec = "2.8.12"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = F.BUF, len = 8, id = 5, flags = "NEXT|WRITE"})
  q:desc(1, {addr = F.BUF + 8, len = 8, id = 5, flags = "A|WRITE"})
  F.offer(m, q, 0)
  local id, len, flags = q:used(0)
  eq(id, 5)
  eq(len, 16)
  eq(flags & 0x8080, 0x8080, "AVAIL and USED both set (wrap 1)")
  ok(not rng.needs_reset)
end)

test("buffer id not below the queue size", {spec = "2.8.16"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = F.BUF, len = 16, id = q.num, flags = "WRITE"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_PACKED_ID")
end)

test("buffer id made available twice while in flight", {spec = "2.8.16"}, function()
  -- net with MRG_RXBUF holds a receive chain while a frame needs more room
  local m, net, d = F.net({["mrg-rxbuf"] = "on"}, {features = {"MRG_RXBUF"}, no_rx = true})
  local q = d:queue(0)
  eq(q.layout, "packed")
  q:desc(0, {addr = F.BUF, len = 64, id = 3, flags = "A|WRITE"})
  q:desc(1, {addr = F.BUF + 0x100, len = 64, id = 3, flags = "A|WRITE"})
  q:notify()
  m:run()
  net:receive(F.frame(1000))
  m:run()
  F.expect_broken(m, net, "RING_PACKED_ID_BUSY")
  ok(net.error_msg:find("id 3", 1, true), net.error_msg)
end)

test("a chain continuing into a descriptor not made available", {spec = "2.8.21.1.1"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = F.BUF, len = 16, id = 0, flags = "NEXT|WRITE"})
  q:desc(1, {addr = F.BUF + 16, len = 16, id = 0, flags = "WRITE"}) -- no AVAIL bit
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_PACKED_AVAIL")
end)

test("a chain longer than the ring", {spec = "2.8.17"}, function()
  local m, rng, d, q = packed_rng()
  for i = 0, q.num - 1 do
    q:desc(i, {addr = F.BUF + 16 * i, len = 16, id = 0, flags = "A|NEXT|WRITE"})
  end
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_PACKED_CHAIN")
end)

test("INDIRECT together with NEXT", {spec = "2.8.19"}, function()
  local m, rng, d, q = packed_rng{"INDIRECT_DESC"}
  q:desc(0, {addr = F.BUF, len = 16, id = 0, flags = "INDIRECT|NEXT"})
  q:desc(1, {addr = F.BUF + 64, len = 16, id = 0, flags = "A|WRITE"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_INDIRECT_NEXT")
end)

test("indirect table entry with a flag other than WRITE", {spec = "2.8.19"}, function()
  local m, rng, d, q = packed_rng{"INDIRECT_DESC"}
  local mem = m.mem
  -- entry 0: addr F.BUF+0x100, len 16, flags NEXT|WRITE (NEXT is not allowed)
  mem:write(F.BUF, string.pack("<I8I4I2I2", F.BUF + 0x100, 16, 0, 3))
  q:desc(0, {addr = F.BUF, len = 16, id = 0, flags = "INDIRECT"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_PACKED_INDIRECT_FLAGS")
end)

test("an indirect table is served", {spec = "2.8.19"}, function()
  local m, rng, d, q = packed_rng{"INDIRECT_DESC"}
  local mem = m.mem
  mem:write(F.BUF, string.pack("<I8I4I2I2", F.BUF + 0x100, 16, 0, 2) ..
                   string.pack("<I8I4I2I2", F.BUF + 0x200, 8, 0, 2))
  q:desc(0, {addr = F.BUF, len = 32, id = 7, flags = "INDIRECT"})
  F.offer(m, q, 0)
  local id, len = q:used(0)
  eq(id, 7)
  eq(len, 24)
  ok(not rng.needs_reset)
end)

test("buffer outside guest memory", {spec = "2.8.15"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = 0x1000, len = 64, id = 0, flags = "WRITE"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_DESC_MEM")
end)

test("a descriptor without its AVAIL bit is not read", {spec = "2.8.21.1.1"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = 0x1000, len = 64, id = q.num + 9, flags = "WRITE"})
  q:post(0, 0) -- made available for wrap 0: not for the device's wrap 1
  q:notify()
  m:run()
  ok(not rng.needs_reset, "nothing popped, nothing validated")
  eq(rng:stats().bytes_served, 0)
end)

test("the device's event suppression structure follows set_notify", {spec = "2.8.10"}, function()
  local m, rng, d, q = packed_rng{"EVENT_IDX"}
  eq(#d:rng_read(4), 4)
  local off_wrap, flags = q:device_event()
  eq(flags, 2, "DESC with EVENT_IDX once the queue ran dry")
  eq(off_wrap, 1 | 0x8000, "the next slot and wrap counter")
end)

test("print(q) draws the packed ring", {spec = "2.8"}, function()
  local m, rng, d, q = packed_rng()
  eq(#d:rng_read(4), 4)
  local s = tostring(q)
  ok(s:find("packed", 1, true), s)
  ok(s:find("A U WRITE", 1, true), s)
  ok(s:find("driver event: off", 1, true), s)
  ok(s:find("(wrap 1)", 1, true), s)
  raises(function() q:avail_idx() end, "for a split ring")
end)

test("a writable buffer over the descriptor ring", {spec = "2.8.15"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = q.addrs.desc + 32, len = 16, id = 0, flags = "WRITE"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_WRITE_RING")
  ok(rng.error_msg:find("descriptor ring", 1, true), rng.error_msg)
end)

test("a writable buffer over the driver event suppression area", {spec = "2.8.15"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = q.addrs.driver, len = 4, id = 0, flags = "WRITE"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_WRITE_RING")
end)

test("after a broken rule the ring stays broken until reset", {spec = "2.8.12"}, function()
  local m, rng, d, q = packed_rng()
  q:desc(0, {addr = F.BUF, len = 16, id = q.num, flags = "WRITE"})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_PACKED_ID")
  -- a good descriptor after it is not served
  q:desc(1, {addr = F.BUF, len = 16, id = 1, flags = "WRITE"})
  F.offer(m, q, 1)
  eq(rng:stats().bytes_served, 0)
  -- reset and initialise again: the queue works
  d:init()
  eq(q.layout, "packed")
  eq(#d:rng_read(8), 8)
end)

test("the reference driver lays the packed areas out aligned (16, 4, 4)", {spec = "2.8.11"},
     function()
  for _, num in ipairs{2, 8, 256} do
    local m = vqsim.machine{seed = 1}
    local rng = m:add("rng", {name = "rng0", ["queue-size"] = num})
    local d = m:driver(rng)
    d:init{}
    eq(d:queue(0).num, num)
    local q = d:queue(0)
    eq(q.layout, "packed")
    local a = q.addrs
    eq(a.desc % 16, 0, "descriptor ring 16-aligned")
    eq(a.driver % 4, 0, "driver event suppression 4-aligned")
    eq(a.device % 4, 0, "device event suppression 4-aligned")
    ok(a.driver >= a.desc + 16 * q.num, "the areas do not overlap")
    ok(a.device >= a.driver + 4)
    eq(#d:rng_read(8), 8)
  end
end)

test("a chain's buffers are used in the order they were made available", {spec = {"2.8.18", "2.8.17"}},
     function()
  local m, blk, d = F.blk()
  local q = d:queue(0)
  eq(q.layout, "packed")
  local B = F.BUF
  local one, two = ("a"):rep(256), ("b"):rep(256)
  -- OUT, sector 3: header, data in two pieces, status (slots 0-3, id 5)
  m.mem:write(B, F.blk_hdr(1, 3))
  m.mem:write(B + 0x100, one)
  m.mem:write(B + 0x200, two)
  m.mem:u8(B + 0x300, 0xee)
  q:desc(1, {addr = B + 0x100, len = 256, id = 5, flags = "A|NEXT"})
  q:desc(2, {addr = B + 0x200, len = 256, id = 5, flags = "A|NEXT"})
  q:desc(3, {addr = B + 0x300, len = 1, id = 5, flags = "A|WRITE"})
  q:desc(0, {addr = B, len = 16, id = 5, flags = "NEXT"})
  F.offer(m, q, 0)
  eq(m.mem:u8(B + 0x300), 0, "OUT answered OK")
  eq({q:used(0)}, {5, 1, 0x8080 | 2}, "one used descriptor at slot 0, id 5, 1 byte written")
  -- IN, sector 3, into two writable pieces in the other order in memory
  -- (slots 4-7, id 6): the first piece gets the first 256 bytes
  m.mem:write(B + 0x400, F.blk_hdr(0, 3))
  m.mem:fill(B + 0x500, 512, 0)
  q:desc(5, {addr = B + 0x600, len = 256, id = 6, flags = "A|NEXT|WRITE"})
  q:desc(6, {addr = B + 0x500, len = 256, id = 6, flags = "A|NEXT|WRITE"})
  q:desc(7, {addr = B + 0x700, len = 1, id = 6, flags = "A|WRITE"})
  q:desc(4, {addr = B + 0x400, len = 16, id = 6, flags = "NEXT"})
  F.offer(m, q, 4)
  eq(m.mem:u8(B + 0x700), 0, "IN answered OK")
  eq(m.mem:read(B + 0x600, 256), one, "first writable descriptor: the first 256 bytes")
  eq(m.mem:read(B + 0x500, 256), two, "second: the next 256")
  eq({q:used(4)}, {6, 513, 0x8080 | 2})
  ok(not blk.needs_reset)
end)

test("the reference driver notifies as the device's event suppression structure says",
     {spec = {"2.8.21.3.1", "2.8.10"}}, function()
  local m, rng, d, q = packed_rng()
  local function add() q:add{{d:alloc(16), 16, "w"}} end
  q:device_event(0, 1)   -- DISABLE
  add()
  eq(q:kick(), false, "no notification while the device disables them")
  q:device_event(0, 0)   -- ENABLE
  add()
  eq(q:kick(), true, "notification when enabled")
  m:run()
  -- with EVENT_IDX: DESC, notify once the driver passes slot 4 (wrap 1)
  local m2, rng2, d2, q2 = packed_rng{"EVENT_IDX"}
  q2:device_event(4 | 0x8000, 2)
  local kicks = {}
  for i = 1, 6 do
    q2:add{{d2:alloc(16), 16, "w"}}
    kicks[i] = q2:kick()
  end
  eq(kicks, {false, false, false, false, true, false},
     "only the chain written at slot 4 passes the event")
  m2:run()
  eq(rng2:queue(0).notifies, 1, "one notification delivered")
  eq(rng2:stats().chains, 6, "all six served from the one notification")
end)

-- Split virtqueue validation rules, played by a broken driver through raw
-- ring access. Each broken rule must set DEVICE_NEEDS_RESET (spec 2.1.2)
-- and raise a configuration change interrupt.
-- these rules are the split layout's: the file asks for it
vqsim.defaults.ring = "split"
local F = require "fixtures"

test("avail entry naming a head beyond the queue size", {spec = "2.7.6"}, function()
  local m, rng, d, q = F.rng()
  F.offer(m, q, q.num + 1)
  F.expect_broken(m, rng, "RING_HEAD")
  raises(function() d:rng_read(4) end, "rng0.q0: RING_HEAD")
end)

test("avail idx moved by more than the queue size", {spec = "2.7.6"}, function()
  local m, rng, d, q = F.rng()
  q:avail_idx(q:avail_idx() + q.num + 1)
  q:notify()
  m:run()
  F.expect_broken(m, rng, "RING_AVAIL_IDX")
end)

test("descriptor next index beyond the queue size", {spec = "2.7.5"}, function()
  local m, rng, d, q = F.rng()
  q:desc(0, {addr = F.BUF, len = 16, flags = "NEXT|WRITE", next = q.num})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_NEXT")
end)

test("descriptor chain that loops", {spec = "2.7.5"}, function()
  local m, rng, d, q = F.rng()
  q:desc(0, {addr = F.BUF, len = 16, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = F.BUF + 16, len = 16, flags = "NEXT|WRITE", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_LOOP")
end)

test("buffer outside guest memory", {spec = "2.7.5"}, function()
  local m, rng, d, q = F.rng()
  q:desc(0, {addr = 0x1000, len = 64, flags = "WRITE", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_DESC_MEM")
end)

test("buffer address wrapping past 2^64", {spec = "2.7.5"}, function()
  local m, rng, d, q = F.rng()
  q:desc(0, {addr = -16, len = 64, flags = "WRITE", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_DESC_MEM")
end)

test("device-readable descriptor after a device-writable one", {spec = "2.7.4.2"}, function()
  local m, rng, d, q = F.rng()
  q:desc(0, {addr = F.BUF, len = 16, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = F.BUF + 16, len = 16, flags = 0, next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_ORDER")
end)

test("INDIRECT without VIRTIO_F_INDIRECT_DESC", {spec = "2.7.5.3.1"}, function()
  local m, rng, d, q = F.rng()
  q:desc(0, {addr = F.BUF, len = 32, flags = "INDIRECT", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_INDIRECT_FEATURE")
end)

test("indirect table length not a multiple of 16", {spec = "2.7.5.3.1"}, function()
  local m, rng, d, q = F.rng{features = {"INDIRECT_DESC"}}
  q:desc(0, {addr = F.BUF, len = 24, flags = "INDIRECT", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_INDIRECT_LEN")
end)

test("INDIRECT and NEXT in one descriptor", {spec = "2.7.5.3.1"}, function()
  local m, rng, d, q = F.rng{features = {"INDIRECT_DESC"}}
  q:desc(0, {addr = F.BUF, len = 32, flags = "INDIRECT|NEXT", next = 1})
  q:desc(1, {addr = F.BUF + 64, len = 16, flags = "WRITE", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_INDIRECT_NEXT")
end)

test("INDIRECT descriptor inside an indirect table", {spec = "2.7.5.3.1"}, function()
  local m, rng, d, q = F.rng{features = {"INDIRECT_DESC"}}
  local mem = m.mem
  -- table entry 0: addr, len, flags=INDIRECT, next
  mem:u64(F.BUF, F.BUF + 0x100); mem:u32(F.BUF + 8, 16); mem:u16(F.BUF + 12, 4); mem:u16(F.BUF + 14, 0)
  q:desc(0, {addr = F.BUF, len = 16, flags = "INDIRECT", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_INDIRECT_NESTED")
end)

test("indirect table outside guest memory", {spec = "2.7.5.3.1"}, function()
  local m, rng, d, q = F.rng{features = {"INDIRECT_DESC"}}
  q:desc(0, {addr = 0x2000, len = 32, flags = "INDIRECT", next = 0})
  F.offer(m, q, 0)
  F.expect_broken(m, rng, "RING_INDIRECT_MEM")
end)

test("a chain written by hand is used with its written length", {spec = "2.7.8"}, function()
  local m, rng, d, q = F.rng()
  local used = q:used_idx()
  q:desc(5, {addr = F.BUF, len = 32, flags = "WRITE", next = 0})
  F.offer(m, q, 5)
  eq(rng.error, nil)
  eq(q:used_idx(), (used + 1) & 0xffff, "used idx advanced")
  local id, len = q:used(used % q.num)
  eq(id, 5, "used id is the chain head")
  eq(len, 32, "used len is the bytes written")
end)

test("an indirect chain is served when negotiated", {spec = "2.7.5.3"}, function()
  local m, rng, d, q = F.rng{features = {"INDIRECT_DESC"}}
  local mem = m.mem
  mem:u64(F.BUF, F.BUF + 0x100); mem:u32(F.BUF + 8, 8); mem:u16(F.BUF + 12, 2); mem:u16(F.BUF + 14, 0)
  local used = q:used_idx()
  q:desc(3, {addr = F.BUF, len = 16, flags = "INDIRECT", next = 0})
  F.offer(m, q, 3)
  eq(rng.error, nil)
  local id, len = q:used(used % q.num)
  eq({id, len}, {3, 8})
end)

test("a broken queue ignores notifications until reset", {spec = "2.1.2"}, function()
  local m, rng, d, q = F.rng()
  F.offer(m, q, 9999)
  local chains = rng:stats().chains
  q:notify()
  m:run()
  eq(rng:stats().chains, chains, "no chain popped after the break")
  ok(rng:stats().notifies_ignored > 0, "notification refused")
end)

test("reset and re-initialise after DEVICE_NEEDS_RESET", {spec = "2.4"}, function()
  local m, rng, d, q = F.rng()
  F.offer(m, q, 9999)
  ok(rng.needs_reset)
  d:init()
  eq(rng.needs_reset, false)
  eq(#d:rng_read(16), 16)
end)

test("driver-side helpers refuse a raw view", {spec = "2.7"}, function()
  local m, rng, d, q = F.rng()
  local raw = rng:ring(0)
  eq(raw.kind, "raw")
  eq(raw.num, q.num)
  raises(function() raw:kick() end, "raw ring view has no driver")
end)

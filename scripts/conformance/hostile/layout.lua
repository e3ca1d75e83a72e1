-- Hostile queue layouts (spec 2.7 alignment and size, 4.2.2 virtio-mmio
-- queue registers): rings outside memory, across its end, misaligned, sizes
-- that are not powers of two, notifications for queues that are not ready.
-- The device's answer is a refused QueueReady write (RING_LAYOUT) or an
-- ignored notification; no access to guest memory either way.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/hostile.lib")
local S, N = H.S, H.N

-- Negotiate, then program queue 0 with num and the three addresses; returns
-- the QueueReady write's results.
local function program(dev, num, desc, drv, used)
  H.init(dev, {queues = {}, driver_ok = false})
  dev:reg("QueueSel", 0)
  dev:reg("QueueNum", num)
  dev:reg("QueueDescLow", desc & 0xffffffff); dev:reg("QueueDescHigh", desc >> 32)
  dev:reg("QueueDriverLow", drv & 0xffffffff); dev:reg("QueueDriverHigh", drv >> 32)
  dev:reg("QueueDeviceLow", used & 0xffffffff); dev:reg("QueueDeviceHigh", used >> 32)
  return dev:reg("QueueReady", 1)
end

-- The queue is refused: QueueReady write fails with RING_LAYOUT, reads 0; a
-- notification after DRIVER_OK does nothing; a reset and init recovers.
local function refused(num, desc, drv, used)
  local m, dev = H.machine("rng")
  local okw, err = program(dev, num, desc, drv, used)
  eq({okw, err}, {false, "RING_LAYOUT"}, "QueueReady refused")
  eq(dev:reg("QueueReady"), 0, "queue not ready")
  ok(dev:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK))
  dev:reg("QueueNotify", 0)
  H.run(m)
  eq(dev:stats().chains, 0, "no chain popped from an unready queue")
  ok(dev:stats().notifies_ignored >= 1, "notification ignored")
  eq(m.mem:stats().fault_hits, 0)
  H.recover(m, dev)
end

local D, A, U = H.DESC, H.AVAIL, H.USED
-- on a packed ring (vqsim --ring packed) the "avail ring" and "used ring" are
-- the driver and device event suppression areas (4 bytes, 4-aligned)
local pick = H.pick

test("used ring outside guest memory", {spec = {"2.7", "4.2.2"}}, function()
  refused(N, D, A, 0x1000)
end)

test("avail ring outside guest memory", {spec = {"2.7", "4.2.2"}}, function()
  refused(N, D, 0x1000, U)
end)

test("descriptor table outside guest memory", {spec = {"2.7", "4.2.2"}}, function()
  refused(N, 0x10, A, U)
end)

test("used ring crossing the end of RAM", {spec = {"2.7", "4.2.2"}}, function()
  refused(N, D, A, pick(H.RAM_END - 16, H.RAM_END - 2))
end)

test("descriptor table crossing the end of RAM", {spec = {"2.7", "4.2.2"}}, function()
  refused(N, H.RAM_END - 64, A, U)
end)

test("used ring address + size wrapping 2^64", {spec = {"2.7", "4.2.2"}}, function()
  refused(N, D, A, -8)
end)

test("used ring misaligned (not 4-byte aligned)", {spec = pick("2.7", "2.8.11")}, function()
  refused(N, D, A, U + 2)
end)

test("avail ring misaligned (odd address)", {spec = pick("2.7", "2.8.11")}, function()
  refused(N, D, A + 1, U)
end)

test("descriptor table misaligned (not 16-byte aligned)", {spec = pick("2.7", "2.8.11")}, function()
  refused(N, D + 8, A, U)
end)

-- a packed ring may have any size (spec 2.8)
H.test_split("queue size not a power of two (6)", {spec = {"2.7", "4.2.2"}}, function()
  refused(6, D, A, U)
end)

test("queue size 0", {spec = {"2.7", "4.2.2"}}, function()
  refused(0, D, A, U)
end)

test("queue size above QueueNumMax", {spec = "4.2.2.2"}, function()
  refused(2 * N, D, A, U)
end)

test("a ring that becomes inaccessible after it was enabled", {spec = {"2.7", "2.1.2"}},
     function()
  local m, dev, q = H.rng()
  local f = m.mem:fault(H.page(5), H.PAGE, "w")   -- the used ring's page
  q:desc(0, {addr = H.BUF, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.broken(m, dev, "RING_RING_MEM")
  m.mem:unfault(f)
  eq(q:used_idx(), 0, "used idx not written")
  eq(H.guard_hits(m), 0)
  H.recover(m, dev)
end)

test("notify for a queue that was never enabled", {spec = "4.2.2"}, function()
  local m, dev = H.machine("blk", {size = "1M", queues = 2})
  H.init(dev, {features = {"MQ"}, queues = {0}})
  ok(dev:reg("QueueNotify", 1))
  H.run(m)
  eq(dev:stats().chains, 0)
  ok(dev:stats().notifies_ignored >= 1)
  eq(dev.needs_reset, false, "an ignored notification is not an error")
  H.recover(m, dev, {features = {"MQ"}})
end)


test("queue registers written while the queue is ready are refused", {spec = "4.2.2.2"},
     function()
  local m, dev, q = H.rng()
  dev:reg("QueueSel", 0)
  eq(select(2, dev:reg("QueueNum", 2)), "STATE")
  eq(select(2, dev:reg("QueueDescLow", 0x1000)), "STATE")
  eq(select(2, dev:reg("QueueDeviceLow", 0x1000)), "STATE")
  eq(dev:queue(0).num, N)
  eq(dev:queue(0).desc, H.DESC)
  q:desc(0, {addr = H.BUF, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.contained(m, dev)
  eq(q:used_idx(), 1, "the queue still works at its old place")
end)

H.test_split("rings that overlap each other do not make the device leave them", {spec = "2.7"},
     function()
  local m, dev = H.machine("rng")
  ok(program(dev, N, H.page(1), H.page(1) + 0x80, H.page(1) + 0x100))
  ok(dev:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK))
  local q = dev:ring(0)
  q:avail_idx(N)               -- every slot names head 0, whose descriptor lies on the rings
  q:notify()
  H.run(m)
  H.contained(m, dev)
  H.recover(m, dev)
end)

-- Guest RAM in three back-to-back regions (64 MiB, then 64 KiB twice), as
-- a guest with several memory slots has it: rings across the first
-- boundary, a buffer and an indirect table across the second, are served
-- (issue 8.1); a buffer that runs on past the last region into the hole is
-- still refused.
test("rings, buffers and an indirect table across back-to-back RAM regions",
     {spec = {"2.7", "2.7.5"}}, function()
  local m, dev = H.machine("rng")
  local b1 = H.RAM_END                      -- the first region ends here
  local b2 = b1 + 64 * 1024
  m:add_ram(b1, 64 * 1024)
  m:add_ram(b2, 64 * 1024)
  -- descriptor table across the first boundary, avail and used after it
  local desc, avail, used = b1 - 64, b1 + 64, b1 + 256
  H.init(dev, {queues = {}, driver_ok = false, features = {"INDIRECT_DESC"}})
  dev:reg("QueueSel", 0)
  dev:reg("QueueNum", N)
  dev:reg("QueueDescLow", desc & 0xffffffff); dev:reg("QueueDescHigh", 0)
  dev:reg("QueueDriverLow", avail & 0xffffffff); dev:reg("QueueDriverHigh", 0)
  dev:reg("QueueDeviceLow", used & 0xffffffff); dev:reg("QueueDeviceHigh", 0)
  eq(dev:reg("QueueReady", 1), true, "queue across the regions accepted")
  ok(dev:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK))
  local q = H.view(dev:ring(0))
  -- descriptors on both sides of the first boundary; a buffer across the second
  local buf = b2 - 24
  m.mem:fill(buf, 0, 48)
  for i = 0, N - 1 do q:desc(i, {addr = buf, len = 48, flags = "WRITE"}) end
  H.offer(m, q, 7)
  eq(dev.error, nil, "no error")
  eq({q:used(0)}, {7, 48}, "used element: head 7, 48 bytes")
  local got = m.mem:read(buf, 48)
  ok(got ~= ("\0"):rep(48), "the device wrote the buffer")
  eq(m.mem:read(buf, 24) .. m.mem:read(b2, 24), got, "the same bytes through each region")
  -- an indirect table across the second boundary, its buffers after it
  local t = b2 - 16
  H.itable(m, t, {{b2 + 0x1000, 8, 1 | 2, 1}, {b2 + 0x1008, 8, 2, 0}})
  q:desc(1, {addr = t, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 1)
  eq({q:used(1)}, {1, 16}, "the indirect chain was served")
  -- a buffer from the last region into the hole after it
  q:desc(2, {addr = b2 + 64 * 1024 - 8, len = 16, flags = "WRITE"})
  H.offer(m, q, 2)
  H.broken(m, dev, "RING_DESC_MEM")
  eq(H.guard_hits(m), 0)
end)

-- VIRTIO_F_RING_RESET on virtio-mmio (spec 2.6.1, 4.2.2): QueueReset drops
-- what the device holds of the queue; the driver may re-enable it after
-- DRIVER_OK with a new size and new addresses.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/../hostile/hostile.lib")
H.use_ring("split")   -- split-ring rules: it reads the split ring's used idx
local BUF = H.BUF
local F = H.F
local NEW = 0x10000 * 4            -- the re-enabled ring lies this far above the old one

test("queue reset drops held receive chains; re-enabled with a new size and new addresses",
     {spec = {"2.6.1.1.1", "2.6.1.1.2", "2.6.1.2.1", "2.6.1.2.2", "4.2.2.1"},
      tags = {"features", "mmio"}}, function()
  local m, dev = H.machine("net", {["mrg-rxbuf"] = "on"})
  local q = H.init(dev, {features = {"MRG_RXBUF", "RING_RESET"}, queues = {0, 1}})
  -- two small receive buffers; a 1000-byte frame needs more room: both held
  m.mem:fill(BUF, 0x200, 0xee)
  for i = 0, 1 do
    q:desc(i, {addr = BUF + 0x100 * i, len = 64, flags = "WRITE"})
    q:post(i)
  end
  q:notify()
  H.run(m)
  dev:receive(F.frame(1000))
  H.run(m)
  eq(q:used_idx(), 0, "both buffers held, nothing used yet")
  eq(dev:stats().chains, 2)

  -- reset queue 0 alone: it reads back not ready, size back to the maximum
  dev:reg("QueueSel", 0)
  ok(dev:reg("QueueReset", 1))
  eq(dev:reg("QueueReset"), 0, "the reset is complete when read")
  eq(dev:reg("QueueReady"), 0)
  eq(dev:queue(0).ready, false)
  eq(dev:queue(0).desc, 0, "addresses cleared")
  ok(dev:queue(1).ready, "queue 1 untouched")
  ok(dev.status & H.S.DRIVER_OK ~= 0, "the device keeps running")

  -- re-enable after DRIVER_OK: size 4 (was 8) at new addresses
  dev:reg("QueueNum", 4)
  dev:reg("QueueDescLow", H.DESC + NEW); dev:reg("QueueDescHigh", 0)
  dev:reg("QueueDriverLow", H.AVAIL + NEW); dev:reg("QueueDriverHigh", 0)
  dev:reg("QueueDeviceLow", H.USED + NEW); dev:reg("QueueDeviceHigh", 0)
  ok(dev:reg("QueueReady", 1))
  local s = dev:queue(0)
  eq(s.num, 4)
  eq(s.desc, H.DESC + NEW)
  eq(s.last_avail, 0, "the ring starts over")
  local q2 = dev:ring(0)
  q2:desc(0, {addr = BUF + 0x1000, len = 2048, flags = "WRITE"})
  q2:post(0)
  q2:notify()
  H.run(m)
  dev:receive(F.frame(60))
  H.run(m)
  ok(q2:used_idx() >= 1, "the new ring receives")
  local id = q2:used(0)
  eq(id, 0, "used id is the new ring's head")
  -- nothing went to the old ring or the dropped buffers
  eq(m.mem:u16(H.USED + 2), 0, "old used idx untouched")
  eq(m.mem:read(BUF, 64), ("\xee"):rep(64), "dropped buffer 0 never written")
  eq(m.mem:read(BUF + 0x100, 64), ("\xee"):rep(64), "dropped buffer 1 never written")
  eq(dev.error_msg, nil, "no rule broken")
  eq(H.guard_hits(m), 0)
end)

test("QueueReset without VIRTIO_F_RING_RESET is refused and changes nothing",
     {spec = {"2.6.1.1.2", "4.2.2.2"}, tags = {"features", "mmio"}}, function()
  local m, dev = H.machine("rng")
  local q = H.init(dev, {})
  dev:reg("QueueSel", 0)
  local okk = dev:reg("QueueReset", 1)
  ok(not okk, "refused")
  eq(dev:reg("QueueReady"), 1, "queue still ready")
  q:desc(0, {addr = BUF, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  eq(q:used_idx(), 1, "and still serving")
end)

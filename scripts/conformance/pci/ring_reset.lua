-- VIRTIO_F_RING_RESET on virtio-pci (spec 4.1.4.3, 2.6.1), through the
-- common configuration structure in BAR 0 (dev:bar_read/bar_write): writing
-- 1 to queue_reset resets the selected queue (held chains dropped), which
-- then reads 0 in queue_reset and queue_enable; the driver re-enables it
-- after DRIVER_OK with a new size and new addresses. The rings are those of
-- the run's layout (vqsim --ring; hostile.lib's H.view on packed).
-- the pci transport's rules: the file asks for it (a plain run defaults to mmio)
vqsim.defaults.transport = "pci"
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/../hostile/hostile.lib")
local F, BUF = H.F, H.BUF
local CC = {qsel = 0x16, qsize = 0x18, qenable = 0x1c, qdesc = 0x20, qdriver = 0x28,
            qdevice = 0x30, qreset = 0x3a}
local NEW = 0x40000            -- the re-enabled ring lies this far above the old one

local function set64(dev, off, v)
  dev:bar_write(off, v & 0xffffffff, 4); dev:bar_write(off + 4, v >> 32, 4)
end

test("queue_reset drops held receive chains; queue_enable re-enables with a new size and addresses",
     {spec = {"4.1.4.3.1", "4.1.4.3.2", "2.6.1.1.1", "2.6.1.1.2", "2.6.1.2.1"}, tags = {"features", "pci"}},
     function()
  local m, dev = H.machine("net", {["mrg-rxbuf"] = "on"})
  eq(dev.transport, "pci")
  local q = H.init(dev, {features = {"MRG_RXBUF", "RING_RESET"}, queues = {0, 1}})
  m.mem:fill(BUF, 0x200, 0xee)
  for i = 0, 1 do
    q:desc(i, {addr = BUF + 0x100 * i, len = 64, flags = "WRITE"})
    q:post(i)
  end
  q:notify()
  H.run(m)
  dev:receive(F.frame(1000))   -- needs more room than both: both held
  H.run(m)
  eq(q:used_idx(), 0, "both buffers held, nothing used")
  eq(dev:queue(0).chains, 2)

  dev:bar_write(CC.qsel, 0, 2)
  local max = dev:queue(0).num_max
  eq(dev:bar_read(CC.qreset, 2), 0, "queue_reset reads 0 while the queue runs")
  ok(dev:bar_write(CC.qreset, 1, 2))
  eq(dev:bar_read(CC.qreset, 2), 0, "the reset has completed")
  eq(dev:bar_read(CC.qenable, 2), 0, "queue_enable 0 after the reset")
  eq(dev:bar_read(CC.qsize, 2), max, "queue_size back to the maximum")
  eq(dev:bar_read(CC.qdesc, 4), 0, "addresses cleared")
  ok(dev:queue(1).ready, "queue 1 untouched")
  ok(dev.status & H.S.DRIVER_OK ~= 0, "the device keeps running")
  -- the dropped buffers are not used, even by a frame that would fit them
  dev:receive(F.frame(60))
  H.run(m)
  -- the old ring in memory (the raw view has no ring after the reset)
  if H.is_packed() then
    ok(m.mem:u16(H.DESC + 14) & 0x8000 == 0, "old ring: slot 0 not marked used")
  else
    eq(m.mem:u16(H.USED + 2), 0, "old ring: used idx untouched")
  end

  -- re-enable after DRIVER_OK: size 4 at new addresses
  dev:bar_write(CC.qsize, 4, 2)
  set64(dev, CC.qdesc, H.DESC + NEW)
  set64(dev, CC.qdriver, H.AVAIL + NEW)
  set64(dev, CC.qdevice, H.USED + NEW)
  ok(dev:bar_write(CC.qenable, 1, 2))
  eq(dev:bar_read(CC.qenable, 2), 1)
  eq(dev:bar_read(CC.qreset, 2), 0, "queue_reset 0 once enabled")
  local s = dev:queue(0)
  eq(s.num, 4)
  eq(s.desc, H.DESC + NEW)
  eq(s.last_avail, 0, "the ring starts over")
  local q2 = H.view(dev:ring(0))
  q2:desc(0, {addr = BUF + 0x1000, len = 2048, flags = "WRITE"})
  q2:post(0)
  q2:notify()
  H.run(m)
  dev:receive(F.frame(60))
  H.run(m)
  eq(q2:used_idx(), 1, "the new ring receives")
  eq(q2:used(0), 0, "used id is the new ring's chain")
  eq(m.mem:read(BUF, 64), ("\xee"):rep(64), "dropped buffer 0 never written")
  eq(m.mem:read(BUF + 0x100, 64), ("\xee"):rep(64), "dropped buffer 1 never written")
  eq(dev.error_msg, nil, "no rule broken")
  eq(H.guard_hits(m), 0)
end)

test("queue_reset without VIRTIO_F_RING_RESET, or written other than 1, is refused",
     {spec = {"4.1.4.3.2"}, tags = {"features", "pci"}}, function()
  local m, dev = H.machine("rng")
  local q = H.init(dev, {})
  dev:bar_write(CC.qsel, 0, 2)
  eq(select(2, dev:bar_write(CC.qreset, 1, 2)), "STATE")
  eq(dev:bar_read(CC.qenable, 2), 1, "queue still enabled")
  q:desc(0, {addr = BUF, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  eq(q:used_idx(), 1, "and still serving")
  local m2, dev2 = H.machine("rng")
  H.init(dev2, {features = {"RING_RESET"}})
  dev2:bar_write(CC.qsel, 0, 2)
  eq(select(2, dev2:bar_write(CC.qreset, 2, 2)), "INVAL")
  eq(dev2:bar_read(CC.qenable, 2), 1, "queue still enabled")
end)

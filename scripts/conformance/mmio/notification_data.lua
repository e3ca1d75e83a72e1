-- VIRTIO_F_NOTIFICATION_DATA on virtio-mmio (spec 2.9, 4.2.3.3): with the
-- feature the driver writes vqn | next_off << 16 | next_wrap << 31 to
-- QueueNotify; for a split ring next_off|next_wrap<<15 is its avail idx.
-- the mmio transport's rules: the file asks for it
vqsim.defaults.transport = "mmio"
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/../hostile/hostile.lib")
H.use_ring("split")   -- split-ring rules: next_off is the split avail idx here
local N, BUF = H.N, H.BUF

test("notification data decoded: queue from the low 16 bits, avail idx from the high",
     {spec = {"2.9", "4.2.3.3"}, tags = {"features", "mmio"}}, function()
  local m, dev = H.machine("rng")
  local q = H.init(dev, {features = {"NOTIFICATION_DATA"}})
  for i = 0, 2 do
    q:desc(i, {addr = BUF + 0x100 * i, len = 16, flags = "WRITE"})
    q:post(i)
  end
  -- avail idx is now 3: the driver says so in the notification
  eq(q:avail_idx(), 3)
  ok(dev:reg("QueueNotify", 0 | (3 << 16)))
  H.run(m)
  local s = dev:queue(0)
  eq(s.notify_datas, 1, "one notification with data")
  eq(s.notify_next_off, 3, "next_off = avail idx bits 0-14")
  eq(s.notify_next_wrap, false, "next_wrap = avail idx bit 15")
  eq(s.notifies, 1, "delivered to queue 0, not to queue 0x30000")
  eq(q:used_idx(), 3, "all three chains served")
  -- bit 15 of the avail idx travels as next_wrap
  ok(dev:reg("QueueNotify", 0 | ((0x8000 | 5) << 16)))
  H.run(m)
  s = dev:queue(0)
  eq(s.notify_next_off, 5)
  eq(s.notify_next_wrap, true)
  eq(H.guard_hits(m), 0)
end)

test("without the feature QueueNotify is the queue index alone",
     {spec = {"2.9", "4.2.2.2"}, tags = {"features", "mmio"}}, function()
  local m, dev = H.machine("rng")
  local q = H.init(dev, {})
  q:desc(0, {addr = BUF, len = 16, flags = "WRITE"})
  q:post(0)
  ok(dev:reg("QueueNotify", 0 | (1 << 16)))
  H.run(m)
  local s = dev:queue(0)
  eq(s.notify_datas, 0)
  eq(s.notifies, 0, "queue 0x10000 does not exist: nothing delivered to queue 0")
  eq(q:used_idx(), 0)
  ok(dev:reg("QueueNotify", 0))
  H.run(m)
  eq(q:used_idx(), 1)
end)

test("the reference driver sends its avail idx when NOTIFICATION_DATA is negotiated",
     {spec = {"2.9"}, tags = {"features", "driver"}}, function()
  local m = vqsim.machine{seed = 3}
  local dev = m:add("rng", {name = "rng0"})
  local d = m:driver(dev)
  d:init{features = {"NOTIFICATION_DATA"}}
  for _ = 1, 3 do eq(#d:rng_read(8), 8) end
  local s = dev:queue(0)
  ok(s.notify_datas >= 3, "every kick carried data")
  eq(s.notify_next_off, dev:queue(0).last_avail & 0x7fff,
     "the last kick named the avail idx the device then reached")
end)

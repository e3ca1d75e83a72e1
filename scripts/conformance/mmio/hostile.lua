-- virtio-mmio register rules met by a hostile driver (spec 4.2.2), moved
-- here from hostile/ because they are about mmio registers: a QueueNotify
-- value naming no queue, InterruptACK bits. pci/ has the pci counterparts.
-- the mmio transport's rules: the file asks for it
vqsim.defaults.transport = "mmio"
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/../hostile/hostile.lib")

test("notify for a queue index the device does not have", {spec = "4.2.2"}, function()
  local m, dev, q = H.rng()
  ok(dev:reg("QueueNotify", 7))
  ok(dev:reg("QueueNotify", 0xffff))
  H.run(m)
  H.contained(m, dev)
  eq(dev:stats().chains, 0)
  eq(dev.needs_reset, false)
  H.recover(m, dev)
end)

test("InterruptACK with undefined bits is refused", {spec = "4.2.2.2"}, function()
  local m, dev, q = H.rng()
  eq(select(2, dev:reg("InterruptACK", 0xfc)), "INVAL")
  q:desc(0, {addr = H.BUF, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  eq(q:used_idx(), 1)
end)

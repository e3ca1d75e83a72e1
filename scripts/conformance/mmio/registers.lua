-- virtio-mmio version 2 register file (spec 4.2.2).
-- the mmio transport's rules: the file asks for it
vqsim.defaults.transport = "mmio"
local F = require "fixtures"

test("MagicValue reads \"virt\"", {spec = "4.2.2"}, function()
  local m, rng = F.bare()
  eq(rng:reg("MagicValue"), 0x74726976)
end)

test("Version is 2", {spec = "4.2.2"}, function()
  local m, rng = F.bare()
  eq(rng:reg("Version"), 2)
end)

test("DeviceID of virtio-rng is 4", {spec = "4.2.2"}, function()
  local m, rng = F.bare()
  eq(rng:reg("DeviceID"), 4)
  eq(rng.id, 4)
end)

test("QueueNumMax is non-zero for a queue, 0 past the last", {spec = "4.2.2"}, function()
  local m, rng = F.bare()
  rng:reg("QueueSel", 0)
  ok(rng:reg("QueueNumMax") > 0)
  rng:reg("QueueSel", 1)
  eq(rng:reg("QueueNumMax"), 0)
end)

test("DeviceFeaturesSel 1 shows VERSION_1", {spec = "4.2.2"}, function()
  local m, rng = F.bare()
  rng:reg("DeviceFeaturesSel", 1)
  eq(rng:reg("DeviceFeatures") & 1, 1)
end)

test("reading a write-only register is a bad access", {spec = "4.2.2.1"}, function()
  local m, rng = F.bare()
  local v, err = rng:read("QueueNotify")
  eq(v, 0)
  eq(err, "BAD_ACCESS")
end)

test("writing a read-only register is a bad access", {spec = "4.2.2.1"}, function()
  local m, rng = F.bare()
  eq(select(2, rng:write("MagicValue", 0)), "BAD_ACCESS")
  eq(rng:reg("MagicValue"), 0x74726976)
end)

test("a 16-bit access to a 32-bit register is refused", {spec = "4.2.2.2"}, function()
  local m, rng = F.bare()
  local v, err = rng:read("Status", 2)
  eq(err, "BAD_ACCESS")
  ok(rng:stats().bad_accesses > 0)
end)

test("a misaligned register access is refused", {spec = "4.2.2.2"}, function()
  local m, rng = F.bare()
  eq(select(2, rng:read(0x72)), "BAD_ACCESS")
end)

test("an address no device decodes is a bad access", {spec = "4.2.2"}, function()
  local m = vqsim.machine{}
  local v, err = m:read(0x0b000000)
  eq({v, err}, {0, "BAD_ACCESS"})
end)

test("InterruptStatus and InterruptACK", {spec = "4.2.2"}, function()
  local m, rng, d, q = F.rng()
  d:ack()
  q:add{{F.BUF, 8, "w"}}
  q:kick()
  m:run()
  eq(rng:reg("InterruptStatus") & 1, 1, "used buffer bit")
  ok((m:irq(rng.irq)), "line high")
  rng:reg("InterruptACK", 1)
  eq(rng:reg("InterruptStatus"), 0)
  eq((m:irq(rng.irq)), false, "line low after ack")
end)

test("QueueNum above QueueNumMax makes QueueReady fail", {spec = "4.2.2.2"}, function()
  local m, rng = F.bare()
  local S = vqsim.status
  rng:reg("Status", S.ACKNOWLEDGE); rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER)
  rng:reg("DriverFeaturesSel", 1); rng:reg("DriverFeatures", 1)
  ok(rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK))
  rng:reg("QueueSel", 0)
  rng:reg("QueueNum", rng:reg("QueueNumMax") * 2)
  rng:reg("QueueDescLow", F.BUF); rng:reg("QueueDriverLow", F.BUF + 0x10000)
  rng:reg("QueueDeviceLow", F.BUF + 0x20000)
  rng:reg("QueueReady", 1)
  eq(rng:reg("QueueReady"), 0)
end)

test("ConfigGeneration is readable", {spec = "4.2.2"}, function()
  local m, rng = F.bare()
  local v, err = rng:read("ConfigGeneration")
  eq(err, nil)
  eq(math.type(v), "integer")
end)

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

local traced = F.traced

test("the driver probes MagicValue, Version, then DeviceID, and stops at DeviceID 0",
     {spec = "4.2.3.1.1", tags = "driver"}, function()
  local m = vqsim.machine{seed = 1}
  local rng = m:add("rng")
  local empty = m:add("empty")      -- a transport with no device, as QEMU's unused slots
  eq(empty:reg("DeviceID"), 0)
  m:trace{capture = true}
  local d = m:driver(rng)
  local regs = traced(m:trace_log(), " reg ")
  ok(#regs >= 3)
  ok(regs[1]:find("read MagicValue=0x74726976"), regs[1])
  ok(regs[2]:find("read Version=0x2"), regs[2])
  ok(regs[3]:find("read DeviceID=0x4"), regs[3])
  -- DeviceID 0: the driver gives up and touches nothing else
  raises(function() m:driver(empty) end, "NO_DEVICE")
  regs = traced(m:trace_log(), " reg ")
  eq(#regs, 3, "three reads")
  ok(regs[3]:find("read DeviceID=0x0"), regs[3])
  eq(empty:stats().bad_accesses, 0, "no other register of the empty transport touched")
  m:trace{capture = false}
  -- the transport refuses (and counts) what a driver that went on would do
  eq(select(2, empty:reg("Status", 1)), "BAD_ACCESS")
  eq(empty:stats().bad_accesses, 1)
end)

test("after an interrupt the driver reads InterruptStatus and acknowledges what it handled",
     {spec = "4.2.3.4.1", tags = "driver"}, function()
  local m = vqsim.machine{seed = 1}
  local bal = m:add("balloon")
  local d = m:driver(bal)
  d:balloon_init{}
  m:trace{capture = true}
  -- a used buffer: the driver's wait takes the interrupt
  local pfn = (d:alloc(8192) + 4095) // 4096
  d:balloon_inflate{pfn}
  local log = m:trace_log()
  ok(#traced(log, "line %d+ raised") >= 1, "the line went up")
  local status = traced(log, " reg .*read InterruptStatus=0x1$")
  local acks = traced(log, " reg .*write InterruptACK=0x1$")
  ok(#status >= 1, "InterruptStatus read: used buffer")
  eq(#acks, #status, "each used-buffer interrupt acknowledged with its bit")
  eq(m:irq(bal.irq), false, "the line is down again")
  -- both causes at once: a used buffer and a configuration change
  m:trace{capture = true}
  d:queue(0):add{{d:alloc(4), 4, "r"}}
  d:queue(0):kick()
  m:run()
  bal:set_target(8)
  m:run()
  eq(d:ack(), 3, "both bits read")
  log = m:trace_log()
  ok(#traced(log, "read InterruptStatus=0x3$") == 1, "read as 3")
  ok(#traced(log, "write InterruptACK=0x3$") == 1, "acknowledged as 3")
  eq(m:irq(bal.irq), false)
  m:trace{capture = false}
end)

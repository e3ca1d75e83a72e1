-- The reference driver's virtio-pci probe against functions that present
-- unusual or hostile ids and capabilities (dev:pci_ids, dev:pci_add_cap,
-- dev:pci_hide_cap): what spec 4.1.2.2 (device discovery), 4.1.4.1
-- (structure capabilities) and 4.1.4.5.2 (ISR status with MSI-X) ask of a
-- driver. The quirks change the transport's config space only, so these
-- tests hold for an outside device too, except where tagged "model".

vqsim.defaults.transport = "pci"
local COMMON_LEN, NOTIFY_OFF, ISR_OFF, DEVICE_OFF, BAR_SIZE = 0x3c, 0x3000, 0x1000, 0x2000, 0x8000

local function dev(kind, opts)
  local m = vqsim.machine{seed = 1}
  opts = opts or {}
  opts.transport = "pci"
  return m, m:add(kind or "blk", opts)
end

-- The driver found the transport's own structures (BAR 0 layout, pci.h).
local function real_structures(d)
  local p = d.pci
  eq(p.bar_index, 0, "BAR 0")
  eq(p.common, 0, "common configuration at 0")
  eq(p.notify, NOTIFY_OFF, "notifications")
  eq(p.notify_mult, 4, "notify_off_multiplier")
  eq(p.isr, ISR_OFF, "ISR")
  eq(p.device_cfg, DEVICE_OFF, "device configuration")
end

-- A blk write and read back through the driver: the function is usable.
local function blk_io(d)
  d:init{}
  local data = ("vqsim-pci-probe!"):rep(32)
  eq(d:blk_write(3, data), "OK")
  eq(d:blk_read(3, #data), data)
end

-- ---- 4.1.2.2 PCI device discovery ----

test("a vendor id other than 0x1af4 is not matched", {spec = "4.1.2.2"}, function()
  local m, blk = dev()
  local ids = blk:pci_ids{vendor = 0x8086}
  eq(ids.vendor, 0x8086)
  eq(blk:pci_read(0, 2), 0x8086, "config space shows the quirk")
  raises(function() m:driver(blk) end, "NO_DEVICE: vendor id 0x8086 is not virtio's 0x1af4")
end)

test("device ids outside 0x1000-0x107f, and 0x1040 (type 0), are not matched",
     {spec = "4.1.2.2"}, function()
  for _, id in ipairs{0x0fff, 0x1080, 0x10f0, 0xffff} do
    local m, blk = dev()
    blk:pci_ids{device = id}
    raises(function() m:driver(blk) end,
           string.format("NO_DEVICE: device id 0x%04x is outside virtio's", id))
  end
  local m, blk = dev()
  blk:pci_ids{device = 0x1040}
  raises(function() m:driver(blk) end, "virtio device type 0, which is reserved")
end)

test("0x1040 + device type is matched with any revision and subsystem ids",
     {spec = "4.1.2.2"}, function()
  for _, rev in ipairs{0, 1, 0x80, 0xff} do
    local m, blk = dev()
    blk:pci_ids{revision = rev, subsystem_vendor = 0xffff, subsystem = 0x0001 + rev}
    eq(blk:pci_read(8, 1), rev)
    local d = m:driver(blk)
    eq(d.device_id, 2)
    blk_io(d)
  end
end)

test("the transitional ids of the spec's table name the device type", {spec = "4.1.2.2"},
     function()
  -- the subsystem id stays vqsim's 0x1100: the table alone decides
  for _, c in ipairs{{0x1001, "blk", 2}, {0x1005, "rng", 4}, {0x1000, "net", 1},
                     {0x1002, "balloon", 5}, {0x1003, "console", 3}} do
    local m, x = dev(c[2], c[2] == "blk" and {size = "1M"} or nil)
    x:pci_ids{device = c[1], revision = 0}
    local d = m:driver(x, {msix = c[2] == "rng"})
    eq(d.device_id, c[3], string.format("0x%04x", c[1]))
    eq(d.device_id, x.id, "the type the device is")
    if c[2] == "blk" then blk_io(d) end
    if c[2] == "rng" then
      d:init{}
      eq(#d:rng_read(16), 16)
    end
  end
end)

test("another transitional id: the subsystem device id names the type", {spec = "4.1.2.2"},
     function()
  local m, blk = dev()
  blk:pci_ids{device = 0x1020, revision = 0, subsystem = 2}
  local d = m:driver(blk)
  eq(d.device_id, 2)
  blk_io(d)
  local m2, blk2 = dev()
  blk2:pci_ids{device = 0x1020, subsystem = 0x4242}
  raises(function() m2:driver(blk2) end, "subsystem device id 0x4242 names no virtio device type")
end)

-- ---- 4.1.4.1 Virtio structure PCI capabilities ----

test("vendor capabilities with a reserved or unused cfg_type are ignored", {spec = "4.1.4.1"},
     function()
  for _, types in ipairs{{0, 6, 7, 0x10, 0xff}, {5, 8, 9, 10, 0x81}} do
    local m, blk = dev()
    for i, t in ipairs(types) do
      -- offsets that would break the driver if it took them for a structure
      blk:pci_add_cap{type = t, bar = 0, offset = i % 2 == 0 and 0x6000 or DEVICE_OFF + 4,
                      length = 0x100, last = i % 2 == 0}
    end
    local d = m:driver(blk, {msix = true})
    real_structures(d)
    blk_io(d)
  end
end)

test("a capability naming a reserved BAR (6..255) is ignored", {spec = "4.1.4.1"}, function()
  local m, blk = dev()
  blk:pci_add_cap{type = "device", bar = 6, offset = DEVICE_OFF + 8, length = 8}
  blk:pci_add_cap{type = "isr", bar = 0x80, offset = 0x6000, length = 1}
  blk:pci_add_cap{type = "common", bar = 0xff, offset = 0, length = COMMON_LEN}
  local d = m:driver(blk)
  real_structures(d)
  blk_io(d)
end)

test("the first instance of a structure the driver can use is the one used, later ones ignored",
     {spec = "4.1.4.1"}, function()
  local m, blk = dev()
  -- a device configuration that starts at the device's byte 8, put first
  blk:pci_add_cap{type = "device", bar = 0, offset = DEVICE_OFF + 8, length = 8}
  blk:pci_add_cap{type = "common", bar = 0, offset = 0x6000, length = COMMON_LEN, last = true}
  blk:pci_add_cap{type = "isr", bar = 0, offset = 0x6100, length = 1, last = true}
  local d = m:driver(blk)
  eq(d.pci.common, 0, "the later common configuration is ignored")
  eq(d.pci.isr, ISR_OFF, "the later ISR is ignored")
  eq(d.pci.device_cfg, DEVICE_OFF + 8, "the first device configuration is used")
  eq(d.pci.device_len, 8)
  eq(d:config_read(0, 4), string.pack("<I4", blk:bar_read(DEVICE_OFF + 8, 4)))
  -- and the driver stays inside its 8 bytes
  raises(function() d:config_read(4, 8) end, "BAD_ACCESS")
  blk_io(d)
end)

test("an instance in a BAR the driver cannot use is skipped for the next one",
     {spec = "4.1.4.1"}, function()
  -- BAR 1 is BAR 0's upper half, BARs 2-5 are not implemented
  for bar = 1, 5 do
    local m, blk = dev()
    blk:pci_add_cap{type = "common", bar = bar, offset = 0, length = COMMON_LEN}
    blk:pci_add_cap{type = "notify", bar = bar, offset = NOTIFY_OFF, length = 0x100}
    local d = m:driver(blk)
    real_structures(d)
    blk_io(d)
  end
  -- the only common configuration in such a BAR: refused, saying why
  local m, blk = dev()
  blk:pci_hide_cap("common")
  blk:pci_add_cap{type = "common", bar = 2, offset = 0, length = COMMON_LEN}
  raises(function() m:driver(blk) end,
         "no usable COMMON_CFG capability: the one at 0xa4 names BAR 2, not implemented")
end)

test("a cap_len larger than the structure is accepted, one too short to hold it ignored",
     {spec = "4.1.4.1"}, function()
  local m, blk = dev()
  blk:pci_add_cap{type = "device", bar = 0, offset = DEVICE_OFF + 8, length = 8, cap_len = 44}
  blk:pci_add_cap{type = "notify", bar = 0, offset = NOTIFY_OFF, length = 0x100, cap_len = 32}
  eq(blk:pci_read(0xa4 + 2, 1), 44)
  local d = m:driver(blk, {msix = true})
  eq(d.pci.device_cfg, DEVICE_OFF + 8, "the long capability is used")
  eq(d.pci.notify_len, 0x100)
  blk_io(d)
  -- shorter than struct virtio_pci_cap (16), or a notify without its multiplier (20)
  local m2, blk2 = dev()
  blk2:pci_add_cap{type = "device", bar = 0, offset = DEVICE_OFF + 8, length = 8, cap_len = 12}
  blk2:pci_add_cap{type = "common", bar = 0, offset = 0x6000, length = COMMON_LEN, cap_len = 15}
  blk2:pci_add_cap{type = "notify", bar = 0, offset = 0x6000, length = 0x100, cap_len = 16}
  local d2 = m2:driver(blk2)
  real_structures(d2)
  blk_io(d2)
end)

test("an unexpectedly large length is handled: clamped, the structure used", {spec = "4.1.4.1"},
     function()
  local m, blk = dev()
  blk:pci_hide_cap("device")
  blk:pci_hide_cap("notify")
  blk:pci_add_cap{type = "device", bar = 0, offset = DEVICE_OFF, length = 0xffffffff}
  blk:pci_add_cap{type = "notify", bar = 0, offset = NOTIFY_OFF, length = 0xfffffff0}
  blk:pci_add_cap{type = "common", bar = 0, offset = 0, length = 0x80000000}
  local d = m:driver(blk, {msix = true})
  real_structures(d)
  eq(d.pci.device_len, 0x1000, "device configuration mapped up to 4 KiB")
  eq(d.pci.notify_len, BAR_SIZE - NOTIFY_OFF, "notifications up to the end of the BAR")
  blk_io(d)
  ok(d:blk_capacity() > 0, "device configuration read through the clamped structure")
end)

test("a structure outside the BAR, misaligned or shorter than the driver needs is skipped",
     {spec = "4.1.4.1"}, function()
  local bad = {
    {BAR_SIZE - 0x10, COMMON_LEN, "outside the 0x8000%-byte BAR 0"},
    {0xfffffff0, COMMON_LEN, "outside the 0x8000%-byte BAR 0"},
    {0x6000, 0x10, "length 16 is less than the 56 bytes the driver uses"},
    {0x2, COMMON_LEN, "offset 0x2 is not 4%-byte aligned"},
  }
  for _, c in ipairs(bad) do
    local m, blk = dev()
    blk:pci_add_cap{type = "common", bar = 0, offset = c[1], length = c[2]}
    local d = m:driver(blk)
    real_structures(d)
    blk_io(d)
    eq(blk:stats().bad_accesses, 0, "no access outside a structure")
    -- the only one: refused, saying why
    local m2, blk2 = dev()
    blk2:pci_hide_cap("common")
    blk2:pci_add_cap{type = "common", bar = 0, offset = c[1], length = c[2]}
    raises(function() m2:driver(blk2) end, "no usable COMMON_CFG capability: .*" .. c[3])
  end
end)

test("without common, notify or ISR capability there is no device to drive",
     {spec = "4.1.4.1"}, function()
  for _, what in ipairs{"common", "notify", "isr"} do
    local m, blk = dev()
    blk:pci_hide_cap(what)
    raises(function() m:driver(blk) end,
           "NO_DEVICE: no usable " .. what:upper() .. "_CFG capability: the list has none")
  end
end)

test("without a DEVICE_CFG capability the driver reads no device configuration",
     {spec = "4.1.4.1"}, function()
  local m, blk = dev()
  blk:pci_hide_cap("device")
  local d = m:driver(blk)
  eq(d.pci.device_cfg, nil)
  eq(d.pci.device_len, 0)
  local reads = blk:stats().reg_reads
  raises(function() d:config_read(0, 4) end, "BAD_ACCESS")
  ok(blk:stats().reg_reads - reads <= 1, "at most the generation was read")
end)

test("a queue whose notification address is past the notify structure is not enabled",
     {spec = "4.1.4.1"}, function()
  local m, net = dev("net")
  ok(net.nqueues >= 2)
  net:pci_hide_cap("notify")
  net:pci_add_cap{type = "notify", bar = 0, offset = NOTIFY_OFF, length = 4}
  local d = m:driver(net)
  eq(d.pci.notify_len, 4)
  d:negotiate{}
  d:setup_queue(0) -- queue_notify_off 0: 0 * 4 + 2 <= 4
  raises(function() d:setup_queue(1) end, "BAD_ACCESS")
  eq(net:stats().bad_accesses, 0, "no notification went past the structure")
end)

test("the driver writes no field of a virtio capability", {spec = "4.1.4.1"}, function()
  local m, blk = dev()
  local extra = blk:pci_add_cap{type = "device", bar = 0, offset = DEVICE_OFF, length = 0x40}
  m:trace{capture = true, kinds = {"reg"}}
  local d = m:driver(blk, {msix = true})
  blk_io(d)
  -- the capability list as the device shows it: vendor ones, and the ranges
  local vendor, at = {}, blk:pci_read(0x34, 1)
  while at ~= 0 do
    if blk:pci_read(at, 1) == 0x09 then
      vendor[#vendor + 1] = {at, at + blk:pci_read(at + 2, 1)}
    end
    at = blk:pci_read(at + 1, 1)
  end
  ok(#vendor >= 6, "five of the transport's and the extra one at " .. extra)
  local writes = 0
  for _, l in ipairs(m:trace_log()) do
    local off = tostring(type(l) == "table" and l.text or l):match("write PciCfg%[0x(%x+)%]")
    if off then
      writes = writes + 1
      off = tonumber(off, 16)
      for _, r in ipairs(vendor) do
        ok(off < r[1] or off >= r[2],
           string.format("write at 0x%02x inside the capability at 0x%02x", off, r[1]))
      end
    end
  end
  ok(writes > 0, "the driver did write config space (command, BAR, MSI-X control)")
end)

-- ---- 4.1.4.5.2 ISR status with MSI-X ----

test("with MSI-X enabled the driver handles queue interrupts without reading ISR",
     {spec = "4.1.4.5.2"}, function()
  local m, blk = dev()
  local d = m:driver(blk, {msix = true})
  eq(d.pci.msix, true)
  blk_io(d)
  m:run()
  ok(d.vring_irqs >= 2, "queue interrupts came (as messages) and were handled")
  eq(blk:stats().isr_reads, 0, "ISR status never read")
  -- the contrast: INTx, where the ISR read is the handler's job
  local m2, blk2 = dev()
  local d2 = m2:driver(blk2)
  blk_io(d2)
  ok(d2.vring_irqs >= 2)
  ok(blk2:stats().isr_reads >= d2.vring_irqs, "one ISR read per INTx interrupt at least")
end)

test("MSI-X asked of a function that shows no MSI-X capability: INTx and the ISR",
     {spec = "4.1.4.5.2"}, function()
  local m, blk = dev()
  blk:pci_hide_cap("msix")
  local d = m:driver(blk, {msix = true})
  eq(d.pci.msix, false)
  blk_io(d)
  eq(blk:msix(0).enabled, false)
  ok(blk:stats().isr_reads >= 2, "the ISR is how it learns of its interrupts")
  ok(d.vring_irqs >= 2)
end)

test("a configuration change on the MSI-X config vector: no ISR read either",
     {spec = "4.1.4.5.2", tags = "model"}, function()
  local m, bal = dev("balloon")
  local d = m:driver(bal, {msix = true})
  d:balloon_init{}
  local c0 = d.config_irqs
  bal:set_target(16)
  m:run()
  eq(d:ack() & 2, 2, "the config vector's message reads as a configuration change")
  eq(d.config_irqs, c0 + 1)
  eq(bal:stats().isr_reads, 0)
end)

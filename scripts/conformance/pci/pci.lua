-- virtio over PCI, modern (spec 4.1): identification, capabilities, the
-- common configuration rules, notifications, ISR and INTx, the
-- PCI_CFG_ACCESS window, MSI-X vectors. Raw accesses: dev:pci_read/
-- pci_write (config space), dev:bar_read/bar_write (BAR 0, placed by the
-- shell like firmware would).

-- common cfg offsets (spec 4.1.4.3)
-- the pci transport's rules: the file asks for it (a plain run defaults to mmio)
vqsim.defaults.transport = "pci"
local CC = {dfselect = 0x00, df = 0x04, msix = 0x10, numq = 0x12, status = 0x14,
            cfggen = 0x15, qsel = 0x16, qsize = 0x18, qmsix = 0x1a, qenable = 0x1c,
            qnoff = 0x1e}
local NO_VECTOR = 0xffff

local function dev(kind, opts)
  local m = vqsim.machine{seed = 1}
  opts = opts or {}
  opts.transport = "pci"
  return m, m:add(kind or "rng", opts)
end

-- Walk the capability list: {type -> {bar, offset, length, at}}, msix position.
local function caps(d)
  local found, msix, n = {}, nil, 0
  local at = d:pci_read(0x34, 1)
  while at ~= 0 do
    n = n + 1
    assert(n < 48, "capability list loops")
    local id = d:pci_read(at, 1)
    if id == 0x09 then
      local t = d:pci_read(at + 3, 1)
      found[t] = found[t] or {bar = d:pci_read(at + 4, 1), offset = d:pci_read(at + 8),
                              length = d:pci_read(at + 12), at = at}
    elseif id == 0x11 then
      msix = at
    end
    at = d:pci_read(at + 1, 1)
  end
  return found, msix
end

test("vendor 0x1af4, device 0x1040 + virtio id, revision 1", {spec = "4.1.2.1"}, function()
  local m, blk = dev("blk", {size = "1M"})
  eq(blk:pci_read(0, 2), 0x1af4)
  eq(blk:pci_read(2, 2), 0x1040 + 2)
  eq(blk:pci_read(8, 1), 1)
  ok(blk:pci_read(0x2e, 2) >= 0x40, "subsystem device id >= 0x40")
  eq(blk.transport, "pci")
end)

test("capabilities locate every structure inside BAR 0", {spec = "4.1.4.2"}, function()
  local m, rng = dev()
  local c, msix = caps(rng)
  for t = 1, 5 do ok(c[t], "capability type " .. t) end
  for t = 1, 4 do
    eq(c[t].bar, 0)
    ok(c[t].offset + c[t].length <= 0x8000, "inside the BAR")
  end
  ok(rng:pci_read(c[2].at + 16) > 0, "notify_off_multiplier")
  ok(msix, "MSI-X capability")
  eq((rng:pci_read(msix + 2, 2) & 0x7ff) + 1, rng.nqueues + 1, "table size")
end)

test("queue_select past num_queues: queue_size 0, writes ignored", {spec = "4.1.4.3.1"},
     function()
  local m, rng = dev()
  local n = rng:bar_read(CC.numq, 2)
  eq(n, rng.nqueues)
  rng:bar_write(CC.qsel, n, 2)
  eq(rng:bar_read(CC.qsize, 2), 0)
  local okw, err = rng:bar_write(CC.qsize, 8, 2)
  eq(okw, false)
  eq(err, "INVAL")
  eq(rng:bar_read(CC.qsize, 2), 0)
end)

test("read-only common fields stay read-only", {spec = {"4.1.4.3.1", "4.1.3.1"}}, function()
  local m, rng = dev()
  local n = rng:bar_read(CC.numq, 2)
  eq(select(2, rng:bar_write(CC.numq, 9, 2)), "BAD_ACCESS")
  eq(select(2, rng:bar_write(CC.df, 0, 4)), "BAD_ACCESS")
  eq(select(2, rng:bar_write(CC.qnoff, 3, 2)), "BAD_ACCESS")
  eq(rng:bar_read(CC.numq, 2), n)
  eq(select(2, rng:bar_read(CC.numq, 4)), "BAD_ACCESS", "a field takes its own width")
end)

test("queue_enable written 0 is refused, the queue stays enabled", {spec = "4.1.4.3.2"},
     function()
  local m, rng = dev()
  local d = m:driver(rng)
  d:init{}
  rng:bar_write(CC.qsel, 0, 2)
  eq(rng:bar_read(CC.qenable, 2), 1)
  eq(select(2, rng:bar_write(CC.qenable, 0, 2)), "INVAL")
  eq(rng:bar_read(CC.qenable, 2), 1)
  eq(#d:rng_read(8), 8)
end)

test("ISR is read-to-clear and drives INTx", {spec = {"4.1.4.5.1", "4.1.5.3.1"}}, function()
  local m, rng = dev()
  local d = m:driver(rng)
  d:init{}
  local q = d:queue(0)
  q:add{{d:alloc(16), 16, "w"}}
  q:kick()
  m:run()
  ok(m:irq(rng.irq), "line raised")
  eq(rng:read("InterruptStatus") & 1, 1, "queue interrupt bit")
  eq(m:irq(rng.irq), false, "reading the ISR lowered the line")
  eq(rng:read("InterruptStatus"), 0, "and cleared it")
end)

test("notifications: the value names the queue; past the area refused", {spec = "4.1.4.4.1"},
     function()
  local m, rng = dev()
  local d = m:driver(rng)
  d:init{}
  eq(select(2, rng:bar_write(0x3000, 1, 2)), "INVAL", "queue 0's address, index 1")
  eq(select(2, rng:bar_write(0x3000 + 4 * rng.nqueues, rng.nqueues, 2)), "BAD_ACCESS")
  eq(select(2, rng:bar_read(0x3000, 2)), "BAD_ACCESS", "write-only")
  eq(rng.needs_reset, false)
  eq(#d:rng_read(8), 8)
end)

test("PCI_CFG_ACCESS window: BAR access through config space", {spec = {"4.1.4.9.1", "4.1.4.9.2"}}, function()
  local m, blk = dev("blk", {size = "1M"})
  local c = caps(blk)
  local w = c[5].at
  blk:pci_write(w + 4, 0, 1)
  blk:pci_write(w + 8, CC.numq)
  blk:pci_write(w + 12, 2)
  eq(blk:pci_read(w + 16) & 0xffff, blk.nqueues)
  -- a bad BAR, an offset past the BAR, an odd length: refused, no access
  blk:pci_write(w + 4, 3, 1)
  eq(select(2, blk:pci_read(w + 16)), "BAD_ACCESS")
  blk:pci_write(w + 4, 0, 1)
  blk:pci_write(w + 8, 0x8000)
  eq(select(2, blk:pci_read(w + 16)), "BAD_ACCESS")
  blk:pci_write(w + 8, CC.qsel)
  blk:pci_write(w + 12, 3)
  eq(select(2, blk:pci_write(w + 16, 5)), "BAD_ACCESS")
  eq(blk:bar_read(CC.qsel, 2), 0)
end)

test("MSI-X: the driver's vectors, completions as messages, NO_VECTOR", {spec = "4.1.5.1.2.1"}, function()
  local m, blk = dev("blk", {size = "1M"})
  local d = m:driver(blk, {msix = true})
  d:init{}
  eq(blk:msix(0).enabled, true)
  eq(blk:bar_read(CC.msix, 2), 0, "config vector 0")
  blk:bar_write(CC.qsel, 0, 2)
  eq(blk:bar_read(CC.qmsix, 2), 1, "queue 0 on vector 1")
  local _, before = m:msi()
  eq(#d:blk_read(0, 512), 512)
  m:run() -- an outside device's call may come after the driver saw the used entry
  local msgs, after = m:msi()
  ok(after > before, "completion came as a message")
  eq(msgs[#msgs].addr, 0xfee00000)
  eq(msgs[#msgs].data & 0xff, 1)
  eq(m:irq(blk.irq), false, "no INTx with MSI-X")
  -- vectors past the table read back NO_VECTOR
  blk:bar_write(CC.msix, blk.nqueues + 1, 2)
  eq(blk:bar_read(CC.msix, 2), NO_VECTOR)
  blk:bar_write(CC.msix, 0, 2)
end)

test("MSI-X: a masked vector is pending and fires on unmask", {spec = {"4.1.5.1.2.1", "4.1.5.4.1"}}, function()
  local m, bal = dev("balloon")
  local d = m:driver(bal, {msix = true})
  d:balloon_init{}
  eq(bal:bar_read(CC.msix, 2), 0)
  local _, n0 = m:msi()
  bal:bar_write(0x4000 + 12, 1) -- mask vector 0 (config changes)
  bal:set_target(16)
  local _, n1 = m:msi()
  eq(n1, n0, "nothing sent while masked")
  eq(bal:msix(0).pending, true)
  bal:bar_write(0x4000 + 12, 0)
  local msgs, n2 = m:msi()
  eq(n2, n0 + 1, "sent on unmask")
  eq(msgs[#msgs].data & 0xff, 0, "on the config vector")
  eq(bal:msix(0).pending, false)
  -- function mask: the same through the capability's control word
  local _, msix = caps(bal)
  bal:pci_write(msix + 2, 0xc000, 2)
  bal:set_target(32)
  eq(select(2, m:msi()), n2)
  bal:pci_write(msix + 2, 0x8000, 2)
  eq(select(2, m:msi()), n2 + 1)
  -- NO_VECTOR: lost, not pending
  bal:bar_write(CC.msix, NO_VECTOR, 2)
  bal:set_target(48)
  eq(select(2, m:msi()), n2 + 1)
  eq(bal:msix(0).pending, false)
end)

test("generic register names: pci fields by mmio name, others refused", {spec = "4.1.4.3.1"},
     function()
  local m, rng = dev()
  rng:write("QueueSel", 0)
  eq(rng:read("QueueNumMax"), rng:bar_read(CC.qsize, 2))
  eq(rng:read("Status"), 0)
  local okr, err = pcall(rng.read, rng, "MagicValue")
  eq(okr, false)
  ok(err:find("MagicValue") and err:find("pci"), "names the register and the transport")
end)

test("config space is a PCI type-0 header with a well-formed capability list",
     {spec = {"4.1.1", "4.1.2.1"}}, function()
  local m, blk = dev("blk", {size = "1M"})
  eq(blk:pci_read(0x0e, 1) & 0x7f, 0, "header type 0")
  eq(blk:pci_read(0x06, 2) & 0x10, 0x10, "status: capabilities list")
  local at, n = blk:pci_read(0x34, 1), 0
  while at ~= 0 do
    n = n + 1
    ok(at >= 0x40 and at <= 0xfc and at % 4 == 0, "capability at a dword in 0x40..0xfc")
    ok(n < 48, "the list ends")
    at = blk:pci_read(at + 1, 1)
  end
  ok(n >= 6, "five virtio capabilities and MSI-X")
  -- BAR 0 is a 64-bit memory BAR (type bits 2:1 = 10b)
  eq(blk:pci_read(0x10) & 0x7, 0x4, "64-bit memory BAR")
end)

test("fields at their width: 64-bit ones as two 32-bit halves, device config through DEVICE_CFG",
     {spec = {"4.1.3.1", "4.1.3.2", "4.1.4.6.1"}}, function()
  local m, blk = dev("blk", {size = "1M"})
  local c = caps(blk)
  ok(c[4], "blk presents a DEVICE_CFG capability")
  local cfg = c[4].offset
  -- capacity (le64, 512-byte sectors) read as two 32-bit accesses
  eq(blk:bar_read(cfg, 4) | blk:bar_read(cfg + 4, 4) << 32, 1024 * 1024 // 512)
  eq(blk:bar_read(cfg, 1), (1024 * 1024 // 512) & 0xff, "an 8-bit access to device config")
  -- queue_desc (le64) written and read as two 32-bit halves
  blk:bar_write(CC.qsel, 0, 2)
  blk:bar_write(0x20, 0x40001000, 4)
  blk:bar_write(0x24, 0x1, 4)
  eq(blk:bar_read(0x20, 4), 0x40001000)
  eq(blk:bar_read(0x24, 4), 0x1)
  eq(blk:queue(0).desc, 0x140001000)
  -- device_status is 8 bits wide, num_queues 16: other widths are refused
  eq(blk:bar_read(CC.status, 1), 0)
  eq(select(2, blk:bar_read(CC.status, 2)), "BAD_ACCESS")
  eq(select(2, blk:bar_write(CC.qsel, 0, 4)), "BAD_ACCESS")
  eq(select(2, blk:bar_read(CC.numq, 1)), "BAD_ACCESS")
end)

test("without MSI-X a configuration change sets ISR bit 1 and raises INTx",
     {spec = {"4.1.5.4.1", "4.1.4.5.1"}}, function()
  local m, bal = dev("balloon")
  local d = m:driver(bal)
  d:balloon_init{}
  eq(bal:msix(0).enabled, false)
  bal:set_target(16)
  m:run()
  ok(m:irq(bal.irq), "INTx raised")
  eq(bal:read("InterruptStatus") & 3, 2, "device configuration interrupt bit, no queue bit")
  eq(m:irq(bal.irq), false, "reading the ISR lowered the line")
end)

test("the reference driver maps every event to a vector inside the MSI-X table and reads it back",
     {spec = {"4.1.5.1.2.2", "4.1.5.1.2.1"}}, function()
  local m, net = dev("net", {queues = 2})
  local d = m:driver(net, {msix = true})
  d:net_init{features = {"MQ", "CTRL_VQ"}}
  local _, msix = caps(net)
  local size = (net:pci_read(msix + 2, 2) & 0x7ff) + 1
  eq(net:msix(0).enabled, true)
  local cv = net:bar_read(CC.msix, 2)
  ok(cv ~= NO_VECTOR and cv < size, "config vector inside the table")
  local enabled = 0
  for i = 0, net.nqueues - 1 do
    net:bar_write(CC.qsel, i, 2)
    if net:bar_read(CC.qenable, 2) == 1 then
      enabled = enabled + 1
      local v = net:bar_read(CC.qmsix, 2)
      ok(v ~= NO_VECTOR and v < size, "queue " .. i .. " on vector " .. v .. " of " .. size)
    end
  end
  ok(enabled >= 5, "rx/tx pairs and the control queue enabled")
  local f = require("fixtures").frame(60)
  d:net_send(f)
  eq(d:net_recv(), f)
end)

test("one INTx interrupt for a used buffer and a configuration change: the driver handles both",
     {spec = {"4.1.5.4.2", "4.1.5.3.1", "4.1.5.4.1"}}, function()
  local m, bal = dev("balloon")
  local d = m:driver(bal)
  d:balloon_init{}
  eq(bal:msix(0).enabled, false, "INTx")
  local v0, c0 = d.vring_irqs, d.config_irqs
  -- a used buffer on the inflate queue, then a configuration change, both
  -- before the driver takes the interrupt
  local q = d:queue(0)
  local arr = d:alloc(4)
  local page = d:alloc(8192)
  m.mem:u32(arr, ((page + 4095) // 4096))
  q:add{{arr, 4, "r"}}
  q:kick()
  m:run()
  bal:set_target(16)
  m:run()
  ok(m:irq(bal.irq), "one line raised for both")
  local isr = d:ack()
  eq(isr & 3, 3, "both causes in one ISR read")
  eq(d.vring_irqs, v0 + 1, "the queue interrupt counted")
  eq(d.config_irqs, c0 + 1, "and the configuration change")
  eq(m:irq(bal.irq), false, "the read lowered the line")
  local tok = q:reap()
  ok(tok ~= nil, "the used buffer is reaped after the shared interrupt")
  eq(bal.needs_reset, false)
end)

test("the driver's notifications: 16-bit queue index, 32-bit with NOTIFICATION_DATA",
     {spec = "4.1.5.2.1", tags = "driver"}, function()
  for _, ndata in ipairs{false, true} do
    local m, bal = dev("balloon")
    local d = m:driver(bal)
    d:balloon_init{features = ndata and {"NOTIFICATION_DATA"} or {}}
    eq(d:has("NOTIFICATION_DATA"), ndata)
    -- kicks on queue 0 (inflate) and queue 1 (deflate): a notification
    -- naming another queue, or of the other width, would be refused or
    -- counted as a bad access
    local pfn = (d:alloc(8192) + 4095) // 4096
    d:balloon_inflate{pfn, pfn + 1}
    d:balloon_deflate{pfn}
    for q = 0, 1 do
      local s = bal:queue(q)
      ok(s.notifies >= 1, "queue " .. q .. " was notified")
      eq(s.notify_datas, ndata and s.notifies or 0,
         ndata and "every kick a 32-bit write with data" or "every kick a 16-bit write")
    end
    eq(bal:stats().bad_accesses, 0)
    eq(bal:stats().notifies_ignored, 0)
    eq(bal.needs_reset, false)
  end
end)

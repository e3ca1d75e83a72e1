-- The reference driver against pci functions laid out otherwise (spec 4.1.2.2,
-- 4.1.4.1, 4.1.4.5.2): dev:pci_strap() sets config-space bytes as the
-- function's hardware presents them, read-only ones included, before the
-- driver probes. What the driver must match, which capabilities it must
-- ignore or take, and that it leaves the ISR alone under MSI-X.

-- the pci transport's rules: the file asks for it (a plain run defaults to mmio)
vqsim.defaults.transport = "pci"
local VNDR, MSIX_AT, CAP_PTR = 0x09, 0x98, 0x34

local function dev()
  local m = vqsim.machine{seed = 1}
  return m, m:add("rng", {transport = "pci"})
end

-- A virtio vendor capability at `at`: next, cap_len, cfg_type, bar, offset, length.
local function cap(d, at, next, len, cfg_type, bar, offset, length)
  d:pci_strap(at, VNDR, 1)
  d:pci_strap(at + 1, next, 1)
  d:pci_strap(at + 2, len, 1)
  d:pci_strap(at + 3, cfg_type, 1)
  d:pci_strap(at + 4, bar, 1)
  d:pci_strap(at + 8, offset, 4)
  d:pci_strap(at + 12, length, 4)
end

-- The driver probes, initialises and reads entropy; no access of it went
-- astray (a structure taken from a wrong capability would have).
local function works(m, rng, opts)
  local d = m:driver(rng, opts)
  d:init{}
  eq(#d:rng_read(16), 16)
  eq(rng:stats().bad_accesses, 0, "no access outside the structures")
  return d
end

test("the driver matches vendor 0x1af4 and device 0x1040 + id, any revision and subsystem",
     {spec = "4.1.2.2"}, function()
  local m, rng = dev()
  rng:pci_strap(0x08, 0x42, 1)         -- revision
  rng:pci_strap(0x2c, 0xabcd, 2)       -- subsystem vendor
  rng:pci_strap(0x2e, 0x0007, 2)       -- subsystem id
  works(m, rng)
  -- another vendor, a device id past 0x107f, one below 0x1041: not ours
  for _, s in ipairs{{0x00, 0x1234}, {0x02, 0x1080}, {0x02, 0x1040}, {0x02, 0x1004}} do
    local m2, other = dev()
    other:pci_strap(s[1], s[2], 2)
    raises(function() m2:driver(other) end, "NOT_READY",
           string.format("0x%02x = 0x%04x refused", s[1], s[2]))
  end
end)

test("reserved cfg_type and BAR ignored, first instance taken, longer cap_len accepted",
     {spec = "4.1.4.1"}, function()
  local m, rng = dev()
  -- ahead of the real list: a reserved cfg_type, then a COMMON_CFG naming
  -- reserved BAR 7, both pointing at the unused end of BAR 0
  cap(rng, 0xb0, 0xc0, 16, 0x2a, 0, 0x7000, 0x100)
  cap(rng, 0xc0, 0x40, 16, 1, 7, 0x7000, 0x38)
  rng:pci_strap(CAP_PTR, 0xb0, 1)
  -- after it (past MSI-X): a second COMMON_CFG at the same wrong place
  cap(rng, 0xe0, 0x00, 16, 1, 0, 0x7000, 0x38)
  rng:pci_strap(MSIX_AT + 1, 0xe0, 1)
  -- the real COMMON_CFG says its capability is longer than 16 bytes
  rng:pci_strap(0x40 + 2, 0x20, 1)
  works(m, rng)
  works(m, rng, {msix = true})
end)

test("under MSI-X the driver does not read the ISR for queue interrupts; with INTx it does",
     {spec = "4.1.4.5.2"}, function()
  local m, rng = dev()
  local d = works(m, rng, {msix = true})
  for _ = 1, 4 do eq(#d:rng_read(8), 8) end
  ok(select(2, m:msi()) > 0, "the queue interrupts came as MSI-X messages")
  eq(rng:stats().isr_reads, 0, "ISR reads under MSI-X")
  local m2, intx = dev()
  local d2 = works(m2, intx)
  eq(#d2:rng_read(8), 8)
  ok(intx:stats().isr_reads > 0, "INTx: the ISR is read (and cleared)")
end)

-- VIRTIO_F_ACCESS_PLATFORM (spec 6.1, 6.2): with the feature negotiated
-- every address the device uses (ring areas, buffers, indirect tables) is an
-- IOVA translated through the machine's IOMMU (m:iommu_map / m:iommu_unmap).
-- A buffer straddling two mappings that are not contiguous in guest memory
-- is served; an unmapped, partly mapped or read-only (for a write) IOVA is
-- a ring error, RING_IOMMU, that the device survives (NEEDS_RESET), never
-- an access elsewhere.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/../hostile/hostile.lib")
H.use_ring("split")   -- split-ring rules: its rings are split ones (avail/used ring names, used idx)
local PAGE = H.PAGE
local IOVA = 0x80000000

-- the three ring pages at their own addresses (identity)
local function map_rings(m)
  for _, k in ipairs{1, 3, 5} do
    m:iommu_map{iova = H.page(k), gpa = H.page(k), len = PAGE, write = true}
  end
end

local function rng_iommu()
  local m, dev = H.machine("rng")
  map_rings(m)
  local q = H.init(dev, {features = {"ACCESS_PLATFORM"}})
  return m, dev, q
end

test("a buffer straddling two IOVA pages far apart in guest memory is served",
     {spec = {"6.2", "2.7.4.1"}, tags = {"features", "iommu"}}, function()
  local m, dev, q = rng_iommu()
  -- IOVA page 0 -> buffer page 7, IOVA page 1 -> buffer page 9
  m:iommu_map{iova = IOVA, gpa = H.page(7), len = PAGE, write = true}
  m:iommu_map{iova = IOVA + PAGE, gpa = H.page(9), len = PAGE, write = true}
  eq(#m:iommu_mappings(), 5)
  m.mem:write(H.page(7) + PAGE - 16, ("\0"):rep(16))
  m.mem:write(H.page(9), ("\0"):rep(16))
  q:desc(0, {addr = IOVA + PAGE - 16, len = 32, flags = "WRITE"})
  H.offer(m, q, 0)
  eq(q:used_idx(), 1)
  local _, len = q:used(0)
  eq(len, 32, "all 32 bytes written")
  neq(m.mem:read(H.page(7) + PAGE - 16, 16), ("\0"):rep(16), "first piece written")
  neq(m.mem:read(H.page(9), 16), ("\0"):rep(16), "second piece written")
  eq(dev.needs_reset, false)
  H.contained(m, dev)
end)

test("an unmapped buffer IOVA: RING_IOMMU naming it, NEEDS_RESET, recovery by reset",
     {spec = {"6.2", "2.1.2"}, tags = {"features", "iommu", "hostile"}}, function()
  local m, dev, q = rng_iommu()
  q:desc(0, {addr = IOVA + 0x40, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.broken(m, dev, "RING_IOMMU")
  ok(dev.error_msg:find("iova 0x80000040 not mapped", 1, true), dev.error_msg)
  H.contained(m, dev)
  -- reset and set up again with the buffer mapped: served
  m:iommu_map{iova = IOVA, gpa = H.BUF, len = PAGE, write = true}
  q = H.init(dev, {features = {"ACCESS_PLATFORM"}})
  q:desc(0, {addr = IOVA + 0x40, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  -- (the avail idx left by the first setup counts too: every chain served)
  ok(q:used_idx() >= 1, "served after the reset")
  local _, len = q:used(q:used_idx() - 1)
  eq(len, 16)
  eq(dev.needs_reset, false)
end)

test("a buffer partly mapped: RING_IOMMU at the first unmapped IOVA",
     {spec = {"6.2"}, tags = {"features", "iommu", "hostile"}}, function()
  local m, dev, q = rng_iommu()
  m:iommu_map{iova = IOVA, gpa = H.BUF, len = PAGE, write = true}
  q:desc(0, {addr = IOVA + PAGE - 8, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.broken(m, dev, "RING_IOMMU")
  ok(dev.error_msg:find("iova 0x80001000 not mapped", 1, true), dev.error_msg)
  eq(q:used_idx(), 0)
  H.contained(m, dev)
end)

test("a device write through a read-only mapping: RING_IOMMU, nothing written",
     {spec = {"6.2"}, tags = {"features", "iommu", "hostile"}}, function()
  local m, dev, q = rng_iommu()
  m:iommu_map{iova = IOVA, gpa = H.BUF, len = PAGE, write = false}
  m.mem:write(H.BUF, ("\xee"):rep(16))
  q:desc(0, {addr = IOVA, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.broken(m, dev, "RING_IOMMU")
  ok(dev.error_msg:find("mapped read-only", 1, true), dev.error_msg)
  eq(m.mem:read(H.BUF, 16), ("\xee"):rep(16))
  H.contained(m, dev)
end)

test("ring areas are IOVAs too: an unmapped used ring refuses QueueReady",
     {spec = {"6.2", "4.2.3.2"}, tags = {"features", "iommu", "hostile"}}, function()
  local m, dev = H.machine("rng")
  m:iommu_map{iova = H.page(1), gpa = H.page(1), len = PAGE, write = true}
  m:iommu_map{iova = H.page(3), gpa = H.page(3), len = PAGE, write = true}
  local okk = pcall(H.init, dev, {features = {"ACCESS_PLATFORM"}})
  eq(okk, false, "QueueReady refused")
  eq(dev.error, "RING_IOMMU")
  ok(dev.error_msg:find("used ring", 1, true), dev.error_msg)
  eq(H.guard_hits(m), 0)
end)

test("unmapping the rings under a running queue breaks it at the next notification",
     {spec = {"6.2"}, tags = {"features", "iommu", "hostile"}}, function()
  local m, dev, q = rng_iommu()
  m:iommu_map{iova = IOVA, gpa = H.BUF, len = PAGE, write = true}
  q:desc(0, {addr = IOVA, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  eq(q:used_idx(), 1)
  eq(m:iommu_unmap{iova = H.page(5), len = PAGE}, PAGE)
  q:desc(1, {addr = IOVA, len = 16, flags = "WRITE"})
  H.offer(m, q, 1)
  H.broken(m, dev, "RING_IOMMU")
  ok(dev.error_msg:find("used ring", 1, true), dev.error_msg)
  eq(q:used_idx(), 1, "nothing more used")
end)

test("without ACCESS_PLATFORM the IOMMU is not consulted",
     {spec = {"6.1"}, tags = {"features", "iommu"}}, function()
  local m, dev = H.machine("rng")
  local q = H.init(dev, {})
  eq(#m:iommu_mappings(), 0)
  q:desc(0, {addr = H.BUF, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  eq(q:used_idx(), 1)
  eq(dev.needs_reset, false)
end)

test("the reference driver maps its heap when it negotiates ACCESS_PLATFORM",
     {spec = {"6.1"}, tags = {"features", "iommu", "driver"}}, function()
  local m = vqsim.machine{seed = 3}
  local dev = m:add("rng", {name = "rng0"})
  local d = m:driver(dev)
  d:init{features = {"ACCESS_PLATFORM"}}
  local maps = m:iommu_mappings()
  eq(#maps, 1, "one identity mapping of the heap")
  eq(maps[1].iova, maps[1].gpa)
  eq(maps[1].write, true)
  eq(#d:rng_read(8), 8)
  -- everything unmapped: the device fails the queue, the driver sees it
  m:iommu_unmap{iova = maps[1].iova, len = maps[1].len}
  ok(not pcall(d.rng_read, d, 8), "request fails")
  ok(dev.needs_reset)
  eq(dev.error, "RING_IOMMU")
  -- a new initialisation maps the heap again
  d:init{features = {"ACCESS_PLATFORM"}}
  eq(#d:rng_read(8), 8)
  eq(dev.needs_reset, false)
end)

test("m:iommu_map refuses unaligned and overlapping ranges; unmap cuts",
     {spec = {"6.2"}, tags = {"features", "iommu"}}, function()
  local m = vqsim.machine{seed = 1}
  ok(not pcall(m.iommu_map, m, {iova = 0x1001, gpa = 0, len = PAGE}))
  ok(not pcall(m.iommu_map, m, {iova = 0x1000, gpa = 0, len = PAGE, bogus = 1}))
  m:iommu_map{iova = 0x10000, gpa = 0x40000000, len = 4 * PAGE}
  ok(not pcall(m.iommu_map, m, {iova = 0x12000, gpa = 0, len = PAGE}), "overlap")
  eq(m:iommu_unmap{iova = 0x11000, len = PAGE}, PAGE)
  local maps = m:iommu_mappings()
  eq(#maps, 2)
  eq(maps[2].iova, 0x12000)
  eq(maps[2].gpa, 0x40002000)
  eq(maps[1].write, true, "write defaults to true")
end)

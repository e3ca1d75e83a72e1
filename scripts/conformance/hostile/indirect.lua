-- Hostile indirect descriptors (spec 2.7.5.3; 2.8.19 under vqsim --ring
-- packed): tables that loop, nest, are empty, misshapen, outside memory or
-- across a region end, and INDIRECT combined with NEXT. The tables sit
-- right before a fault page (hostile.lib). A packed table is read in order
-- (H.itable drops NEXT there), so its next-index rules run on split only.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/hostile.lib")
local N, BUF = H.N, H.BUF
local pick = H.pick
local S_IND = pick("2.7.5.3.1", "2.8.19")
local NEXT, WRITE, INDIRECT = 1, 2, 4
local T = H.ITABLE_END - 16 * 4      -- a 4-entry table ending at a fault page

local function irng() return H.rng{"INDIRECT_DESC"} end

test("INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated", {spec = S_IND}, function()
  local m, dev, q = H.rng()
  H.itable(m, T, {{BUF, 16, WRITE}})
  q:desc(0, {addr = T, len = 16, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_FEATURE")
  H.recover(m, dev)
end)

H.test_split("a loop inside an indirect table", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, NEXT | WRITE, 1}, {BUF + 16, 16, NEXT | WRITE, 0}})
  q:desc(0, {addr = T, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_LOOP")
  H.recover(m, dev)
end)

H.test_split("an indirect entry chained to itself", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, WRITE, 0}, {BUF, 16, NEXT | WRITE, 1}})
  q:desc(0, {addr = T + 16, len = 16, flags = "INDIRECT"})
  H.offer(m, q, 0)
  local e = dev.error
  ok(e == "RING_LOOP" or e == "RING_NEXT", "loop or next beyond a 1-entry table, got " .. tostring(e))
  H.expect(m, dev, e)
  H.recover(m, dev)
end)

test("an indirect table longer than the queue size", {spec = S_IND}, function()
  local m, dev, q = irng()
  local n = 2 * N
  local t0 = H.ITABLE_END - 16 * n
  local es = {}
  for i = 1, n do es[i] = {BUF + 16 * i, 16, i < n and (NEXT | WRITE) or WRITE, i} end
  H.itable(m, t0, es)
  q:desc(0, {addr = t0, len = 16 * n, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_LOOP")
  H.recover(m, dev)
end)

H.test_split("indirect next index beyond the table", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, NEXT | WRITE, 2}, {BUF + 16, 16, WRITE, 0}})
  q:desc(0, {addr = T, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_NEXT")
  H.recover(m, dev)
end)

test("nested INDIRECT inside an indirect table", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, T, {{T + 32, 16, INDIRECT, 0}, {0, 0, 0, 0}, {BUF, 16, WRITE, 0}})
  q:desc(0, {addr = T, len = 16, flags = "INDIRECT"})
  H.offer(m, q, 0)
  -- packed: an entry may carry WRITE alone (RING_PACKED_INDIRECT_FLAGS)
  H.expect(m, dev, pick("RING_INDIRECT_NESTED", "RING_PACKED_INDIRECT_FLAGS"))
  H.recover(m, dev)
end)

test("INDIRECT together with NEXT", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, WRITE}})
  q:desc(0, {addr = T, len = 16, flags = "INDIRECT|NEXT", next = 1})
  q:desc(1, {addr = BUF + 64, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_NEXT")
  H.recover(m, dev)
end)

test("indirect table of length 0", {spec = S_IND}, function()
  local m, dev, q = irng()
  q:desc(0, {addr = T, len = 0, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_LEN")
  H.recover(m, dev)
end)

test("indirect table length not a multiple of 16 (24)", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, WRITE}, {BUF, 16, WRITE}})
  q:desc(0, {addr = T, len = 24, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_LEN")
  H.recover(m, dev)
end)

test("indirect table shorter than one entry (8)", {spec = S_IND}, function()
  local m, dev, q = irng()
  q:desc(0, {addr = H.ITABLE_END - 8, len = 8, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_LEN")
  H.recover(m, dev)
end)

test("indirect table crossing the end of RAM", {spec = S_IND}, function()
  local m, dev, q = irng()
  q:desc(0, {addr = H.RAM_END - 16, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_MEM")
  H.recover(m, dev)
end)

test("indirect table outside guest memory", {spec = S_IND}, function()
  local m, dev, q = irng()
  q:desc(0, {addr = 0x2000, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_MEM")
  H.recover(m, dev)
end)

test("indirect table whose address + len wraps 2^64", {spec = S_IND}, function()
  local m, dev, q = irng()
  q:desc(0, {addr = -16, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_INDIRECT_MEM")
  H.recover(m, dev)
end)

test("indirect table running into a faulted page", {spec = S_IND}, function()
  local m, dev, q = irng()
  H.itable(m, H.ITABLE_END - 16, {{BUF, 16, WRITE}})
  q:desc(0, {addr = H.ITABLE_END - 16, len = 48, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.broken(m, dev, "RING_INDIRECT_MEM")
  eq(dev:stats().bytes_served, 0, "nothing served from a table it could not read")
  m.mem:unfault(); H.guards_of[m] = {}
  H.recover(m, dev)
end)

test("indirect entry pointing outside guest memory", {spec = S_IND}, function()
  local m, dev, q = irng()
  m.mem:fill(BUF, 16, 0xaa)
  H.itable(m, T, {{BUF, 16, NEXT | WRITE, 1}, {0x10, 16, WRITE}})
  q:desc(0, {addr = T, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_DESC_MEM")
  eq(m.mem:read(BUF, 16), ("\xaa"):rep(16), "first buffer untouched")
  H.recover(m, dev)
end)

test("writable before readable inside an indirect table", {spec = pick({"2.7.4.2", "2.7.5.3.1"}, {"2.8.17", "2.8.19"})},
     function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, NEXT | WRITE, 1}, {BUF + 16, 16, 0}})
  q:desc(0, {addr = T, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_ORDER")
  H.recover(m, dev)
end)

H.test_split("writable direct descriptor, then a readable one in the table", {spec = "2.7.4.2"},
     function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF + 16, 16, 0}})
  q:desc(0, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = T, len = 16, flags = "INDIRECT"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_ORDER")
  H.recover(m, dev)
end)

-- split allows it (2.7.5.3.2); packed forbids an INDIRECT descriptor in a
-- list linked by NEXT (2.8.19): a broken queue, nothing written
test("direct descriptors followed by one INDIRECT: split serves, packed refuses",
     {spec = pick("2.7.5.3.2", "2.8.19")}, function()
  local m, dev, q = irng()
  m.mem:fill(BUF, 48, 0xaa)
  H.itable(m, T, {{BUF + 16, 16, NEXT | WRITE, 1}, {BUF + 32, 16, WRITE}})
  q:desc(0, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = T, len = 32, flags = "INDIRECT"})
  H.offer(m, q, 0)
  if H.is_packed() then
    H.expect(m, dev, "RING_INDIRECT_NEXT")
    ok(dev.error_msg:find("after NEXT", 1, true), dev.error_msg)
    eq(m.mem:read(BUF, 48), ("\xaa"):rep(48), "no buffer of the chain written")
    eq(q:used_idx(), 0, "nothing used")
    H.recover(m, dev)
  else
    H.contained(m, dev)
    eq(dev.error, nil)
    eq({q:used(0)}, {0, 48})
  end
end)

test("the WRITE flag on the INDIRECT descriptor itself is ignored", {spec = pick("2.7.5.3.2", "2.8.7")},
     function()
  local m, dev, q = irng()
  H.itable(m, T, {{BUF, 16, WRITE}})
  q:desc(0, {addr = T, len = 16, flags = "INDIRECT|WRITE"})
  H.offer(m, q, 0)
  H.contained(m, dev)
  eq(dev.error, nil)
  eq({q:used(0)}, {0, 16})
  eq(m.mem:u64(T), BUF, "the table was not written as a buffer")
end)

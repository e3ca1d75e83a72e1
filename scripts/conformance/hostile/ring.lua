-- Hostile ring drivers (spec 2.7, and 2.8 under vqsim --ring packed): bad
-- heads or buffer ids, bad next indices, loops, buffers outside guest memory,
-- wrong order, runaway avail indices. Rings and buffers sit between fault
-- pages (hostile.lib); every test checks that the device stayed inside
-- them, did bounded work, broke the queue with DEVICE_NEEDS_RESET and works
-- again after a reset. On a packed ring (H.view) a chain is laid out in
-- consecutive slots with the head index as its buffer id; the rules that
-- only a split ring has (next indices, avail idx) run on split only.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/hostile.lib")
H.aim_outside = true -- with --device vhost-user:..., these rings go to that device
local N, BUF = H.N, H.BUF
local pick = H.pick
-- the packed ring's sections for the same rules
local S_ID = pick("2.7.6", "2.8.16")          -- head index / buffer id
local S_SG = pick("2.7.5", "2.8.17")          -- chain length, order, loops
local S_MEM = pick("2.7.5", "2.8.4")          -- buffer addresses
local E_HEAD = pick("RING_HEAD", "RING_PACKED_ID")
local E_LOOP = pick("RING_LOOP", "RING_PACKED_CHAIN")

test("head index equal to the queue size", {spec = S_ID}, function()
  local m, dev, q = H.rng()
  H.offer(m, q, N)
  H.expect(m, dev, E_HEAD)
  eq(q:used_idx(), 0, "nothing used")
  H.recover(m, dev)
end)

test("head index 0xffff", {spec = S_ID}, function()
  local m, dev, q = H.rng()
  H.offer(m, q, 0xffff)
  H.expect(m, dev, E_HEAD)
  H.recover(m, dev)
end)

test("a bad head after a good one in the same batch", {spec = S_ID}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = BUF, len = 16, flags = "WRITE", next = 0})
  q:post(0)
  q:post(N + 3)
  q:notify()
  H.run(m)
  H.expect(m, dev, E_HEAD)
  if not dev.outside then eq(dev:stats().used, 1, "the device counts the good chain used") end
  -- the served chain must be published before the device stops on the bad
  -- head (a regression here once left used.idx at 0)
  eq(q:used_idx(), 1, "used.idx publishes the good chain")
  eq({q:used(0)}, {0, 16})
  H.recover(m, dev)
end)

H.test_split("descriptor next index beyond the queue size", {spec = "2.7.5"}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = N})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_NEXT")
  H.recover(m, dev)
end)

H.test_split("descriptor next index 0xffff", {spec = "2.7.5"}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = 0xffff})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_NEXT")
  H.recover(m, dev)
end)

-- packed: a chain whose every descriptor says NEXT runs over the whole ring
test("a descriptor chained to itself", {spec = S_SG}, function()
  local m, dev, q = H.rng()
  q:desc(3, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = 3})
  H.offer(m, q, 3)
  H.expect(m, dev, E_LOOP)
  if not dev.outside then eq(dev:stats().bytes_served, 0, "nothing served from a looping chain") end
  H.recover(m, dev)
end)

test("a two-descriptor loop", {spec = S_SG}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = BUF + 16, len = 16, flags = "NEXT|WRITE", next = 0})
  H.offer(m, q, 0)
  H.expect(m, dev, E_LOOP)
  H.recover(m, dev)
end)

test("a chain through every descriptor back to its head", {spec = pick("2.7.5.2", "2.8.17")},
     function()
  local m, dev, q = H.rng()
  for i = 0, N - 1 do
    q:desc(i, {addr = BUF + 16 * i, len = 16, flags = "NEXT|WRITE", next = (i + 1) % N})
  end
  H.offer(m, q, 5)
  H.expect(m, dev, E_LOOP)
  H.recover(m, dev)
end)

test("a chain of exactly the queue size is served", {spec = pick("2.7.5.2", "2.8.17")},
     function()
  local m, dev, q = H.rng()
  for i = 0, N - 1 do
    q:desc(i, {addr = BUF + 16 * i, len = 16, flags = i < N - 1 and "NEXT|WRITE" or "WRITE",
               next = i + 1})
  end
  H.offer(m, q, 0)
  H.contained(m, dev)
  eq(dev.error, nil)
  eq({q:used(0)}, {0, 16 * N})
end)

H.test_split("avail idx moved by the queue size plus one", {spec = "2.7.6"}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = BUF, len = 16, flags = "WRITE"})
  q:avail_idx(N + 1)
  q:notify()
  H.run(m)
  H.expect(m, dev, "RING_AVAIL_IDX")
  eq(q:used_idx(), 0, "no chain of the runaway batch used")
  H.recover(m, dev)
end)

H.test_split("avail idx moved backwards (by 0x8000)", {spec = "2.7.6"}, function()
  local m, dev, q = H.rng()
  q:avail_idx(0x8000)
  q:notify()
  H.run(m)
  H.expect(m, dev, "RING_AVAIL_IDX")
  H.recover(m, dev)
end)

H.test_split("avail idx moved by exactly the queue size: queue-size chains", {spec = "2.7.6"},
     function()
  local m, dev, q = H.rng()
  for i = 0, N - 1 do
    q:desc(i, {addr = BUF + 16 * i, len = 16, flags = "WRITE"})
    q:avail(i, i)
  end
  q:avail_idx(N)
  q:notify()
  H.run(m)
  H.contained(m, dev)
  if not dev.outside then eq(dev:stats().chains, N) end
  eq(q:used_idx(), N)
  eq(dev.error, nil)
end)

test("buffer below guest memory", {spec = S_MEM}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = 0x1000, len = 64, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_DESC_MEM")
  H.recover(m, dev)
end)

test("buffer whose address + len wraps 2^64", {spec = S_MEM}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = -16, len = 64, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_DESC_MEM")
  H.recover(m, dev)
end)

test("buffer that starts in RAM and runs past its end", {spec = S_MEM}, function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = H.RAM_END - 8, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_DESC_MEM")
  H.recover(m, dev)
end)

test("second buffer of a chain outside memory: nothing written to the first",
     {spec = S_MEM}, function()
  local m, dev, q = H.rng()
  m.mem:fill(BUF, 32, 0xaa)
  q:desc(0, {addr = BUF, len = 32, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = 0xfffffffffff00000, len = 32, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_DESC_MEM")
  eq(m.mem:read(BUF, 32), ("\xaa"):rep(32), "chain validated before use")
  H.recover(m, dev)
end)

test("buffer running into a refused (faulted) page is not written",
     {spec = S_MEM, tags = "model"},
     function()
  local m, dev, q = H.rng()
  m.mem:fill(H.BUF_END - 8, 8, 0xaa)
  q:desc(0, {addr = H.BUF_END - 8, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.broken(m, dev, "RING_DESC_MEM")
  if not dev.outside then ok(dev:stats().chains <= N) end
  m.mem:unfault()   -- mem:read of a faulted page raises (see the report)
  eq(m.mem:read(H.BUF_END - 8, 8), ("\xaa"):rep(8), "the part in RAM is untouched")
  eq(m.mem:read(H.BUF_END, 8), string.char(H.GUARD_BYTE):rep(8), "nothing written to the fault page")
  H.guards_of[m] = {}
  H.recover(m, dev)
end)

test("device-writable descriptor before a device-readable one", {spec = pick("2.7.4.2", "2.8.17")},
     function()
  local m, dev, q = H.rng()
  q:desc(0, {addr = BUF, len = 16, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = BUF + 16, len = 16, flags = "NEXT", next = 2})
  q:desc(2, {addr = BUF + 32, len = 16, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_ORDER")
  H.recover(m, dev)
end)

test("chain of more than 2^32 bytes", {spec = pick("2.7.4.1", "2.8.17")}, function()
  local m, dev, q = H.rng(nil, "6G")
  q:desc(0, {addr = 0x60000000, len = 0xfffff000, flags = "NEXT|WRITE", next = 1})
  q:desc(1, {addr = 0x60000000, len = 0x2000, flags = "WRITE"})
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_CHAIN_BYTES")
  H.recover(m, dev)
end)

test("notifications without new buffers do no work", {spec = pick("2.7.6", "2.8.16")}, function()
  local m, dev, q = H.rng()
  for _ = 1, 50 do q:notify() end
  H.run(m)
  H.contained(m, dev)
  if not dev.outside then eq(dev:stats().chains, 0) end
  eq(dev.error, nil)
  eq(q:used_idx(), 0)
end)

-- A device-writable buffer over the rings themselves (issue 8.4): the
-- device must not write a descriptor (2.7.5.1), nor the driver's avail ring
-- nor its own used ring outside the element it publishes. The rng would
-- have filled the buffer with random bytes; the rings must stay intact.
local function write_over(area, gpa, len)
  test("a writable buffer over the " .. area, {spec = pick("2.7.5.1", "2.8.15")}, function()
    local m, dev, q = H.rng()
    q:desc(0, {addr = gpa, len = len, flags = "WRITE"})
    q:post(0)
    local before = m.mem:read(gpa, len)
    q:notify()
    H.run(m)
    H.expect(m, dev, "RING_WRITE_RING")
    ok(dev.error_msg:find("overlaps the " .. area, 1, true), "the error names the area")
    eq(m.mem:read(gpa, len), before, "the " .. area .. " is unchanged")
    if not dev.outside then eq(dev:stats().bytes_served, 0, "nothing served") end
    H.recover(m, dev)
  end)
end
if H.is_packed() then
  -- the device writes used descriptors into the ring itself, never a buffer
  write_over("descriptor ring", H.DESC + 16, 16)
  write_over("driver event suppression area", H.AVAIL, 4)
  write_over("device event suppression area", H.USED + 2, 2)
else
  write_over("descriptor table", H.DESC, 16)
  write_over("avail ring", H.AVAIL + 2, 4)
  write_over("used ring", H.USED + 4, 8)
end

test("a writable indirect entry over its own table", {spec = pick("2.7.5.1", "2.8.19")}, function()
  local m, dev, q = H.rng({"INDIRECT_DESC"})
  local t = H.ITABLE_END - 32
  H.itable(m, t, {{BUF, 16, 1 | 2, 1},   -- NEXT|WRITE
                  {t, 32, 2, 0}})                   -- WRITE, over the table
  q:desc(0, {addr = t, len = 32, flags = "INDIRECT"})
  local before = m.mem:read(t, 32)
  H.offer(m, q, 0)
  H.expect(m, dev, "RING_WRITE_RING")
  eq(m.mem:read(t, 32), before, "the table is unchanged")
  H.recover(m, dev)
end)

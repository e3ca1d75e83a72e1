-- virtio-blk (spec 5.2): helpers and raw requests built by hand.
local F = require "fixtures"

local T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
local S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
local SECTOR = 512

-- A raw request: header bytes, then data buffers, then a status byte, each
-- its own descriptor. Returns the used length and the status byte (0xee
-- when the device did not write it).
local function raw(m, d, hdr, bufs, status)
  local mem, chain = m.mem, {}
  local h = d:alloc(math.max(#hdr, 1))
  mem:write(h, hdr)
  chain[#chain + 1] = {h, #hdr, "r"}
  for _, b in ipairs(bufs or {}) do chain[#chain + 1] = b end
  local st
  if status ~= false then
    st = d:alloc(1)
    mem:u8(st, 0xee)
    chain[#chain + 1] = {st, 1, "w"}
  end
  local used = d:submit(0, chain)
  return used, st and mem:u8(st) or nil
end

test("one request queue by default, num_queues with MQ", {spec = "5.2.2", tags = "model"},
     function()
  local _, blk = F.blk()
  eq(blk.nqueues, 1)
  local _, blk4 = F.blk({queues = 4}, {"MQ"})
  eq(blk4.nqueues, 4)
  eq(string.unpack("<I2", blk4:config(34, 2)), 4, "config num_queues")
end)

test("device-specific feature names are scoped to blk", {spec = "5.2.3"}, function()
  local _, blk, d = F.blk({}, {"FLUSH", "BLK_F_DISCARD", "VIRTIO_BLK_F_WRITE_ZEROES"})
  ok(d:has("FLUSH") and d:has("DISCARD") and d:has("WRITE_ZEROES"))
  eq(vqsim.dev_features.blk.FLUSH, 9)
  raises(function() d:init{features = {"MRG_RXBUF"}} end, "unknown feature 'MRG_RXBUF' for a blk")
end)

test("capacity in config counts 512-byte sectors", {spec = "5.2.4", tags = "model"}, function()
  local _, blk, d = F.blk({size = "2M"})
  eq(d:blk_capacity(), 4096)
  eq(string.unpack("<I8", blk:config(0, 8)), 4096)
end)

test("write then read returns the data; used lengths 1 and len+1", {spec = "5.2.6"}, function()
  local m, blk, d = F.blk()
  local data = ("0123456789abcdef"):rep(64)
  eq(d:blk_write(3, data), "OK")
  eq(d:blk_used_len(), 1, "OUT: only the status byte written")
  eq(d:blk_read(3, #data), data)
  eq(d:blk_used_len(), #data + 1, "IN: data + status")
  if not blk.outside then -- vqsim's own counters
    local st = blk:stats()
    eq({st.req_in, st.req_out, st.bytes_read, st.bytes_written}, {1, 1, 1024, 1024})
  end
end)

test("raw IN request: bytes land in guest memory, status OK", {spec = "5.2.6"}, function()
  local m, blk, d = F.blk()
  eq(d:blk_write(0, ("Z"):rep(SECTOR)), "OK")
  local buf = d:alloc(SECTOR)
  m.mem:fill(buf, SECTOR, 0)
  local used, st = raw(m, d, F.blk_hdr(T_IN, 0), {{buf, SECTOR, "w"}})
  eq(st, S_OK)
  eq(used, SECTOR + 1)
  eq(m.mem:read(buf, SECTOR), ("Z"):rep(SECTOR))
end)

test("FLUSH answers OK and syncs; without the feature UNSUPP", {spec = "5.2.6.2"}, function()
  local _, blk, d = F.blk({}, {"FLUSH"})
  eq(d:blk_flush(), "OK")
  if not blk.outside then eq(blk:stats().syncs >= 1, true) end
  local _, blk2, d2 = F.blk({}, {})
  eq(d2:blk_flush(), "UNSUPP")
  if not blk2.outside then eq(blk2:stats().not_negotiated, 1) end
end)

test("GET_ID returns the serial, 20 bytes written", {spec = "5.2.6", tags = "model"}, function()
  local m, blk, d = F.blk({serial = "disk-serial-42"})
  eq(d:blk_get_id(), "disk-serial-42")
  local buf = d:alloc(20)
  local used, st = raw(m, d, F.blk_hdr(T_GET_ID, 0), {{buf, 20, "w"}})
  eq(st, S_OK)
  eq(used, 21)
  eq(m.mem:read(buf, 20), "disk-serial-42" .. ("\0"):rep(6))
end)

test("DISCARD and WRITE_ZEROES zero the range", {spec = "5.2.6.2"}, function()
  local _, blk, d = F.blk({}, {"DISCARD", "WRITE_ZEROES"})
  eq(d:blk_write(0, ("A"):rep(4 * SECTOR)), "OK")
  eq(d:blk_write_zeroes(0, 2, false), "OK")
  eq(d:blk_read(0, 2 * SECTOR), ("\0"):rep(2 * SECTOR))
  eq(d:blk_read(2 * SECTOR // SECTOR, SECTOR), ("A"):rep(SECTOR), "rest untouched")
  eq(d:blk_discard(2, 2), "OK")
  if not blk.outside then
    local st = blk:stats()
    eq({st.bytes_zeroed, st.bytes_discarded}, {1024, 1024})
  end
end)

test("read-only disk refuses writes with IOERR", {spec = "5.2.6.2", tags = "model"}, function()
  local _, blk, d = F.blk({readonly = true}, {"RO"})
  ok(d:has("RO"))
  eq(d:blk_write(0, ("w"):rep(SECTOR)), "IOERR")
  if not blk.outside then eq(blk:stats().readonly_refused, 1) end
end)

test("malformed: short header (8 bytes) answered IOERR", {spec = "5.2.6.2"}, function()
  local m, blk, d = F.blk()
  local used, st = raw(m, d, string.pack("<I4I4", T_IN, 0), {})
  eq(st, S_IOERR)
  eq(used, 1)
  if not blk.outside then eq(blk:stats().short_header, 1) end
  ok(not blk.needs_reset, "device keeps working")
  eq(d:blk_write(0, ("k"):rep(SECTOR)), "OK")
end)

test("malformed: no status byte: used with length 0", {spec = "5.2.6.2"}, function()
  local m, blk, d = F.blk()
  local used = raw(m, d, F.blk_hdr(T_FLUSH, 0), {}, false)
  eq(used, 0)
  if not blk.outside then eq(blk:stats().no_status, 1) end
  ok(not blk.needs_reset)
end)

test("malformed: sector beyond capacity answered IOERR", {spec = "5.2.6.2"}, function()
  local m, blk, d = F.blk()
  local buf = d:alloc(SECTOR)
  m.mem:fill(buf, SECTOR, 0x5a)
  local used, st = raw(m, d, F.blk_hdr(T_IN, 2048), {{buf, SECTOR, "w"}})
  eq(st, S_IOERR)
  if not blk.outside then eq(blk:stats().out_of_range, 1) end
  eq(select(2, d:blk_read(2047, 2 * SECTOR)), "IOERR", "a request straddling the end")
  eq(d:blk_read(2047, SECTOR), ("\0"):rep(SECTOR), "the last sector is fine")
end)

test("malformed: data not a multiple of 512 answered IOERR", {spec = "5.2.6.1"}, function()
  local m, blk, d = F.blk()
  local buf = d:alloc(SECTOR)
  local used, st = raw(m, d, F.blk_hdr(T_OUT, 0), {{buf, 100, "r"}})
  eq(st, S_IOERR)
  eq(used, 1)
  if not blk.outside then eq(blk:stats().bad_length, 1) end
  if not blk.outside then eq(blk:stats().bytes_written, 0) end
end)

test("malformed: unknown request type answered UNSUPP", {spec = "5.2.6.2"}, function()
  local m, blk, d = F.blk()
  local used, st = raw(m, d, F.blk_hdr(99, 0), {})
  eq(st, S_UNSUPP)
  eq(used, 1)
  if not blk.outside then eq(blk:stats().req_other, 1) end
  if not blk.outside then eq(blk:stats().status_unsupp, 1) end
end)

test("ring rule: readable after writable breaks the queue", {spec = {"2.7.4.2", "5.2.6"}},
     function()
  local m, blk, d = F.blk()
  local q = d:queue(0)
  local h, st = d:alloc(16), d:alloc(1)
  m.mem:write(h, F.blk_hdr(T_FLUSH, 0))
  if q.layout == "packed" then -- the same chain in slots 0 and 1, id 0
    q:desc(1, {addr = h, len = 16, id = 0, flags = "A"})
    q:desc(0, {addr = st, len = 1, id = 0, flags = "NEXT|WRITE"})
  else
    q:desc(0, {addr = st, len = 1, flags = "NEXT|WRITE", next = 1})
    q:desc(1, {addr = h, len = 16, flags = 0, next = 0})
  end
  F.offer(m, q, 0)
  F.expect_broken(m, blk, "RING_ORDER")
  raises(function() d:blk_flush() end, "blk0")
end)

test("the helpers name the device type they need", {spec = "5.2"}, function()
  local m = vqsim.machine{}
  local d = m:driver(m:add("rng", {name = "rng0"}))
  d:init{}
  raises(function() d:blk_read(0, 512) end, "rng0: blk_read: not a virtio%-blk device")
  local _, _, db = F.blk()
  raises(function() db:blk_read(-1, 512) end, "out of range")
end)

-- A blk created with queues=2 has one queue until the driver negotiates MQ
-- (5.2.3): d:init{} without MQ sets up that one and works; with MQ both.
test("queues=2 without MQ negotiated: one queue, initialisation works",
     {spec = "5.2.3", tags = "model"},
     function()
  local m = vqsim.machine{seed = 7}
  local b = m:add("blk", {queues = 2})
  local d = m:driver(b)
  d:init()
  eq(b:queue(0).ready, true, "queue 0 ready")
  eq(b:reg("QueueSel", 1) and b:reg("QueueNumMax"), 0, "queue 1 does not exist")
  eq(d:blk_write(0, ("a"):rep(512)), "OK")
  d:init{features = {"MQ"}}
  eq(b:queue(1).ready, true, "with MQ, queue 1 ready too")
end)

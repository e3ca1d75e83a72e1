-- Hostile device requests (spec 5.x): headers too short or in the wrong
-- direction, oversized frames, ranges that wrap, PFNs outside memory. The
-- device answers with its own error (status byte, dropped frame, counter)
-- and keeps working; buffers lie between fault pages (hostile.lib).
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/hostile.lib")
local F, BUF = H.F, H.BUF
local SECTOR = 512
local S_OK, S_IOERR, S_UNSUPP = 0, 1, 2

-- A device of kind on 8-entry queues with guard pages, initialised by the
-- reference driver (its rings in its heap, our buffers at BUF).
local function dev_of(kind, devopts, init, initopts)
  local m, dev = H.machine(kind, devopts)
  local d = m:driver(dev)
  d[init or "init"](d, initopts or {})
  return m, dev, d
end

local function blk(features)
  return dev_of("blk", {size = "1M"}, "init", {features = features or {}})
end

-- Submit a chain on queue qi, bounded; returns the used length.
local function submit(m, dev, d, qi, chain)
  local chains = dev:stats().chains
  local len = d:submit(qi, chain)
  eq(H.guard_hits(m), 0, "no access to the fault pages around the buffers")
  ok(dev:stats().chains - chains <= d:queue(qi).num, "at most queue-size chains popped")
  eq(dev.needs_reset, false, "a malformed request is not a ring error")
  return len
end

local HDR, ST, DATA = BUF, BUF + 64, BUF + SECTOR   -- header, status byte, data

local function blk_req(m, kind, sector)
  m.mem:write(HDR, F.blk_hdr(kind, sector))
  m.mem:u8(ST, 0xee)
end

test("blk: header shorter than 16 bytes answered IOERR", {spec = "5.2.6.2"}, function()
  local m, dev, d = blk()
  blk_req(m, 0, 0)
  eq(submit(m, dev, d, 0, {{HDR, 8, "r"}, {ST, 1, "w"}}), 1)
  eq(m.mem:u8(ST), S_IOERR)
  H.good.blk(m, dev, d)
end)

test("blk: header in a device-writable buffer answered IOERR", {spec = "5.2.6.2"}, function()
  local m, dev, d = blk()
  blk_req(m, 1, 0)
  -- used.len covers every writable byte, status last (2.7.8.2), and the
  -- device writes them all (2.7.8.1): the 16 writable bytes are zeroed
  eq(submit(m, dev, d, 0, {{HDR, 16, "w"}, {ST, 1, "w"}}), 17)
  eq(m.mem:u8(ST), S_IOERR)
  eq(m.mem:read(HDR, 16), ("\0"):rep(16), "writable bytes before the status zeroed")
  eq(dev:stats().req_out, 0, "no write from a writable header")
  H.good.blk(m, dev, d)
end)

test("blk: no device-writable status byte: used length 0, nothing written",
     {spec = "5.2.6.2"}, function()
  local m, dev, d = blk()
  blk_req(m, 0, 0)
  m.mem:fill(DATA, SECTOR, 0x5a)
  eq(submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, SECTOR, "r"}, {ST, 1, "r"}}), 0)
  eq(m.mem:u8(ST), 0xee)
  eq(m.mem:read(DATA, SECTOR), ("\x5a"):rep(SECTOR))
  H.good.blk(m, dev, d)
end)

test("blk: IN with a device-readable data buffer leaves it untouched", {spec = "5.2.6"},
     function()
  local m, dev, d = blk()
  eq(d:blk_write(0, ("D"):rep(SECTOR)), "OK")
  blk_req(m, 0, 0)
  m.mem:fill(DATA, SECTOR, 0x5a)
  submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, SECTOR, "r"}, {ST, 1, "w"}})
  eq(m.mem:read(DATA, SECTOR), ("\x5a"):rep(SECTOR), "the device never writes a readable buffer")
  H.good.blk(m, dev, d)
end)

test("blk: sector 2^64-1 answered IOERR", {spec = "5.2.6.2"}, function()
  local m, dev, d = blk()
  blk_req(m, 0, -1)
  submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, SECTOR, "w"}, {ST, 1, "w"}})
  eq(m.mem:u8(ST), S_IOERR)
  H.good.blk(m, dev, d)
end)

test("blk: sector whose byte offset wraps 2^64 does not read sector 0", {spec = "5.2.6.2"},
     function()
  local m, dev, d = blk()
  eq(d:blk_write(0, ("Z"):rep(SECTOR)), "OK")
  blk_req(m, 0, 1 << 55)                      -- 2^55 * 512 = 2^64
  m.mem:fill(DATA, SECTOR, 0)
  submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, SECTOR, "w"}, {ST, 1, "w"}})
  eq(m.mem:u8(ST), S_IOERR)
  eq(m.mem:read(DATA, 4), "\0\0\0\0", "no data from sector 0")
  local sector1 = d:blk_read(1, SECTOR)        -- (an outside disk is not fresh)
  blk_req(m, 1, (1 << 55) + 1)                -- an OUT that would land on sector 1
  m.mem:fill(DATA, SECTOR, 0x77)
  submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, SECTOR, "r"}, {ST, 1, "w"}})
  eq(m.mem:u8(ST), S_IOERR)
  eq(d:blk_read(1, SECTOR), sector1, "sector 1 not overwritten")
end)

test("blk: WRITE_ZEROES range whose end wraps 2^64 answered IOERR", {spec = "5.2.6.2"},
     function()
  local m, dev, d = blk{"WRITE_ZEROES"}
  eq(d:blk_write(0, ("W"):rep(SECTOR)), "OK")
  blk_req(m, 13, 0)
  m.mem:write(DATA, string.pack("<I8I4I4", -1, 2, 0))   -- sector 2^64-1, 2 sectors
  submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, 16, "r"}, {ST, 1, "w"}})
  eq(m.mem:u8(ST), S_IOERR)
  eq(d:blk_read(0, SECTOR), ("W"):rep(SECTOR), "sector 0 not zeroed")
end)

test("blk: DISCARD payload not a multiple of 16 bytes refused", {spec = "5.2.6.2"}, function()
  local m, dev, d = blk{"DISCARD"}
  blk_req(m, 11, 0)
  m.mem:write(DATA, string.pack("<I8I4I4", 0, 1, 0))
  submit(m, dev, d, 0, {{HDR, 16, "r"}, {DATA, 10, "r"}, {ST, 1, "w"}})
  neq(m.mem:u8(ST), S_OK)
  neq(m.mem:u8(ST), 0xee, "a status was written")
  H.good.blk(m, dev, d)
end)

local function net(initopts) return dev_of("net", {}, "net_init", initopts) end

test("net: tx chain shorter than virtio_net_hdr is dropped", {spec = "5.1.6.2"}, function()
  local m, dev, d = net()
  m.mem:fill(BUF, 8, 0)
  eq(submit(m, dev, d, 1, {{BUF, 8, "r"}}), 0)
  eq(dev:stats().tx_frames, 0)
  ok(dev:stats().tx_hdr_short >= 1)
  H.good.net(m, dev, d)
end)

test("net: tx chain of one empty descriptor is dropped", {spec = "5.1.6.2"}, function()
  local m, dev, d = net()
  eq(submit(m, dev, d, 1, {{BUF, 0, "r"}}), 0)
  eq(dev:stats().tx_frames, 0)
  H.good.net(m, dev, d)
end)

test("net: oversized tx frame (16 KiB without GSO) is dropped", {spec = "5.1.6.2"}, function()
  local m, dev, d = net()
  m.mem:fill(BUF, 12, 0)
  m.mem:write(BUF + 12, F.frame(16 * 1024 - 12 - 14 - 64))
  eq(submit(m, dev, d, 1, {{BUF, 16 * 1024 - 64, "r"}}), 0)
  eq(dev:stats().tx_frames, 0)
  ok(dev:stats().tx_bad_frame >= 1)
  eq(d:net_recv(), nil, "nothing looped back")
  H.good.net(m, dev, d)
end)

test("net: tx chain with only device-writable buffers is dropped, not written",
     {spec = "5.1.6.2"}, function()
  local m, dev, d = net()
  m.mem:fill(BUF, 128, 0x33)
  eq(submit(m, dev, d, 1, {{BUF, 128, "w"}}), 0)
  eq(m.mem:read(BUF, 128), ("\x33"):rep(128))
  eq(dev:stats().tx_frames, 0)
  H.good.net(m, dev, d)
end)

test("net: rx buffer that is device-readable is not written", {spec = "5.1.6.3.1"},
     function()
  local m, dev, d = net{no_rx = true}
  local q = d:queue(0)
  m.mem:fill(BUF, 2048, 0x44)
  q:add({{BUF, 2048, "r"}}, 9)
  q:kick()
  H.run(m)
  dev:receive(F.frame(60))
  H.run(m)
  eq({q:reap()}, {9, 0}, "used with length 0")
  eq(m.mem:read(BUF, 2048), ("\x44"):rep(2048))
  H.contained(m, dev)
  eq(d:net_post_rx(4), 4)
  ok(d:net_recv(), "the frame waited for a proper buffer")
end)

test("net: control command shorter than class + command answered ERR", {spec = "5.1.6.5"},
     function()
  local m, dev, d = net{features = {"CTRL_VQ"}}
  m.mem:u8(BUF, 0); m.mem:u8(BUF + 64, 0xee)
  submit(m, dev, d, 2, {{BUF, 1, "r"}, {BUF + 64, 1, "w"}})
  eq(m.mem:u8(BUF + 64), 1, "VIRTIO_NET_ERR")
  eq(d:net_ctrl("RX", "PROMISC", "\1"), "ERR", "CTRL_RX not negotiated: still an answer")
  H.good.net(m, dev, d)
end)

test("net: control command without an ack byte", {spec = "5.1.6.5"}, function()
  local m, dev, d = net{features = {"CTRL_VQ", "CTRL_RX"}}
  m.mem:write(BUF, "\0\0\1")
  eq(submit(m, dev, d, 2, {{BUF, 3, "r"}}), 0)
  eq(d:net_ctrl("RX", "PROMISC", "\1"), "OK")
end)

local function console()
  return dev_of("console", {multiport = "on", ports = 2, port0 = "buffer", port1 = "buffer",
                            ["queue-size"] = 64},
                "console_init", {features = {"MULTIPORT"}})
end

test("console: control messages shorter than 8 bytes are ignored", {spec = "5.3.6.2"},
     function()
  local m, dev, d = console()
  m.mem:write(BUF, "\1\0\0\0\6\0")
  local before = dev:stats().ctrl_short
  submit(m, dev, d, 3, {{BUF, 6, "r"}})
  submit(m, dev, d, 3, {{BUF, 0, "r"}})
  eq(dev:stats().ctrl_short - before, 2)
  eq(dev:port_state(1).guest_open, false, "truncated PORT_OPEN did nothing")
  d:console_write(1, "fine")
  eq(dev:port_read(1), "fine")
end)

test("console: transmit chain with only writable buffers sends nothing", {spec = "5.3.6"},
     function()
  local m, dev, d = console()
  m.mem:fill(BUF, 64, 0x21)
  submit(m, dev, d, 1, {{BUF, 64, "w"}})
  eq(dev:port_read(0), "")
  eq(m.mem:read(BUF, 64), ("\x21"):rep(64))
  H.good.console(m, dev, d)
end)

local function balloon(devopts, features)
  return dev_of("balloon", devopts, "balloon_init", {features = features or {}})
end

local function pfns(m, list)
  local s = {}
  for i, p in ipairs(list) do s[i] = string.pack("<I4", p) end
  m.mem:write(BUF, table.concat(s))
  return #list * 4
end

test("balloon: PFN array shorter than one PFN", {spec = "5.5.6.2"}, function()
  local m, dev, d = balloon()
  m.mem:write(BUF, "\1\2")
  eq(submit(m, dev, d, 0, {{BUF, 2, "r"}}), 0)
  eq(dev:stats().balloon_pages, 0)
  ok(dev:stats().bad_length >= 1)
  H.good.balloon(m, dev, d)
end)

test("balloon: PFNs outside guest memory are refused", {spec = "5.5.6.2"}, function()
  local m, dev, d = balloon()
  local last = (H.RAM_END >> 12) - 1
  local bad = {0xffffffff, 0, 0x0a000000 >> 12, H.RAM_END >> 12, (H.RAM >> 12) - 1}
  local list = {table.unpack(bad)}
  list[#list + 1] = H.page(20) >> 12
  local before = m.mem:read(H.page(21), 16)
  eq(submit(m, dev, d, 0, {{BUF, pfns(m, list), "r"}}), 0)
  local st = dev:stats()
  eq({st.refused, st.balloon_pages}, {#bad, 1})
  ok(dev:inflated(H.page(20) >> 12))
  eq(m.mem:read(H.page(21), 16), before, "the next page untouched")
  eq(submit(m, dev, d, 1, {{BUF, pfns(m, bad), "r"}}), 0)
  eq(dev:stats().refused, 2 * #bad, "deflate refuses them too")
  H.good.balloon(m, dev, d)
end)

test("balloon: statistics buffer not a multiple of 10 bytes", {spec = "5.5.6.3"}, function()
  local m, dev, d = balloon({stats = "on"}, {"STATS_VQ"})
  dev:request_stats()
  ok(d:balloon_stats_requested())
  local q = d:queue(2)
  m.mem:write(BUF, "\4\0\1\0\0")
  q:add({{BUF, 5, "r"}}, 77)
  q:kick()
  H.run(m)
  H.contained(m, dev)
  eq(dev.needs_reset, false)
  eq(next(dev:stats().guest or {}), nil, "no statistic taken from 5 bytes")
  dev:request_stats()
  H.run(m)
  eq({q:reap()}, {77, 0}, "the buffer comes back on the next request")
end)

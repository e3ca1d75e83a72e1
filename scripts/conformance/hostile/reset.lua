-- A reset in the middle of every request type (spec 2.4 device reset, 2.1.2,
-- 4.2.2.1): the driver kicks a request, then writes 0 to Status before the
-- machine runs the notification; or resets between two requests of a batch.
-- The device must not touch the request (no status byte, no used element,
-- no backend effect, no interrupt) and must work after re-initialisation.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/hostile.lib")
local F, BUF = H.F, H.BUF
local SECTOR = 512

local INIT = {rng = "init", blk = "init", net = "net_init", balloon = "balloon_init",
              console = "console_init"}

local function dev_of(kind, devopts, initopts)
  local o = {["queue-size"] = 64}
  for k, v in pairs(devopts or {}) do o[k] = v end
  local m, dev = H.machine(kind, o)
  local d = m:driver(dev)
  d[INIT[kind]](d, initopts or {})
  return m, dev, d
end

-- Add chain to the driver's queue qi, kick, reset before the machine runs;
-- check nothing happened; returns the queue.
local function kick_then_reset(m, dev, d, qi, chain)
  local q = d:queue(qi)
  local used_gpa = q.addrs.device + 2
  local used0 = m.mem:u16(used_gpa)
  local chains = dev:stats().chains
  q:add(chain)
  ok(q:kick(), "the device asked for the notification")
  ok(m:pending() > 0, "the notification is queued")
  local irqs = select(2, m:irq(dev.irq))
  ok(dev:reset())
  H.run(m)
  eq(dev:stats().chains, chains, "no chain popped after the reset")
  eq(m.mem:u16(used_gpa), used0, "old used ring not written")
  eq(select(2, m:irq(dev.irq)), irqs, "no interrupt after the reset")
  eq(dev.status, 0)
  eq(H.guard_hits(m), 0)
  return q
end

test("rng: request kicked, reset before it runs", {spec = {"2.4.1", "5.4"}}, function()
  local m, dev, d = dev_of("rng")
  m.mem:fill(BUF, 32, 0)
  kick_then_reset(m, dev, d, 0, {{BUF, 32, "w"}})
  eq(m.mem:read(BUF, 32), ("\0"):rep(32), "no entropy written")
  H.recover(m, dev)
end)

local function blk_chain(m, kind, sector, data_dir, len)
  m.mem:write(BUF, F.blk_hdr(kind, sector))
  m.mem:u8(BUF + 64, 0xee)
  local c = {{BUF, 16, "r"}}
  if len then c[#c + 1] = {BUF + SECTOR, len, data_dir} end
  c[#c + 1] = {BUF + 64, 1, "w"}
  return c
end

test("blk OUT kicked, reset before it runs", {spec = {"2.4.1", "5.2.6"}}, function()
  local m, dev, d = dev_of("blk", {size = "1M"})
  m.mem:fill(BUF + SECTOR, SECTOR, 0x4f)
  kick_then_reset(m, dev, d, 0, blk_chain(m, 1, 2, "r", SECTOR))
  eq(m.mem:u8(BUF + 64), 0xee, "no status written")
  if not dev.outside then eq(dev:stats().req_out, 0) end
  local d2 = H.recover(m, dev)
  -- an outside disk is not fresh: what matters is that the 0x4f sector is not there
  neq(d2:blk_read(2, SECTOR), ("\x4f"):rep(SECTOR), "the write never reached the disk")
  if not dev.outside then eq(d2:blk_read(2, SECTOR), ("\0"):rep(SECTOR)) end
end)

test("blk IN kicked, reset before it runs", {spec = {"2.4.1", "5.2.6"}}, function()
  local m, dev, d = dev_of("blk", {size = "1M"})
  eq(d:blk_write(0, ("I"):rep(SECTOR)), "OK")
  m.mem:fill(BUF + SECTOR, SECTOR, 0)
  kick_then_reset(m, dev, d, 0, blk_chain(m, 0, 0, "w", SECTOR))
  eq(m.mem:read(BUF + SECTOR, 8), ("\0"):rep(8), "no data delivered")
  eq(m.mem:u8(BUF + 64), 0xee)
  H.recover(m, dev)
end)

test("blk FLUSH kicked, reset before it runs", {spec = {"2.4.1", "5.2.6"}}, function()
  local m, dev, d = dev_of("blk", {size = "1M"}, {features = {"FLUSH"}})
  kick_then_reset(m, dev, d, 0, blk_chain(m, 4, 0))
  eq(m.mem:u8(BUF + 64), 0xee)
  H.recover(m, dev, {features = {"FLUSH"}})
end)

test("blk GET_ID kicked, reset before it runs", {spec = {"2.4.1", "5.2.6"}}, function()
  local m, dev, d = dev_of("blk", {size = "1M", serial = "s1"})
  m.mem:fill(BUF + SECTOR, 20, 0)
  kick_then_reset(m, dev, d, 0, blk_chain(m, 8, 0, "w", 20))
  eq(m.mem:read(BUF + SECTOR, 2), "\0\0")
  H.recover(m, dev)
end)

test("blk DISCARD kicked, reset before it runs", {spec = {"2.4.1", "5.2.6"}}, function()
  local m, dev, d = dev_of("blk", {size = "1M"}, {features = {"DISCARD"}})
  eq(d:blk_write(0, ("K"):rep(SECTOR)), "OK")
  m.mem:write(BUF + SECTOR, string.pack("<I8I4I4", 0, 1, 0))
  kick_then_reset(m, dev, d, 0, blk_chain(m, 11, 0, "r", 16))
  local d2 = H.recover(m, dev, {features = {"DISCARD"}})
  eq(d2:blk_read(0, SECTOR), ("K"):rep(SECTOR), "nothing discarded")
end)

test("net tx kicked, reset before it runs", {spec = {"2.4.1", "5.1.6.2"}}, function()
  local m, dev, d = dev_of("net")
  m.mem:fill(BUF, 12, 0)
  m.mem:write(BUF + 12, F.frame(60))
  kick_then_reset(m, dev, d, 1, {{BUF, 12 + 74, "r"}})
  eq(dev:stats().tx_frames, 0, "no frame sent")
  H.recover(m, dev)
end)

test("net rx buffer posted, reset, then a frame arrives", {spec = {"2.4.1", "5.1.6.4"}},
     function()
  local m, dev, d = dev_of("net", {}, {no_rx = true})
  m.mem:fill(BUF, 2048, 0x11)
  kick_then_reset(m, dev, d, 0, {{BUF, 2048, "w"}})
  dev:receive(F.frame(60))
  H.run(m)
  eq(m.mem:read(BUF, 2048), ("\x11"):rep(2048), "the old rx buffer is not written")
  eq(H.guard_hits(m), 0)
  H.recover(m, dev)
end)

test("net control command kicked, reset before it runs", {spec = {"2.4.1", "5.1.6.5"}},
     function()
  local m, dev, d = dev_of("net", {}, {features = {"CTRL_VQ", "CTRL_RX"}})
  m.mem:write(BUF, "\0\0\1"); m.mem:u8(BUF + 64, 0xee)
  kick_then_reset(m, dev, d, 2, {{BUF, 3, "r"}, {BUF + 64, 1, "w"}})
  eq(m.mem:u8(BUF + 64), 0xee, "no ack written")
  H.recover(m, dev, {features = {"CTRL_VQ", "CTRL_RX"}})
end)

local PFN = H.page(24) >> 12

test("balloon inflate kicked, reset before it runs", {spec = {"2.4.1", "5.5.6"}}, function()
  local m, dev, d = dev_of("balloon")
  m.mem:fill(PFN << 12, 16, 0x99)
  m.mem:write(BUF, string.pack("<I4", PFN))
  kick_then_reset(m, dev, d, 0, {{BUF, 4, "r"}})
  eq(dev:inflated(PFN), false)
  eq(m.mem:read(PFN << 12, 16), ("\x99"):rep(16), "the page keeps its contents")
  H.recover(m, dev)
end)

test("balloon deflate kicked, reset before it runs", {spec = {"2.4.1", "5.5.6"}}, function()
  local m, dev, d = dev_of("balloon")
  d:balloon_inflate{PFN}
  m.mem:write(BUF, string.pack("<I4", PFN))
  local deflated = dev:stats().deflated
  kick_then_reset(m, dev, d, 1, {{BUF, 4, "r"}})
  eq(dev:stats().deflated, deflated, "not deflated by the stale request")
  H.recover(m, dev)
end)

test("balloon statistics buffer kicked, reset before it runs", {spec = {"2.4.1", "5.5.6.3"}},
     function()
  local m, dev, d = dev_of("balloon", {stats = "on"}, {features = {"STATS_VQ"}})
  dev:request_stats()
  ok(d:balloon_stats_requested())
  m.mem:write(BUF, string.pack("<I2I8", 4, 1234))
  kick_then_reset(m, dev, d, 2, {{BUF, 10, "r"}})
  eq(next(dev:stats().guest or {}), nil, "no statistic taken after the reset")
  raises(function() dev:request_stats() end, "STATE")
  H.recover(m, dev, {features = {"STATS_VQ"}})
end)

local function console()
  return dev_of("console", {multiport = "on", ports = 2, port0 = "buffer", port1 = "buffer"},
                {features = {"MULTIPORT"}})
end

test("console transmit kicked, reset before it runs", {spec = {"2.4.1", "5.3.6"}}, function()
  local m, dev, d = console()
  m.mem:write(BUF, "stale")
  kick_then_reset(m, dev, d, 1, {{BUF, 5, "r"}})
  eq(dev:port_read(0), "", "nothing transmitted")
  H.recover(m, dev, {features = {"MULTIPORT"}})
end)

test("console control message kicked, reset before it runs", {spec = {"2.4.1", "5.3.6.2"}},
     function()
  local m, dev, d = console()
  m.mem:write(BUF, string.pack("<I4I2I2", 1, 6, 1))     -- PORT_OPEN port 1
  kick_then_reset(m, dev, d, 3, {{BUF, 8, "r"}})
  eq(dev:port_state(1).guest_open, false, "the port was not opened")
  H.recover(m, dev, {features = {"MULTIPORT"}})
end)

test("blk: reset between two requests of a batch (two queues)",
     {spec = {"2.4.1", "5.2.6"}, tags = "model"},
     function()
  local m, dev, d = dev_of("blk", {size = "1M", queues = 2}, {features = {"MQ"}})
  local c0 = blk_chain(m, 1, 0, "r", SECTOR)
  m.mem:fill(BUF + SECTOR, SECTOR, 0x61)
  m.mem:write(BUF + 0x2000, F.blk_hdr(1, 2)); m.mem:u8(BUF + 0x2040, 0xee)
  local c1 = {{BUF + 0x2000, 16, "r"}, {BUF + SECTOR, SECTOR, "r"}, {BUF + 0x2040, 1, "w"}}
  d:queue(0):add(c0); d:queue(0):kick()
  d:queue(1):add(c1); d:queue(1):kick()
  ok(m:step(), "first notification runs")
  eq(dev:stats().req_out, 1, "one request done")
  ok(dev:reset())
  H.run(m)
  eq(dev:stats().req_out, 1, "the second request was not served")
  eq(m.mem:u8(BUF + 0x2040), 0xee)
  eq(H.guard_hits(m), 0)
  local d2 = H.recover(m, dev, {features = {"MQ"}})
  eq(d2:blk_read(0, SECTOR), ("\x61"):rep(SECTOR), "first write landed")
  eq(d2:blk_read(2, SECTOR), ("\0"):rep(SECTOR), "second did not")
end)

test("balloon: reset between inflate and deflate of a batch", {spec = {"2.4.1", "5.5.6"}},
     function()
  local m, dev, d = dev_of("balloon")
  m.mem:write(BUF, string.pack("<I4", PFN))
  d:queue(0):add{{BUF, 4, "r"}}; d:queue(0):kick()
  d:queue(1):add{{BUF, 4, "r"}}; d:queue(1):kick()
  ok(m:step())
  ok(dev:inflated(PFN), "inflate ran")
  ok(dev:reset())
  H.run(m)
  eq(dev:stats().deflated, 0, "deflate did not run after the reset")
  eq(H.guard_hits(m), 0)
  H.recover(m, dev)
end)

test("rng: reset after the first of two kicks was served", {spec = "2.4.1"}, function()
  local m, dev, d = dev_of("rng")
  local q = d:queue(0)
  q:add{{BUF, 16, "w"}}; q:kick()
  H.run(m)
  if q.layout == "packed" then
    eq(select(3, q:used(0)) & 0x8080, 0x8080, "slot 0 used (wrap 1)")
  else
    eq(q:used_idx(), 1)
  end
  m.mem:fill(BUF + 64, 16, 0)
  q:add{{BUF + 64, 16, "w"}}; q:kick()
  ok(dev:reset())
  H.run(m)
  if q.layout == "packed" then
    ok(select(3, q:used(1)) & 0x8080 ~= 0x8080, "second chain not used")
  else
    eq(q:used_idx(), 1, "second chain not used")
  end
  eq(m.mem:read(BUF + 64, 16), ("\0"):rep(16))
  H.recover(m, dev)
end)

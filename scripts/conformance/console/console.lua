-- virtio-console (spec 5.3): ports on buffer backends, the MULTIPORT control
-- protocol, and malformed control messages.
local F = require "fixtures"

local ctrl = function(id, event, value) return string.pack("<I4I2I2", id, event, value) end
local PORT_READY, RESIZE, PORT_OPEN = 3, 5, 6

local function multiport(n, extra)
  local o = {multiport = "on", ports = n}
  for p = 0, n - 1 do o["port" .. p] = "buffer" end
  for k, v in pairs(extra or {}) do o[k] = v end
  return F.console(o, {"MULTIPORT"})
end

test("port 0 queues only; control queues and more with MULTIPORT", {spec = "5.3.2"},
     function()
  local _, con = F.console()
  eq(con.nqueues, 2)
  local _, mp = multiport(3)
  eq(mp.nqueues, 2 + 2 + 2 * 2, "receiveq/transmitq, control pair, ports 1 and 2")
end)

test("config: cols and rows with SIZE, max_nr_ports with MULTIPORT", {spec = "5.3.4"},
     function()
  local _, con, d = F.console({cols = 100, rows = 30}, {"SIZE"})
  eq({string.unpack("<I2I2", d:config_read(0, 4))}, {100, 30, 5})
  local _, mp, dm = multiport(4)
  eq(string.unpack("<I4", dm:config_read(4, 4)), 4)
end)

test("guest to host: bytes arrive in order on the buffer port", {spec = "5.3.6"}, function()
  local _, con, d = F.console()
  eq(d:console_write(0, "abc"), 3)
  eq(d:console_write(0, ("x"):rep(3000)), 3000)
  eq(con:port_read(0), "abc" .. ("x"):rep(3000))
  local ps = con:stats().ports[0]
  eq(ps.from_guest, 3003)
  eq(ps.tx_chains >= 4, true, "3000 bytes span several 1024-byte chains")
end)

test("host to guest: used length is the bytes written", {spec = "5.3.6"}, function()
  local m, con, d = F.dev("console", {name = "con0", port0 = "buffer"})
  local q = d:queue(0)
  local buf = d:alloc(64)
  m.mem:fill(buf, 64, 0)
  q:add({{buf, 64, "w"}}, 5)
  q:kick()
  eq(con:port_write(0, "hello"), 5)
  m:run()
  local token, len = q:reap()
  eq({token, len}, {5, 5})
  eq(m.mem:read(buf, 6), "hello\0")
end)

test("data waits until the guest posts buffers", {spec = "5.3.6.1"}, function()
  local m, con, d = F.dev("console", {name = "con0", port0 = "buffer"})
  eq(con:port_write(0, "early"), 5)
  eq(con:port_state(0).to_guest, 5)
  local q = d:queue(0)
  local buf = d:alloc(16)
  q:add({{buf, 16, "w"}}, 1)
  q:kick()
  m:run()
  eq(select(2, q:reap()), 5)
  eq(m.mem:read(buf, 5), "early")
end)

test("receive chain without a writable byte is used with length 0", {spec = "5.3.6.1"},
     function()
  local m, con, d = F.dev("console", {name = "con0", port0 = "buffer"})
  local q, buf = d:queue(0), d:alloc(16)
  q:add({{buf, 16, "r"}}, 1)
  q:kick()
  con:port_write(0, "data")
  m:run()
  eq({q:reap()}, {1, 0})
  eq(con:stats().ports[0].bad_chains, 1)
  ok(not con.needs_reset)
end)

test("MULTIPORT handshake: DEVICE_ADD each port, names, console port", {spec = "5.3.6.2"},
     function()
  local _, mp, d = multiport(3, {name1 = "org.test.one"})
  local adds, console = 0, nil
  for _, msg in ipairs(d:console_ctrl_log()) do
    if msg.event == "DEVICE_ADD" then adds = adds + 1 end
    if msg.event == "CONSOLE_PORT" then console = msg.id end
  end
  eq(adds, 3)
  eq(console, 0)
  eq(d:console_port_name(1), "org.test.one")
  eq(d:console_port_name(2), nil)
  ok(mp:stats().ctrl_in >= 4, "DEVICE_READY and a PORT_READY per port")
end)

test("PORT_OPEN from the guest opens and closes a port", {spec = "5.3.6.2"}, function()
  local _, mp, d = multiport(2)
  d:console_open(1, true)
  eq(mp:port_state(1).guest_open, true)
  d:console_open(1, false)
  eq(mp:port_state(1).guest_open, false)
  local ps = mp:stats().ports[1]
  eq({ps.guest_opens >= 1, ps.guest_closes}, {true, 1})
end)

test("resize: config updated and RESIZE sent for the console port", {spec = "5.3.6.2"},
     function()
  local _, mp, d = multiport(2)
  mp:resize(120, 50)
  d:console_read(0)
  local log = d:console_ctrl_log()
  eq({log[#log].event, log[#log].cols, log[#log].rows}, {"RESIZE", 120, 50})
end)

test("malformed control messages are counted and ignored", {spec = "5.3.6.2"}, function()
  local _, mp, d = multiport(2)
  d:console_send_ctrl("\1\0\0\0")                  -- 4 bytes: shorter than the header
  d:console_send_ctrl(ctrl(0, 99, 1))             -- unknown event
  d:console_send_ctrl(ctrl(0, RESIZE, 0))         -- a device-only event from the driver
  d:console_send_ctrl(ctrl(57, PORT_READY, 1))    -- port id out of range
  local st = mp:stats()
  eq({st.ctrl_short, st.ctrl_bad_event, st.ctrl_bad_id}, {1, 2, 1})
  ok(not mp.needs_reset, "the device keeps working")
  d:console_write(1, "still fine")
  eq(mp:port_read(1), "still fine")
end)

test("emergency write needs EMERG_WRITE offered", {spec = "5.3.4"}, function()
  local _, con, d = F.console({emerg = "on"}, {"EMERG_WRITE"})
  d:console_emerg_write("!")
  eq(con:stats().emerg_writes, 1)
  eq(con:port_read(0), "!")
  local _, _, d2 = F.console({emerg = "off"})
  raises(function() d2:console_emerg_write("!") end, "EMERG_WRITE not offered")
end)

test("console helpers check ports and device type", {spec = "5.3"}, function()
  local _, con, d = F.console()
  raises(function() d:console_write(3, "x") end, "no port 3")
  raises(function() con:port_read(9) end, "con0 has no port 9")
  local _, blk = F.blk()
  raises(function() blk:port_write(0, "x") end, "blk0: port_write: not a virtio%-console")
end)

test("a pty port's slave path is reachable from Lua", function()
  local m = vqsim.machine{}
  local con = m:add("console", {port0 = "pty"})
  local p = con:pty_path(0)
  ok(type(p) == "string" and p:match("^/dev/pts/%d+$"), "pty_path is /dev/pts/N")
  eq(con:port_state(0).pty, p)
  local f = assert(io.open(p, "r+"))    -- the path is the live slave: it opens
  f:close()
  local _, plain = F.console()
  eq(plain:pty_path(0), nil)
  eq(plain:port_state(0).pty, nil)
  raises(function() con:pty_path(5) end, "no port 5")
end)

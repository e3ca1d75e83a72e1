-- Fault injection (m:fault, vqsim-lua(7) FAULT INJECTION): scenarios a
-- driver writer would script. Not spec sections: the faults are the
-- simulator's, the checks are what a guest sees.
local F = require "fixtures"

local NEEDS_RESET = 0x40

test("the 3rd read of a guest range fails, then reads work again", {tags = "model"}, function()
  local m = vqsim.machine{seed = 1}
  local buf = 0x40100000
  m.mem:write(buf, "abcdefgh")
  local id = m:fault{point = "mem.read", trigger = {nth = 3, gpa = {buf, buf + 8}}}
  eq(m.mem:read(buf, 8), "abcdefgh")
  eq(m.mem:read(buf + 4, 4), "efgh")
  raises(function() m.mem:read(buf, 1) end, "MEM_FAULT")
  eq(m.mem:read(buf, 8), "abcdefgh")
  local f = m:faults()[1]
  eq({f.id, f.point, f.action, f.hits, f.fired}, {id, "mem.read", "fail", 4, 1})
  eq(m:unfault(id), true)
  eq(#m:faults(), 0)
end)

test("corrupted bytes: xor on the bytes of the range only", {tags = "model"}, function()
  local m = vqsim.machine{seed = 1}
  local buf = 0x40100000
  m.mem:write(buf, "\0\0\0\0\0\0\0\0")
  m:fault{point = "mem.read", action = "corrupt", xor = 0x01, max = 1,
          trigger = {gpa = {buf + 2, buf + 4}}}
  eq(m.mem:read(buf, 8), "\0\0\1\1\0\0\0\0")
end)

test("blk: IOERR on a sector range, counted in m:faults()", {tags = "model"}, function()
  local m, blk, d = F.blk()
  m:fault{point = "blk.write", trigger = {sector = {100, 200}}, max = 2}
  eq(d:blk_write(0, ("x"):rep(512)), "OK")
  eq(d:blk_write(150, ("x"):rep(512)), "IOERR")
  eq(d:blk_write(199, ("x"):rep(512)), "IOERR")
  eq(d:blk_write(150, ("x"):rep(512)), "OK", "max = 2")
  local f = m:faults()[1]
  eq({f.hits, f.fired, f.max}, {3, 2, 2})
  eq(blk:stats().status_ioerr, 2)
end)

test("prob: the same seed fires the same faults, traced", {tags = "model"}, function()
  local function run(seed)
    local m, _, d = F.blk()
    m:reseed(seed)
    m:trace{capture = true, kinds = {"fault"}}
    m:fault{point = "blk.read", trigger = {prob = 0.5}}
    local got = {}
    for i = 1, 32 do got[i] = select(2, d:blk_read(0, 512)) or "OK" end
    local log = m:trace_log()
    if type(log) == "table" then -- lines, or events with a text field
      local t = {}
      for i, l in ipairs(log) do t[i] = type(l) == "table" and (l.text or "") or l end
      log = table.concat(t, "\n")
    end
    return table.concat(got, " "), log
  end
  local a, ta = run(7)
  local b, tb = run(7)
  eq(a, b)
  eq(ta, tb)
  ok(a:find("IOERR") and a:find("OK"), "some fire, some do not")
  ok(ta:find("blk.read prob=0.5 %-> ioerr"), "a fault trace event")
end)

test("dev.pop: DEVICE_NEEDS_RESET in the middle of a request", {tags = "model"}, function()
  local m, blk, d = F.blk()
  m:fault{point = "dev.pop", action = "needs_reset", dev = "blk0"}
  ok(not pcall(d.blk_read, d, 0, 512), "the request never completes")
  eq(blk.status & NEEDS_RESET, NEEDS_RESET)
end)

test("net.rx: reorder holds a frame back until the next one", {tags = "model"}, function()
  local m, net, d = F.net()
  m:fault{point = "net.rx", action = "reorder", trigger = {nth = 1}}
  local a, b = F.frame(60), F.frame(61)
  net:receive(a)
  net:receive(b)
  eq(d:net_recv(), b)
  eq(d:net_recv(), a)
end)

test("notify: a dropped kick leaves the request unanswered", {tags = "model"}, function()
  local m, blk, d = F.blk()
  m:fault{point = "notify", action = "drop", max = 1}
  ok(not pcall(d.blk_read, d, 0, 512))
  eq(blk:stats().req_in, 0)
end)

test("bad fault specs are refused with a message", function()
  local m = vqsim.machine{seed = 1}
  raises(function() m:fault{point = "blk.nope"} end, "point 'blk.nope' unknown")
  raises(function() m:fault{point = "irq", action = "corrupt"} end, "not one point 'irq'")
  raises(function() m:fault{point = "blk.read", trigger = {prob = 2}} end, "prob")
  raises(function() m:fault{point = "blk.read", trigger = {sector = {5, 5}}} end,
         "empty range")
  raises(function() m:fault{point = "net.tx", trigger = {sector = {0, 8}}} end,
         "sector applies to blk")
  raises(function() m:fault{point = "irq", trigger = {gpa = {0, 8}}} end,
         "gpa applies to mem")
  raises(function() m:unfault(42) end, "no fault 42")
end)

-- debugger.lua - breakpoints, watchpoints, stepping and structured tracing
-- from Lua (run by tests/shell/debugger.sh through vqsim --test).
local F = require "fixtures"

test("a chain breakpoint stops m:run after the chain with that head", function()
  local m, rng, d, q = F.rng()
  local b = m:breakpoint{kind = "chain", dev = "rng0", queue = 0, head = 1}
  q:add{{F.BUF, 16, "w"}}; q:add{{F.BUF + 64, 16, "w"}}; q:kick()
  local n, hit = m:run()
  eq(n, 1)
  ok(hit, "a hit")
  eq(hit.bp, b); eq(hit.kind, "chain"); eq(hit.head, 1); eq(hit.queue, 0)
  eq(hit.segs[1].gpa, F.BUF + 64); eq(hit.segs[1].write, true)
  ok(hit.line:match("chain +rng0%.q0 head=1"), hit.line)
  eq(m:breakpoints()[1].hits, 1)
  ok(m:delete(b)); ok(not m:delete(b))
  eq(#m:breakpoints(), 0)
end)

test("m:continue runs on to the next hit; m['break'] is an alias", function()
  local m, rng, d, q = F.rng()
  local b = m["break"](m, {kind = "irq", cause = "vring"})
  for i = 1, 2 do
    q:add{{F.BUF, 16, "w"}}; q:kick()
    local _, hit = m:continue()
    eq(hit and hit.bp, b)
  end
  local _, none = m:continue()
  eq(none, nil)
end)

test("error and status breakpoints", function()
  local m, rng, d, q = F.rng()
  local e = m:breakpoint{kind = "error", err = "RING_HEAD"}
  q:post(q.num); q:notify()
  local _, hit = m:run()
  eq(hit and hit.bp, e); eq(hit.err, "RING_HEAD")
  -- a hit made outside m:run (a register write) is returned by the next run
  local s = m:breakpoint{kind = "status", to = 0}
  rng:write("Status", 0)
  local n, hit2 = m:run()
  eq(n, 0); eq(hit2 and hit2.bp, s)
end)

test("a watchpoint hits on a device write into its range", function()
  local m, rng, d, q = F.rng()
  local far = m:watch{gpa = F.BUF + 0x10000, len = 8}
  local w = m:watch{gpa = F.BUF + 8, len = 4, on = "write"}
  q:add{{F.BUF, 16, "w"}}; q:kick()
  local _, hit = m:run()
  eq(hit and hit.bp, w); eq(hit.kind, "watch"); eq(hit.gpa, F.BUF)
  raises(function() m:watch{gpa = F.BUF, on = "read"} end, "write")
end)

test("m:step returns the events of one machine event", function()
  local m, rng, d, q = F.rng()
  q:add{{F.BUF, 16, "w"}}; q:kick()
  local ran, evs = m:step()
  eq(ran, true)
  local kinds = {}
  for _, e in ipairs(evs) do kinds[e.kind] = true end
  ok(kinds.chain and kinds.used and kinds.notify, "chain, used, notify")
  eq(m:step(), false)
end)

test("m:trace with format, kinds, devices, queues", function()
  local m, rng, d, q = F.rng()
  m:trace{format = "json", kinds = {"chain", "used"}, devices = {"rng0"}, queues = {0}}
  q:add{{F.BUF, 16, "w"}}; q:kick(); m:run()
  local log = m:trace_log()
  eq(#log, 2)
  ok(log[1]:match('^{"time":%d+,"seq":%d+,"kind":"chain","dev":"rng0","queue":0,"text":'), log[1])
  ok(log[1]:match('"segs":%[{"gpa":%d+,"len":16,"write":true}%]}$'), log[1])
  raises(function() m:trace{format = "xml"} end, "format")
  m:trace{devices = {"nosuch"}}
  q:add{{F.BUF, 16, "w"}}; q:kick(); m:run()
  eq(#m:trace_log(), 0)
  local path = os.tmpname()
  m:trace{file = path, format = "json"}
  q:add{{F.BUF, 16, "w"}}; q:kick(); m:run()
  m:trace(false)
  local f = assert(io.open(path)); local text = f:read("a"); f:close(); os.remove(path)
  ok(text:match('^{"time":'), text)
end)

test("two breakpoints on one event: both reported, both counted", function()
  local m, rng, d, q = F.rng()
  local a = m:breakpoint{kind = "chain"}
  local b = m:breakpoint{dev = "rng0", head = 0}
  q:add{{F.BUF, 16, "w"}}; q:kick()
  local _, hit = m:run()
  ok(hit, "a hit")
  eq(hit.bp, a)
  eq(hit.bps, {a, b})
  local bps = m:breakpoints()
  eq({bps[1].id, bps[1].hits, bps[2].id, bps[2].hits}, {a, 1, b, 1})
  -- two overlapping watchpoints: one write hits both
  m:delete(a); m:delete(b)
  local w1 = m:watch{gpa = F.BUF + 128, len = 8}
  local w2 = m:watch{gpa = F.BUF + 132, len = 8}
  q:add{{F.BUF + 128, 16, "w"}}; q:kick()
  _, hit = m:run()
  eq(hit and hit.bps, {w1, w2})
  bps = m:breakpoints()
  eq({bps[1].hits, bps[2].hits}, {1, 1})
end)

-- Used buffer notification suppression (spec 2.7.7) and available buffer
-- notification suppression (2.7.10).
-- these rules are the split layout's: the file asks for it
vqsim.defaults.ring = "split"
local F = require "fixtures"

local function one_request(m, q)
  local before = select(2, m:irq(16))
  local head = q:add{{F.BUF, 16, "w"}}
  q:kick()
  m:run()
  q:reap()
  return select(2, m:irq(16)) - before
end

test("used buffer interrupt without suppression", {spec = "2.7.7"}, function()
  local m, rng, d, q = F.rng()
  d:ack()
  eq(one_request(m, q), 1, "one interrupt")
  eq(d:ack() & 1, 1, "used buffer bit in InterruptStatus")
end)

test("VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt", {spec = "2.7.7"}, function()
  local m, rng, d, q = F.rng()
  q:avail_flags(vqsim.flags.NO_INTERRUPT)
  d:ack()
  eq(one_request(m, q), 0, "no interrupt")
  ok(rng:stats().suppressed > 0)
end)

test("used_event suppresses until the index is passed", {spec = "2.7.7.2"}, function()
  local m, rng, d, q = F.rng{features = {"EVENT_IDX"}}
  eq(one_request(m, q), 1, "first decision interrupts")
  d:ack()
  q:used_event((q:used_idx() + 5) & 0xffff)
  eq(one_request(m, q), 0, "used_event ahead: no interrupt")
end)

test("device asks for notifications with avail_event", {spec = "2.7.10"}, function()
  local m, rng, d, q = F.rng{features = {"EVENT_IDX"}}
  one_request(m, q)
  eq(q:avail_event(), q:avail_idx(), "avail_event follows the avail idx")
end)

test("the device's used flags: 0 or 1 without EVENT_IDX, 0 with it",
     {spec = "2.7.10.2"}, function()
  for _, features in ipairs{{}, {"EVENT_IDX"}} do
    local m, rng, d, q = F.rng{features = features}
    local seen = {}
    for i = 1, 2 * q.num do
      q:add{{F.BUF, 16, "w"}}
      q:kick()
      seen[q:used_flags()] = true
      m:step()                 -- mid-way: the device holds the notification
      seen[q:used_flags()] = true
      m:run()
      seen[q:used_flags()] = true
      ok(q:reap() ~= nil, "request " .. i)
    end
    for f in pairs(seen) do
      if #features == 0 then
        ok(f == 0 or f == 1, "flags " .. f .. " without EVENT_IDX")
      else
        eq(f, 0, "flags with EVENT_IDX")
      end
    end
  end
end)

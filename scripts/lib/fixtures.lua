-- fixtures.lua - small builders shared by the conformance suites.
local F = {}

F.RAM = 0x40000000
F.BUF = 0x40100000     -- scratch buffers for raw rings (the driver heap is at the top)

--- F.rng{features=..., queues=..., seed=...} -> m, rng, d, q (driver initialised)
function F.rng(opts)
  opts = opts or {}
  local m = vqsim.machine{seed = opts.seed or 1}
  local rng = m:add("rng", {name = "rng0"})
  local d = m:driver(rng)
  d:init{features = opts.features or {}, queues = opts.queues}
  local q = (opts.queues ~= 0) and d:queue(0) or nil
  return m, rng, d, q
end

--- F.bare() -> m, rng: a device nobody has initialised
function F.bare()
  local m = vqsim.machine{}
  return m, m:add("rng", {name = "rng0"})
end

--- Publish head through the raw ring, notify, run; returns the device.
function F.offer(m, q, head)
  q:post(head)
  q:notify()
  m:run()
  return q.device
end

--- Expect the device broke with rule errname and asked for a reset.
function F.expect_broken(m, dev, errname)
  eq(dev.error, errname, "device error")
  ok(dev.needs_reset, "DEVICE_NEEDS_RESET set")
  eq(dev:read("InterruptStatus") & 2, 2, "configuration change interrupt")
end

return F

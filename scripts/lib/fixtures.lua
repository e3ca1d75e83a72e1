-- fixtures.lua - small builders shared by the conformance suites.
local F = {}

F.RAM = 0x40000000
F.BUF = 0x40100000     -- scratch buffers for raw rings (the driver heap is at the top)

-- Refuse keys of opts outside allowed, naming the first in sorted order
-- (as the C bindings do: never pairs() order).
local function only(fn, opts, allowed)
  local bad = {}
  for k in pairs(opts) do
    local ok = false
    for _, a in ipairs(allowed) do ok = ok or k == a end
    if not ok then bad[#bad + 1] = tostring(k) end
  end
  if #bad > 0 then
    table.sort(bad)
    error(string.format("%s: unknown option '%s' (accepted: %s)", fn, bad[1],
                        table.concat(allowed, ", ")), 3)
  end
end

--- F.rng{features=..., queues=..., seed=...} -> m, rng, d, q (driver initialised)
function F.rng(opts)
  opts = opts or {}
  only("F.rng", opts, {"features", "queues", "seed"})
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
  -- an outside (vhost-user) device stops by leaving: VHOST_PEER
  eq(dev.error, dev.outside and "VHOST_PEER" or errname, "device error")
  ok(dev.needs_reset, "DEVICE_NEEDS_RESET set")
  eq(dev:read("InterruptStatus") & 2, 2, "configuration change interrupt")
end

--- F.dev(type, devopts, init, initopts) -> m, dev, d: a device of type with
--- the driver initialised by d[init](d, initopts) (d:init when init is nil).
function F.dev(kind, devopts, init, initopts)
  local m = vqsim.machine{seed = 1}
  local dev = m:add(kind, devopts or {})
  local d = m:driver(dev)
  if init ~= false then d[init or "init"](d, initopts or {}) end
  return m, dev, d
end

function F.blk(devopts, features)
  local o = {name = "blk0", size = "1M"}
  for k, v in pairs(devopts or {}) do o[k] = v end
  return F.dev("blk", o, "init", {features = features or {}})
end

function F.net(devopts, initopts)
  local o = {name = "net0"}
  for k, v in pairs(devopts or {}) do o[k] = v end
  return F.dev("net", o, "net_init", initopts)
end

function F.balloon(devopts, features)
  local o = {name = "balloon0"}
  for k, v in pairs(devopts or {}) do o[k] = v end
  return F.dev("balloon", o, "balloon_init", {features = features or {}})
end

function F.console(devopts, features)
  local o = {name = "con0", port0 = "buffer"}
  for k, v in pairs(devopts or {}) do o[k] = v end
  return F.dev("console", o, "console_init", {features = features or {}})
end

--- An Ethernet frame: dst and src as 6-byte strings (default broadcast and a
--- local address), ethertype 0x88b5, payload (default n bytes of 'x').
function F.frame(n, dst, src)
  dst = dst or ("\255"):rep(6)
  src = src or "\2\0\0\0\0\1"
  return dst .. src .. "\x88\xb5" .. ("x"):rep(n or 46)
end

--- Little-endian packers for request headers.
function F.blk_hdr(kind, sector) return string.pack("<I4I4I8", kind, 0, sector or 0) end

--- F.traced(log, pattern) -> the lines of log (m:trace_log(), which hands
--- the capture over once) that match pattern, in order
function F.traced(log, pattern)
  local out = {}
  for _, line in ipairs(log) do
    if line:find(pattern) then out[#out + 1] = line end
  end
  return out
end

return F

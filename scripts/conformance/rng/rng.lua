-- virtio-rng (spec 5.4).
local F = require "fixtures"

test("one request queue", {spec = "5.4.2"}, function()
  local m, rng = F.bare()
  eq(rng.nqueues, 1)
end)

test("no device-specific feature bits", {spec = "5.4.3"}, function()
  local m, rng = F.bare()
  for _, f in ipairs(rng.offered) do
    local bit = type(f) == "number" and f or vqsim.features[f]
    ok(bit >= 24, "offered device-specific bit " .. tostring(f))
  end
  ok(rng:has("VERSION_1") == false, "nothing negotiated yet")
end)

test("a read returns the bytes asked for", {spec = "5.4.6"}, function()
  local m, rng, d = F.rng()
  eq(#d:rng_read(32), 32)
  eq(rng:stats().bytes_served, 32)
end)

test("same seed, same bytes", {spec = "5.4.6"}, function()
  local _, _, d1 = F.rng{seed = 7}
  local _, _, d2 = F.rng{seed = 7}
  eq(d1:rng_read(16), d2:rng_read(16))
end)

test("different seeds, different bytes", {spec = "5.4.6"}, function()
  local _, _, d1 = F.rng{seed = 7}
  local _, _, d2 = F.rng{seed = 8}
  neq(d1:rng_read(16), d2:rng_read(16))
end)

test("a large read of 64 KiB", {spec = "5.4.6"}, function()
  local m, rng, d = F.rng()
  eq(#d:rng_read(65536), 65536)
end)

test("several chains in flight complete", {spec = "5.4.6"}, function()
  local m, rng, d, q = F.rng()
  for i = 0, 3 do q:add({{F.BUF + 64 * i, 64, "w"}}, 100 + i) end
  q:kick()
  m:run()
  local got = {}
  while true do
    local token, len = q:reap()
    if not token then break end
    got[#got + 1] = token
    eq(len, 64)
  end
  eq(got, {100, 101, 102, 103})
end)

test("a request over 64 KiB is served its first 64 KiB and counted", {spec = "5.4.6.1"},
     function()
  local m, rng, d, q = F.rng()
  m.mem:fill(F.BUF, 65536 + 64, 0)
  q:add({{F.BUF, 65536 + 64, "w"}}, 7)
  q:kick()
  m:run()
  local token, len = q:reap()
  eq({token, len}, {7, 65536})
  eq(m.mem:read(F.BUF + 65536, 64), ("\0"):rep(64), "nothing past the cap")
  local st = rng:stats()
  eq({st.capped, st.requests, st.bytes_served}, {1, 1, 65536})
end)

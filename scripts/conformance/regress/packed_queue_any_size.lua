-- Regression for what the packed ring fuzzing turned up (tests/fuzz,
-- 2026-12-04; issue 12): a packed queue's size need not be a power of two
-- (spec 2.8; split's power-of-two rule is 2.7's), and the ring accepts any
-- size in 1..32768, but the device refused every other size when the
-- queue was enabled: QueueReady gave RING_LAYOUT and DEVICE_NEEDS_RESET
-- for a driver using 100 entries. Runs on either transport.

test("a packed queue of 100 entries is accepted and serves requests", {spec = "2.8",
     tags = {"regress", "packed"}}, function()
  local m = vqsim.machine{seed = 3}
  local dev = m:add("rng", {["queue-size"] = 128})
  local d = m:driver(dev)
  local f = d:negotiate{"RING_PACKED"}
  local packed = false
  for _, name in ipairs(f) do packed = packed or name == "RING_PACKED" end
  ok(packed, "RING_PACKED negotiated")
  d:setup_queue(0, 100)
  d:driver_ok()
  ok(not dev.needs_reset, "no DEVICE_NEEDS_RESET")
  eq(dev:stats().errors, 0, "no error counted")
  -- more requests than the ring has slots: the ring wraps at 100
  for i = 1, 130 do eq(#d:rng_read(8), 8, "request " .. i) end
  -- and the device's maximum still bounds it
  d:reset()
  d:negotiate{"RING_PACKED"}
  raises(function() d:setup_queue(0, 129) end, "rng0%.q0: INVAL")
end)

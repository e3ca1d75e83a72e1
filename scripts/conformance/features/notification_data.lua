-- VIRTIO_F_NOTIFICATION_DATA sent by the reference driver (spec 2.9, 2.8.16,
-- 4.1.5.2 pci, 4.2.3.3 mmio), on every transport and ring layout: each kick
-- carries vqn | next_off << 16 | next_wrap << 31, where next_off/next_wrap
-- name the next descriptor not yet made available: split: the avail idx
-- (bits 0-14 and bit 15); packed: the next ring slot and the driver's wrap
-- counter, which flips each time the ring wraps.

test("the reference driver's notification data names its next slot and wrap, across wraps",
     {spec = {"2.9", vqsim.defaults.ring == "packed" and "2.8.16" or "2.7.13.4",
              vqsim.defaults.transport == "pci" and "4.1.5.2.1" or "4.2.3.3"},
      tags = {"features", "driver"}}, function()
  local m = vqsim.machine{seed = 3}
  local dev = m:add("rng", {name = "rng0", ["queue-size"] = 8})
  local d = m:driver(dev)
  d:init{features = {"NOTIFICATION_DATA"}}
  local layout = d:queue(0).layout
  eq(layout, vqsim.defaults.ring, "the driver negotiated the layout of the run")
  eq(dev:queue(0).notify_datas, 0)
  local seen_wrap0 = false
  for i = 1, 19 do   -- 19 one-descriptor chains: a packed ring of 8 wraps twice
    eq(#d:rng_read(8), 8)
    local s = dev:queue(0)
    eq(s.notify_datas, i, "kick " .. i .. " carried data")
    if layout == "packed" then
      eq(s.notify_next_off, i % 8, "next_off = next slot after kick " .. i)
      eq(s.notify_next_wrap, (i // 8) % 2 == 0, "next_wrap = driver wrap counter after kick " .. i)
      if not s.notify_next_wrap then seen_wrap0 = true end
    else
      eq(s.notify_next_off, i & 0x7fff, "next_off = avail idx after kick " .. i)
      eq(s.notify_next_wrap, false)
    end
    eq(s.notifies, i, "delivered to queue 0")
  end
  if layout == "packed" then ok(seen_wrap0, "a kick carried wrap counter 0") end
  eq(dev.needs_reset, false)
end)

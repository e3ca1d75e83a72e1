-- Device status field (spec 2.1) and the initialisation order (3.1.1),
-- written through the raw Status register.
local F = require "fixtures"
local S = vqsim.status

test("status is 0 before a driver touches the device", {spec = "2.1"}, function()
  local m, rng = F.bare()
  eq(rng:reg("Status"), 0)
end)

test("ACKNOWLEDGE then DRIVER is accepted", {spec = "3.1.1"}, function()
  local m, rng = F.bare()
  ok(rng:reg("Status", S.ACKNOWLEDGE))
  ok(rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER))
  eq(rng:status_str(), "ACKNOWLEDGE|DRIVER")
end)

test("DRIVER without ACKNOWLEDGE is refused", {spec = "3.1.1"}, function()
  local m, rng = F.bare()
  local okw, err = rng:reg("Status", S.DRIVER)
  eq(okw, false)
  eq(err, "STATUS")
  eq(rng.status, 0, "status unchanged")
end)

test("a driver may not clear a status bit", {spec = "2.1.1"}, function()
  local m, rng = F.bare()
  rng:reg("Status", S.ACKNOWLEDGE)
  rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER)
  eq(select(2, rng:reg("Status", S.ACKNOWLEDGE)), "STATUS")
  eq(rng.status, S.ACKNOWLEDGE | S.DRIVER)
end)

test("DRIVER_OK before FEATURES_OK is refused", {spec = "3.1.1"}, function()
  local m, rng = F.bare()
  rng:reg("Status", S.ACKNOWLEDGE)
  rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER)
  eq(select(2, rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.DRIVER_OK)), "STATUS")
end)

test("FEATURES_OK without VERSION_1 stays clear", {spec = "2.2.1"}, function()
  local m, rng = F.bare()
  rng:reg("Status", S.ACKNOWLEDGE)
  rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER)
  local okw, err = rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK)
  eq(okw, false)
  eq(err, "FEATURES")
  eq(rng.status & S.FEATURES_OK, 0, "device keeps FEATURES_OK clear")
end)

test("a feature the device did not offer is refused", {spec = "2.2.1"}, function()
  local m, rng = F.bare()
  rng:reg("Status", S.ACKNOWLEDGE)
  rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER)
  rng:reg("DriverFeaturesSel", 1)
  rng:reg("DriverFeatures", 1 | (1 << (vqsim.features.SR_IOV - 32)))
  eq(select(2, rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER | S.FEATURES_OK)), "FEATURES")
end)

test("the driver may not set DEVICE_NEEDS_RESET", {spec = "2.1.1"}, function()
  local m, rng = F.bare()
  eq(select(2, rng:reg("Status", S.ACKNOWLEDGE | S.NEEDS_RESET)), "STATUS")
end)

test("after FAILED nothing but a reset is accepted", {spec = "2.1.1"}, function()
  local m, rng = F.bare()
  rng:reg("Status", S.ACKNOWLEDGE)
  ok(rng:reg("Status", S.ACKNOWLEDGE | S.FAILED))
  eq(select(2, rng:reg("Status", S.ACKNOWLEDGE | S.FAILED | S.DRIVER)), "STATUS")
  ok(rng:reg("Status", 0))
  eq(rng.status, 0)
end)

test("writing 0 resets status and features", {spec = "2.4"}, function()
  local m, rng, d = F.rng{features = {"EVENT_IDX"}}
  ok(rng:has("EVENT_IDX"))
  ok(rng:reset())
  eq(rng.status, 0)
  eq(rng.features, {})
end)

test("the reference driver negotiates what both sides have", {spec = "2.2"}, function()
  local m, rng, d = F.rng{features = {"EVENT_IDX", "SR_IOV"}}
  ok(d:has("VERSION_1"), "VERSION_1 always")
  ok(d:has("EVENT_IDX"))
  eq(d:has("SR_IOV"), false, "not offered, not taken")
  eq(rng.features, d:features())
end)

test("QueueReady before FEATURES_OK is refused", {spec = "3.1.1"}, function()
  local m, rng = F.bare()
  rng:reg("Status", S.ACKNOWLEDGE)
  rng:reg("Status", S.ACKNOWLEDGE | S.DRIVER)
  rng:reg("QueueSel", 0)
  rng:reg("QueueNum", 8)
  rng:reg("QueueReady", 1)
  eq(rng:reg("QueueReady"), 0)
end)

test("driver features are frozen after FEATURES_OK", {spec = "2.2.1"}, function()
  local m, rng, d = F.rng()
  local before = rng.features
  rng:reg("DriverFeaturesSel", 0)
  rng:reg("DriverFeatures", 1 << vqsim.features.EVENT_IDX)
  eq(rng.features, before)
end)

test("every device offers RING_PACKED unless packed=off", {spec = "6"}, function()
  local function offers(dev, name)
    for _, f in ipairs(dev.offered) do if f == name then return true end end
    return false
  end
  local m = vqsim.machine{ram = "16M"}
  for _, kind in ipairs{"rng", "blk", "net", "console", "balloon"} do
    ok(offers(m:add(kind, {name = kind .. "_on"}), "RING_PACKED"), kind .. " offers it")
  end
  local off = m:add("rng", {name = "rng1", packed = "off"})
  eq(offers(off, "RING_PACKED"), false, "packed=off withdraws it")
  ok(offers(off, "EVENT_IDX"), "the device's own features stay")
  local bad, err = pcall(m.add, m, "rng", {name = "rng2", packed = "maybe"})
  eq(bad, false)
  ok(tostring(err):find("packed", 1, true), "the message names the option")
end)

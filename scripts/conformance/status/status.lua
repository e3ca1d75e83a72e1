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

test("writing 0 resets status and features", {spec = {"2.4", "2.4.1"}}, function()
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

local traced = F.traced

local function offered_set(dev)
  local s = {}
  for _, f in ipairs(dev.offered) do s[f] = true end
  return s
end

-- What a feature requires of the others (spec 5.1.3.1 for net; the other
-- device types and the transport features have no such rule). Each entry:
-- feature -> list of alternatives, each a list of features all needed.
local REQUIRES = {
  net = {
    GUEST_TSO4 = {{"GUEST_CSUM"}}, GUEST_TSO6 = {{"GUEST_CSUM"}},
    GUEST_ECN = {{"GUEST_TSO4"}, {"GUEST_TSO6"}}, GUEST_UFO = {{"GUEST_CSUM"}},
    HOST_TSO4 = {{"CSUM"}}, HOST_TSO6 = {{"CSUM"}}, HOST_ECN = {{"HOST_TSO4"}, {"HOST_TSO6"}},
    HOST_UFO = {{"CSUM"}}, CTRL_RX = {{"CTRL_VQ"}}, CTRL_VLAN = {{"CTRL_VQ"}},
    GUEST_ANNOUNCE = {{"CTRL_VQ"}}, MQ = {{"CTRL_VQ"}}, CTRL_MAC_ADDR = {{"CTRL_VQ"}},
    CTRL_RX_EXTRA = {{"CTRL_RX"}}, CTRL_GUEST_OFFLOADS = {{"CTRL_VQ"}},
  },
}

local function satisfied(kind, f, set)
  local alts = (REQUIRES[kind] or {})[f]
  if not alts then return true end
  for _, all in ipairs(alts) do
    local okk = true
    for _, need in ipairs(all) do okk = okk and set[need] == true end
    if okk then return true end
  end
  return false
end

local VARIANTS = {
  {"rng"}, {"blk"}, {"blk", {queues = 2}}, {"net"}, {"net", {queues = 2}},
  {"net", {ctrl = "off"}}, {"net", {csum = "off"}}, {"balloon"}, {"console"},
}

test("a device offers only features defined for its type, each with what it requires",
     {spec = "2.2.2"}, function()
  local m = vqsim.machine{ram = "16M"}
  for i, v in ipairs(VARIANTS) do
    local dev = m:add(v[1], v[2])
    local set = offered_set(dev)
    for _, f in ipairs(dev.offered) do
      eq(type(f), "string", v[1] .. " #" .. i .. ": offered bit " .. tostring(f) .. " has a name")
      ok(satisfied(v[1], f, set), v[1] .. " #" .. i .. ": " .. tostring(f) ..
         " offered without what it requires")
    end
  end
end)

test("any valid subset of the offered features is accepted, and again after a reset",
     {spec = "2.2.2"}, function()
  local seed = 7
  local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
  for _, v in ipairs(VARIANTS) do
    local m = vqsim.machine{ram = "16M"}
    local dev = m:add(v[1], v[2])
    local d = m:driver(dev)
    for _ = 1, 12 do
      -- a random subset, then closed: a feature whose requirement is out goes
      local want, set = {}, {}
      for _, f in ipairs(dev.offered) do
        if f ~= "ACCESS_PLATFORM" and rnd(2) == 1 then set[f] = true end
      end
      local changed = true
      while changed do
        changed = false
        for f in pairs(set) do
          if not satisfied(v[1], f, set) then set[f] = nil; changed = true end
        end
      end
      set.VERSION_1 = true
      for _, f in ipairs(dev.offered) do if set[f] then want[#want + 1] = f end end
      local got = d:negotiate(want)
      ok(dev.status & S.FEATURES_OK ~= 0, v[1] .. ": FEATURES_OK kept for " ..
         table.concat(want, " "))
      eq(#got, #want, v[1] .. ": every feature asked for negotiated")
      d:reset()
      d:negotiate(want)
      ok(dev.status & S.FEATURES_OK ~= 0, v[1] .. ": the same set again after a reset")
      d:reset()
    end
  end
end)

test("the reference driver takes a reset as done when it reads status 0",
     {spec = "2.4.2", tags = "driver"}, function()
  local m, rng, d = F.rng()
  m:trace{capture = true}
  d:reset()
  local regs = traced(m:trace_log(), " reg ")
  ok(#regs >= 2, "a write and a read")
  ok(regs[1]:find("write [%w_]*[Ss]tatus=0x0"), "status written 0: " .. regs[1])
  ok(regs[#regs]:find("read [%w_]*[Ss]tatus=0x0"), "then read back as 0: " .. regs[#regs])
  m:trace{capture = false}
end)

test("every device configuration field can be read before FEATURES_OK",
     {spec = "2.5.2"}, function()
  for _, v in ipairs(VARIANTS) do
    local m = vqsim.machine{ram = "16M"}
    local dev = m:add(v[1], v[2])
    local len = #dev:config(0)
    local d = m:driver(dev)
    ok(dev:reset())
    ok(dev:reg("Status", S.ACKNOWLEDGE))
    ok(dev:reg("Status", S.ACKNOWLEDGE | S.DRIVER))
    eq(dev.status & S.FEATURES_OK, 0)
    local before = len > 0 and d:config_read(0, len) or ""
    eq(#before, len, v[1] .. ": the whole configuration space read")
    eq(before, dev:config(0, len), v[1] .. ": as the device holds it")
    eq(dev:stats().errors, 0)
    d:init{}
  end
end)

test("the reference driver reads configuration between two equal generation reads",
     {spec = "2.5.1", tags = "driver"}, function()
  local m, blk, d = F.blk()
  m:trace{capture = true}
  d:config_read(0, 8)
  local log = m:trace_log()
  local regs = traced(log, " reg ")
  ok(regs[1]:find("read [Cc]onfig_?[Gg]eneration="), "generation first: " .. regs[1])
  ok(regs[#regs]:find("read [Cc]onfig_?[Gg]eneration="), "and last: " .. regs[#regs])
  local configs = #traced(log, " config ")
  eq(configs, 2, "the 8 bytes in between, as two 32-bit reads (spec 2.5.1: no 64-bit read)")
  m:trace{capture = false}
end)

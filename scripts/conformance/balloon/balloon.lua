-- virtio-balloon (spec 5.5): inflate/deflate, target/actual, statistics, and
-- raw PFN arrays.
local F = require "fixtures"

local PAGE = 4096
local PFN0 = 0x40200000 >> 12   -- a page well inside guest RAM, below the driver heap

-- A raw request on queue q: the u32 PFNs packed into one readable buffer.
local function raw_pfns(m, d, q, pfns, extra)
  local s = {}
  for i, p in ipairs(pfns) do s[i] = string.pack("<I4", p) end
  local bytes = table.concat(s) .. (extra or "")
  local buf = d:alloc(math.max(#bytes, 4))
  m.mem:write(buf, bytes)
  return d:submit(q, {{buf, #bytes, "r"}})
end

test("inflateq and deflateq; statsq only with STATS_VQ", {spec = "5.5.2"}, function()
  local _, bal = F.balloon()
  eq(bal:queue(0).ready and bal:queue(1).ready, true)
  local okq, q2 = pcall(bal.queue, bal, 2)
  ok(not okq or not q2.ready, "no statsq without the feature")
  local _, bal2 = F.balloon({stats = "on"}, {"STATS_VQ"})
  eq(bal2.nqueues, 3)
  eq(bal2:queue(2).ready, true)
end)

test("the host sets num_pages; a config change interrupt", {spec = "5.5.4"}, function()
  local _, bal, d = F.balloon()
  bal:set_target(33)
  eq(bal:reg("InterruptStatus") & 2, 2)
  eq(d:balloon_target(), 33)
  eq(string.unpack("<I4", bal:config(0, 4)), 33)
end)

test("the driver writes actual; num_pages is read-only to it", {spec = "5.5.4"}, function()
  local _, bal, d = F.balloon()
  bal:set_target(5)
  d:balloon_set_actual(3)
  eq(bal:actual(), 3)
  d:config_write(0, string.pack("<I4", 999))
  eq(bal:target(), 5, "num_pages unchanged")
  eq(bal:stats().config_refused, 1)
end)

test("inflated pages are given back: they read as zeroes", {spec = "5.5.6"}, function()
  local m, bal, d = F.balloon()
  m.mem:fill(PFN0 << 12, 2 * PAGE, 0xaa)
  d:balloon_inflate{PFN0, PFN0 + 1}
  eq(m.mem:read(PFN0 << 12, 16), ("\0"):rep(16))
  eq(m.mem:read((PFN0 + 1) << 12, 16), ("\0"):rep(16))
  ok(bal:inflated(PFN0) and bal:inflated(PFN0 + 1))
  local st = bal:stats()
  eq({st.inflated, st.balloon_pages}, {2, 2})
end)

test("inflate and deflate chains are used with length 0", {spec = "5.5.6"}, function()
  local m, bal, d = F.balloon()
  eq(raw_pfns(m, d, 0, {PFN0}), 0)
  eq(raw_pfns(m, d, 1, {PFN0}), 0)
  eq(bal:stats().balloon_pages, 0)
end)

test("deflate takes pages back; unknown pages are ignored", {spec = "5.5.6"}, function()
  local m, bal, d = F.balloon()
  d:balloon_inflate{PFN0, PFN0 + 1, PFN0 + 2}
  d:balloon_deflate{PFN0, PFN0 + 7}
  local st = bal:stats()
  eq({st.deflated, st.deflate_unknown, st.balloon_pages}, {1, 1, 2})
  ok(not bal:inflated(PFN0))
  m.mem:write(PFN0 << 12, "usable again")
  eq(m.mem:read(PFN0 << 12, 12), "usable again")
end)

test("inflating a page twice is counted once", {spec = "5.5.6"}, function()
  local _, bal, d = F.balloon()
  d:balloon_inflate{PFN0}
  d:balloon_inflate{PFN0}
  local st = bal:stats()
  eq({st.inflated, st.inflate_repeat, st.balloon_pages}, {2, 1, 1})
end)

test("malformed: PFN outside guest memory is refused", {spec = "5.5.6.2"}, function()
  local m, bal, d = F.balloon()
  eq(raw_pfns(m, d, 0, {0xfffff, PFN0}), 0)
  local st = bal:stats()
  eq({st.refused, st.inflated, st.balloon_pages}, {1, 1, 1})
  ok(not bal.needs_reset, "the device keeps working")
end)

test("hostile: aliased PFN arrays are cut at a budget of guest RAM pages", {spec = "5.5.6"},
     function()
  local m, bal, d = F.balloon()
  local arr = string.pack("<I4", PFN0):rep(16384)         -- 64 KiB, one PFN
  local buf = d:alloc(#arr)
  m.mem:write(buf, arr)
  local chain = {}
  for i = 1, 64 do chain[i] = {buf, #arr, "r"} end          -- 1 M entries
  eq(d:submit(0, chain), 0)
  local st = bal:stats()
  eq(st.inflated + st.pfns_cut, 64 * 16384, "every entry applied or cut")
  ok(st.pfns_cut > 0 and st.inflated < 64 * 16384, "the rest was cut")
  eq(st.balloon_pages, 1)
  ok(not bal.needs_reset)
end)

test("free page reporting leaves a device-readable range untouched", {spec = "5.5.6.7"},
     function()
  local m, bal, d = F.balloon({reporting = true}, {"PAGE_REPORTING"})
  m.mem:fill(F.BUF, 2 * PAGE, 0x3c)
  eq(d:submit(2, {{F.BUF, PAGE, "r"}, {F.BUF + PAGE, PAGE, "w"}}), 0)  -- reportingq: 2 (5.5.2)
  eq(m.mem:read(F.BUF, PAGE), ("\x3c"):rep(PAGE), "readable range kept")
  eq(m.mem:read(F.BUF + PAGE, PAGE), ("\0"):rep(PAGE), "writable range discarded")
  local st = bal:stats()
  eq({st.report_refused, st.reported_pages}, {1, 1})
  ok(not bal.needs_reset)
end)

test("malformed: PFN array not a multiple of 4 bytes", {spec = "5.5.6.2"}, function()
  local m, bal, d = F.balloon()
  eq(raw_pfns(m, d, 0, {PFN0}, "\1\2"), 0)
  eq(bal:stats().bad_length, 1)
  ok(not bal.needs_reset)
end)

test("statistics: request returns the buffer, guest refills it", {spec = "5.5.6.3"},
     function()
  local _, bal, d = F.balloon({stats = "on"}, {"STATS_VQ"})
  eq(d:balloon_stats_requested(), false, "device holds the first buffer")
  bal:request_stats()
  eq(d:balloon_stats_requested(), true)
  d:balloon_send_stats{MEMFREE = 1000, MEMTOT = 4000, [42] = 1}
  local st = bal:stats()
  eq(st.guest, {MEMFREE = 1000, MEMTOT = 4000})
  eq(st.stats_unknown, 1, "tag 42 is not known")
  raises(function() d:balloon_send_stats{MEMFREE = 1} end, "STATE")
end)

test("statistics need STATS_VQ", {spec = "5.5.6.3"}, function()
  local _, bal = F.balloon()
  raises(function() bal:request_stats() end, "balloon0: request_stats: STATE")
end)

test("balloon feature names are scoped", {spec = "5.5.3"}, function()
  local _, bal, d = F.balloon({["deflate-on-oom"] = "on"}, {"DEFLATE_ON_OOM"})
  ok(d:has("DEFLATE_ON_OOM"))
  eq(vqsim.dev_features.balloon.STATS_VQ, 1)
  raises(function() d:balloon_init{features = {"FLUSH"}} end, "unknown feature 'FLUSH'")
end)

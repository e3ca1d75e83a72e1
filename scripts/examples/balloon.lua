-- balloon.lua - virtio-balloon (spec 5.5): the host sets a target, the guest
-- inflates pages into the balloon (they are really given back: they read as
-- zeroes), deflates, and reports memory statistics on request.
-- Run: vqsim scripts/examples/balloon.lua

local function step(title) print("\n== " .. title) end
local show = vqsim.show

step("A balloon with the statistics queue, 64 MiB guest")
local m = vqsim.machine{ram = "64M"}
local bal = m:add("balloon", {name = "balloon0", stats = "on"})
local d = m:driver(bal)
d:balloon_init{features = {"STATS_VQ"}}
print(bal)
show(d:features())

step("The host asks for 4 pages (num_pages) - a config change interrupt")
bal:set_target(4)
print("driver reads target:", d:balloon_target(), " InterruptStatus:", bal:reg("InterruptStatus"))

step("The guest fills 4 pages, then inflates them")
local base = 0x40200000
for i = 0, 3 do m.mem:fill(base + i * 4096, 4096, 0xaa) end
local pfns = {}
for i = 0, 3 do pfns[#pfns + 1] = (base >> 12) + i end
d:balloon_inflate(pfns)
d:balloon_set_actual(#pfns)
print("actual (device view):", bal:actual(), " page in balloon:", bal:inflated(pfns[1]))
print("first bytes of the page now:", vqsim.hexdump(m.mem:read(base, 8)))

step("Target back to 0: deflate")
bal:set_target(0)
d:balloon_deflate(pfns)
d:balloon_set_actual(0)
print("target", d:balloon_target(), "actual", bal:actual(), "in balloon:", bal:inflated(pfns[1]))

step("Memory statistics: host requests, guest answers")
bal:request_stats()
print("guest sees a request:", d:balloon_stats_requested())
d:balloon_send_stats{MEMFREE = 48 << 20, MEMTOT = 64 << 20, MAJFLT = 7}
show(bal:stats().guest)

step("Counters")
local st = bal:stats()
print("inflated", st.inflated, "deflated", st.deflated, "balloon_pages", st.balloon_pages,
      "stats_buffers", st.stats_buffers)
print("\nThe end.")

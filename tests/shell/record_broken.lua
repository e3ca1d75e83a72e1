-- record_broken.lua - a broken driver for record.sh: raw descriptors, a bad
-- avail entry, a read-only descriptor the device must write, memory writes,
-- an injected fault, a run_until with a closure, failing calls, a reset.
local m = vqsim.machine{ram = "16M", seed = 7}
local rng = m:add("rng")
local d = m:driver(rng)
d:init()
local q = d:queue(0)
local raw = rng:ring(0)
local buf = d:alloc(64)
m.mem:write(buf, "quote \" and\nnewline\0 and \\ backslash")
m.mem:u32(buf + 60, 0xdeadbeef)
-- a descriptor the device may not write into
q:desc(0, {addr = buf, len = 16, flags = 0, next = 0})
q:post(0)
q:notify()
m:run()
pcall(d.rng_read, d, 4)                 -- fails: the device needs reset
d:init{features = {"EVENT_IDX"}}
m:fault{point = "mem.write", trigger = {nth = 1}, action = "fail"}
pcall(d.rng_read, d, 8)
m:unfault()
d:init()                               -- the fault broke the ring: start over
local got = d:rng_read(8)
q:post(9999)                           -- an avail entry naming no descriptor
q:notify()
local n = 0
m:run_until(function() n = n + 1 return n > 2 end)
m:run()
print(tostring(d), d.status, raw.num, rng:reg("InterruptStatus"), #got)
rng:reset()
rng:write("Status", 1)
d:init()
print(d:rng_read(4):byte(1))

-- tour.lua - a guided tour of vqsim: run it with `vqsim scripts/examples/tour.lua`
-- and read along. Each step prints what it does, then the result.

local function step(title) print("\n== " .. title) end
local show = vqsim.show

step("A machine: 64 MiB of RAM at 0x40000000, seed " .. vqsim.seed)
local m = vqsim.machine{ram = "64M"}
print(m)

step("A virtio-rng device on " .. vqsim.defaults.transport .. " (slot and irq picked for us)")
local rng = m:add("rng", {name = "rng0"})
print(rng)
if rng.transport == "mmio" then
  print("MagicValue", string.format("0x%08x", rng:reg("MagicValue")),
        "Version", rng:reg("Version"), "DeviceID", rng:reg("DeviceID"))
else
  print("vendor", string.format("0x%04x", rng:pci_read(0, 2)),
        "device", string.format("0x%04x", rng:pci_read(2, 2)), "revision", rng:pci_read(8, 1))
end

step("The reference driver: spec 3.1.1 init with EVENT_IDX and INDIRECT_DESC")
local d = m:driver(rng)
-- the split ring (whatever vqsim --ring says): the raw steps below write
-- its avail ring by hand
d:init{features = {"EVENT_IDX", "INDIRECT_DESC"}, ring = "split"}
print(d)
show(d:features())

step("Entropy, from the machine's seeded PRNG (same seed, same bytes)")
show(d:rng_read(16))

step("A chain by hand: one device-writable buffer, kick, run, reap")
local q = d:queue(0)
local buf = d:alloc(32)
local head = q:add{{buf, 32, "w"}}
print(("added chain head %d; kick notified the device: %s"):format(head, tostring(q:kick())))
print(("the machine ran %d event(s)"):format(m:run()))
local token, len = q:reap()
print(("reaped token %d: the device wrote %d bytes"):format(token, len))
print(m.mem:hexdump(buf, 32))

step("The queue as the driver left it")
print(q)

step("Tracing a request (notify, chain, used; with EVENT_IDX the driver asked for no interrupt)")
m:trace{kinds = {"notify", "chain", "used", "irq"}}
d:rng_read(8)
for _, line in ipairs(m:trace_log()) do print("  " .. line) end
m:trace(false)

step("A broken driver: an avail entry naming descriptor 9999 in a queue of " .. q.num)
q:post(9999)
q:notify()
m:run()
print(rng)
print("needs reset:", rng.needs_reset, " interrupt status:", rng:reg("InterruptStatus"))
local okr, err = pcall(d.rng_read, d, 4)
print("rng_read now fails:", err)

step("Reset and initialise again")
d:init{features = {"EVENT_IDX"}, ring = "split"}
print(rng:status_str())
show(d:rng_read(8))

step("Statistics")
show(m:stats())
show(rng:stats())
print("\nThe end. help() in the REPL, or man 7 vqsim-lua, has the rest.")

-- console.lua - virtio-console (spec 5.3): buffer ports read and written from
-- both ends, and MULTIPORT with named ports.
-- Run: vqsim scripts/examples/console.lua

local function step(title) print("\n== " .. title) end
local show = vqsim.show

step("A single-port console on a buffer backend (the script is the host)")
local m = vqsim.machine{}
local con = m:add("console", {name = "hvc", port0 = "buffer"})
local d = m:driver(con)
d:console_init{}
print(con)

step("Guest to host: d:console_write, then console:port_read")
print("posted", d:console_write(0, "login: "))
show(con:port_read(0))

step("Host to guest: console:port_write, then d:console_read")
print("accepted", con:port_write(0, "root\n"))
show(d:console_read(0))

step("MULTIPORT: three ports, two named, on buffer backends")
local mp = m:add("console", {name = "vport", multiport = "on", ports = 3, port0 = "buffer",
                             port1 = "buffer", name1 = "org.qemu.guest_agent.0",
                             port2 = "buffer", name2 = "org.vqsim.log"})
local dm = m:driver(mp)
dm:console_init{features = {"MULTIPORT", "SIZE"}}
for p = 0, 2 do print("port", p, "name", dm:console_port_name(p)) end

step("The control messages the handshake brought")
for _, msg in ipairs(dm:console_ctrl_log()) do
  print(string.format("  %-12s id %d value %d%s", msg.event, msg.id, msg.value,
                      msg.name and ("  name " .. msg.name) or ""))
end

step("Data on port 2 both ways")
dm:console_write(2, "log line 1\n")
show(mp:port_read(2))
mp:port_write(2, "ack\n")
show(dm:console_read(2))

step("The host resizes the console")
mp:resize(132, 43)
dm:console_read(0) -- runs the machine: the RESIZE control message arrives
local log = dm:console_ctrl_log()
local last = log[#log]
print("last control message:", last.event, last.cols, last.rows)

step("Counters of port 2")
show(mp:stats().ports[2])
print("\nThe end.")

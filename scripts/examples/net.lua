-- net.lua - virtio-net (spec 5.1): a loopback round trip, a capture file of
-- what the guest sent, and the control queue's rx filter.
-- Run: vqsim scripts/examples/net.lua

local function step(title) print("\n== " .. title) end
local show = vqsim.show

local function mac(s)
  return (s:gsub("(%x%x):?", function(h) return string.char(tonumber(h, 16)) end))
end
-- An Ethernet frame: destination, source, ethertype 0x88b5 (local experimental), payload.
local function frame(dst, src, payload)
  return mac(dst) .. mac(src) .. "\x88\xb5" .. payload
end

step("A net device on the loopback backend: what the guest sends comes back")
local m = vqsim.machine{}
local net = m:add("net", {name = "eth0"})
local d = m:driver(net)
d:net_init{features = {"MAC", "STATUS", "CTRL_VQ", "CTRL_RX", "MRG_RXBUF"}}
print(net)
print("mac", d:net_mac())
show(d:features())

step("Round trip: send a frame, receive it with its 12-byte header")
local f = frame("52:54:00:12:34:56", "02:00:00:00:00:01", ("hello, wire! "):rep(5))
d:net_send(f)
local got, hdr = d:net_recv()
print("same bytes:", got == f, "length", #got)
show(hdr)

step("The host side injects a frame (net:receive)")
net:receive(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02", "broadcast from the host"))
got = d:net_recv()
print("received:", got:sub(15))

step("Rx filter over the control queue: promiscuous off, then only our MAC")
print("PROMISC 0:", d:net_ctrl("RX", "PROMISC", "\0"))
net:receive(frame("02:99:99:99:99:99", "02:00:00:00:00:02", "not for us"))
net:receive(frame("52:54:00:12:34:56", "02:00:00:00:00:02", "for us"))
print("first frame through:", d:net_recv():sub(15), " next:", d:net_recv())
print("rx_drop_filtered", net:stats().rx_drop_filtered, "ctrl_ok", net:stats().ctrl_ok)
print("unknown command:", d:net_ctrl("RX", 99, "\0"))

step("A pcap capture of transmitted frames (a temporary file)")
local path = os.tmpname()
local cap = m:add("net", {name = "eth1", backend = "pcap", ["pcap-out"] = path})
local dc = m:driver(cap)
dc:net_init{features = {"MAC"}}
for i = 1, 3 do
  dc:net_send(frame("ff:ff:ff:ff:ff:ff", "52:54:00:12:34:56", "frame " .. i .. (" "):rep(40)))
end
print("tx_frames", cap:stats().tx_frames, "tx_bytes", cap:stats().tx_bytes)
local fh = assert(io.open(path, "rb"))
local pcap = fh:read("a")
fh:close()
os.remove(path)
local magic, pos, records = string.unpack("<I4", pcap), 25, 0
while pos + 16 <= #pcap do -- record header: ts_sec, ts_usec, incl_len, orig_len
  local incl = string.unpack("<I4", pcap, pos + 8)
  records, pos = records + 1, pos + 16 + incl
end
print(string.format("pcap: %d bytes, magic 0x%08x, %d records", #pcap, magic, records))

step("Counters")
show(net:stats().tx_frames, net:stats().rx_frames)
print("\nThe end.")

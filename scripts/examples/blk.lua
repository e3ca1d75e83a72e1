-- blk.lua - virtio-blk (spec 5.2) from the reference driver's side: a RAM
-- disk and an image file, reads, writes, FLUSH, GET_ID, and a request the
-- device answers IOERR. Run: vqsim scripts/examples/blk.lua

local function step(title) print("\n== " .. title) end
local show = vqsim.show

step("A 1 MiB RAM disk with a serial number, driver asks for FLUSH")
local m = vqsim.machine{ram = "64M"}
local disk = m:add("blk", {name = "vda", size = "1M", serial = "vqsim-ram-0"})
local d = m:driver(disk)
d:init{features = {"FLUSH", "DISCARD", "WRITE_ZEROES"}}
print(disk)
show(d:features())
print("capacity", d:blk_capacity(), "sectors of 512 bytes")

step("Write sector 8, read it back, flush")
local data = ("vqsim!"):rep(86):sub(1, 512)
print("write", d:blk_write(8, data))
local back = d:blk_read(8, 512)
print("read back equal:", back == data)
print("flush", d:blk_flush())

step("GET_ID: the serial, 20 bytes NUL-padded on the wire")
show(d:blk_get_id())

step("Bad requests are answered, not crashes: status IOERR")
print("read past the end:", d:blk_read(d:blk_capacity(), 512))
print("unaligned length: ", d:blk_read(0, 100))
local st = disk:stats()
print("out_of_range", st.out_of_range, "bad_length", st.bad_length, "status_ioerr", st.status_ioerr)

step("WRITE_ZEROES and DISCARD")
print("write_zeroes", d:blk_write_zeroes(8, 1), "sector 8 is zero:",
      d:blk_read(8, 512) == ("\0"):rep(512))
print("discard", d:blk_discard(16, 8))

step("An image file as the backend (64 KiB, a temporary file)")
local path = os.tmpname()
local f = assert(io.open(path, "wb"))
f:write(("IMAGE..."):rep(64 * 1024 / 8))
f:close()
local img = m:add("blk", {name = "vdb", backend = "file", path = path})
local di = m:driver(img)
di:init{features = {"FLUSH"}}
print(img)
print("capacity", di:blk_capacity(), "sector 0 starts:", di:blk_read(0, 512):sub(1, 16))
print("write", di:blk_write(1, ("W"):rep(512)), "flush", di:blk_flush())
f = assert(io.open(path, "rb"))
f:seek("set", 512)
print("the file now holds at 512:", f:read(8))
f:close()
os.remove(path)

step("Counters of the RAM disk")
show(disk:stats().req_in, disk:stats().req_out, disk:stats().syncs)
print("\nThe end.")

-- Regression scripts for what the fuzz harnesses found (tests/fuzz): each
-- replays the finding through the shell and checks the fixed behaviour.
--
-- fuzz_ring, 2026-12-04: with chains popped and not yet used, avail idx
-- could move up to a whole queue size further: more chains in flight than
-- the queue has descriptors, the same heads popped twice (9 chains from a
-- queue of 8). Here net holds two receive chains (MRG_RXBUF: a frame waits
-- for more room) when the guest claims eight more: RING_AVAIL_IDX.
local H = dofile(debug.getinfo(1, "S").source:match("^@(.*)/") .. "/../hostile/hostile.lib")
H.use_ring("split")   -- split-ring rules: an avail idx rule
local N, BUF = H.N, H.BUF
local F = H.F

test("avail idx leaving more chains unused than the queue size", {spec = "2.7.6",
     tags = {"regress", "fuzz_ring"}}, function()
  local m, dev = H.machine("net", {["mrg-rxbuf"] = "on"})
  local q = H.init(dev, {features = {"MRG_RXBUF"}, queues = {0, 1}})
  -- two small receive buffers; a 1000-byte frame needs more: both held
  for i = 0, 1 do
    q:desc(i, {addr = BUF + 0x100 * i, len = 64, flags = "WRITE"})
    q:post(i)
  end
  q:notify()
  H.run(m)
  dev:receive(F.frame(1000))
  H.run(m)
  eq(q:used_idx(), 0, "both buffers held, nothing used yet")
  -- the guest claims a whole queue more
  q:avail_idx(q:avail_idx() + N)
  q:notify()
  dev:receive(F.frame(60))
  H.run(m)
  H.broken(m, dev, "RING_AVAIL_IDX")
  ok(dev.error_msg:find("chains not yet used", 1, true), "the error says why")
  eq(dev:stats().chains, 2, "no head popped twice")
  eq(H.guard_hits(m), 0)
end)

-- record.lua - the record/replay serializer and vqsim.record from Lua (run
-- by tests/shell/record.sh through vqsim --test).
local R = require "record"
local F = require "fixtures"

local function roundtrip(v, names)
  return assert(load("return " .. R.literal(v, names)))()
end

test("literals: numbers, booleans, nil", function()
  eq(R.literal(nil), "nil"); eq(R.literal(true), "true"); eq(R.literal(false), "false")
  eq(R.literal(42), "42"); eq(R.literal(-7), "-7")
  eq(R.literal(math.mininteger), "math.mininteger")
  eq(math.type(roundtrip(math.mininteger)), "integer")
  eq(roundtrip(0.1), 0.1); eq(math.type(roundtrip(2.0)), "float")
  eq(roundtrip(math.huge), math.huge); eq(roundtrip(-math.huge), -math.huge)
  local nan = roundtrip(0 / 0)
  ok(nan ~= nan, "nan")
end)

test("literals: strings with quotes, newlines, NULs, high bytes", function()
  for _, s in ipairs{"", "plain", 'say "hi"', "a\nb\r\nc", "nul\0byte", "back\\slash",
                     "\255\128\1", "]]", "--[[ not a comment"} do
    local lit = R.literal(s)
    ok(not lit:find("\n"), "one line: " .. lit)
    eq(roundtrip(s), s)
  end
end)

test("literals: tables, nested, keys sorted, list part in order", function()
  eq(R.literal({}), "{}")
  eq(R.literal({3, 2, 1}), "{3, 2, 1}")
  eq(R.literal({b = 1, a = 2, [10] = "x", ["not ident"] = true, ["end"] = 0}),
     '{[10] = "x", a = 2, b = 1, ["end"] = 0, ["not ident"] = true}')
  local t = {features = {"EVENT_IDX"}, {1, 2, "w"}, nested = {deep = {"x\n"}}}
  local back = roundtrip(t)
  eq(back.features[1], "EVENT_IDX"); eq(back[1][3], "w"); eq(back.nested.deep[1], "x\n")
end)

test("literals: objects by name; functions, cycles and unnamed objects raise", function()
  local m, rng, d, q = F.rng()
  local names = {[m] = "m1", [rng] = "rng0_1"}
  eq(R.literal(m, names), "m1")
  eq(R.literal({dev = rng, list = {m}}, names), "{dev = rng0_1, list = {m1}}")
  eq(R.classof(d), "d"); eq(R.classof(q), "q"); eq(R.classof(m.mem), "mem")
  eq(R.classof({}), nil)
  raises(function() R.literal(print) end, "cannot record a function")
  local c = {}; c.self = c
  raises(function() R.literal(c) end, "cycle")
  raises(function() R.literal(d, names) end, "has not seen")
end)

test("vqsim.record writes a script that replays to the same trace", function()
  local file, tfile = os.tmpname(), os.tmpname()
  ok(vqsim.record(file))
  local m = vqsim.machine{ram = "16M", seed = 99}
  m:trace{file = tfile, format = "json"}
  local rng = m:add("rng")
  local d = m:driver(rng)
  d:init()
  local q = d:queue(0)
  q:post(9999); q:notify(); m:run()
  raises(function() d:rng_read(4) end, "needs reset")
  d:init()
  local _ = d:rng_read(4), tostring(d), d.status
  m:trace(false)
  ok(vqsim.record(false))
  local log = assert(io.open(tfile)):read("a")
  -- calls after the recording stopped are not recorded
  rng:reset()
  local text = assert(io.open(file)):read("a")
  os.remove(file)
  ok(text:find('m1 = vqsim.machine({ram = "16M", seed = 99})', 1, true), text)
  ok(text:find('pcall(d1["rng_read"], d1, 4)', 1, true), text)
  ok(not text:find("reset"), text)
  -- replay in this state: the recording's globals are its own
  local env = setmetatable({}, {__index = _G})
  assert(load(text, "=replay", "t", env))()
  local again = assert(io.open(tfile)):read("a")
  os.remove(tfile)
  ok(#log > 1000, "a trace")
  ok(again == log, "the replay's trace is the original's")
end)

test("files the script makes are recreated by the replay", function()
  local file = os.tmpname()
  ok(vqsim.record(file))
  local m = vqsim.machine{ram = "16M", seed = 5}
  local img = os.tmpname()
  local f = assert(io.open(img, "wb"))
  f:write(("\0"):rep(4096), ("ab"):rep(2048), ("\0"):rep(4096))
  f:close()
  local blk = m:add("blk", {backend = "file", path = img})
  local d = m:driver(blk)
  d:init()
  local first = d:blk_read(8, 512)
  os.remove(img)
  ok(vqsim.record(false))
  local text = assert(io.open(file)):read("a")
  os.remove(file)
  ok(text:find("T1 = os.tmpname()", 1, true), text)
  -- size and the one non-zero block, at its offset; holes stay holes
  ok(text:find('vqsim_record_.restore_file(T1, 12288, {[4096] = "abab', 1, true), text)
  ok(text:find('path = T1', 1, true), text)
  ok(text:find("os.remove(T1)", 1, true), text)
  eq(first, ("ab"):rep(256))
  -- the replay recreates the image (under a new temporary name) and removes it
  local env = setmetatable({}, {__index = _G})
  assert(load(text, "=replay", "t", env))()
  ok(env.T1 and env.T1 ~= img, "a fresh temporary name")
  eq(io.open(env.T1), nil, "removed again")
  eq(env.d1:blk_read(8, 512), first)
end)

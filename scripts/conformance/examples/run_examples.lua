-- Every script in scripts/examples runs to its end without an error. Their
-- output is captured (kept out of the TAP stream) and checked for the
-- closing "The end." line; each runs twice to check it is deterministic.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local dir = here .. "/../../examples/"

local function run(name)
  local out = {}
  local saved = print
  print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    out[#out + 1] = table.concat(t, "\t", 1, t.n)
  end
  local okc, err = pcall(dofile, dir .. name)
  print = saved
  collectgarbage()
  if not okc then error(name .. ": " .. tostring(err), 0) end
  return table.concat(out, "\n")
end

for _, ex in ipairs({
  {"tour.lua", "2.7"}, {"blk.lua", "5.2"}, {"net.lua", "5.1"},
  {"balloon.lua", "5.5"}, {"console.lua", "5.3"},
}) do
  test("example " .. ex[1] .. " runs to the end, the same twice", {spec = ex[2]}, function()
    local first = run(ex[1])
    ok(first:find("The end.", 1, true), "the script reached its last line")
    eq(run(ex[1]), first, "same output on a second run")
  end)
end

-- prelude.lua - loaded into every vqsim Lua state before any user code.
-- Defines vqsim.pretty (how the REPL prints values) and loads the test
-- library (test, ok, eq, neq, raises, skip as globals).

local pretty_max_items = 40
local pretty_max_width = 100

local function is_ident(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\"
    elseif c == "\n" then return "\\n" elseif c == "\t" then return "\\t"
    elseif c == "\r" then return "\\r" end
    return string.format("\\x%02x", c:byte())
  end) .. '"'
end

local function sorted_keys(t)
  local keys, n = {}, #t
  for k in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys, n
end

local pretty

local function pretty_table(t, depth, seen, indent)
  if seen[t] then return "{<cycle>}" end
  if depth > 3 then return "{...}" end
  seen[t] = true
  local keys, n = sorted_keys(t)
  local parts, count = {}, 0
  for i = 1, n do
    count = count + 1
    if count > pretty_max_items then break end
    parts[#parts + 1] = pretty(t[i], false, depth + 1, seen, indent .. "  ")
  end
  for _, k in ipairs(keys) do
    count = count + 1
    if count > pretty_max_items then break end
    local ks = is_ident(k) and k or "[" .. pretty(k, false, depth + 1, seen, indent) .. "]"
    parts[#parts + 1] = ks .. " = " .. pretty(t[k], false, depth + 1, seen, indent .. "  ")
  end
  if count > pretty_max_items then
    parts[#parts + 1] = string.format("... (%d more)", n + #keys - pretty_max_items)
  end
  seen[t] = nil
  if #parts == 0 then return "{}" end
  local one = "{" .. table.concat(parts, ", ") .. "}"
  if #one + #indent <= pretty_max_width and not one:find("\n") then return one end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") ..
    "\n" .. indent .. "}"
end

-- A readable one-value summary: strings quoted, big integers also in hex,
-- tables one level at a time, vqsim objects through their __tostring.
function pretty(v, top, depth, seen, indent)
  local t = type(v)
  depth, seen, indent = depth or 0, seen or {}, indent or ""
  if t == "string" then
    return quote(v)
  elseif math.type(v) == "integer" then
    if top and (v >= 0x10000 or v < 0) then return string.format("%d (0x%x)", v, v) end
    if not top and (v >= 0x1000000 or v < 0) then return string.format("0x%x", v) end
    return tostring(v)
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt and mt.__tostring then return tostring(v) end
    return pretty_table(v, depth, seen, indent)
  end
  return tostring(v)
end

vqsim.pretty = function(v, top) return pretty(v, top) end

-- Print values the way the REPL does.
function vqsim.show(...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = pretty((select(i, ...)), true) end
  print(table.concat(out, "\t"))
end

local testlib = require("test")
for _, name in ipairs({"test", "ok", "eq", "neq", "raises", "skip"}) do
  _G[name] = testlib[name]
end

-- vqsim.record(FILE) / vqsim.record(false): record the session as a Lua
-- script that replays it (record.lua; vqsim-lua(7) RECORD AND REPLAY).
function vqsim.record(file) return require("record").record(file) end

-- record.lua - record/replay (vqsim-lua(7) RECORD AND REPLAY).
--
-- vqsim.record(FILE) wraps every method of the binding classes (machine,
-- mem, device, driver, queue), their field lookups and vqsim.machine with
-- recording closures; each call made from user code (not from inside
-- another binding call) is appended to FILE as one Lua statement with
-- literal arguments, objects named by recording-assigned globals (m1,
-- mem1, rng0_1, d1, q1, ...). Running FILE replays the session: the same
-- calls in the same order on the same seed, so the same trace.
-- vqsim.record(false) stops. The module returns the serializer too, for
-- tests: M.literal(v, names) -> Lua source of v.

local M = {}

local CLASSES = {
  ["vqsim.machine"] = "m", ["vqsim.mem"] = "mem", ["vqsim.device"] = "dev",
  ["vqsim.driver"] = "d", ["vqsim.queue"] = "q",
}

local state            -- the active recording, or nil
local originals = {}   -- [methods table] = {name = original function}
local orig_index = {}  -- [metatable] = original __index
local orig_machine     -- the original vqsim.machine
local orig_tostring = {} -- [metatable] = original __tostring

-- The class prefix of a binding object, or nil for anything else.
local function classof(v)
  if type(v) ~= "userdata" then return nil end
  local mt = getmetatable(v)
  local reg = debug.getregistry()
  for tname, prefix in pairs(CLASSES) do
    if reg[tname] == mt then return prefix end
  end
  return nil
end
M.classof = classof

local function is_ident(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and
    not ({["and"]=1, ["break"]=1, ["do"]=1, ["else"]=1, ["elseif"]=1, ["end"]=1,
          ["false"]=1, ["for"]=1, ["function"]=1, ["goto"]=1, ["if"]=1, ["in"]=1,
          ["local"]=1, ["nil"]=1, ["not"]=1, ["or"]=1, ["repeat"]=1, ["return"]=1,
          ["then"]=1, ["true"]=1, ["until"]=1, ["while"]=1})[s]
end

local function number_literal(v)
  if math.type(v) == "integer" then
    if v == math.mininteger then return "math.mininteger" end
    return string.format("%d", v)
  end
  if v ~= v then return "(0/0)" end
  if v == math.huge then return "math.huge" end
  if v == -math.huge then return "-math.huge" end
  local s = string.format("%.17g", v)
  if not s:find("[%.eEn]") then s = s .. ".0" end -- stays a float
  return s
end

-- Lua source for v: nil, booleans, numbers, strings (%q), binding objects
-- (their names in names, a table object -> name) and tables of those
-- (list part in order, then the other keys sorted). Raises for anything
-- else (functions, cycles, unnamed objects).
function M.literal(v, names, seen)
  local t = type(v)
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "number" then return number_literal(v) end
  if t == "string" then
    if names and names[v] then return names[v] end -- a temporary file's variable
    return (string.format("%q", v):gsub("\\\n", "\\n"):gsub("\r", "\\r"))
  end
  if t == "userdata" and classof(v) then
    local n = names and names[v]
    if not n then error("an object the recording has not seen: " .. tostring(v), 0) end
    return n
  end
  if t ~= "table" then error("cannot record a " .. t, 0) end
  seen = seen or {}
  if seen[v] then error("cannot record a table with a cycle", 0) end
  seen[v] = true
  local parts, n = {}, #v
  for i = 1, n do parts[#parts + 1] = M.literal(v[i], names, seen) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "boolean" then return (not a) and b end
    return a < b
  end)
  for _, k in ipairs(keys) do
    local ks = is_ident(k) and k or "[" .. M.literal(k, names, seen) .. "]"
    parts[#parts + 1] = ks .. " = " .. M.literal(v[k], names, seen)
  end
  seen[v] = nil
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function emit(line)
  state.f:write(line, "\n")
  state.f:flush()
end

local function warn(msg)
  emit("-- not recorded: " .. msg:gsub("\n", " "))
  io.stderr:write("vqsim: record: ", msg, "\n")
end

-- A new global name for object o (a class prefix, or a device's own name
-- and its machine's number).
local function name_object(o, hint)
  local prefix = classof(o)
  local base
  if prefix == "dev" then
    local ok, n = pcall(function() return o.name end)
    base = (ok and type(n) == "string" and n or "dev"):gsub("[^%w_]", "_")
    if not base:match("^[%a_]") then base = "dev" .. base end
    base = base .. "_" .. (hint or "")
  else
    base = prefix
  end
  local count = (state.counts[base] or 0) + 1
  local name = base .. count
  if prefix == "dev" and count == 1 then name = base:gsub("_$", "") end
  while state.used[name] do
    count = count + 1
    name = base .. count
  end
  state.counts[base] = count
  state.used[name] = true
  state.names[o] = name
  return name
end

-- The number of the machine that owns the object named by recv, for
-- naming devices after it ("rng0_1").
local function machine_hint(recv)
  local n = recv and state.names[recv]
  return n and n:match("(%d+)$") or ""
end

-- Find unnamed objects in the results (top level, or in tables two levels
-- down): a list of {path, object}.
local function find_new(res)
  local found = {}
  local function walk(v, path, depth, seen)
    if classof(v) then
      if not state.names[v] and not seen[v] then
        seen[v] = true
        found[#found + 1] = {path, v}
      end
    elseif type(v) == "table" and depth < 3 and not seen[v] then
      seen[v] = true
      for k, x in pairs(v) do
        if type(k) == "string" or math.type(k) == "integer" then
          walk(x, path .. "[" .. M.literal(k) .. "]", depth + 1, seen)
        end
      end
    end
  end
  local seen = {}
  for i = 1, res.n do walk(res[i], "[" .. i .. "]", 0, seen) end
  table.sort(found, function(a, b) return a[1] < b[1] end)
  return found
end

-- Write the statement for a call expression expr that returned res,
-- naming the new objects it returned.
local function emit_call(expr, res, recv)
  local new = find_new(res)
  if #new == 0 then return emit(expr) end
  if #new == 1 and new[1][1] == "[1]" then
    return emit(name_object(new[1][2], machine_hint(recv)) .. " = " .. expr)
  end
  emit("R = table.pack(" .. expr .. ")")
  for _, e in ipairs(new) do emit(name_object(e[2], machine_hint(recv)) .. " = R" .. e[1]) end
end

-- Per-method rewrites of the recorded arguments: args (a packed list,
-- receiver first) and results -> the arguments to record.
local rewrite = {
  m = {
    -- the predicate is a closure: replay the number of steps it allowed
    run_until = function(args, res)
      return {n = 3, args[1], "__NEVER__", res[2]}
    end,
  },
}

-- The recorded text of a call of method name (class prefix) with args.
local function call_text(prefix, name, args, res)
  local rw = rewrite[prefix] and rewrite[prefix][name]
  if rw and res then args = rw(args, res) end
  local recv = M.literal(args[1], state.names)
  if name == "__tostring" then return "_ = tostring(" .. recv .. ")", recv, {} end
  local parts = {}
  for i = 2, args.n do
    if args[i] == "__NEVER__" then
      parts[#parts + 1] = "function() return false end"
    else
      parts[#parts + 1] = M.literal(args[i], state.names)
    end
  end
  local method = is_ident(name) and ":" .. name or nil
  if method then return recv .. method .. "(" .. table.concat(parts, ", ") .. ")", recv, parts end
  return recv .. "[" .. M.literal(name) .. "](" .. table.concat({recv, table.unpack(parts)}, ", ") ..
    ")", recv, parts
end

-- Record a call that returned normally.
local function record_ok(prefix, name, args, res)
  local ok, text = pcall(call_text, prefix, name, args, res)
  if not ok then return warn(prefix .. ":" .. name .. ": " .. text) end
  emit_call(text, res, args[1])
end

-- Record a call that raised: pcall(recv.method, recv, args...).
local function record_err(prefix, name, args)
  local ok, text, recv, parts = pcall(call_text, prefix, name, args, nil)
  if not ok then return warn(prefix .. ":" .. name .. ": " .. text) end
  if name == "__tostring" then return emit("pcall(tostring, " .. recv .. ")") end
  emit("pcall(" .. recv .. "[" .. M.literal(name) .. "], " ..
    table.concat({recv, table.unpack(parts)}, ", ") .. ")")
end

-- ---- files the script makes: temporary images and the like ----
--
-- A script that makes a file (os.tmpname(), or io.open of a new path for
-- writing), hands its path to a binding call (m:add("blk", {path = P}))
-- and deletes it could not be replayed: the file is gone. So the recording
-- follows such files: os.tmpname() is recorded as a new variable (T1 =
-- os.tmpname()) that stands for the path in later calls; before the first
-- binding call that names the file (and again after the script wrote it)
-- its contents are written into the recording (restore_file: the size and
-- the 4 KiB blocks that are not all zero); os.remove of it is recorded too.

local BLOCK = 4096

-- Recreate the file at path: size bytes, blocks = {[offset] = data}, zero
-- elsewhere (holes). Used by recordings; returns path.
function M.restore_file(path, size, blocks)
  local f = assert(io.open(path, "wb"))
  local offs = {}
  for off in pairs(blocks) do offs[#offs + 1] = off end
  table.sort(offs)
  local endpos = 0
  for _, off in ipairs(offs) do
    f:seek("set", off)
    f:write(blocks[off])
    endpos = off + #blocks[off]
  end
  if size > endpos then
    f:seek("set", size - 1)
    f:write("\0")
  end
  f:close()
  return path
end

-- Emit the contents of tracked file path (as its name expression).
local function snapshot(path, info)
  local f = io.open(path, "rb")
  if not f then return end -- not there (yet): nothing to restore
  local parts, off = {}, 0
  while true do
    local b = f:read(BLOCK)
    if not b then break end
    if b:find("[^%z]") then
      parts[#parts + 1] = "[" .. off .. "] = " .. M.literal(b)
    end
    off = off + #b
  end
  f:close()
  if not state.restore_loaded then
    emit('vqsim_record_ = require "record"')
    state.restore_loaded = true
  end
  emit("vqsim_record_.restore_file(" .. M.literal(path, state.names) .. ", " .. off .. ", {" ..
       table.concat(parts, ", ") .. "})")
  info.dirty = false
end

-- Before a recorded call: restore every tracked file its arguments name
-- (strings anywhere in them, tables two levels down) that changed since.
local function restore_named_files(args)
  if not next(state.files) then return end
  local function walk(v, d)
    if type(v) == "string" then
      local info = state.files[v]
      if info and info.dirty then snapshot(v, info) end
    elseif type(v) == "table" and d < 3 then
      for _, x in pairs(v) do walk(x, d + 1) end
    end
  end
  for i = 1, args.n do walk(args[i], 0) end
end

local orig_io_open, orig_tmpname, orig_remove

local function track(path, var)
  state.files[path] = {dirty = true}
  if var then state.names[path] = var end
end

local function install_files()
  orig_io_open, orig_tmpname, orig_remove = io.open, os.tmpname, os.remove
  os.tmpname = function()
    local p = orig_tmpname()
    if state then
      local var
      repeat
        state.counts.T = (state.counts.T or 0) + 1
        var = "T" .. state.counts.T
      until not state.used[var]
      state.used[var] = true
      emit(var .. " = os.tmpname()")
      track(p, var)
    end
    return p
  end
  io.open = function(path, mode, ...)
    local writes = type(mode) == "string" and mode:find("[wa+]") ~= nil
    -- exists? (rename to itself: no open, so a FIFO cannot block here)
    local existed = writes and type(path) == "string" and os.rename(path, path)
    local f, err, code = orig_io_open(path, mode, ...)
    if f and writes and state then
      if state.files[path] then
        state.files[path].dirty = true
      elseif not existed then
        track(path) -- a new file: its contents are recorded when a call names it
      end
    end
    return f, err, code
  end
  os.remove = function(path, ...)
    local info = state and type(path) == "string" and state.files[path]
    local r, err, code = orig_remove(path, ...)
    if info and r then
      emit("os.remove(" .. M.literal(path, state.names) .. ")")
      state.files[path] = nil
    end
    return r, err, code
  end
end

local function uninstall_files()
  io.open, os.tmpname, os.remove = orig_io_open, orig_tmpname, orig_remove
end

local depth = 0 -- binding calls in progress (only the outermost is recorded)

-- A to-be-closed token for one call: records the call if it raised.
local Token = {}
Token.__close = function(tok, err)
  depth = depth - 1
  if err ~= nil and tok.active and state then record_err(tok.prefix, tok.name, tok.args) end
end

-- The wrapper of original method f of class prefix, named name.
local function wrap(prefix, name, f)
  local function pre(...)
    depth = depth + 1
    local tok = setmetatable({prefix = prefix, name = name, active = depth == 1 and state ~= nil},
                             Token)
    if tok.active then
      tok.args = table.pack(...)
      restore_named_files(tok.args)
    end
    return tok
  end
  local function post(tok, ...)
    if tok.active and state then
      tok.active = false -- a raise after this point is not the call's
      local res = table.pack(...)
      record_ok(prefix, name, tok.args, res)
    end
    return ...
  end
  -- the local named after the method keeps argument errors naming it
  local lname = is_ident(name) and name or "f"
  local src = ([[
local rec_pre_, rec_post_, %s = ...
return function(...)
  local tok <close> = rec_pre_(...)
  return rec_post_(tok, %s(...))
end]]):format(lname, lname)
  return assert(load(src, "=[vqsim.record]", "t"))(pre, post, f)
end

local function funcnames()
  local reg = debug.getregistry()
  return reg["vqsim.funcnames"] or {}
end

local function install()
  local reg, fn = debug.getregistry(), funcnames()
  for tname, prefix in pairs(CLASSES) do
    local mt = reg[tname]
    local methods = mt.__methods
    local saved = {}
    for name, f in pairs(methods) do
      if type(f) == "function" then
        saved[name] = f
        local w = wrap(prefix, name, f)
        fn[w] = fn[f]
        methods[name] = w
      end
    end
    originals[methods] = saved
    -- tostring(obj) may read registers too (a driver's status)
    orig_tostring[mt] = mt.__tostring
    if mt.__tostring then mt.__tostring = wrap(prefix, "__tostring", mt.__tostring) end
    local index = mt.__index
    orig_index[mt] = index
    mt.__index = function(o, k)
      local v = index(o, k)
      -- a field read is recorded too: some getters read registers (d.status),
      -- which is a trace event
      if depth == 0 and state and type(v) ~= "function" and state.names[o] then
        local ok, ks = pcall(M.literal, k)
        if ok then
          local expr = is_ident(k) and state.names[o] .. "." .. k or state.names[o] .. "[" .. ks .. "]"
          if classof(v) and not state.names[v] then
            emit(name_object(v, machine_hint(o)) .. " = " .. expr)
          else
            emit("_ = " .. expr)
          end
        end
      end
      return v
    end
  end
  orig_machine = vqsim.machine
  local machine = orig_machine
  local w = function(opts, ...)
    local ok_depth = depth == 0 and state ~= nil
    if not ok_depth then return machine(opts, ...) end
    local args = table.pack(opts, ...)
    depth = depth + 1
    local res = table.pack(pcall(machine, opts, ...))
    depth = depth - 1
    if not res[1] then
      local ok, s = pcall(M.literal, opts, state.names)
      if ok then emit("pcall(vqsim.machine, " .. s .. ")") else warn("vqsim.machine: " .. s) end
      error(res[2], 0)
    end
    -- the seed is always recorded, whatever the default was
    local o = type(opts) == "table" and {} or opts
    if type(opts) == "table" then for k, v in pairs(opts) do o[k] = v end end
    if type(o) == "table" and o.seed == nil then o.seed = res[2].seed end
    if args.n > 1 then warn("vqsim.machine: extra arguments ignored") end
    local ok, s = pcall(M.literal, o, state.names)
    if not ok then return warn("vqsim.machine: " .. s), res[2] end
    emit(name_object(res[2]) .. " = vqsim.machine(" .. s .. ")")
    return table.unpack(res, 2, res.n)
  end
  fn[w] = fn[machine]
  vqsim.machine = w
  install_files()
end

local function uninstall()
  local reg = debug.getregistry()
  for tname in pairs(CLASSES) do
    local mt = reg[tname]
    for name, f in pairs(originals[mt.__methods] or {}) do mt.__methods[name] = f end
    originals[mt.__methods] = nil
    mt.__index = orig_index[mt]
    orig_index[mt] = nil
    mt.__tostring = orig_tostring[mt]
    orig_tostring[mt] = nil
  end
  vqsim.machine = orig_machine
  orig_machine = nil
  uninstall_files()
end

-- vqsim.record(file): start recording to file (replacing a recording in
-- progress); vqsim.record(false): stop. Returns true.
function M.record(file)
  if state then
    state.f:close()
    state = nil
    uninstall()
  end
  if file == false or file == nil then return true end
  if type(file) ~= "string" then error("vqsim.record: expected a file name or false", 2) end
  local f, err = io.open(file, "w")
  if not f then error("vqsim.record: " .. err, 2) end
  state = {f = f, names = setmetatable({}, {__mode = "k"}), counts = {}, used = {}, files = {}}
  emit(("-- vqsim %s recording: replay with `vqsim FILE` (same trace options)"):format(
    vqsim.version))
  emit(("vqsim.seed = %d"):format(vqsim.seed))
  install()
  return true
end

-- True while a recording is in progress.
function M.recording() return state ~= nil end

return M

-- test.lua - the vqsim test library: test blocks tagged with spec sections,
-- assertions that report expected vs actual, TAP output.
--
--   test "name" (function() ... end)
--   test("name", {spec = "2.7.5"}, function() ... end)
--   test("name", {spec = {"2.7.5", "2.7.6"}}) (function() ... end)
--   test("name", {spec = "2.7.5", tags = {"hostile"}}, function() ... end)
--
-- A test runs as soon as it is defined and prints one TAP line. `vqsim
-- --test` calls begin/finish around each file; a plain `vqsim file.lua`
-- prints the same lines, and at exit vqsim calls summary(): the TAP plan
-- and a count line, then a failing exit status if a test failed.

local M = {}

local state = {number = 0, passed = 0, failed = 0, skipped = 0, sections = {},
               file = nil, in_test = false, filtered = 0}

local function yaml_str(s)
  s = tostring(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\"
    elseif c == "\n" then return "\\n" elseif c == "\t" then return "\\t" end
    return string.format("\\x%02x", c:byte())
  end) .. '"'
end

local function show(v)
  if vqsim and vqsim.pretty then
    local ok, s = pcall(vqsim.pretty, v, true)
    if ok then return s end
  end
  return tostring(v)
end

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if not info then return "?" end
  return string.format("%s:%d", info.short_src, info.currentline or 0)
end

-- An assertion failure: a table the runner recognises.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f)
  local s = f.message
  if f.has_expected then
    s = s .. string.format(" (expected %s, got %s)", show(f.expected), show(f.actual))
  end
  return f.where .. ": " .. s
end

local function fail(message, fields, level)
  local f = setmetatable({message = message, where = where(level + 1)}, Failure)
  for k, v in pairs(fields or {}) do f[k] = v end
  error(f, 0)
end

local Skip = {}

local function deep_eq(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  if getmetatable(a) and getmetatable(a).__eq then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_eq(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

--- ok(v [, msg]): v is neither nil nor false.
function M.ok(v, msg)
  if not v then
    fail(msg or "expected a true value", {has_expected = true, expected = true, actual = v}, 2)
  end
  return v
end

--- eq(actual, expected [, msg]): equal; tables are compared deeply.
function M.eq(actual, expected, msg)
  if not deep_eq(actual, expected) then
    fail(msg or "values differ", {has_expected = true, expected = expected, actual = actual}, 2)
  end
  return actual
end

--- neq(actual, unexpected [, msg]): not equal.
function M.neq(actual, unexpected, msg)
  if deep_eq(actual, unexpected) then
    fail(msg or "values are equal", {has_expected = true,
         expected = "anything but " .. show(unexpected), actual = actual}, 2)
  end
  return actual
end

--- raises(fn [, pattern [, msg]]): fn raises an error whose message
--- contains pattern (a Lua pattern); returns the message.
function M.raises(fn, pattern, msg)
  local okc, err = pcall(fn)
  if okc then
    fail(msg or "expected an error", {has_expected = true,
         expected = pattern and ("error matching " .. show(pattern)) or "an error",
         actual = "no error"}, 2)
  end
  local s = tostring(err)
  if pattern and not s:find(pattern) then
    fail(msg or "error message does not match", {has_expected = true,
         expected = "error matching " .. show(pattern), actual = s}, 2)
  end
  return s
end

--- skip(reason): stop the running test and report it skipped.
function M.skip(reason)
  error(setmetatable({reason = reason or ""}, Skip), 0)
end

local function sections_of(opts)
  local s = opts.spec
  if s == nil then return {} end
  if type(s) == "string" then return {s} end
  return s
end

local function report_failure(err)
  io.write("  ---\n")
  if getmetatable(err) == Failure then
    io.write("  message: ", yaml_str(err.message), "\n")
    if err.has_expected then
      io.write("  expected: ", yaml_str(show(err.expected)), "\n")
      io.write("  actual: ", yaml_str(show(err.actual)), "\n")
    end
    io.write("  at: ", yaml_str(err.where), "\n")
  else
    local msg, tb = tostring(err), nil
    local cut = msg:find("\nstack traceback:", 1, true)
    if cut then msg, tb = msg:sub(1, cut - 1), msg:sub(cut + 1) end
    io.write("  message: ", yaml_str(msg), "\n")
    if tb then io.write("  traceback: ", yaml_str(tb), "\n") end
  end
  io.write("  ...\n")
end

local function handler(err)
  if type(err) == "table" then return err end
  return debug.traceback(tostring(err), 2)
end

-- Does the test match one of the --filter patterns? A pattern matches a
-- test whose name contains it (plain text), a spec section equal to it or
-- below it ("2.7" matches "2.7.5"), or one of its tags (opts.tags).
local function selected(name, secs, opts)
  local pats = state.filters
  if not pats or #pats == 0 then return true end
  local tags = opts.tags
  if type(tags) == "string" then tags = {tags} end
  for _, p in ipairs(pats) do
    if name:find(p, 1, true) then return true end
    for _, s in ipairs(secs) do
      if s == p or s:sub(1, #p + 1) == p .. "." then return true end
    end
    for _, t in ipairs(tags or {}) do
      if t == p then return true end
    end
  end
  return false
end

-- A skip that names a known bug is a failure: a known bug must fail.
local function names_a_bug(reason)
  return tostring(reason):find("^%s*[Bb][Uu][Gg]%f[%W]") ~= nil or
    tostring(reason):lower():find("known bug", 1, true) ~= nil
end

-- Is a device of vqsim.defaults.outside under test (--device vhost-user:...)?
local function outside()
  local d = vqsim and vqsim.defaults and vqsim.defaults.outside
  return d ~= nil and next(d) ~= nil
end
M.outside = outside

local function has_tag(opts, tag)
  local tags = opts.tags
  if type(tags) == "string" then tags = {tags} end
  for _, t in ipairs(tags or {}) do if t == tag then return true end end
  return false
end

-- --expect FILE: known differences of an outside device, one per line:
--   test name | spec clause | what the device did
-- ('#' starts a comment line). Returns {name = "clause: what"}.
function M.load_expect(path)
  local f, err = io.open(path)
  if not f then error("--expect: " .. err, 0) end
  local known, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if not line:match("^%s*#") and line:match("%S") then
      local name, clause, what = line:match("^%s*(.-)%s*|%s*(.-)%s*|%s*(.-)%s*$")
      if not name or name == "" or clause == "" or what == "" then
        f:close()
        error(string.format("--expect: %s:%d: expected 'test name | spec clause | what "
                            .. "the device did'", path, n), 0)
      end
      known[name] = clause .. ": " .. what
    end
  end
  f:close()
  return known
end

local function run(name, opts, fn)
  if type(name) ~= "string" then
    error("bad argument #1 to 'test' (test name expected, got " .. type(name) .. ")", 3)
  end
  if type(fn) ~= "function" then
    error("bad argument to 'test' (function expected for test '" .. name .. "')", 3)
  end
  if state.in_test then
    error("test '" .. name .. "' defined inside another test", 3)
  end
  local secs = sections_of(opts)
  if not selected(name, secs, opts) then
    state.filtered = state.filtered + 1
    return nil
  end
  state.number = state.number + 1
  if outside() and has_tag(opts, "model") then
    state.skipped = state.skipped + 1
    io.write(string.format("ok %d - %s # SKIP model: checks vqsim's own device model, "
                           .. "not an outside device\n", state.number, name))
    return nil
  end
  state.in_test = true
  local t0 = state.clock and state.clock()
  local okc, err = xpcall(fn, handler)
  local elapsed = t0 and state.clock() - t0
  state.in_test = false
  collectgarbage() -- machines hold memfds: free them between tests
  local tag = #secs > 0 and (" # spec " .. table.concat(secs, ", ")) or ""
  if not okc and getmetatable(err) == Skip and names_a_bug(err.reason) then
    err = setmetatable({message = "a known bug must fail, not skip: " .. tostring(err.reason),
                        where = "skip"}, Failure)
  end
  if okc then
    state.passed = state.passed + 1
    for _, s in ipairs(secs) do state.sections[s] = (state.sections[s] or 0) + 1 end
    io.write(string.format("ok %d - %s%s\n", state.number, name, tag))
  elseif getmetatable(err) == Skip then
    state.skipped = state.skipped + 1
    io.write(string.format("ok %d - %s # SKIP %s\n", state.number, name, err.reason))
  elseif state.known and state.known[name] then
    -- a known difference of the outside device: visible, not a failure
    state.known_seen = state.known_seen + 1
    io.write(string.format("not ok %d - %s # TODO known difference: %s\n", state.number,
                           name, state.known[name]))
    report_failure(err)
  else
    state.failed = state.failed + 1
    io.write(string.format("not ok %d - %s%s\n", state.number, name, tag))
    report_failure(err)
  end
  if okc and state.known and state.known[name] then
    io.write("# listed in --expect but passed: remove it from the file\n")
  end
  -- wall time, under vqsim --test only; a comment line, so TAP consumers
  -- and output comparisons of plain runs are unaffected
  if elapsed then io.write(string.format("# time=%.3fms\n", elapsed * 1000)) end
  io.flush()
  return okc
end

--- test(name [, opts], fn) or test(name [, opts]) (fn)
function M.test(name, opts, fn)
  if type(opts) == "function" then opts, fn = {}, opts end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #2 to 'test' (options table expected, got " .. type(opts) .. ")", 2)
  end
  if fn == nil then
    return function(f) return run(name, opts, f) end
  end
  return run(name, opts, fn)
end

-- Runner interface (vqsim --test).
-- begin(number, file [, opts]): opts.filters (a list of patterns, see
-- selected) and opts.clock (a function returning seconds, for times).
function M.begin(number, file, opts)
  state.number, state.file = number, file
  state.passed, state.failed, state.skipped, state.sections = 0, 0, 0, {}
  state.filtered = 0
  state.runner = true
  opts = opts or {}
  state.filters, state.clock = opts.filters, opts.clock
  state.known, state.known_seen = opts.expect and M.load_expect(opts.expect), 0
end

function M.file_error(file, err)
  state.number = state.number + 1
  state.failed = state.failed + 1
  io.write(string.format("not ok %d - %s: error outside a test\n", state.number, file))
  report_failure(err)
end

function M.finish()
  return state.number, state.passed, state.failed, state.skipped, state.sections,
    state.filtered, state.known_seen or 0
end

-- Plain `vqsim file.lua` (main.c calls this at exit): when tests ran,
-- print the plan and the counts; returns how many tests failed.
function M.summary()
  if state.runner or state.number == 0 then return state.failed end
  io.write(string.format("1..%d\n# %d passed, %d failed, %d skipped\n",
           state.number, state.passed, state.failed, state.skipped))
  io.flush()
  return state.failed
end

-- The normative sections ("Driver/Device Requirements: ...") of the areas
-- vqsim implements, as numbered in virtio 1.2 (cs01), from the spec's TeX
-- sources. Legacy-interface sections are left out, and so is RSS
-- (5.1.6.5.7: VIRTIO_NET_F_RSS is not offered).
M.NORMATIVE = {
  {area = "device status, features, reset, config space (chapter 2)", sections = {
    {"2.1.1", "Driver Requirements: Device Status Field"},
    {"2.1.2", "Device Requirements: Device Status Field"},
    {"2.2.1", "Driver Requirements: Feature Bits"},
    {"2.2.2", "Device Requirements: Feature Bits"},
    {"2.4.1", "Device Requirements: Device Reset"},
    {"2.4.2", "Driver Requirements: Device Reset"},
    {"2.5.1", "Driver Requirements: Device Configuration Space"},
    {"2.5.2", "Device Requirements: Device Configuration Space"},
  }},
  {area = "virtqueue reset (2.6)", sections = {
    {"2.6.1.1.1", "Device Requirements: Virtqueue Reset"},
    {"2.6.1.1.2", "Driver Requirements: Virtqueue Reset"},
    {"2.6.1.2.1", "Device Requirements: Virtqueue Re-enable"},
    {"2.6.1.2.2", "Driver Requirements: Virtqueue Re-enable"},
  }},
  {area = "split virtqueues (2.7)", sections = {
    {"2.7.1", "Driver Requirements: Virtqueues"},
    {"2.7.4.1", "Device Requirements: Message Framing"},
    {"2.7.4.2", "Driver Requirements: Message Framing"},
    {"2.7.5.1", "Device Requirements: The Virtqueue Descriptor Table"},
    {"2.7.5.2", "Driver Requirements: The Virtqueue Descriptor Table"},
    {"2.7.5.3.1", "Driver Requirements: Indirect Descriptors"},
    {"2.7.5.3.2", "Device Requirements: Indirect Descriptors"},
    {"2.7.6.1", "Driver Requirements: The Virtqueue Available Ring"},
    {"2.7.7.1", "Driver Requirements: Used Buffer Notification Suppression"},
    {"2.7.7.2", "Device Requirements: Used Buffer Notification Suppression"},
    {"2.7.8.2", "Device Requirements: The Virtqueue Used Ring"},
    {"2.7.8.3", "Driver Requirements: The Virtqueue Used Ring"},
    {"2.7.10.1", "Driver Requirements: Available Buffer Notification Suppression"},
    {"2.7.10.2", "Device Requirements: Available Buffer Notification Suppression"},
    {"2.7.13.3.1", "Driver Requirements: Updating idx"},
    {"2.7.13.4.1", "Driver Requirements: Notifying The Device"},
  }},
  -- 2.8 and 4.1 checked against the spec's \devicenormative/\drivernormative
  -- sections (packed-ring.tex, transport-pci.tex; the same numbers in 1.2,
  -- 1.3 and 1.4); 4.1.4.7 (shared memory) and 4.1.4.8 (vendor data) are
  -- capabilities vqsim does not implement, the legacy notes neither
  {area = "packed virtqueues (2.8)", sections = {
    {"2.8.11", "Driver Requirements: Virtqueues"},
    {"2.8.12", "Device Requirements: Virtqueues"},
    {"2.8.15", "Device Requirements: The Virtqueue Descriptor Table"},
    {"2.8.16", "Driver Requirements: The Virtqueue Descriptor Table"},
    {"2.8.17", "Driver Requirements: Scatter-Gather Support"},
    {"2.8.18", "Device Requirements: Scatter-Gather Support"},
    {"2.8.19", "Driver Requirements: Indirect Descriptors"},
    {"2.8.21.1.1", "Driver Requirements: Updating flags"},
    {"2.8.21.3.1", "Driver Requirements: Sending Available Buffer Notifications"},
  }},
  {area = "device initialization and cleanup (3)", sections = {
    {"3.1.1", "Driver Requirements: Device Initialization"},
    {"3.3.1", "Driver Requirements: Device Cleanup"},
  }},
  {area = "virtio-pci (4.1)", sections = {
    {"4.1.1", "Device Requirements: Virtio Over PCI Bus"},
    {"4.1.2.1", "Device Requirements: PCI Device Discovery"},
    {"4.1.2.2", "Driver Requirements: PCI Device Discovery"},
    {"4.1.3.1", "Driver Requirements: PCI Device Layout"},
    {"4.1.3.2", "Device Requirements: PCI Device Layout"},
    {"4.1.4.1", "Driver Requirements: Virtio Structure PCI Capabilities"},
    {"4.1.4.2", "Device Requirements: Virtio Structure PCI Capabilities"},
    {"4.1.4.3.1", "Device Requirements: Common configuration structure layout"},
    {"4.1.4.3.2", "Driver Requirements: Common configuration structure layout"},
    {"4.1.4.4.1", "Device Requirements: Notification capability"},
    {"4.1.4.5.1", "Device Requirements: ISR status capability"},
    {"4.1.4.5.2", "Driver Requirements: ISR status capability"},
    {"4.1.4.6.1", "Device Requirements: Device-specific configuration"},
    {"4.1.4.9.1", "Device Requirements: PCI configuration access capability"},
    {"4.1.4.9.2", "Driver Requirements: PCI configuration access capability"},
    {"4.1.5.1.2.1", "Device Requirements: MSI-X Vector Configuration"},
    {"4.1.5.1.2.2", "Driver Requirements: MSI-X Vector Configuration"},
    {"4.1.5.2.1", "Driver Requirements: Available Buffer Notifications"},
    {"4.1.5.3.1", "Device Requirements: Used Buffer Notifications"},
    {"4.1.5.4.1", "Device Requirements: Notification of Device Configuration Changes"},
    {"4.1.5.4.2", "Driver Requirements: Notification of Device Configuration Changes"},
  }},
  {area = "virtio-mmio (4.2)", sections = {
    {"4.2.2.1", "Device Requirements: MMIO Device Register Layout"},
    {"4.2.2.2", "Driver Requirements: MMIO Device Register Layout"},
    {"4.2.3.1.1", "Driver Requirements: Device Initialization"},
    {"4.2.3.4.1", "Driver Requirements: Notifications From The Device"},
  }},
  {area = "virtio-net (5.1)", sections = {
    {"5.1.4.1", "Device Requirements: Device configuration layout"},
    {"5.1.4.2", "Driver Requirements: Device configuration layout"},
    {"5.1.6.2.1", "Driver Requirements: Packet Transmission"},
    {"5.1.6.2.2", "Device Requirements: Packet Transmission"},
    {"5.1.6.3.1", "Driver Requirements: Setting Up Receive Buffers"},
    {"5.1.6.3.2", "Device Requirements: Setting Up Receive Buffers"},
    {"5.1.6.4.1", "Device Requirements: Processing of Incoming Packets"},
    {"5.1.6.4.2", "Driver Requirements: Processing of Incoming Packets"},
    {"5.1.6.5.1.1", "Device Requirements: Packet Receive Filtering"},
    {"5.1.6.5.1.2", "Driver Requirements: Packet Receive Filtering"},
    {"5.1.6.5.2.1", "Device Requirements: Setting MAC Address Filtering"},
    {"5.1.6.5.2.2", "Driver Requirements: Setting MAC Address Filtering"},
    {"5.1.6.5.4.1", "Driver Requirements: Gratuitous Packet Sending"},
    {"5.1.6.5.4.2", "Device Requirements: Gratuitous Packet Sending"},
    {"5.1.6.5.6.1", "Driver Requirements: Automatic receive steering in multiqueue mode"},
    {"5.1.6.5.6.2", "Device Requirements: Automatic receive steering in multiqueue mode"},
    {"5.1.6.5.8.2", "Driver Requirements: Setting Offloads State"},
  }},
  {area = "virtio-blk (5.2)", sections = {
    {"5.2.5.1", "Driver Requirements: Device Initialization"},
    {"5.2.5.2", "Device Requirements: Device Initialization"},
    {"5.2.6.1", "Driver Requirements: Device Operation"},
    {"5.2.6.2", "Device Requirements: Device Operation"},
  }},
  {area = "virtio-console (5.3)", sections = {
    {"5.3.5.1", "Device Requirements: Device Initialization"},
    {"5.3.6.1", "Driver Requirements: Device Operation"},
    {"5.3.6.2.1", "Device Requirements: Multiport Device Operation"},
    {"5.3.6.2.2", "Driver Requirements: Multiport Device Operation"},
  }},
  {area = "virtio-rng (5.4)", sections = {
    {"5.4.6.1", "Driver Requirements: Device Operation"},
    {"5.4.6.2", "Device Requirements: Device Operation"},
  }},
  {area = "virtio-balloon (5.5)", sections = {
    {"5.5.3.1", "Driver Requirements: Feature bits"},
    {"5.5.3.2", "Device Requirements: Feature bits"},
    {"5.5.6.1", "Driver Requirements: Device Operation"},
    {"5.5.6.2", "Device Requirements: Device Operation"},
    {"5.5.6.3.1", "Driver Requirements: Memory Statistics"},
    {"5.5.6.3.2", "Device Requirements: Memory Statistics"},
    {"5.5.6.5.1", "Driver Requirements: Free Page Hinting"},
    {"5.5.6.5.2", "Device Requirements: Free Page Hinting"},
    {"5.5.6.6.1", "Driver Requirements: Page Poison"},
    {"5.5.6.6.2", "Device Requirements: Page Poison"},
    {"5.5.6.7.1", "Driver Requirements: Free Page Reporting"},
    {"5.5.6.7.2", "Device Requirements: Free Page Reporting"},
  }},
  {area = "reserved feature bits (6): ACCESS_PLATFORM", sections = {
    {"6.1", "Driver Requirements: Reserved Feature Bits"},
    {"6.2", "Device Requirements: Reserved Feature Bits"},
  }},
}

local function section_key(x)
  local r = {}
  for n in x:gmatch("%d+") do r[#r + 1] = string.format("%05d", tonumber(n)) end
  return table.concat(r, ".")
end

-- Is section s named by a test: tagged with it or with a section below it?
local function covered(counts, s)
  for k in pairs(counts) do
    if k == s or k:sub(1, #s + 1) == s .. "." then return true end
  end
  return false
end

--- coverage_report(counts): the --coverage lines for {section = number of
--- passing tests}: every section named, sorted numerically, then the
--- normative sections of implemented areas (M.NORMATIVE) no passing test
--- names.
function M.coverage_report(counts, out)
  out = out or io.write
  local s = {}
  for k in pairs(counts) do s[#s + 1] = k end
  table.sort(s, function(a, b) return section_key(a) < section_key(b) end)
  out(string.format("# coverage: %d spec section(s)\n", #s))
  for _, k in ipairs(s) do out(string.format("#   %-12s %d test(s)\n", k, counts[k])) end
  local missing, total = {}, 0
  for _, area in ipairs(M.NORMATIVE) do
    for _, sec in ipairs(area.sections) do
      total = total + 1
      if not covered(counts, sec[1]) then missing[#missing + 1] = {sec[1], sec[2], area.area} end
    end
  end
  out(string.format("# not covered: %d of %d normative section(s) of implemented areas\n",
                    #missing, total))
  for _, m in ipairs(missing) do
    out(string.format("#   %-12s %s (%s)\n", m[1], m[2], m[3]))
  end
  return #missing
end

M._state = state

return M

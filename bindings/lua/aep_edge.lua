-- aep_edge.lua: a LuaJIT binding of the aep-edge C ABI (ffi.cdef, ffi.gc).
--
--   local aep_edge = require("aep_edge")           -- bindings/lua on package.path
--   local client = aep_edge.Client.new('{"datastreamId": "YOUR_DATASTREAM_ID"}')
--   local ok, result = pcall(client.interact, client, '{"event": {"xdm": {}}}')
--   if not ok then print(result.kind, result.code, result.message) end
--   client:close()
--
-- Async for game loops: interact_async returns a call id at once; poll, once
-- per frame, hands out finished calls on the caller's thread:
--   local id = client:interact_async(request)
--   local done = client:poll(0)   -- nil, or {call_id, ok, result | error}
--
-- JSON stays text (use the JSON library of your choice). Failures raise an
-- aep_edge.Error table: status, kind, message, http_status, code, json.
-- The library is loaded from AEP_EDGE_LIB, else as libaep_edge.so.1.
local ffi = require("ffi")

ffi.cdef([[
typedef uint32_t aep_edge_status;
typedef struct aep_edge_client aep_edge_client;
typedef void (*aep_edge_log_fn)(void *user_data, uint32_t level, const char *message);
const char *aep_edge_version(void);
uint32_t aep_edge_abi_version(void);
aep_edge_status aep_edge_client_new(const char *config_json, aep_edge_client **client_out, char **error_json_out);
aep_edge_status aep_edge_client_close(aep_edge_client *client, uint32_t timeout_ms, char **report_json_out);
void aep_edge_client_free(aep_edge_client *client);
aep_edge_status aep_edge_interact(const aep_edge_client *client, const char *request_json, char **result_json_out);
aep_edge_status aep_edge_collect(const aep_edge_client *client, const char *request_json, char **result_json_out);
aep_edge_status aep_edge_set_consent(const aep_edge_client *client, const char *request_json, char **result_json_out);
aep_edge_status aep_edge_session_get(const aep_edge_client *client, char **result_json_out);
aep_edge_status aep_edge_session_reset(const aep_edge_client *client, char **error_json_out);
aep_edge_status aep_edge_client_set_access_token(const aep_edge_client *client, const char *access_token, char **error_json_out);
void aep_edge_string_free(char *s);
typedef void (*aep_edge_completion_fn)(void *user_data, uint64_t call_id, aep_edge_status status, const char *result_json);
aep_edge_status aep_edge_interact_async(const aep_edge_client *client, const char *request_json, aep_edge_completion_fn callback, void *user_data, uint64_t *call_id_out, char **error_json_out);
aep_edge_status aep_edge_collect_async(const aep_edge_client *client, const char *request_json, aep_edge_completion_fn callback, void *user_data, uint64_t *call_id_out, char **error_json_out);
aep_edge_status aep_edge_set_consent_async(const aep_edge_client *client, const char *request_json, aep_edge_completion_fn callback, void *user_data, uint64_t *call_id_out, char **error_json_out);
aep_edge_status aep_edge_poll(const aep_edge_client *client, uint32_t timeout_ms, char **completion_json_out);
]])

local lib = ffi.load(os.getenv("AEP_EDGE_LIB") or "libaep_edge.so.1")

local M = {}

-- Status numbers (aep_edge.h); a number not listed here is still a failure.
M.status = {
  OK = 0, NULL_ARGUMENT = 1, INVALID_UTF8 = 2, INVALID_JSON = 3, INVALID_CONFIG = 4,
  INVALID_REQUEST = 5, TRANSPORT_ERROR = 6, TIMEOUT = 7, HTTP_ERROR = 8, AUTH_ERROR = 9,
  INVALID_RESPONSE = 10, QUEUE_FULL = 11, CLOSED = 12, STORAGE_ERROR = 13,
  CONSENT_DENIED = 14, NOT_READY = 15, PANIC = 99,
}

-- A string field of the library's compact JSON, unescaped enough for messages.
local function field(json, key)
  local value = json:match('"' .. key .. '":"(.-[^\\])"') or json:match('"' .. key .. '":""') and ""
  return value and (value:gsub('\\(.)', '%1')) or nil
end

local Error = {}
Error.__index = Error
Error.__tostring = function(e)
  return string.format("aep-edge %s (status %d): %s", e.kind, e.status, e.message)
end
M.Error = Error

-- The one place a status becomes a Lua error.
local function new_error(status, json)
  json = json or "{}"
  return setmetatable({
    status = status,
    kind = field(json, "kind") or "unknown",
    message = field(json, "message") or json,
    http_status = tonumber(json:match('"httpStatus":(%d+)')),
    code = field(json, "code"),
    json = json,
  }, Error)
end

-- Copies and frees a string the library returned (NULL gives nil).
local function take(ptr)
  if ptr == nil then return nil end
  local s = ffi.string(ptr)
  lib.aep_edge_string_free(ptr)
  return s
end

-- Runs fn(..., out) and returns the out string, or raises the Error.
local function call(fn, ...)
  local out = ffi.new("char *[1]")
  local n = select("#", ...)
  local args = { ... }
  args[n + 1] = out
  local status = fn(unpack(args, 1, n + 1))
  local json = take(out[0])
  if status ~= 0 then error(new_error(status, json), 3) end
  return json
end

local Client = {}
Client.__index = Client
M.Client = Client

--- Creates a client from its config JSON; raises an Error (kind "invalid_config") when refused.
function Client.new(config_json)
  assert(type(config_json) == "string", "config_json must be a JSON string")
  local handle = ffi.new("aep_edge_client *[1]")
  call(lib.aep_edge_client_new, config_json, handle)
  -- The finalizer is a safety net; close() is the way to finish.
  return setmetatable({ handle = ffi.gc(handle[0], lib.aep_edge_client_free) }, Client)
end

local function live(self)
  if self.handle == nil then error(new_error(M.status.CLOSED, '{"error":{"kind":"closed","message":"the client was closed"}}'), 3) end
  return self.handle
end

function Client:interact(request_json) return call(lib.aep_edge_interact, live(self), request_json) end
function Client:collect(request_json) return call(lib.aep_edge_collect, live(self), request_json) end
function Client:set_consent(request_json) return call(lib.aep_edge_set_consent, live(self), request_json) end
function Client:session() return call(lib.aep_edge_session_get, live(self)) end
function Client:reset_session() call(lib.aep_edge_session_reset, live(self)) end
function Client:set_access_token(token) call(lib.aep_edge_client_set_access_token, live(self), token) end

-- Starts fn in poll mode (no callback: LuaJIT callbacks must not run on other
-- threads) and returns the call id, or raises the Error of a refused request.
local function start(fn, self, request_json)
  local id = ffi.new("uint64_t[1]")
  local out = ffi.new("char *[1]")
  local status = fn(live(self), request_json, nil, nil, id, out)
  local json = take(out[0])
  if status ~= 0 then error(new_error(status, json), 3) end
  return tonumber(id[0])
end

function Client:interact_async(request_json) return start(lib.aep_edge_interact_async, self, request_json) end
function Client:collect_async(request_json) return start(lib.aep_edge_collect_async, self, request_json) end
function Client:set_consent_async(request_json) return start(lib.aep_edge_set_consent_async, self, request_json) end

--- The oldest finished async call, waiting up to timeout_ms (default 0: a look,
--- once per frame): {call_id, ok = true, result = json} or {call_id, ok = false,
--- error = aep_edge.Error}; nil when none finished in time.
function Client:poll(timeout_ms)
  local out = ffi.new("char *[1]")
  local status = lib.aep_edge_poll(live(self), timeout_ms or 0, out)
  local json = take(out[0])
  if status == M.status.NOT_READY then return nil end
  if status ~= 0 then error(new_error(status, json), 2) end
  -- {"callId":N,"status":S,"result":{...}}: the result is the last member.
  local call_id = tonumber(json:match('^{"callId":(%d+)'))
  local call_status = tonumber(json:match('"status":(%d+)'))
  local result = json:match('"result":(.*)}$') or "{}"
  if call_status == 0 then return { call_id = call_id, ok = true, result = result } end
  return { call_id = call_id, ok = false, error = new_error(call_status, result) }
end

--- Refuses new calls, waits up to timeout_ms (default 5000) for calls in flight, frees the client.
--- Returns the report JSON and whether everything finished in time. Idempotent.
function Client:close(timeout_ms)
  if self.handle == nil then return nil, true end
  local handle = self.handle
  local out = ffi.new("char *[1]")
  local status = lib.aep_edge_client_close(handle, timeout_ms or 5000, out)
  local report = take(out[0])
  self.handle = nil
  ffi.gc(handle, nil)
  lib.aep_edge_client_free(handle)
  if status ~= 0 and status ~= M.status.TIMEOUT then error(new_error(status, report), 2) end
  return report, status == 0
end

function M.version() return ffi.string(lib.aep_edge_version()) end
function M.abi_version() return tonumber(lib.aep_edge_abi_version()) end

return M

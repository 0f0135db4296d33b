-- The LuaJIT binding against the emulator (AEP_EDGE_BASE_URL, --datastream known-ds).
package.path = arg[0]:gsub("test%.lua$", "") .. "?.lua;" .. package.path
local aep_edge = require("aep_edge")

local passed, failed = 0, 0
local function check(cond, what)
  if cond then passed = passed + 1 else failed = failed + 1; io.stderr:write("FAIL: ", what, "\n") end
end
local function raises(fn, ...)
  local ok, err = pcall(fn, ...)
  check(not ok and getmetatable(err) == aep_edge.Error, "raises an aep_edge.Error")
  return ok and {} or err
end

local EVENT = [[{"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}}]]
local base = assert(os.getenv("AEP_EDGE_BASE_URL"), "set AEP_EDGE_BASE_URL")
local function config(datastream)
  return string.format('{"datastreamId":"%s","baseUrl":"%s","retry":{"baseDelayMs":10}}', datastream, base)
end

check(aep_edge.abi_version() == 1, "ABI version 1")
check(aep_edge.version():match("^%d+%.%d+%.%d+$"), "version X.Y.Z")

local bad = raises(aep_edge.Client.new, '{"datastreamId":"d","colour":1}')
check(bad.kind == "invalid_config" and bad.status == aep_edge.status.INVALID_CONFIG, "invalid_config")
check(tostring(bad):find("colour"), "the message names the key")

local client = aep_edge.Client.new(config("known-ds"))
local result = client:interact(EVENT)
check(result:find('"httpStatus":200', 1, true), "interact answered 200")
check(result:find('"type":"state:store"', 1, true), "a state:store handle")
check(result:find('"type":"identity:result"', 1, true), "an identity:result handle")
check(client:session():find('"ecid":"', 1, true), "the session has an ECID")
client:reset_session()
check(client:session():find('"ecid":null', 1, true), "reset forgets the ECID")

local unknown = aep_edge.Client.new(config("no-such-datastream"))
local http = raises(unknown.interact, unknown, EVENT)
check(http.kind == "http" and http.status == aep_edge.status.HTTP_ERROR, "an HTTP error")
check(http.http_status == 400 and http.code == "EXEG-0003-400", "HTTP 400 EXEG-0003-400")

-- Async with poll: call ids at once, completions handed out on this thread.
local ok_id = client:interact_async(EVENT)
local fail_id = unknown:interact_async(EVENT)
check(type(ok_id) == "number" and ok_id > 0 and fail_id > 0, "call ids")
local function poll_until(c)
  for _ = 1, 500 do
    local done = c:poll(20)
    if done then return done end
  end
end
local done = poll_until(client)
check(done and done.call_id == ok_id and done.ok and done.result:find('"type":"state:store"', 1, true), "a polled result")
check(client:poll(0) == nil, "nothing else finished")
local failed_call = poll_until(unknown)
check(failed_call and failed_call.call_id == fail_id and not failed_call.ok, "a polled failure")
check(failed_call and failed_call.error.code == "EXEG-0003-400", "its typed error")
check(raises(client.interact_async, client, '{"evnt":{}}').kind == "invalid_request", "a refused async request raises at once")
unknown:close()

check(raises(client.interact, client, nil).kind == "null_argument", "nil is a null_argument error")
local request = raises(client.interact, client, '{"evnt":{}}')
check(request.kind == "invalid_request" and request.http_status == nil, "invalid_request, nothing sent")

-- Clients left to the garbage collector are freed by ffi.gc.
for _ = 1, 50 do aep_edge.Client.new(config("known-ds")) end
collectgarbage(); collectgarbage()

local report, in_time = client:close(5000)
check(in_time and report:find('"inFlight":0', 1, true), "close finished in time")
check(client:close() == nil, "close is idempotent")
check(raises(client.interact, client, EVENT).kind == "closed", "a closed client refuses calls")

print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)

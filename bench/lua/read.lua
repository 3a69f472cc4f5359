-- GET the URL given to wrk, with `Authorization: Bearer $BENCH_TOKEN` when that is set, or
-- `Cookie: $BENCH_COOKIE` (a portal session) and an HTML Accept when that is set.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

status_counts = {}
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
end

function done(summary, latency, requests)
  common.report(summary, latency, threads)
end

-- POST writes from a plan. $BENCH_PLAN holds lines "thread token block": wrk thread `id`
-- walks its own lines, one request each, so every request names a distinct free block for a
-- patient that no other thread uses (bench/http_bench.py builds the plans; no two requests
-- race). $BENCH_KIND: "booking" (default) POSTs {time_block, reason} to the URL given,
-- "hold" POSTs {time_block}; $BENCH_KEYED=1 adds a fresh Idempotency-Key to each request.
-- A thread stops once its plan is used up (the last requests in flight may repeat a line:
-- 409, counted apart).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local kind = os.getenv("BENCH_KIND") or "booking"
local keyed = os.getenv("BENCH_KEYED") == "1"
local run_tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local plan = {}
local position = 0
function init(args)
  for line in io.lines(os.getenv("BENCH_PLAN")) do
    local thread, token, block = line:match("^(%d+) (%S+) (%d+)$")
    if thread and tonumber(thread) == id then
      table.insert(plan, {token = token, block = block})
    end
  end
end

function request()
  position = position % #plan + 1
  local item = plan[position]
  local headers = {
    ["Authorization"] = "Bearer " .. item.token,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }
  if keyed then
    headers["Idempotency-Key"] = run_tag .. "-" .. id .. "-" .. position
  end
  local body = '{"time_block": ' .. item.block .. ', "reason": "bench"}'
  if kind == "hold" then
    body = '{"time_block": ' .. item.block .. '}'
  end
  return wrk.format("POST", wrk.path, headers, body)
end

status_counts = {}
answered = 0
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
  answered = answered + 1
  if answered >= #plan then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  common.report(summary, latency, threads)
end

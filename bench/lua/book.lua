-- POST bookings. $BENCH_PLAN holds lines "thread token block": wrk thread `id` walks its
-- own lines, one booking each, so every request books a distinct free block for a patient
-- that no other thread uses (bench/http_bench.py builds the plan; no two requests race).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

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
  position = position % #plan + 1  -- wraps around (then 409 slot_taken) if the plan runs out
  local item = plan[position]
  return wrk.format("POST", wrk.path, {
    ["Authorization"] = "Bearer " .. item.token,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }, '{"time_block": ' .. item.block .. ', "reason": "bench"}')
end

status_counts = {}
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
end

function done(summary, latency, requests)
  common.report(summary, latency, threads)
end

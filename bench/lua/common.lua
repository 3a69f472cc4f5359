-- Shared by the wrk scripts of bench/http_bench.py: one JSON line with the figures at the end.
local common = {}

local function status_counts(threads)
  local counts = {}
  for _, thread in ipairs(threads) do
    local per_thread = thread:get("status_counts") or {}
    for code, n in pairs(per_thread) do
      counts[tostring(code)] = (counts[tostring(code)] or 0) + n
    end
  end
  return counts
end

function common.report(summary, latency, threads)
  local parts = {}
  local function add(key, value) table.insert(parts, string.format('"%s":%s', key, value)) end
  add("requests", summary.requests)
  add("duration_us", summary.duration)
  add("bytes", summary.bytes)
  add("errors_connect", summary.errors.connect)
  add("errors_read", summary.errors.read)
  add("errors_write", summary.errors.write)
  add("errors_timeout", summary.errors.timeout)
  add("non_2xx_3xx", summary.errors.status)
  add("latency_mean_us", string.format("%.1f", latency.mean))
  add("latency_max_us", latency.max)
  for _, p in ipairs({50, 90, 99}) do
    add("latency_p" .. p .. "_us", latency:percentile(p))
  end
  local codes = {}
  for code, n in pairs(status_counts(threads or {})) do
    table.insert(codes, string.format('"%s":%d', code, n))
  end
  add("status", "{" .. table.concat(codes, ",") .. "}")
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end

return common

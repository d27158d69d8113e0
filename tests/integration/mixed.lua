-- wrk script: alternate a site page and the API's probe, count every non-2xx answer
-- and print one JSON line of results (wrk's own summary counts only socket errors).
local paths = {"/", "/backend/healthz"}
local counter = 0
non2xx = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[counter % #paths + 1])
end

response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "non2xx": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "seconds": %.2f}\n',
    summary.requests, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.duration / 1e6))
end

-- wrk script: alternate a site page and the API's probe (or the paths given after "--",
-- "html:" before one asking for HTML as a browser does), count every non-2xx and every
-- non-200 answer and print one JSON line of results (wrk's own summary counts only
-- socket errors).
local paths = {"/", "/backend/healthz"}
local browser = {}
local counter = 0
non2xx = 0
non200 = 0

init = function(args)
  if #args > 0 then
    paths = {}
    for i, arg in ipairs(args) do
      browser[i] = arg:sub(1, 5) == "html:"
      paths[i] = browser[i] and arg:sub(6) or arg
    end
  end
end

request = function()
  counter = counter + 1
  local i = counter % #paths + 1
  local headers = {}  -- wrk's own -H headers, and Accept for "html:" paths
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  if browser[i] then
    headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
  end
  return wrk.format("GET", paths[i], headers)
end

response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if status ~= 200 then
    non200 = non200 + 1
  end
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local bad, not_ok = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    not_ok = not_ok + thread:get("non200")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "non2xx": %d, "non200": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"seconds": %.2f}\n',
    summary.requests, bad, not_ok, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.duration / 1e6))
end

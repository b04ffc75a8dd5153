-- wrk script: POST /v1/issues (or the bare endpoint) with a unique body per request.
--   wrk -s bench/wrk/post_issue.lua URL -- PREFIX ROUND_ID ORG_ID...
-- Each thread numbers its own requests; the code is PREFIX-<thread>-<n>, so no two requests collide.
-- At the end one line `WRK {json}` tells requests, seconds, errors and latency percentiles (ms).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local counter = 0
local orgs = {}
local words = {"黑臭水体", "燃煤锅炉", "扬尘治理", "饮用水水源地", "工业园区", "散乱污企业", "秸秆焚烧", "垃圾填埋场"}
local bad = 0

function init(args)
  prefix = args[1] .. "-" .. tostring(tid)
  round = args[2]
  for i = 3, #args do orgs[#orgs + 1] = args[i] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local org = orgs[(counter % #orgs) + 1]
  local month = 1 + (counter % 12)
  local day = 1 + (counter % 28)
  local body = string.format(
    '{"code":"%s-%07d","round_id":"%s","category":"air","title":"%s整改%d","responsible_org_id":"%s",' ..
    '"cooperating_org_ids":[],"supervising_org_id":"inspection-office","leader":"分管副市长",' ..
    '"deadline":"2021-%02d-%02d","target":{"indicator":"pm25_annual_mean","op":"<=","value":35,"unit":"ug/m3"}}',
    prefix, counter, round, words[(counter % #words) + 1], counter, org, month, day)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 201 then
    bad = bad + 1
    if bad <= 2 then io.stderr:write("unexpected " .. status .. ": " .. string.sub(body, 1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"seconds":%.6f,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50":%.3f,"p90":%.3f,"p99":%.3f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end

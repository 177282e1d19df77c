-- wrk script for the logins-at-saturation case of bench/load/run.sh: every request is a login
-- with valid credentials, cycling through users u1..uN (password pw-<i>, as run.sh imports them),
-- each wrk thread starting elsewhere in the list. Statuses are counted per thread; done() prints
-- one JSON line whose "ok_per_s" counts only 200 answers (a 503 "busy" is not a login).
--   wrk -t1 -c16 -d15s -s bench/load/login.lua http://127.0.0.1:PORT/login -- USERS

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local users = tonumber(args[1]) or 1
   requests = {}
   for i = 1, users do
      requests[i] = wrk.format("GET", wrk.path,
                               { ["User-Name"] = "u" .. i, ["Password"] = "pw-" .. i })
   end
   cursor = (id * 7919) % users  -- threads start at different users
   statuses = {}
end

function request()
   cursor = cursor % #requests + 1
   return requests[cursor]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(counts) do
      table.insert(parts, string.format('"%d":%d', status, n))
   end
   table.sort(parts)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      '{"duration_s":%.3f,"requests":%d,"ok":%d,"ok_per_s":%.2f,"status":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
      seconds, summary.requests, counts[200] or 0, (counts[200] or 0) / seconds,
      table.concat(parts, ","), e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end

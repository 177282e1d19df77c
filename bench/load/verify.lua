-- wrk script for the /verify case (1b) of bench/load/run.sh: every request is GET /verify with
-- header Token: <token>, the token given after "--" (run.sh logs in once to get it). The request
-- is built once per thread (wrk.headers, no request() function), so wrk sends it as a static
-- request; response() counts the answers by status, and done() prints one JSON line with the
-- counts ("ok" counts only 200 answers: an expired or refused token answers 401).
--   wrk -t1 -c64 -d5s -s bench/load/verify.lua http://127.0.0.1:PORT/verify -- TOKEN

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local token = args[1] or os.getenv("AUTHD_TOKEN")
   if not token or token == "" then
      io.stderr:write("verify.lua: no token (wrk ... -s verify.lua URL -- TOKEN)\n")
      os.exit(2)
   end
   wrk.headers["Token"] = token
   statuses = {}
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
      '{"duration_s":%.3f,"requests":%d,"requests_per_s":%.1f,"bytes":%d,"ok":%d,' ..
      '"status":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
      seconds, summary.requests, summary.requests / seconds, summary.bytes, counts[200] or 0,
      table.concat(parts, ","), e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end

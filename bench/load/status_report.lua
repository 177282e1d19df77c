-- What login.lua and verify.lua share (loaded with require): each wrk thread counts its answers
-- by status, and done() prints one JSON line of the whole run, "ok" counting only 200 answers
-- (a 503 "busy" is no login, a 401 no verified token).

local report = {}
local threads = {}

-- In setup(thread): the thread's counts are read back in done().
function report.setup(thread)
   table.insert(threads, thread)
end

-- In each thread's init().
function report.init()
   statuses = {}
end

function report.response(status)
   statuses[status] = (statuses[status] or 0) + 1
end

function report.done(summary, latency)
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
   local ok = counts[200] or 0
   io.write(string.format(
      '{"duration_s":%.3f,"requests":%d,"requests_per_s":%.1f,"bytes":%d,"ok":%d,' ..
      '"ok_per_s":%.2f,"status":{%s},' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
      seconds, summary.requests, summary.requests / seconds, summary.bytes, ok, ok / seconds,
      table.concat(parts, ","), e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end

return report

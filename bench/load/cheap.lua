-- wrk script for the cheap-path case of bench/load/run.sh: wrk's own request (GET, no headers of
-- ours), no per-request Lua, so wrk stays as fast as without a script; done() prints the result
-- as one JSON line for the summary.
--   wrk -t1 -c64 -d5s -s bench/load/cheap.lua http://127.0.0.1:PORT/login

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"duration_s":%.3f,"requests":%d,"requests_per_s":%.1f,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_ms":{"p50":%.3f,"p99":%.3f,"max":%.3f}}\n',
      summary.duration / 1e6, summary.requests, summary.requests / (summary.duration / 1e6),
      summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end

-- wrk script for the /verify case (1b) of bench/load/run.sh: every request is GET /verify with
-- header Token: <token>, the token given after "--" (run.sh logs in once to get it). The request
-- is built once per thread (wrk.headers, no request() function), so wrk sends it as a static
-- request; response() counts the answers by status, and done() prints one JSON line with the
-- counts ("ok" counts only 200 answers: an expired or refused token answers 401):
-- status_report.lua.
--   wrk -t1 -c64 -d5s -s bench/load/verify.lua http://127.0.0.1:PORT/verify -- TOKEN

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local report = require("status_report")

function setup(thread)
   report.setup(thread)
end

function init(args)
   local token = args[1] or os.getenv("AUTHD_TOKEN")
   if not token or token == "" then
      io.stderr:write("verify.lua: no token (wrk ... -s verify.lua URL -- TOKEN)\n")
      os.exit(2)
   end
   wrk.headers["Token"] = token
   report.init()
end

-- wrk's hooks: statuses counted, and the JSON line printed, by status_report.lua.
response, done = report.response, report.done

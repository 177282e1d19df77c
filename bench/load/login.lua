-- wrk script for the logins-at-saturation case of bench/load/run.sh: every request is a login
-- with valid credentials, cycling through users u1..uN (password pw-<i>, as run.sh imports them),
-- each wrk thread starting elsewhere in the list. Statuses are counted per thread; done() prints
-- one JSON line whose "ok_per_s" counts only 200 answers (a 503 "busy" is not a login):
-- status_report.lua.
--   wrk -t1 -c16 -d15s -s bench/load/login.lua http://127.0.0.1:PORT/login -- USERS

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local report = require("status_report")
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   report.setup(thread)
end

function init(args)
   local users = tonumber(args[1]) or 1
   requests = {}
   for i = 1, users do
      requests[i] = wrk.format("GET", wrk.path,
                               { ["User-Name"] = "u" .. i, ["Password"] = "pw-" .. i })
   end
   cursor = (id * 7919) % users  -- threads start at different users
   report.init()
end

function request()
   cursor = cursor % #requests + 1
   return requests[cursor]
end

-- wrk's hooks: statuses counted, and the JSON line printed, by status_report.lua.
response, done = report.response, report.done

-- wrk script: send the reports of a file, each once, then again from the
-- first.  Arguments after --: the file of bodies, the file of their
-- lengths (one a line), the path, the Content-Type and the method, and
-- optionally a pause in ms before each request of a connection (a steady
-- rate instead of as fast as nginx answers); with PUT, the k-th report
-- goes to PATH/k.json.

local reqs = {}
local n = 0
local i = 0
local pause = 0

function init(args)
   local f = assert(io.open(args[1], "rb"))
   local data = f:read("*a")
   f:close()
   local method = args[5] or "POST"
   pause = tonumber(args[6] or "0")
   local pos = 1
   for len in io.lines(args[2]) do
      len = tonumber(len)
      n = n + 1
      local path = args[3]
      if method == "PUT" then
         path = path .. "/" .. n .. ".json"
      end
      reqs[n] = wrk.format(method, path,
                           { ["Content-Type"] = args[4] },
                           data:sub(pos, pos + len - 1))
      pos = pos + len
   end
end

function request()
   i = i % n + 1
   return reqs[i]
end

function delay()
   return pause
end

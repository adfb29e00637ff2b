-- wrk script: every request asks for the policy of a random domain among
-- mta-sts.d1.bench.test .. mta-sts.dN.bench.test (N: the argument after --)

local reqs = {}
local n = 1

function init(args)
   n = tonumber(args[1]) or 1
   for i = 1, n do
      reqs[i] = wrk.format("GET", "/.well-known/mta-sts.txt",
                           { ["Host"] = "mta-sts.d" .. i .. ".bench.test" })
   end
   math.randomseed(8461)
end

function request()
   return reqs[math.random(n)]
end

-- wrk script: cycle through a file of access tokens (one per line), one session each, so the
-- gateway ends up holding every one of those sessions in its cache.
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  -- Threads start at different points so together they cover the file sooner.
  i = math.random(#tokens)
end

function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { ["Cookie"] = "access_token=" .. tokens[i] })
end

-- A grant's send is over: it is scored at now, and leaves one window after its message was sent (re-added if its
-- hold had run out: the message still counts).
local limits = KEYS  -- the grant's sorted sets
local member = ARGV[1]
-- then each limit's window (microseconds)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i, limit in ipairs(limits) do
  redis.call('ZADD', limit, now, member)
  local window_ms = math.ceil(tonumber(ARGV[i + 1]) / 1000)
  if redis.call('PTTL', limit) < window_ms then
    redis.call('PEXPIRE', limit, window_ms)
  end
end
return 1

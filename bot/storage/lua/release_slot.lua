-- A grant's send is over: it is scored at now, and leaves one window after its message was sent (re-added if its
-- hold had run out: the message still counts).
local limits = KEYS  -- the grant's sorted sets
local member, given_now = ARGV[1], ARGV[2]
-- then each limit's window (microseconds)

local now = tonumber(given_now)  -- Redis's clock unless the caller gives one (a test's)
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
for i, limit in ipairs(limits) do
  redis.call('ZADD', limit, now, member)
  local window_ms = math.ceil(tonumber(ARGV[i + 2]) / 1000)
  if redis.call('PTTL', limit) < window_ms then
    redis.call('PEXPIRE', limit, window_ms)
  end
end
return 1

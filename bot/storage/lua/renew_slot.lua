-- Hold a grant `hold` longer, but only while it is still held: once released (scored at or before now) or gone, a
-- late renewal must not hold it again.
local limits = KEYS  -- the grant's sorted sets
local member, hold_us, given_now = ARGV[1], tonumber(ARGV[2]), ARGV[3]
-- then each limit's window (microseconds)

local now = tonumber(given_now)  -- Redis's clock unless the caller gives one (a test's)
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
for i, limit in ipairs(limits) do
  local score = redis.call('ZSCORE', limit, member)
  if score and tonumber(score) > now then
    redis.call('ZADD', limit, now + hold_us, member)
    local keep_ms = math.ceil((hold_us + tonumber(ARGV[i + 3])) / 1000)
    if redis.call('PTTL', limit) < keep_ms then
      redis.call('PEXPIRE', limit, keep_ms)
    end
  end
end
return 1

-- Take one slot in every one of a call's limits (sliding-window logs), or none. Returns the grant's member, recorded
-- in each log and held (scored `hold` after now) while its message is in flight; else {microseconds until the
-- fullest limit can have room, that limit's index}. A held entry leaves a full window after its release, so no room
-- can come before `window` from now.
local limits = KEYS  -- one sorted set per limit
local member_prefix, hold_us, given_now = ARGV[1], tonumber(ARGV[2]), ARGV[3]
-- then, for each limit in order: its count and its window (microseconds)

-- Now, in microseconds: Redis's clock, shared by every process, unless the caller gives one (a test's).
local now = tonumber(given_now)
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local wait, binding = 0, 0
for i, limit in ipairs(limits) do
  local count, window = tonumber(ARGV[2 * i + 2]), tonumber(ARGV[2 * i + 3])
  redis.call('ZREMRANGEBYSCORE', limit, '-inf', now - window)
  local used = redis.call('ZCARD', limit)
  if used >= count then
    -- Room comes back when the entry at index used - count leaves the window.
    local score = tonumber(redis.call('ZRANGE', limit, used - count, used - count, 'WITHSCORES')[2])
    local room = math.min(score - now, 0) + window
    if room > wait then
      wait, binding = room, i - 1
    end
  end
end
if wait > 0 then
  return {wait, binding}
end
-- The member names the grant's time, seconds.microseconds (a bench reads it).
local member = member_prefix .. '@' .. string.format('%.0f.%06.0f', math.floor(now / 1000000), now % 1000000)
for i, limit in ipairs(limits) do
  redis.call('ZADD', limit, now + hold_us, member)
  redis.call('PEXPIRE', limit, math.ceil((hold_us + tonumber(ARGV[2 * i + 3])) / 1000))
end
return member

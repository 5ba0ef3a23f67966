-- Count a failed sign-in; returns {count, ms until it is forgotten}. The window starts at the first failure; reaching
-- the limit locks for `lock_ms` from this failure.
local failures = KEYS[1]
local window_ms, limit, lock_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local count = redis.call('INCR', failures)
if count == 1 then
  redis.call('PEXPIRE', failures, window_ms)
end
if count >= limit then
  redis.call('PEXPIRE', failures, lock_ms)
end
return {count, redis.call('PTTL', failures)}

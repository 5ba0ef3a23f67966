-- Keep a message of a consented handoff with a case (the newest `max_messages`, for `keep_ms`). 1 when kept.
local case, messages = KEYS[1], KEYS[2]
local message, max_messages, keep_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

if redis.call('EXISTS', case) == 0 then
  return 0
end
redis.call('RPUSH', messages, message)
redis.call('LTRIM', messages, -max_messages, -1)
redis.call('PEXPIRE', messages, keep_ms)
return 1

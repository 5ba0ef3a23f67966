-- Keep a message of a handoff with its case (the newest `max_messages`, for `keep_ms` after the last one), and keep
-- the person's index of handoffs as long. 1 when kept; 0 when the case is gone, or no longer talking with the person.
local case, messages, handoffs = KEYS[1], KEYS[2], KEYS[3]
local id, message, max_messages, keep_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

if redis.call('HGET', case, 'handoff') ~= '1' or not redis.call('HGET', case, 'reach_to') then
  return 0
end
redis.call('RPUSH', messages, message)
redis.call('LTRIM', messages, -max_messages, -1)
redis.call('PEXPIRE', messages, keep_ms)
redis.call('SADD', handoffs, id)
redis.call('PEXPIRE', handoffs, keep_ms)
return 1

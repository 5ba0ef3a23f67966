-- A message the person wrote while talking to staff: kept with their unresolved case, if it is a handoff (as
-- case_message.lua keeps it). The case id, or false when there is no such case.
local open_case, handoffs = KEYS[1], KEYS[2]
local case_prefix, messages_prefix, message, max_messages, keep_ms =
  ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])

local id = redis.call('GET', open_case)
if not id then
  return false
end
local case = case_prefix .. id .. '}'
if redis.call('HGET', case, 'handoff') ~= '1' or not redis.call('HGET', case, 'reach_to') then
  return false
end
local messages = messages_prefix .. id .. '}'
redis.call('RPUSH', messages, message)
redis.call('LTRIM', messages, -max_messages, -1)
redis.call('PEXPIRE', messages, keep_ms)
redis.call('SADD', handoffs, id)
redis.call('PEXPIRE', handoffs, keep_ms)
return id

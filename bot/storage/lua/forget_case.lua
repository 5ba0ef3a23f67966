-- The person deleted their data: their unresolved case loses the number, where to reach them and the participant id,
-- is marked deleted, and is due at once in `pages`, where the pager sends staff one notice instead of a page. Every
-- case in their index of handoffs (resolved ones included) loses the messages they exchanged with staff and any
-- contact. Returns the unresolved case's id, or nil when there was none.
local open_case, pages, handoffs = KEYS[1], KEYS[2], KEYS[3]
local case_prefix, at_ms, messages_prefix = ARGV[1], ARGV[2], ARGV[3]

for _, handed in ipairs(redis.call('SMEMBERS', handoffs)) do
  redis.call('DEL', messages_prefix .. handed .. '}')
  redis.call('HDEL', case_prefix .. handed .. '}', 'contact', 'participant', 'reach_channel', 'reach_to')
end
redis.call('DEL', handoffs)

local id = redis.call('GET', open_case)
redis.call('DEL', open_case)
if not id then
  return false
end
local case = case_prefix .. id .. '}'
local status = redis.call('HGET', case, 'status')
if status and status ~= 'resolved' then
  redis.call('HDEL', case, 'contact', 'participant', 'reach_channel', 'reach_to')
  redis.call('HSET', case, 'deleted_at', at_ms)
  redis.call('ZADD', pages, at_ms, id)
end
return id

-- The person deleted their data: their unresolved case loses the number and the participant id, is marked deleted,
-- and is due at once in `pages`, where the pager sends staff one notice instead of a page. Returns the case id, or
-- nil when there was none.
local open_case, pages = KEYS[1], KEYS[2]
local case_prefix, at_ms = ARGV[1], ARGV[2]

local id = redis.call('GET', open_case)
redis.call('DEL', open_case)
if not id then
  return false
end
local case = case_prefix .. id .. '}'
local status = redis.call('HGET', case, 'status')
if status and status ~= 'resolved' then
  redis.call('HDEL', case, 'contact', 'participant')
  redis.call('HSET', case, 'deleted_at', at_ms)
  redis.call('ZADD', pages, at_ms, id)
end
return id

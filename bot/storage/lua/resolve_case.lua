-- Resolve a case: it keeps its clinical summary for `keep_ms`, never the number, where to reach the person or the
-- participant id (a handoff's messages keep their own expiry, the retention setting). Listed in `resolved` by when.
-- Returns its status before.
local case, pages, cases, open_case, resolved = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, who, at_ms, keep_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local status = redis.call('HGET', case, 'status')
if not status then
  return 'missing'
end
if status ~= 'resolved' then
  redis.call('HSET', case, 'status', 'resolved', 'resolved_at', at_ms)
  if not redis.call('HGET', case, 'acknowledged_by') then
    redis.call('HSET', case, 'acknowledged_by', who, 'acknowledged_at', at_ms)
  end
  redis.call('HDEL', case, 'contact', 'participant', 'reach_channel', 'reach_to')
  redis.call('PEXPIRE', case, keep_ms)
  redis.call('ZREM', pages, id)
  redis.call('ZREM', cases, id)
  redis.call('ZADD', resolved, at_ms, id)
  redis.call('ZREMRANGEBYSCORE', resolved, '-inf', '(' .. (tonumber(at_ms) - tonumber(keep_ms)))
  if redis.call('GET', open_case) == id then
    redis.call('DEL', open_case)
  end
end
return status

-- Acknowledge a case. Returns its status before: 'open' means this call acknowledged it (and stopped its pages).
local case, pages = KEYS[1], KEYS[2]
local id, who, at_ms = ARGV[1], ARGV[2], ARGV[3]

local status = redis.call('HGET', case, 'status')
if not status then
  return 'missing'
end
if status == 'open' then
  redis.call('HSET', case, 'status', 'acknowledged', 'acknowledged_by', who, 'acknowledged_at', at_ms)
  redis.call('ZREM', pages, id)
end
return status

-- Schedule a check-in: its record, its place in the schedule and in the person's index, and (when an audit stream
-- is given) its audit entry, all or nothing. 0 when it was already scheduled (its id is deterministic).
local schedule, record, index, audit = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, due_ms, body, ttl_ms, seq = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local audit_cap = ARGV[6]  -- then the audit entry's field, value, ...

if redis.call('EXISTS', record) == 1 then
  return 0
end
redis.call('SET', record, body, 'PX', ttl_ms)
redis.call('ZADD', schedule, due_ms, id)
redis.call('SADD', index, seq)
redis.call('PEXPIRE', index, ttl_ms)
if audit then
  redis.call('XADD', audit, 'MAXLEN', '~', audit_cap, '*', unpack(ARGV, 7))
end
return 1

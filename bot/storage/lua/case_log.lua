-- Add an entry to a case's log (and set the case's fields it names). 1: recorded; 0: no such case; -1: the log is
-- full. The log takes the case's expiry (a resolved case's 90 days).
local case, log = KEYS[1], KEYS[2]
local entry, fields_json, max_entries = ARGV[1], ARGV[2], tonumber(ARGV[3])

if redis.call('EXISTS', case) == 0 then
  return 0
end
if redis.call('LLEN', log) >= max_entries then
  return -1
end
for name, value in pairs(cjson.decode(fields_json)) do
  redis.call('HSET', case, name, value)
end
redis.call('RPUSH', log, entry)
local ttl = redis.call('PTTL', case)
if ttl > 0 then
  redis.call('PEXPIRE', log, ttl)
end
return 1

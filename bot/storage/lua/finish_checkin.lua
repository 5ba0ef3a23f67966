-- Remove a delivered check-in (schedule entry, record, index entry) while the claim still holds it. 1 when it did.
local schedule, record, index = KEYS[1], KEYS[2], KEYS[3]
local id, claimed, seq = ARGV[1], ARGV[2], ARGV[3]

local score = redis.call('ZSCORE', schedule, id)
if not score or tonumber(score) ~= tonumber(claimed) then
  return 0
end
redis.call('ZREM', schedule, id)
redis.call('DEL', record)
redis.call('SREM', index, seq)
return 1

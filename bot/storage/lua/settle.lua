-- Finish (new score '') or postpone a claimed id, only while it still carries the claim's score. 1 when it did.
local schedule = KEYS[1]
local id, claimed, new_score = ARGV[1], ARGV[2], ARGV[3]

local score = redis.call('ZSCORE', schedule, id)
if not score or tonumber(score) ~= tonumber(claimed) then
  return 0
end
if new_score == '' then
  redis.call('ZREM', schedule, id)
else
  redis.call('ZADD', schedule, 'XX', new_score, id)
end
return 1

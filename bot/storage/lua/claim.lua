-- Claim up to `limit` due ids of a leased schedule: each one's score is pushed to now + lease (its fencing token),
-- so a claim whose worker dies comes due again. Returns {id, score, id, score, ...}.
local schedule = KEYS[1]
local now_ms, lease_ms, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local due = redis.call('ZRANGEBYSCORE', schedule, '-inf', now_ms, 'LIMIT', 0, limit)
local leased = now_ms + lease_ms
local out = {}
for _, id in ipairs(due) do
  redis.call('ZADD', schedule, 'XX', leased, id)
  out[#out + 1] = id
  out[#out + 1] = tostring(leased)
end
return out

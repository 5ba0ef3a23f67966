-- The names of the send queue's readers alive now, by Redis's clock; those dead a minute are dropped.
local senders = KEYS[1]

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', senders, '-inf', now_ms - 60000)
return redis.call('ZRANGEBYSCORE', senders, '(' .. now_ms, '+inf')

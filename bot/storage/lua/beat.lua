-- A reader of the send queue is alive until Redis's clock passes now + ttl.
local senders = KEYS[1]
local name, ttl_ms = ARGV[1], tonumber(ARGV[2])

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', senders, now_ms + ttl_ms, name)
return 1

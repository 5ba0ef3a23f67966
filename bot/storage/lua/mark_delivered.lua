-- Record how many replies to a message were sent, only while the conversation exists: a reply sent after the person
-- deleted their data (DELETE's own confirmation) leaves nothing behind about them. 1 when recorded.
local conversation, delivered = KEYS[1], KEYS[2]
local count, ttl_ms = ARGV[1], ARGV[2]

if redis.call('EXISTS', conversation) == 1 then
  redis.call('SET', delivered, count, 'PX', ttl_ms)
  return 1
end
return 0

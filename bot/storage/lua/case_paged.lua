-- Count a page sent, and schedule the next only while the case is still open (an acknowledgement meanwhile removed
-- it from `pages`, and ZADD XX won't add it back). The pages sent so far, or -1 when the claim had lapsed.
local case, pages = KEYS[1], KEYS[2]
local id, claimed, next_page_ms = ARGV[1], ARGV[2], ARGV[3]

local score = redis.call('ZSCORE', pages, id)
if not score or tonumber(score) ~= tonumber(claimed) then
  return -1
end
local sent = redis.call('HINCRBY', case, 'pages', 1)
if redis.call('HGET', case, 'status') == 'open' then
  redis.call('ZADD', pages, 'XX', next_page_ms, id)
else
  redis.call('ZREM', pages, id)
end
return sent

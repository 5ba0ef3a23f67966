-- Remember a staff chat message that shows a case (its card), so every card can be redrawn when the case moves on,
-- by whichever route. 1 when kept (at most `max_cards`, the newest), 0 when the case is gone.
local case = KEYS[1]
local message_id, max_cards = ARGV[1], tonumber(ARGV[2])

if redis.call('EXISTS', case) == 0 then
  return 0
end
local cards = redis.call('HGET', case, 'cards')
local list = {}
if cards and cards ~= '' then
  for card in string.gmatch(cards, '[^,]+') do
    list[#list + 1] = card
  end
end
list[#list + 1] = message_id
while #list > max_cards do
  table.remove(list, 1)
end
redis.call('HSET', case, 'cards', table.concat(list, ','))
return 1

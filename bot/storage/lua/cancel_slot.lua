-- A grant whose message was never sent gives its slot back.
local limits = KEYS  -- the grant's sorted sets
local member = ARGV[1]

for _, limit in ipairs(limits) do
  redis.call('ZREM', limit, member)
end
return 1

-- Cancel every pending check-in of one person. Returns how many; the audit entry (when an audit stream is given)
-- is written, with that count, only when there were any.
local schedule, index, audit = KEYS[1], KEYS[2], KEYS[3]
local participant, record_prefix = ARGV[1], ARGV[2]
local audit_cap = ARGV[3]  -- then the audit entry's field, value, ...

local seqs = redis.call('SMEMBERS', index)
for _, seq in ipairs(seqs) do
  redis.call('ZREM', schedule, participant .. ':' .. seq)
  redis.call('DEL', record_prefix .. seq)
end
redis.call('DEL', index)
if #seqs == 0 then
  return 0
end
if audit then
  local entry = {unpack(ARGV, 4)}
  entry[#entry + 1] = 'count'
  entry[#entry + 1] = #seqs
  redis.call('XADD', audit, 'MAXLEN', '~', audit_cap, '*', unpack(entry))
end
return #seqs

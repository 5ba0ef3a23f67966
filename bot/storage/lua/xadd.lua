-- Add an entry to a capped stream (an audit entry, a send job), as a folded batch's op.
local stream = KEYS[1]
local cap = ARGV[1]

return redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', unpack(ARGV, 2))

-- Add a staff account (or replace it, when asked). 1: written; 0: it exists.
local account, accounts = KEYS[1], KEYS[2]
local id, email, role, password_hash, created_ms, replace = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

if replace ~= '1' and redis.call('EXISTS', account) == 1 then
  return 0
end
redis.call('HSET', account, 'id', id, 'email', email, 'role', role, 'password_hash', password_hash,
           'created_at', created_ms)
redis.call('SADD', accounts, id)
return 1

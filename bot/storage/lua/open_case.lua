-- Open a case for staff unless the person already has an unresolved one; that one then gains the new red flags, and
-- is raised (and paged again) when the new level ranks higher. Returns {id, 'opened' | 'raised' | 'same'}.
local case, cases, pages, open_case = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, fields_json, opened_ms, open_case_ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local case_prefix = ARGV[5]  -- a case key up to and including its hash tag's opening brace

local existing = redis.call('GET', open_case)
if existing then
  local existing_case = case_prefix .. existing .. '}'
  local status = redis.call('HGET', existing_case, 'status')
  if status and status ~= 'resolved' then
    local fields = cjson.decode(fields_json)
    local old_rank = tonumber(redis.call('HGET', existing_case, 'rank') or '0')
    if fields.red_flags ~= '' then
      local flags = redis.call('HGET', existing_case, 'red_flags') or ''
      redis.call('HSET', existing_case, 'red_flags', flags == '' and fields.red_flags or (flags .. ',' .. fields.red_flags))
    end
    if tonumber(fields.rank) > old_rank then
      redis.call('HSET', existing_case, 'level', fields.level, 'rank', fields.rank, 'reason', fields.reason,
                 'findings', fields.findings, 'status', 'open')
      redis.call('ZADD', pages, opened_ms, existing)
      return {existing, 'raised'}
    end
    return {existing, 'same'}
  end
end
local fields = cjson.decode(fields_json)
local flat = {}
for name, value in pairs(fields) do
  flat[#flat + 1] = name
  flat[#flat + 1] = tostring(value)
end
redis.call('HSET', case, unpack(flat))
redis.call('ZADD', cases, opened_ms, id)
redis.call('ZADD', pages, opened_ms, id)
redis.call('SET', open_case, id, 'PX', open_case_ttl_ms)
return {id, 'opened'}

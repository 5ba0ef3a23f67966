-- Open a case for staff unless the person already has an unresolved one; that one then gains the new red flags, and
-- is raised (and paged again, from the first page) when the new level ranks higher. A handoff (the person consented to share their
-- contact and messages) gives the case, new or existing, where to reach them, and is listed in the person's index of
-- handoffs for DELETE. Returns {id, 'opened' | 'raised' | 'same'}.
local case, cases, pages, open_case, handoffs = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, fields_json, opened_ms, open_case_ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local case_prefix = ARGV[5]  -- a case key up to and including its hash tag's opening brace
local retention_ms = ARGV[6]  -- how long the index of handoffs outlives its last change

local fields = cjson.decode(fields_json)

local function hand_off(case_id, case_key)
  if fields.handoff then
    redis.call('HSET', case_key, 'handoff', fields.handoff, 'reach_channel', fields.reach_channel,
               'reach_to', fields.reach_to, 'locale', fields.locale)
    if fields.contact then
      redis.call('HSET', case_key, 'contact', fields.contact)
    end
    redis.call('SADD', handoffs, case_id)
    redis.call('PEXPIRE', handoffs, retention_ms)
  end
end

local existing = redis.call('GET', open_case)
if existing then
  local existing_case = case_prefix .. existing .. '}'
  local status = redis.call('HGET', existing_case, 'status')
  if status and status ~= 'resolved' then
    local old_rank = tonumber(redis.call('HGET', existing_case, 'rank') or '0')
    if fields.red_flags ~= '' then
      local flags = redis.call('HGET', existing_case, 'red_flags') or ''
      redis.call('HSET', existing_case, 'red_flags', flags == '' and fields.red_flags or (flags .. ',' .. fields.red_flags))
    end
    hand_off(existing, existing_case)
    if tonumber(fields.rank) > old_rank then
      -- paged anew, from the first on-call number: a new level is news
      redis.call('HSET', existing_case, 'level', fields.level, 'rank', fields.rank, 'reason', fields.reason,
                 'findings', fields.findings, 'status', 'open', 'pages', 0)
      redis.call('ZADD', pages, opened_ms, existing)
      return {existing, 'raised'}
    end
    return {existing, 'same'}
  end
end
local flat = {}
for name, value in pairs(fields) do
  flat[#flat + 1] = name
  flat[#flat + 1] = tostring(value)
end
redis.call('HSET', case, unpack(flat))
hand_off(id, case)
redis.call('ZADD', cases, opened_ms, id)
redis.call('ZADD', pages, opened_ms, id)
redis.call('SET', open_case, id, 'PX', open_case_ttl_ms)
return {id, 'opened'}

-- A conversation's turn, stored in one step: the check-and-set of its record, the dedupe record of the message, the
-- provider's id remembered apart from the person's data, when the person last wrote, and the send job; then what the
-- turn set in motion (a folded batch: check-ins, audit entries), only if the turn was written.
--
-- KEYS: conversation, then the optional keys ARGV names, in this order: seen, processed, wrote, send queue; then
-- the folded batch's keys. ARGV: expected revision, record, ttl ms, deadline ms (on the server's clock; 0: none),
-- outbox, dedupe ttl ms (0: no message id, so no dedupe record), processed ttl ms (0: no processed key), wrote ms
-- (0: not the person's own message), queue cap (0: no send job), the job's field count, then field, value...; then
-- the folded batch.
--
-- Returns {0}: written; {1, outbox}: the message was processed before (its job queued again); {4}: processed before
-- and its outbox is gone (deleted or expired); {2, record or nil}: the stored revision is not the expected one; {3}:
-- the commit reached Redis after its deadline (sent to a server that froze, run when it woke) and wrote nothing.
local conversation = KEYS[1]
local expected, record, ttl_ms, deadline = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local outbox, dedupe_ttl_ms, processed_ttl_ms = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local wrote_ms, queue_cap, job_fields = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])

local next_key = 2
local function optional(present)
  if not present then
    return nil
  end
  next_key = next_key + 1
  return KEYS[next_key - 1]
end
local seen = optional(dedupe_ttl_ms > 0)
local processed = optional(processed_ttl_ms > 0)
local wrote = optional(wrote_ms > 0)
local queue = optional(queue_cap > 0)
local first_folded_key, first_folded_arg = next_key, 11 + 2 * job_fields

if deadline > 0 then
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > deadline then
    return {3}
  end
end

local function queue_job()
  if queue then
    redis.call('XADD', queue, 'MAXLEN', '~', queue_cap, '*', unpack(ARGV, 11, 10 + 2 * job_fields))
  end
end

if seen then
  local before = redis.call('GET', seen)
  if before then
    queue_job()
    return {1, before}
  end
  if processed and redis.call('EXISTS', processed) == 1 then
    return {4}
  end
end
local current = 0
local stored = redis.call('GET', conversation)
if stored then
  current = tonumber(string.match(stored, '^{"revision":(%d+),"session":') or '0')
end
if current ~= expected then
  return {2, stored}
end
redis.call('SET', conversation, record, 'PX', ttl_ms)
if seen then
  redis.call('SET', seen, outbox, 'PX', dedupe_ttl_ms)
end
if processed then
  redis.call('SET', processed, '1', 'PX', processed_ttl_ms)
end
if wrote then
  redis.call('SET', wrote, wrote_ms, 'PX', ttl_ms)
end
queue_job()
run_folded(first_folded_key, first_folded_arg)
return {0}

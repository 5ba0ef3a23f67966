-- Runs a folded batch (bot/storage/scripts.py, Batch.folded) inside another script: `ops` holds the scripts it may
-- run, by name, each as function(KEYS, ARGV). The batch's keys start at KEYS[k]; from ARGV[a], each op is named, then
-- its key count, its argument count and its arguments.
local function run_folded(k, a)
  while a <= #ARGV do
    local name, key_count, arg_count = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    ops[name]({unpack(KEYS, k, k + key_count - 1)}, {unpack(ARGV, a + 3, a + 2 + arg_count)})
    k, a = k + key_count, a + 3 + arg_count
  end
end

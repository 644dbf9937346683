-- Forget a creator (an operator's revoke): the hash, the schedule, and every process's copy.
-- KEYS[1] = the creator's hash, KEYS[2] (optional, standalone only) = the keepalive set.
-- ARGV: channel, creator. Returns 1 if the hash existed.
local removed = redis.call('del', KEYS[1])
if KEYS[2] then
    redis.call('zrem', KEYS[2], ARGV[2])
end
redis.call('publish', ARGV[1], ARGV[2] .. '|')
return removed

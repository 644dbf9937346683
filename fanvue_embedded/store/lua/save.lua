-- Compare-and-set of a creator's token set, and its invalidation.
-- KEYS[1] = the creator's hash, KEYS[2] (optional, standalone only) = the keepalive set.
-- ARGV: expected generation ('' = any), blob, updated_at, channel, creator,
--       keepalive score, 'NX' to schedule only if unscheduled ('' = always).
-- Returns {1, new generation} or {0, current generation}.
local g = tonumber(redis.call('hget', KEYS[1], 'g') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= g then
    return {0, g}
end
g = g + 1
redis.call('hset', KEYS[1], 'g', g, 'v', ARGV[2], 'u', ARGV[3])
redis.call('hdel', KEYS[1], 'a', 'r')
if KEYS[2] then
    if ARGV[7] == 'NX' then
        redis.call('zadd', KEYS[2], 'NX', ARGV[6], ARGV[5])
    else
        redis.call('zadd', KEYS[2], ARGV[6], ARGV[5])
    end
end
redis.call('publish', ARGV[4], ARGV[5] .. '|' .. g)
return {1, g}

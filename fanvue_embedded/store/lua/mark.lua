-- Drop the tokens and leave the re-authorization mark; publish the invalidation.
-- KEYS[1] = the creator's hash, KEYS[2] (optional, standalone only) = the keepalive set.
-- ARGV: expected generation ('' = any), "reason|time", channel, creator.
-- Returns 1 if marked, 0 if the generation moved.
local g = tonumber(redis.call('hget', KEYS[1], 'g') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= g then
    return 0
end
redis.call('hdel', KEYS[1], 'v', 'a', 'u')
redis.call('hset', KEYS[1], 'g', g + 1, 'r', ARGV[2])
if KEYS[2] then
    redis.call('zrem', KEYS[2], ARGV[4])
end
redis.call('publish', ARGV[3], ARGV[4] .. '|' .. (g + 1))
return 1

-- Commit a refresh: compare-and-set the new set on the generation, release the lock if still
-- ours, publish the invalidation. KEYS[1] = the creator's hash, KEYS[2] = the lock,
-- KEYS[3] (optional, standalone only) = the keepalive sorted set.
-- ARGV: owner token, expected generation, blob, updated_at, channel, creator, keepalive at.
-- Returns {1, new generation} or {0, current generation}. The lock does not decide: Fanvue
-- has rotated, so a set whose lock lapsed is still the newest unless the generation moved.
local g = tonumber(redis.call('hget', KEYS[1], 'g') or '0')
local won = tonumber(ARGV[2]) == g
if won then
    g = g + 1
    redis.call('hset', KEYS[1], 'g', g, 'v', ARGV[3], 'u', ARGV[4])
    redis.call('hdel', KEYS[1], 'a', 'r')
    if KEYS[3] then
        redis.call('zadd', KEYS[3], 'XX', ARGV[7], ARGV[6])
    end
    redis.call('publish', ARGV[5], ARGV[6] .. '|' .. g)
end
if redis.call('get', KEYS[2]) == ARGV[1] then
    redis.call('del', KEYS[2])
end
if won then
    return {1, g}
end
return {0, g}

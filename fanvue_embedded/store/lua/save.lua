-- Compare-and-set of a creator's token set.
-- KEYS[1] = the creator's hash. ARGV: expected generation ('' = any), blob, updated_at.
-- Returns {1, new generation} or {0, current generation}.
local g = tonumber(redis.call('hget', KEYS[1], 'g') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= g then
    return {0, g}
end
g = g + 1
redis.call('hset', KEYS[1], 'g', g, 'v', ARGV[2], 'u', ARGV[3])
redis.call('hdel', KEYS[1], 'a', 'r')
return {1, g}

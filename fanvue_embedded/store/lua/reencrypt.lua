-- Rewrite a value under the newest key. KEYS[1] = the creator's hash.
-- ARGV: generation the blob was read at, new blob. Rewrites only if no write happened since.
if redis.call('hget', KEYS[1], 'g') == ARGV[1] then
    redis.call('hset', KEYS[1], 'v', ARGV[2])
    return 1
end
return 0

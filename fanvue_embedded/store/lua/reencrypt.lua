-- Rewrite a value under the newest key. KEYS[1] = the creator's hash.
-- ARGV: generation the blob was read at, new blob, channel, creator.
-- Rewrites only if no write happened since; a rewrite tells every process to drop its copy
-- (key rotation: what was decrypted under the old keyring is read again).
if redis.call('hget', KEYS[1], 'g') == ARGV[1] then
    redis.call('hset', KEYS[1], 'v', ARGV[2])
    redis.call('publish', ARGV[3], ARGV[4] .. '|')
    return 1
end
return 0

-- Forget a refresh attempt. KEYS[1] = the creator's hash. ARGV: fingerprint.
-- Deletes the attempt record only if it is for that fingerprint.
local current = redis.call('hget', KEYS[1], 'a')
local head = ARGV[1] .. '|'
if current and string.sub(current, 1, #head) == head then
    return redis.call('hdel', KEYS[1], 'a')
end
return 0

-- End a refresh that committed nothing: forget the attempt if the token was certainly not
-- consumed, release the lock if still ours, wake the waiters.
-- KEYS[1] = the creator's hash, KEYS[2] = the lock.
-- ARGV: owner token, attempt generation to forget ('' = keep the attempt), channel, creator.
if ARGV[2] ~= '' then
    local head = 'g' .. ARGV[2] .. '|'
    local attempt = redis.call('hget', KEYS[1], 'a')
    if attempt and string.sub(attempt, 1, #head) == head then
        redis.call('hdel', KEYS[1], 'a')
    end
end
local released = 0
if redis.call('get', KEYS[2]) == ARGV[1] then
    released = redis.call('del', KEYS[2])
end
local g = redis.call('hget', KEYS[1], 'g') or ''
redis.call('publish', ARGV[3], ARGV[4] .. '|' .. g)
return released

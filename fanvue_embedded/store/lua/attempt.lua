-- Record a refresh attempt. KEYS[1] = the creator's hash. ARGV: fingerprint, time.
-- Keeps an existing record for the same fingerprint; returns the record.
local current = redis.call('hget', KEYS[1], 'a')
local head = ARGV[1] .. '|'
if current and string.sub(current, 1, #head) == head then
    return current
end
local record = head .. ARGV[2]
redis.call('hset', KEYS[1], 'a', record)
return record

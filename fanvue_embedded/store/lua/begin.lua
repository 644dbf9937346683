-- Begin a refresh: one step that reads the set, takes (or renews) the lock and records the
-- attempt. KEYS[1] = the creator's hash, KEYS[2] = the creator's lock.
-- ARGV: owner token, lock ttl (ms), now, seen generation ('' = none), min age ('' = none).
-- Returns {state, generation, blob, updated_at, attempt}:
--   absent  no token set (blob slot: the re-authorization mark, if any)
--   moved   the generation differs from the seen one: somebody committed; no lock taken
--   recent  written less than min age ago; no lock taken
--   busy    another owner holds the lock
--   locked  the lock is ours; attempt = "g<generation>|<first attempt time>"
local h = redis.call('hmget', KEYS[1], 'g', 'v', 'u', 'a', 'r')
local g = tonumber(h[1] or '0')
if not h[2] then
    return {'absent', g, h[5] or false}
end
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= g then
    return {'moved', g, h[2], h[3] or false}
end
if ARGV[5] ~= '' and h[3] and tonumber(ARGV[3]) - tonumber(h[3]) < tonumber(ARGV[5]) then
    return {'recent', g, h[2], h[3]}
end
if not redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
    if redis.call('get', KEYS[2]) ~= ARGV[1] then
        return {'busy', g, h[2], h[3] or false}
    end
    redis.call('pexpire', KEYS[2], ARGV[2])
end
-- The attempt is keyed by generation: each generation holds exactly one refresh token.
local head = 'g' .. g .. '|'
local attempt = h[4]
if not attempt or string.sub(attempt, 1, #head) ~= head then
    attempt = head .. ARGV[3]
    redis.call('hset', KEYS[1], 'a', attempt)
end
return {'locked', g, h[2], h[3] or false, attempt}

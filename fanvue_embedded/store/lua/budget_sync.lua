-- Re-sync a Fanvue rate-limit bucket from a response's headers (see fanvue_embedded/budget.py).
-- KEYS[1] = the bucket's hash. ARGV: X-RateLimit-Remaining, X-RateLimit-Reset (the server's
-- window id), X-RateLimit-Limit ('' if absent), window (ms), Retry-After (ms, '' if absent).
-- The server's count wins; its window ends at most one window after this answer arrived (the
-- window already held the request), sooner if Retry-After says so. A count kept against
-- another limit than the one announced is first moved by the difference: the calls taken but
-- not yet counted by the server stay taken. Returns 1 if applied.
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local told, server_window = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, window, retry = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'r', 't', 'w', 'c', 'o')
local remaining, reset = tonumber(state[1]), tonumber(state[2])
local opened = tonumber(state[5])
if remaining and limit and opened then remaining = remaining - (opened - limit) end
local seen, confirmed = tonumber(state[3]) or 0, state[4] == '1'
local bound = now + window
if retry then bound = math.min(bound, now + retry) end
if server_window < seen or (server_window == seen and not confirmed) then
    return 0  -- a late answer from a window this bucket has already left
end
if server_window == seen then
    remaining = math.min(remaining or told, told)
    reset = math.min(reset or bound, bound)
else
    if not confirmed and reset and now < reset then
        remaining = math.min(remaining or told, told)  -- first news of the window we opened
    else
        remaining = told  -- the server moved to a window we had not opened yet
    end
    reset = bound
end
redis.call('HSET', KEYS[1], 'r', remaining, 't', reset, 'w', server_window, 'c', 1)
if limit then redis.call('HSET', KEYS[1], 'l', limit, 'o', limit) end
redis.call('PEXPIRE', KEYS[1], math.max(reset - now, 0) + 2 * window)
return 1

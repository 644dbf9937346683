-- Take one request's token from a Fanvue rate-limit bucket (see fanvue_embedded/budget.py).
-- KEYS[1] = the bucket's hash. ARGV: limit (configured), window (ms).
-- Fields: r = tokens left, t = when the window ends (ms, this server's clock: every process
-- shares it), c = 1 once a response confirmed the window, w = the server's window id
-- (its X-RateLimit-Reset), l = the limit the server last announced, o = the limit the count
-- in r is based on (what the window was opened with, until the server announces its own).
-- Returns {0, tokens left, confirmed window id or false, announced limit or false} when a
-- token was taken (what the caller needs to tell whether its answer changes anything),
-- else {the milliseconds until the window ends}.
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local window = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'r', 't', 'l', 'c', 'w')
local remaining, reset = tonumber(state[1]), tonumber(state[2])
local confirmed = state[4] == '1'
if not reset or now >= reset then
    -- The window is over (or unknown): open the next one locally, unconfirmed.
    remaining = tonumber(state[3]) or tonumber(ARGV[1])
    reset = now + window
    confirmed = false
    redis.call('HSET', KEYS[1], 't', reset, 'c', 0, 'r', remaining, 'o', remaining)
    redis.call('PEXPIRE', KEYS[1], reset - now + 2 * window)
end
if remaining <= 0 then
    return {math.max(reset - now, 1)}
end
redis.call('HSET', KEYS[1], 'r', remaining - 1)
return {0, remaining - 1, confirmed and state[5] or false, state[3] or false}

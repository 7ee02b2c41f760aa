-- One model's shared budget as a sliding-window log: the Redis twin of sliding-window-budget.ts
-- (read that file for the why; keep the two in step). One atomic call per batch of acquisitions.
--
-- KEYS[1] log   ZSET  member "<id>:<requests>:<tokens>", score = expiry time (ms)
-- KEYS[2] state HASH  sumR, sumT, seq, hold, prioUntil, prioOwner
-- ARGV[1] op: acquire | reconcile | observe | extend | hold
-- ARGV[2] now in ms, or "" to use the Redis server's TIME (one clock for every replica)
-- ARGV[3] key TTL in ms (idle models disappear)
--   acquire:   ARGV[4] capR, [5] capT, [6] windowMs, [7] owner, [8] priority grace ms,
--              then per item: tokens, interactive (1|0), lifetimeMs
--              → { retryMs (-1 = all granted), freeR (0 if unlimited), freeT, member... }
--   reconcile: ARGV[4] member, [5] tokens (-1 = release)
--   observe:   ARGV[4] capR, [5] capT, [6] windowMs, [7] remainingR (-1 = unknown), [8] remainingT
--   extend:    ARGV[4] ms, then members: push their expiry back by ms
--   hold:      ARGV[4] ms

local log, state = KEYS[1], KEYS[2]
local op = ARGV[1]
local now = tonumber(ARGV[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[3])

local function parse(member)
  local id, r, t = string.match(member, '^(%d+):(%d+):(%d+)$')
  return id, tonumber(r), tonumber(t)
end

local sumR = tonumber(redis.call('HGET', state, 'sumR') or '0')
local sumT = tonumber(redis.call('HGET', state, 'sumT') or '0')

-- Drop expired grants from the running sums.
local expired = redis.call('ZRANGEBYSCORE', log, '-inf', now)
if #expired > 0 then
  for _, m in ipairs(expired) do
    local _, r, t = parse(m)
    sumR = sumR - r
    sumT = sumT - t
  end
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now)
end
-- An empty log means nothing is in the window, whatever the sums say (self-heals lost writes).
if redis.call('ZCARD', log) == 0 then
  sumR = 0
  sumT = 0
end

local hold = tonumber(redis.call('HGET', state, 'hold') or '0')

local function add(expiresAt, r, t)
  local id = redis.call('HINCRBY', state, 'seq', 1)
  local member = string.format('%d:%d:%d', id, r, t)
  redis.call('ZADD', log, expiresAt, member)
  sumR = sumR + r
  sumT = sumT + t
  return member
end

local function fits(capR, capT, tokens, freedR, freedT)
  if capR > 0 and sumR - freedR + 1 > capR then return false end
  if capT > 0 then
    local used = sumT - freedT
    if tokens > capT then return used <= 0 end
    if used + tokens > capT then return false end
  end
  return true
end

local function msUntilFits(capR, capT, windowMs, tokens)
  local live = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
  local freedR, freedT = 0, 0
  local i = 1
  while i <= #live do
    local _, r, t = parse(live[i])
    local at = tonumber(live[i + 1])
    freedR = freedR + r
    freedT = freedT + t
    local nextAt = tonumber(live[i + 3])
    if nextAt ~= at and fits(capR, capT, tokens, freedR, freedT) then
      return math.max(1, at - now)
    end
    i = i + 2
  end
  return math.max(1, windowMs)
end

local function save()
  local keep = math.max(ttl, hold - now + 1000)
  redis.call('HSET', state, 'sumR', sumR, 'sumT', sumT)
  redis.call('PEXPIRE', state, keep)
  redis.call('PEXPIRE', log, keep)
end

if op == 'acquire' then
  local capR, capT, windowMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local owner, grace = ARGV[7], tonumber(ARGV[8])
  local prioUntil = tonumber(redis.call('HGET', state, 'prioUntil') or '0')
  local prioOwner = redis.call('HGET', state, 'prioOwner') or ''
  local result = { -1, 0, 0 }
  local interactiveRefused = false
  if hold > now then
    result[1] = hold - now
  else
    for i = 9, #ARGV, 3 do
      local tokens, interactive, lifetime = tonumber(ARGV[i]), ARGV[i + 1] == '1', tonumber(ARGV[i + 2])
      if not interactive and prioUntil > now and prioOwner ~= owner then
        result[1] = prioUntil - now
        break
      end
      if not fits(capR, capT, tokens, 0, 0) then
        result[1] = msUntilFits(capR, capT, windowMs, tokens)
        if interactive then
          interactiveRefused = true
          prioUntil = now + result[1] + grace
          redis.call('HSET', state, 'prioUntil', prioUntil, 'prioOwner', owner)
        end
        break
      end
      result[#result + 1] = add(now + lifetime, 1, tokens)
    end
  end
  -- This replica has no interactive work waiting any more (its first item is batch): stop holding
  -- the others' batch back.
  if not interactiveRefused and prioOwner == owner and prioUntil > 0 and ARGV[10] ~= '1' then
    redis.call('HSET', state, 'prioUntil', 0)
  end
  result[2] = capR > 0 and (capR - sumR) or 0
  result[3] = capT > 0 and (capT - sumT) or 0
  save()
  return result
elseif op == 'reconcile' then
  local member, tokens = ARGV[4], tonumber(ARGV[5])
  if redis.call('ZSCORE', log, member) then
    local id, r, t = parse(member)
    local score = redis.call('ZSCORE', log, member)
    redis.call('ZREM', log, member)
    sumR = sumR - r
    sumT = sumT - t
    if tokens >= 0 then
      local renamed = string.format('%s:%d:%d', id, r, tokens)
      redis.call('ZADD', log, score, renamed)
      sumR = sumR + r
      sumT = sumT + tokens
    end
    save()
  end
  return 0
elseif op == 'observe' then
  local capR, capT, windowMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local remR, remT = tonumber(ARGV[7]), tonumber(ARGV[8])
  local r, t = 0, 0
  if capR > 0 and remR >= 0 then r = math.max(0, capR - sumR - remR) end
  if capT > 0 and remT >= 0 then t = math.max(0, capT - sumT - remT) end
  if r > 0 or t > 0 then add(now + windowMs, r, t) end
  save()
  return 0
elseif op == 'extend' then
  local ms = tonumber(ARGV[4])
  for i = 5, #ARGV do
    if redis.call('ZSCORE', log, ARGV[i]) then redis.call('ZINCRBY', log, ms, ARGV[i]) end
  end
  save()
  return 0
elseif op == 'hold' then
  hold = math.max(hold, now + tonumber(ARGV[4]))
  redis.call('HSET', state, 'hold', hold)
  save()
  return 0
end
return redis.error_reply('unknown op ' .. tostring(op))

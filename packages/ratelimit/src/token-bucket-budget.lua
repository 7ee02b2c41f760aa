-- One model's shared budget: the Redis twin of token-bucket-budget.ts (read that file for the why;
-- keep the two in step, decision for decision). One atomic call per batch of acquisitions.
--
-- KEYS[1] HASH r, t (levels), at (last refill, ms), hold, and the reservation: resUntil, resOwner,
--         resRank (0 interactive, 1 batch), resSince (when its request was queued)
-- ARGV[1] op: acquire | giveBack | observe | hold
-- ARGV[2] now in ms, or "" to use the Redis server's TIME (one clock for every replica)
-- ARGV[3] key TTL in ms (an idle model's state disappears: its buckets are full again anyway)
-- ARGV[4..7] capR, perMsR, capT, perMsT (capacity 0 = unlimited)
--   acquire:  ARGV[8] owner, [9] reservation grace ms, then per item: tokens, interactive (1|0), since
--             → { granted, retryMs (-1 = all granted), freeR, freeT }
--   giveBack: ARGV[8] requests, [9] tokens (negative takes)
--   observe:  ARGV[8] remainingR, [9] remainingT (-1 = unknown)
--   hold:     ARGV[8] ms

local key = KEYS[1]
local op = ARGV[1]
local now = tonumber(ARGV[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local ttl = tonumber(ARGV[3])
local capR, perMsR, capT, perMsT = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local EPSILON = 1e-9

local state = redis.call('HMGET', key, 'r', 't', 'at', 'hold', 'resUntil', 'resOwner', 'resRank', 'resSince')
local r, t, at = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local hold = tonumber(state[4]) or 0
local resUntil = tonumber(state[5]) or 0
local resOwner = state[6] or ''
local resRank = tonumber(state[7]) or 0
local resSince = tonumber(state[8]) or 0

-- A new budget starts full; a clock that steps back refills nothing.
if r == nil or t == nil or at == nil then
  r, t, at = capR, capT, now
elseif now > at then
  local dt = now - at
  if capR > 0 then r = math.min(capR, r + dt * perMsR) end
  if capT > 0 then t = math.min(capT, t + dt * perMsT) end
  at = now
end

local function msUntilFits(tokens)
  local wait = 0
  if capR > 0 then wait = math.max(wait, (math.min(1, capR) - r - EPSILON) / perMsR) end
  if capT > 0 then wait = math.max(wait, (math.min(tokens, capT) - t - EPSILON) / perMsT) end
  if wait > 0 then return math.max(1, math.ceil(wait)) end
  return 0
end

-- Numbers go to Redis as strings: %.17g keeps every bit, so the twin in TS decides alike.
local function exact(x)
  return string.format('%.17g', x)
end

local function save()
  redis.call('HSET', key, 'r', exact(r), 't', exact(t), 'at', exact(at), 'hold', exact(hold),
    'resUntil', exact(resUntil), 'resOwner', resOwner, 'resRank', exact(resRank), 'resSince', exact(resSince))
  redis.call('PEXPIRE', key, math.ceil(math.max(ttl, hold - now + 1000)))
end

local function floorFree(level, cap)
  if cap > 0 then return math.floor(level + EPSILON) end
  return 0
end

if op == 'acquire' then
  local owner, grace = ARGV[8], tonumber(ARGV[9])
  local granted, retry = 0, -1
  local refused = false
  if hold > now and #ARGV >= 10 then
    retry = math.ceil(hold - now)
  else
    for i = 10, #ARGV, 3 do
      local tokens, rank, since = tonumber(ARGV[i]), 1, tonumber(ARGV[i + 2])
      if ARGV[i + 1] == '1' then rank = 0 end
      -- Behind another replica's older or more urgent refused head?
      if resUntil > now and resOwner ~= owner and (rank > resRank or (rank == resRank and since >= resSince)) then
        retry = math.ceil(resUntil - now)
        break
      end
      local wait = msUntilFits(tokens)
      if wait > 0 then
        retry = wait
        refused = true
        local free = not (resUntil > now) or resOwner == owner
        if free or rank < resRank or (rank == resRank and since < resSince) then
          resUntil, resOwner, resRank, resSince = now + wait + grace, owner, rank, since
        end
        break
      end
      if capR > 0 then r = r - 1 end
      if capT > 0 then t = t - tokens end
      granted = granted + 1
    end
  end
  -- Nothing of this replica's is waiting for the budget any more: release its reservation.
  if not refused and resOwner == owner then resUntil = 0 end
  save()
  return { granted, retry, floorFree(r, capR), floorFree(t, capT) }
elseif op == 'giveBack' then
  if capR > 0 then r = math.min(capR, r + tonumber(ARGV[8])) end
  if capT > 0 then t = math.min(capT, t + tonumber(ARGV[9])) end
elseif op == 'observe' then
  local remR, remT = tonumber(ARGV[8]), tonumber(ARGV[9])
  if capR > 0 and remR >= 0 then r = math.min(r, remR) end
  if capT > 0 and remT >= 0 then t = math.min(t, remT) end
elseif op == 'hold' then
  hold = math.max(hold, now + tonumber(ARGV[8]))
else
  return redis.error_reply('unknown op ' .. tostring(op))
end
save()
return 0

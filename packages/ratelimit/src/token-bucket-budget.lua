-- One model's shared budget: the Redis twin of token-bucket-budget.ts (read that file for the why;
-- keep the two in step, decision for decision). One atomic call per batch of acquisitions.
--
-- KEYS[1] HASH r, t (levels), at (last refill, ms), hold; the reservation: resUntil, resOwner,
--         resRank (0 interactive, 1 batch), resSince (when its item became its replica's head, this clock);
--         and the best head refused behind it, which holds it next: nextUntil, nextOwner, nextRank, nextSince
-- ARGV[1] op: acquire | giveBack | observe | hold
-- ARGV[2] now in ms, or "" to use the Redis server's TIME (one clock for every replica)
-- ARGV[3] key TTL in ms (an idle model's state disappears: its buckets are full again anyway)
-- ARGV[4..7] capR, perMsR, capT, perMsT (capacity 0 = unlimited)
--   acquire:  ARGV[8] owner, [9] reservation grace ms, then per item: tokens, interactive (1|0), headMs
--             (how long it has been its replica's head; 0 if it is not the head)
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

local state = redis.call('HMGET', key, 'r', 't', 'at', 'hold', 'resUntil', 'resOwner', 'resRank', 'resSince',
  'nextUntil', 'nextOwner', 'nextRank', 'nextSince')
local r, t, at = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local hold = tonumber(state[4]) or 0
local resUntil = tonumber(state[5]) or 0
local resOwner = state[6] or ''
local resRank = tonumber(state[7]) or 0
local resSince = tonumber(state[8]) or 0
local nextUntil = tonumber(state[9]) or 0
local nextOwner = state[10] or ''
local nextRank = tonumber(state[11]) or 0
local nextSince = tonumber(state[12]) or 0

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
    'resUntil', exact(resUntil), 'resOwner', resOwner, 'resRank', exact(resRank), 'resSince', exact(resSince),
    'nextUntil', exact(nextUntil), 'nextOwner', nextOwner, 'nextRank', exact(nextRank),
    'nextSince', exact(nextSince))
  redis.call('PEXPIRE', key, math.ceil(math.max(ttl, hold - now + 1000)))
end

local function floorFree(level, cap)
  if cap > 0 then return math.floor(level + EPSILON) end
  return 0
end

-- More urgent, or the same urgency and head for longer.
local function before(rankA, sinceA, rankB, sinceB)
  return rankA < rankB or (rankA == rankB and sinceA < sinceB)
end

if op == 'acquire' then
  local owner, grace = ARGV[8], tonumber(ARGV[9])
  local granted, retry = 0, -1
  if hold > now and #ARGV >= 10 then
    retry = math.ceil(hold - now)
  else
    for i = 10, #ARGV, 3 do
      local tokens, rank, since = tonumber(ARGV[i]), 1, now - tonumber(ARGV[i + 2])
      if ARGV[i + 1] == '1' then rank = 0 end
      if resUntil > now and resOwner ~= owner and not before(rank, since, resRank, resSince) then
        -- Behind another replica's head: come back when its turn ends, and be next if none better is.
        retry = math.ceil(resUntil - now)
        if not (nextUntil > now) or nextOwner == owner or before(rank, since, nextRank, nextSince) then
          nextUntil, nextOwner, nextRank, nextSince = resUntil + grace, owner, rank, since
        end
        break
      end
      local wait = msUntilFits(tokens)
      if wait > 0 then
        if nextUntil > now and nextOwner ~= owner and before(nextRank, nextSince, rank, since) then
          -- This replica's turn is over and a head elsewhere has waited longer: the turn passes to it.
          resUntil, resOwner, resRank, resSince = nextUntil, nextOwner, nextRank, nextSince
          nextUntil, nextOwner, nextRank, nextSince = resUntil + grace, owner, rank, since
          retry = math.ceil(resUntil - now)
        else
          resUntil, resOwner, resRank, resSince = now + wait + grace, owner, rank, since
          if nextOwner == owner then nextUntil = 0 end
          retry = wait
        end
        break
      end
      if capR > 0 then r = r - 1 end
      if capT > 0 then t = t - tokens end
      granted = granted + 1
      -- Its waiting head was served: what it sends next is a new head, and must queue again.
      if nextOwner == owner then nextUntil = 0 end
    end
    if retry < 0 then
      -- Nothing of this replica's waits any more: its turn ends, and passes on to the next head waiting.
      if nextOwner == owner then nextUntil = 0 end
      if resOwner == owner then
        if nextUntil > now then
          resUntil, resOwner, resRank, resSince = nextUntil, nextOwner, nextRank, nextSince
          nextUntil = 0
        else
          resUntil = 0
        end
      end
    end
  end
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

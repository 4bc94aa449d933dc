-- Reserve stock atomically, with the semantics of stockd's POST /v1/reservations:
-- check every item's availability, then decrement all (all or nothing), record the reservation
-- with its TTL, idempotent by reservation id (identical replay -> same answer, different body ->
-- conflict). Loaded once with SCRIPT LOAD and called with EVALSHA.
--
-- KEYS[1]      reservation hash      {<first sku>}:res:<reservation_id>
-- KEYS[2]      expiry index (zset)   {<first sku>}:expiries   member = KEYS[1], score = deadline
-- KEYS[2+2i-1] available units       {<sku i>}:avail          (i = 1..n)
-- KEYS[2+2i]   reserved units        {<sku i>}:reserved
-- ARGV[1]      ttl_ms
-- ARGV[2]      canonical request body (items and ttl): the idempotency fingerprint
-- ARGV[3]      tombstone retention after expiry, ms (how long replays are recognised)
-- ARGV[3+i]    qty of item i
-- Returns {1, expires_at_ms} created, {2, expires_at_ms} replay, {-1, item, available}
-- insufficient stock (nothing changed), {-2} same id with a different body.
--
-- Redis Cluster: every key carries a {sku} hash tag, so a single-SKU reservation touches one slot.
-- A multi-SKU reservation is only atomic if all its SKUs share a slot: give co-sold SKUs a common
-- tag ({shop-42}:sku-1:avail), accepting that the tag's shard takes all their traffic; otherwise
-- the caller must reserve per slot and compensate (cancel) on failure, which is not atomic.
-- Expiry (not exercised by the benchmark: its TTL outlives the run) is a sweeper script run
-- periodically per slot: ZRANGEBYSCORE {sku}:expiries 0 <now> LIMIT 0 <n>, and for each PENDING
-- reservation move qty from :reserved back to :avail, set state EXPIRED, ZREM.
local existing = redis.call('HMGET', KEYS[1], 'body', 'expires_at_ms')
if existing[1] then
  if existing[1] == ARGV[2] then return {2, tonumber(existing[2])} end
  return {-2}
end
local n = (#KEYS - 2) / 2
local qty = {}
for i = 1, n do
  local q = tonumber(ARGV[3 + i])
  local avail = tonumber(redis.call('GET', KEYS[1 + 2 * i]) or '0')
  if avail < q then return {-1, i, avail} end
  qty[i] = q
end
for i = 1, n do
  redis.call('DECRBY', KEYS[1 + 2 * i], qty[i])
  redis.call('INCRBY', KEYS[2 + 2 * i], qty[i])
end
local t = redis.call('TIME')
local expires_at_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'body', ARGV[2], 'state', 'PENDING', 'expires_at_ms', expires_at_ms)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], expires_at_ms, KEYS[1])
return {1, expires_at_ms}

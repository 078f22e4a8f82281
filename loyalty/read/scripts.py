"""Lua scripts of the read models: each applies one change atomically.

Write scripts share one calling convention: KEYS[1] is the built marker, KEYS[2] the event's
seen key; ARGV[1] is the mode and ARGV[2] the seen key's TTL. In mode `event` a script returns
-1 when the read model is not built (the caller rebuilds first), 0 when the event was already
applied, and 1 after applying it and recording the event id in the same script. In mode
`load` (rebuild, batch codes) it applies without either check.

Counters are compare-and-set on the promo code's version: a change older than what the model
holds is skipped, so replays and reordering change nothing.

The readers build a few key names inside Lua (a user's groups decide which sets to read), so
these scripts target a single Redis, not a cluster.
"""

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

_PRELUDE = """
local event = ARGV[1] == 'event'
if event then
  if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
  if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
end
"""

_EPILOGUE = """
if event then redis.call('SET', KEYS[2], '1', 'EX', ARGV[2]) end
return 1
"""

# KEYS[3] code hash, [4] all codes zset, [5] public set, [6] batch zset, [7] code-id key.
# ARGV[3] id, [4] snapshot JSON, [5] version, [6] uses, [7] public '1'/'0',
# [8] in a batch '1'/'0', [9] code text, [10] code-id key prefix.
UPSERT_CODE = (
    _PRELUDE
    + """
local h, id, version = KEYS[3], ARGV[3], tonumber(ARGV[5])
if version > tonumber(redis.call('HGET', h, 'fv') or '0') then
  local old = redis.call('HGET', h, 'code')
  if old and old ~= ARGV[9] then redis.call('DEL', ARGV[10] .. old) end
  redis.call('HSET', h, 'snap', ARGV[4], 'fv', version, 'code', ARGV[9])
  redis.call('SET', KEYS[7], id)
  redis.call('ZADD', KEYS[4], id, id)
  if ARGV[7] == '1' then
    redis.call('SADD', KEYS[5], id)
  else
    redis.call('SREM', KEYS[5], id)
  end
  if ARGV[8] == '1' then redis.call('ZADD', KEYS[6], id, id) end
end
if version > tonumber(redis.call('HGET', h, 'v') or '0') then
  redis.call('HSET', h, 'uses', ARGV[6], 'v', version)
end
"""
    + _EPILOGUE
)

# KEYS[3] purchase hash, [4] user's purchases zset, [5] code hash, [6] user's uses hash.
# ARGV[3] purchase id, [4] JSON, [5] status rank, [6] created_at epoch, [7] has counters,
# [8] code version, [9] code uses, [10] user's uses, [11] code id.
APPLY_PURCHASE = (
    _PRELUDE
    + """
local rank = tonumber(ARGV[5])
if rank >= tonumber(redis.call('HGET', KEYS[3], 'rank') or '0') then
  redis.call('HSET', KEYS[3], 'data', ARGV[4], 'rank', rank)
end
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
if ARGV[7] == '1' then
  local version = tonumber(ARGV[8])
  if version > tonumber(redis.call('HGET', KEYS[5], 'v') or '0') then
    redis.call('HSET', KEYS[5], 'uses', ARGV[9], 'v', version)
  end
  local vfield = 'v:' .. ARGV[11]
  if version > tonumber(redis.call('HGET', KEYS[6], vfield) or '0') then
    redis.call('HSET', KEYS[6], ARGV[11], ARGV[10], vfield, version)
  end
end
"""
    + _EPILOGUE
)

# KEYS[3..] sets; ARGV[3] 'SADD' or 'SREM', ARGV[4] the member added to or removed from each.
SET_MEMBER = (
    _PRELUDE
    + """
for i = 3, #KEYS do redis.call(ARGV[3], KEYS[i], ARGV[4]) end
"""
    + _EPILOGUE
)

# KEYS[3] hash; ARGV[3] field, ARGV[4] value.
HASH_SET = (
    _PRELUDE
    + """
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
"""
    + _EPILOGUE
)

# KEYS[3] user hash; ARGV[3] status, ARGV[4] epoch of the event: the newest event wins.
USER_STATUS = (
    _PRELUDE
    + """
if tonumber(ARGV[4]) >= tonumber(redis.call('HGET', KEYS[3], 'at') or '0') then
  redis.call('HSET', KEYS[3], 'status', ARGV[3], 'at', ARGV[4])
end
"""
    + _EPILOGUE
)

# KEYS[3] code failures hash, [4] attempts watermark; ARGV[3] reason, [4] attempt id.
# An attempt at or below the watermark was already counted by the last rebuild.
COUNT_REJECTION = (
    _PRELUDE
    + """
if tonumber(ARGV[4]) > tonumber(redis.call('GET', KEYS[4]) or '0') then
  redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
end
"""
    + _EPILOGUE
)

MARK_SEEN = _PRELUDE + _EPILOGUE

# KEYS[1] marker, [2] user hash, [3] user's codes, [4] user's groups, [5] public codes,
# [6] user's uses. ARGV[1] group key prefix, [2] group key suffix, [3] code key prefix.
# Returns {0} when not built, else {1, status, snap1, uses1, mine1, snap2, ...} for every
# candidate code; who may see which of them is decided in Python (`loyalty.read.active`).
ACTIVE_CANDIDATES = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local status = redis.call('HGET', KEYS[2], 'status') or ''
local sets = {KEYS[3], KEYS[5]}
for _, gid in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  sets[#sets + 1] = ARGV[1] .. gid .. ARGV[2]
end
local out = {1, status}
for _, id in ipairs(redis.call('SUNION', unpack(sets))) do
  local c = redis.call('HMGET', ARGV[3] .. id, 'snap', 'uses')
  if c[1] then
    out[#out + 1] = c[1]
    out[#out + 1] = c[2] or '0'
    out[#out + 1] = redis.call('HGET', KEYS[6], id) or '0'
  end
end
return out
"""

# KEYS[1] marker, [2] user's purchases zset; ARGV[1] offset, [2] limit, [3] purchase prefix.
# Returns {0} when not built, else {1, data1, data2, ...} newest first.
USER_PURCHASES = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local ids = redis.call('ZREVRANGE', KEYS[2], tonumber(ARGV[1]),
                       tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
local out = {1}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', ARGV[3] .. id, 'data')
  if data then out[#out + 1] = data end
end
return out
"""

# KEYS[1] lock; ARGV[1] the holder's token. Deletes or extends only a lock it still holds.
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""


class Scripts:
    """The scripts registered on one client (EVALSHA, reloaded after a Redis restart)."""

    def __init__(self, redis: Redis) -> None:
        self.upsert_code: AsyncScript = redis.register_script(UPSERT_CODE)
        self.apply_purchase: AsyncScript = redis.register_script(APPLY_PURCHASE)
        self.set_member: AsyncScript = redis.register_script(SET_MEMBER)
        self.hash_set: AsyncScript = redis.register_script(HASH_SET)
        self.user_status: AsyncScript = redis.register_script(USER_STATUS)
        self.count_rejection: AsyncScript = redis.register_script(COUNT_REJECTION)
        self.mark_seen: AsyncScript = redis.register_script(MARK_SEEN)
        self.active_candidates: AsyncScript = redis.register_script(ACTIVE_CANDIDATES)
        self.user_purchases: AsyncScript = redis.register_script(USER_PURCHASES)
        self.release_lock: AsyncScript = redis.register_script(RELEASE_LOCK)
        self.extend_lock: AsyncScript = redis.register_script(EXTEND_LOCK)

"""Lua scripts of the read models: each applies one change atomically.

Write scripts share one calling convention: KEYS[1] is the built marker, KEYS[2] the event's
seen key; ARGV[1] is the mode and ARGV[2] the seen key's TTL. In mode `event` a script returns
-1 when the read model is not built (the caller rebuilds first), 0 when the event was already
applied, and 1 after applying it and recording the event id in the same script. In mode
`load` (rebuild) it applies without either check.

Every change carries a version and applies only when it is newer than what the model holds:
codes and counters the promo code's `version`, audience entries their own (signed: negative
means "taken back"), purchases their status rank, user statuses the event's time. So replays,
duplicates and any order of delivery end in the same state.

The readers build a few key names inside Lua (a user's groups decide which hashes to read), so
these scripts target a single Redis, not a cluster.
"""

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from loyalty.read import keys

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

# A public code is in the public zset only while a use of it is left (`rules.uses_left`): a
# used-up code costs no page a read. The code hash keeps what decides it: 'p' public '1'/'0',
# 'm' max uses ('' unlimited), 'e' score, 'k' member; 'u' its uses. Called after any change of
# those, it leaves the zset as the hash says, whatever order the changes came in.
_PLACE = """
local function place(h, zset)
  local f = redis.call('HMGET', h, 'p', 'm', 'e', 'k', 'u')
  if not f[4] then return end
  if f[1] == '1' and (f[2] == '' or tonumber(f[5] or '0') < tonumber(f[2])) then
    redis.call('ZADD', zset, f[3], f[4])
  else
    redis.call('ZREM', zset, f[4])
  end
end
"""

# KEYS[3] code hash, [4] public zset. ARGV[3] id, [4] listing snapshot JSON, [5] version,
# [6] uses, [7] public '1'/'0', [8] code text, [9] end of validity (epoch or 'inf'),
# [10] '1': only when the code is there already (a batch code's change: see `projection`),
# [11] max uses ('' unlimited).
UPSERT_CODE = (
    _PRELUDE
    + _PLACE
    + """
local h, id, version = KEYS[3], ARGV[3], tonumber(ARGV[5])
if ARGV[10] == '1' and redis.call('HEXISTS', h, 's') == 0 then
  if event then redis.call('SET', KEYS[2], '1', 'EX', ARGV[2]) end
  return 1
end
if version > tonumber(redis.call('HGET', h, 'fv') or '0') then
  local old = redis.call('HGET', h, 'k')
  local member = ARGV[8] .. ' ' .. id
  if old and old ~= member then redis.call('ZREM', KEYS[4], old) end
  redis.call('HSET', h, 's', ARGV[4], 'fv', version, 'p', ARGV[7], 'm', ARGV[11],
             'e', ARGV[9], 'k', member)
end
if version > tonumber(redis.call('HGET', h, 'v') or '0') then
  redis.call('HSET', h, 'u', ARGV[6], 'v', version)
end
place(h, KEYS[4])
"""
    + _EPILOGUE
)

# KEYS[3] user's purchase data hash, [4] user's purchases zset, [5] code hash, [6] user's
# uses hash, [7] public zset. ARGV[3] purchase id, [4] JSON, [5] status rank (one digit),
# [6] created_at epoch, [7] has counters, [8] code version, [9] code uses, [10] user's uses,
# [11] code id.
APPLY_PURCHASE = (
    _PRELUDE
    + _PLACE
    + """
local held = redis.call('HGET', KEYS[3], ARGV[3])
if not held or tonumber(ARGV[5]) >= tonumber(string.sub(held, 1, 1)) then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[5] .. ARGV[4])
end
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
if ARGV[7] == '1' then
  local version = tonumber(ARGV[8])
  if version > tonumber(redis.call('HGET', KEYS[5], 'v') or '0') then
    redis.call('HSET', KEYS[5], 'u', ARGV[9], 'v', version)
    place(KEYS[5], KEYS[7])
  end
  local vfield = 'v:' .. ARGV[11]
  if version > tonumber(redis.call('HGET', KEYS[6], vfield) or '0') then
    redis.call('HSET', KEYS[6], ARGV[11], ARGV[10], vfield, version)
  end
end
"""
    + _EPILOGUE
)

# KEYS[3..] audience hashes; ARGV[3] the field (a code or group id), ARGV[4..] the signed
# version for each hash in order. Applied where newer than the absolute value held.
AUDIENCE = (
    _PRELUDE
    + """
for i = 3, #KEYS do
  local version = tonumber(ARGV[i + 1])
  local held = tonumber(redis.call('HGET', KEYS[i], ARGV[3]) or '0')
  if math.abs(version) > math.abs(held) then redis.call('HSET', KEYS[i], ARGV[3], version) end
end
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

MARK_SEEN = _PRELUDE + _EPILOGUE


# What a buyer's read returns first: whether the read model is built, then the denylist
# entries the caller asked to read along (`core.security.Unconfirmed`: its revocation is
# checked in the same round trip as the read). KEYS[first..] are those entries.
def _built_and_denylist(first: int) -> str:
    return f"""
local denied = {{}}
if #KEYS >= {first} then denied = redis.call('MGET', unpack(KEYS, {first})) end
local out = {{redis.call('EXISTS', KEYS[1]), #denied}}
for _, value in ipairs(denied) do out[#out + 1] = value end
if out[1] == 0 then return out end
"""


# One chunk of a user's listing candidates, in the listing's order for the public ones.
# KEYS[1] marker, [2] user hash, [3] user's codes, [4] user's groups, [5] public zset,
# [6] user's uses, [7..] denylist entries. ARGV[1] lowest end of validity (exclusive,
# "(<epoch>"), [2] position in the zset, [3] count, [4] '1': also the codes assigned to the
# user and their groups. Returns {built, n, the n denylist values} then, when built: status,
# scanned, personal count, then per candidate snapshot, uses, user's uses (integers): the personal
# candidates first, then the public ones. The work follows the chunk: a page reads a prefix
# of the public zset, never the codes after it.
ACTIVE_CHUNK = (
    _built_and_denylist(7)
    + """
out[#out + 1] = redis.call('HGET', KEYS[2], 'status') or ''
local scanned, personal = #out + 1, #out + 2
out[scanned], out[personal] = 0, 0
local mine = {}  -- the user's uses by code id: one read, not one per candidate
local held = redis.call('HGETALL', KEYS[6])
for i = 1, #held, 2 do mine[held[i]] = held[i + 1] end
local function add(id)
  local c = redis.call('HMGET', '"""
    + keys.CODE_PREFIX
    + """' .. id, 's', 'u')
  if c[1] then
    out[#out + 1] = c[1]
    out[#out + 1] = tonumber(c[2] or '0')
    out[#out + 1] = tonumber(mine[id] or '0')
    return 1
  end
  return 0
end
local function present(hash, into)
  local pairs_ = redis.call('HGETALL', hash)
  for i = 1, #pairs_, 2 do
    if tonumber(pairs_[i + 1]) > 0 then into[#into + 1] = pairs_[i] end
  end
end
if ARGV[4] == '1' then
  local ids, groups, seen, n = {}, {}, {}, 0
  present(KEYS[3], ids)
  present(KEYS[4], groups)
  for _, gid in ipairs(groups) do
    present('"""
    + keys.GROUP_PREFIX
    + """' .. gid .. '"""
    + keys.CODES_SUFFIX
    + """', ids)
  end
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      n = n + add(id)
    end
  end
  out[personal] = n
end
local members = redis.call('ZRANGEBYSCORE', KEYS[5], ARGV[1], '+inf', 'LIMIT',
                           tonumber(ARGV[2]), tonumber(ARGV[3]))
out[scanned] = #members
for _, member in ipairs(members) do add(string.match(member, ' (%d+)$')) end
return out
"""
)

# KEYS[1] marker, [2] user's purchases zset, [3] user's purchase data hash, [4..] denylist
# entries; ARGV[1] offset, [2] limit. Returns {built, n, the n denylist values} then, when
# built, each purchase's data newest first (with its rank digit in front).
USER_PURCHASES = (
    _built_and_denylist(4)
    + """
local ids = redis.call('ZREVRANGE', KEYS[2], tonumber(ARGV[1]),
                       tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[3], id)
  if data then out[#out + 1] = data end
end
return out
"""
)

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
        self.audience: AsyncScript = redis.register_script(AUDIENCE)
        self.user_status: AsyncScript = redis.register_script(USER_STATUS)
        self.mark_seen: AsyncScript = redis.register_script(MARK_SEEN)
        self.active_chunk: AsyncScript = redis.register_script(ACTIVE_CHUNK)
        self.user_purchases: AsyncScript = redis.register_script(USER_PURCHASES)
        self.release_lock: AsyncScript = redis.register_script(RELEASE_LOCK)
        self.extend_lock: AsyncScript = redis.register_script(EXTEND_LOCK)

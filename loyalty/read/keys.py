"""The Redis key layout of the read models. Every key starts with `rm:`.

- `rm:built`: the "read model is built" marker. Missing means Redis lost its memory (restart
  without data, FLUSHALL) or a rebuild is running: readers fall back, projectors wait.
- `rm:rebuild:lock`: held by the one process rebuilding.
- `rm:seen:<event_id>`: an applied event (7 days), written in the same script as the change.
- `rm:code:<id>` hash: `snap` (JSON snapshot without counters), `fv` (version of that
  snapshot), `code`, `uses` and `v` (counter and the version it was read at).
- `rm:code:<id>:failures` hash: rejected attempts by reason.
- `rm:code_id:<CODE>`: the id of a code by its text.
- `rm:codes` zset (score id): every code; `rm:batch:<batch_id>` zset: the codes of a batch.
- `rm:codes:public` set: active `everyone` codes not generated in a batch.
- `rm:user:<uid>` hash: `status`, `at` (epoch of the event that set it).
- `rm:user:<uid>:codes` set: codes assigned to the user; `rm:user:<uid>:groups` set.
- `rm:group:<gid>:codes` set: codes assigned to the group; `rm:groups` hash id -> JSON.
- `rm:uses:<uid>` hash: `<code_id>` -> this user's uses, `v:<code_id>` -> version read at.
- `rm:purchase:<id>` hash: `data` (JSON), `rank` (pending 1, paid/cancelled 2);
  `rm:purchases:<uid>` zset (score created_at epoch): a user's purchases.
- `rm:tariffs` hash id -> JSON.
- `rm:attempts:watermark`: highest attempt id a rebuild counted; older rejections are skipped.
"""

PREFIX = "rm:"
BUILT = "rm:built"
REBUILD_LOCK = "rm:rebuild:lock"
CODES = "rm:codes"
PUBLIC_CODES = "rm:codes:public"
GROUPS = "rm:groups"
TARIFFS = "rm:tariffs"
ATTEMPTS_WATERMARK = "rm:attempts:watermark"

# Kept by a rebuild: dedupe must survive it, and the lock belongs to the rebuilder.
KEPT_BY_REBUILD = ("rm:seen:*", REBUILD_LOCK)

CODE_PREFIX = "rm:code:"
CODE_ID_PREFIX = "rm:code_id:"
GROUP_PREFIX = "rm:group:"
CODES_SUFFIX = ":codes"


# Each key of one thing: its template's `.format`, e.g. `code(5)` is "rm:code:5".
seen = "rm:seen:{}".format
code = (CODE_PREFIX + "{}").format
code_failures = (CODE_PREFIX + "{}:failures").format
batch = "rm:batch:{}".format
user = "rm:user:{}".format
user_codes = ("rm:user:{}" + CODES_SUFFIX).format
user_groups = "rm:user:{}:groups".format
group_codes = (GROUP_PREFIX + "{}" + CODES_SUFFIX).format
user_uses = "rm:uses:{}".format
purchase = "rm:purchase:{}".format
user_purchases = "rm:purchases:{}".format


def code_id_by_text(text: str) -> str:
    return f"{CODE_ID_PREFIX}{text.upper()}"

"""The Redis key layout of the read models. Every key starts with `rm:`.

Redis keeps only what a buyer's read asks for: the codes a buyer can be listed, the audience
that decides who sees them, a user's status and uses, and purchases. Operators read codes,
batches, failures and attempts from Postgres through the read-only engine, so nothing of a
generated batch is kept here unless a code of it is assigned to someone (docs/read-side.md).

- `rm:built`: the "read model is built" marker. Missing means Redis lost its memory (restart
  without data, FLUSHALL) or a rebuild is running: readers fall back, projectors wait.
- `rm:rebuild:lock`: held by the one process rebuilding.
- `rm:seen:<event_id>`: an applied event (7 days), written in the same script as the change.
- `rm:code:<id>` hash: `s` (the listing snapshot, compact JSON), `fv` (its version),
  `u`, `v` (the uses counter and the version it was read at). A used batch code that is
  assigned to nobody holds only `u` and `v`.
- `rm:public` zset: public codes (`rules.is_public`), member `"<CODE> <id>"`, score the end
  of validity (epoch; `+inf` for none): the listing's order, so a page reads a prefix.
- `rm:user:<uid>` hash: `status`, `at` (epoch of the event that set it).
- `rm:user:<uid>:codes` hash code id -> signed version; `rm:user:<uid>:groups` hash group id
  -> signed version; `rm:group:<gid>:codes` hash code id -> signed version. A positive version
  is "assigned / a member", a negative one "taken back": a change applies only when its
  version is above the absolute value held, so the audience is right in any order.
- `rm:uses:<uid>` hash: `<code_id>` -> this user's uses, `v:<code_id>` -> version read at.
- `rm:purchases:<uid>` zset (member purchase id, score created_at epoch) and
  `rm:purchase_data:<uid>` hash purchase id -> status rank (one digit: pending 1,
  paid/cancelled 2) then the purchase's JSON: a user's purchases, two keys per user.
"""

PREFIX = "rm:"
BUILT = "rm:built"
REBUILD_LOCK = "rm:rebuild:lock"
PUBLIC_CODES = "rm:public"
SEEN_PREFIX = "rm:seen:"

CODE_PREFIX = "rm:code:"
GROUP_PREFIX = "rm:group:"
CODES_SUFFIX = ":codes"


# Each key of one thing: its template's `.format`, e.g. `code(5)` is "rm:code:5".
seen = (SEEN_PREFIX + "{}").format
code = (CODE_PREFIX + "{}").format
user = "rm:user:{}".format
user_codes = ("rm:user:{}" + CODES_SUFFIX).format
user_groups = "rm:user:{}:groups".format
group_codes = (GROUP_PREFIX + "{}" + CODES_SUFFIX).format
user_uses = "rm:uses:{}".format
user_purchases = "rm:purchases:{}".format
user_purchase_data = "rm:purchase_data:{}".format


def public_member(text: str, code_id: int | str) -> str:
    """A public code in `rm:public`: its text first, so codes ending at the same moment are
    ordered by text as the listing orders them (a space sorts below every code character)."""
    return f"{text} {code_id}"

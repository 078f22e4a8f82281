"""Promo-code generator: random codes without look-alikes, with a check character.

The alphabet leaves out 0/O and 1/I/L, so 31 characters remain; 31 is prime, which makes a
weighted check digit mod 31 catch every single substitution (weight times difference is never 0
mod a prime) and every swap of two neighbours (adjacent weights differ by ±1 or 29, never 0).
The check covers every character of the alphabet in the code, prefix included; a prefix is
the operator's own word and may use any code character (`SPRING-`), and the ones outside the
alphabet are not covered, like the separators.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, prime
VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
SEPARATORS = frozenset("-")
PREFIX_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")  # any code character
PLACEHOLDER = "X"
DEFAULT_LENGTH = 10
MIN_LENGTH = 4  # three random characters and the check character
MAX_CODE_LENGTH = 64
# Refuse batches that would fill more than this share of the possible codes: the
# uniqueness top-up would otherwise spin and the codes would be easy to guess.
MAX_SPACE_SHARE = 0.01

assert BASE == 31


def _weight(position: int) -> int:
    # 1..30 then again; neighbours never share a weight and no weight is 0 mod 31.
    return position % (BASE - 1) + 1


def _significant(code: str) -> list[int]:
    return [VALUE[ch] for ch in code if ch in VALUE]


def check_character(body: str) -> str:
    """The character that, appended to `body`, makes the weighted sum 0 mod 31."""
    values = _significant(body)
    total = sum(_weight(i) * v for i, v in enumerate(values))
    weight = _weight(len(values))
    # weight * c ≡ -total (mod 31); 31 is prime so the inverse exists.
    return ALPHABET[(-total * pow(weight, -1, BASE)) % BASE]


def has_valid_check(code: str) -> bool:
    """True when the check character fits the code's characters of the alphabet."""
    values = _significant(code)
    return bool(values) and sum(_weight(i) * v for i, v in enumerate(values)) % BASE == 0


def is_mistyped(code: str, shapes: Iterable["CodeShape"]) -> bool:
    """The code has the shape of a generated batch but its check character does not fit:
    a typo, which the buyer is told about (rather than a plain "no such code")."""
    return any(shape.fits(code) for shape in shapes) and not has_valid_check(code)


@dataclass(frozen=True)
class CodeShape:
    """What the codes of a batch look like: `prefix` + `pattern`, where each `X` of the pattern
    is a random character and the last `X` is the check character."""

    prefix: str
    pattern: str

    def fits(self, code: str) -> bool:
        """The code has this shape: the prefix, then a code character where the pattern has
        an `X` and the pattern's own separators elsewhere (whatever its check character)."""
        if len(code) != self.code_length or not code.startswith(self.prefix):
            return False
        body = code[len(self.prefix) :]
        return all(
            ch in VALUE if slot == PLACEHOLDER else ch == slot
            for ch, slot in zip(body, self.pattern, strict=True)
        )

    @property
    def random_slots(self) -> int:
        return self.pattern.count(PLACEHOLDER) - 1

    @property
    def code_length(self) -> int:
        return len(self.prefix) + len(self.pattern)

    @property
    def possible_codes(self) -> int:
        return BASE**self.random_slots


def shape_problem(prefix: str, pattern: str | None, length: int | None) -> str | None:
    """Why these options make no valid shape, or None."""
    bad_prefix = [ch for ch in prefix.upper() if ch not in PREFIX_CHARACTERS]
    if bad_prefix:
        return f"a prefix uses letters, digits and '-'; not {''.join(sorted(set(bad_prefix)))}"
    if pattern is not None:
        bad = [ch for ch in pattern if ch != PLACEHOLDER and ch not in SEPARATORS]
        if bad:
            return "a pattern is made of X (one character each) and '-'"
        if pattern.count(PLACEHOLDER) < MIN_LENGTH:
            return f"a pattern needs at least {MIN_LENGTH} X"
        if length is not None and length != pattern.count(PLACEHOLDER):
            return "length and pattern disagree (length counts the X of the pattern)"
    elif length is not None and length < MIN_LENGTH:
        return f"length is at least {MIN_LENGTH}"
    shape = make_shape(prefix, pattern, length)
    if shape.code_length > MAX_CODE_LENGTH:
        return f"a code is at most {MAX_CODE_LENGTH} characters with its prefix"
    return None


def make_shape(
    prefix: str = "", pattern: str | None = None, length: int | None = None
) -> CodeShape:
    if pattern is None:
        pattern = PLACEHOLDER * (length or DEFAULT_LENGTH)
    return CodeShape(prefix=prefix.upper(), pattern=pattern.upper())


def capacity_problem(shape: CodeShape, count: int) -> str | None:
    if count > shape.possible_codes * MAX_SPACE_SHARE:
        return (
            f"{count} codes would fill too much of the {shape.possible_codes} possible ones; "
            "use a longer length or pattern"
        )
    return None


def _random_values(n: int) -> bytes:
    """n uniform values in 0..30 from the OS CSPRNG (rejection sampling keeps them uniform)."""
    limit = 256 - 256 % BASE  # 248: bytes below it map uniformly onto 0..30
    out = bytearray()
    while len(out) < n:
        chunk = secrets.token_bytes(int((n - len(out)) * 1.05) + 16)
        out.extend(b % BASE for b in chunk if b < limit)
    return bytes(out[:n])


_TRANSLATE = bytes.maketrans(bytes(range(BASE)), ALPHABET.encode())


def generate_codes(shape: CodeShape, count: int) -> list[str]:
    """`count` distinct random codes of `shape` (distinct among themselves; the database
    decides uniqueness against codes that already exist)."""
    slots = shape.random_slots
    codes: set[str] = set()
    # Precompute where random characters go in the pattern.
    parts = shape.pattern.split(PLACEHOLDER)
    while len(codes) < count:
        need = count - len(codes)
        randoms = _random_values(need * slots).translate(_TRANSLATE).decode()
        for n in range(need):
            chunk = randoms[n * slots : (n + 1) * slots]
            pieces = [shape.prefix]
            for i, ch in enumerate(chunk):
                pieces.append(parts[i])
                pieces.append(ch)
            pieces.append(parts[slots])
            body = "".join(pieces)
            codes.add(body + check_character(body) + parts[slots + 1])
    return list(codes)

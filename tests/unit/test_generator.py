"""The generator: alphabet without look-alikes, shapes, and a check character that catches
every single substitution and every swap of two neighbours."""

import pytest

from loyalty.catalog import generator
from loyalty.catalog.generator import (
    ALPHABET,
    SEPARATORS,
    generate_codes,
    has_valid_check,
    is_mistyped,
    make_shape,
)


def test_alphabet_has_no_look_alikes():
    assert set("0O1IL").isdisjoint(ALPHABET)
    assert len(ALPHABET) == len(set(ALPHABET)) == 31


def substitutions(code: str):
    for i, ch in enumerate(code):
        if ch in SEPARATORS:
            continue
        for other in ALPHABET:
            if other != ch:
                yield code[:i] + other + code[i + 1 :]


def neighbour_swaps(code: str):
    for i in range(len(code) - 1):
        a, b = code[i], code[i + 1]
        if a != b and a not in SEPARATORS and b not in SEPARATORS:
            yield code[:i] + b + a + code[i + 2 :]


SHAPES = [
    generator.make_shape(),
    generator.make_shape(length=4),
    generator.make_shape(prefix="SUMMER-", pattern="XXXX-XXXX"),
    generator.make_shape(prefix="PRM", length=40),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.prefix + s.pattern)
def test_every_single_substitution_and_neighbour_swap_is_caught(shape):
    codes = generator.generate_codes(shape, 100)
    checked = 0
    for code in codes:
        assert has_valid_check(code), code
        for typo in [*substitutions(code), *neighbour_swaps(code)]:
            assert not has_valid_check(typo), (code, typo)
            checked += 1
    assert checked > 100 * 30


def test_a_mistyped_code_never_equals_another_generated_code():
    codes = set(generator.generate_codes(generator.make_shape(length=5), 2000))
    for code in codes:
        assert not (set(substitutions(code)) | set(neighbour_swaps(code))) & codes


def test_codes_follow_prefix_and_pattern():
    shape = generator.make_shape(prefix="sum-", pattern="xxxx-xxxx")
    for code in generator.generate_codes(shape, 200):
        assert code.startswith("SUM-")
        body = code[4:]
        assert len(body) == 9 and body[4] == "-"
        assert all(ch in ALPHABET for ch in body.replace("-", ""))


def test_default_length_and_distinct_codes():
    codes = generator.generate_codes(generator.make_shape(), 5000)
    assert len(set(codes)) == 5000
    assert {len(c) for c in codes} == {generator.DEFAULT_LENGTH}


def test_random_characters_cover_the_whole_alphabet():
    codes = generator.generate_codes(generator.make_shape(length=10), 2000)
    assert set("".join(c[:-1] for c in codes)) == set(ALPHABET)


@pytest.mark.parametrize(
    ("prefix", "pattern", "length", "problem"),
    [
        ("WEL_COME", None, None, "letters, digits"),
        ("", "XX-X", None, "at least"),
        ("", "XXXX-YYYY", None, "made of X"),
        ("", "XXXXX", 4, "disagree"),
        ("", None, 3, "at least"),
        ("A" * 30, None, 40, "at most"),
    ],
)
def test_bad_shapes_are_refused(prefix, pattern, length, problem):
    assert problem in generator.shape_problem(prefix, pattern, length)


def test_batches_that_would_fill_the_code_space_are_refused():
    small = generator.make_shape(length=4)  # 31**3 = 29791 codes
    assert generator.capacity_problem(small, 100) is None
    assert generator.capacity_problem(small, 1000) is not None


def test_text_without_a_character_of_the_alphabet_is_never_valid():
    assert not has_valid_check("")
    assert not has_valid_check("----")
    assert not has_valid_check("OIL-01")


def test_a_prefix_is_the_operators_word_and_any_code_character_will_do():
    """`SPRING-` has an I, outside the alphabet: allowed, and not covered by the check."""
    assert generator.shape_problem("SPRING-", None, 8) is None
    shape = make_shape(prefix="SPRING-", length=8)
    for code in generator.generate_codes(shape, 200):
        assert code.startswith("SPRING-") and has_valid_check(code), code
        body = code[len("SPRING-") :]
        for typo in substitutions(body):
            assert not has_valid_check("SPRING-" + typo), (code, typo)


def test_a_typo_is_told_only_for_a_code_of_a_known_shape():
    shape = make_shape(prefix="SUMMER-", pattern="XXXX-XXXX")
    [code] = generate_codes(shape, 1)
    typo = code[:-1] + next(ch for ch in ALPHABET if ch != code[-1])
    assert shape.fits(code) and shape.fits(typo)
    assert not is_mistyped(code, [shape])
    assert is_mistyped(typo, [shape])
    assert not is_mistyped(typo, [])  # no batch has that shape: just no such code
    assert not shape.fits(typo.replace("-", "", 1))  # separators where the pattern has them
    assert not shape.fits(code[:-1] + "O")  # a letter the generator never uses

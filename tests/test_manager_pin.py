"""The PIN hash and the rules for a new PIN."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.manager_pin import hash_pin, pin_problem, verify_pin

FAST = {"n": 2**4, "r": 1, "p": 1}  # the format is what is tested here, not the cost


@settings(max_examples=40, deadline=None)
@given(pin=st.text(st.sampled_from("0123456789"), min_size=4, max_size=12), other=st.text(max_size=12))
def test_a_pin_verifies_only_itself(pin: str, other: str) -> None:
    stored = hash_pin(pin, **FAST)
    assert verify_pin(pin, stored)
    assert pin not in stored.split("$", 4)[-1] or len(pin) < 4
    if other != pin:
        assert not verify_pin(other, stored)


def test_same_pin_gets_a_new_salt_each_time() -> None:
    assert hash_pin("582047", **FAST) != hash_pin("582047", **FAST)


def test_default_cost_is_slow_scrypt() -> None:
    assert hash_pin("582047").startswith("scrypt$16384$8$1$")


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$a$b", "bcrypt$1$2$3$4$5", "scrypt$16$1$1$!!$!!"])
def test_damaged_hashes_never_verify(stored: str) -> None:
    assert not verify_pin("582047", stored)


@pytest.mark.parametrize(
    ("pin", "ok"),
    [
        ("582047", True),
        ("0000", False),
        ("1234", False),
        ("4321", False),
        ("12a4", False),
        ("١٢٣٤٥", False),
        ("123", False),
        ("5820475820475", False),
        ("8264", True),
    ],
)
def test_pin_rules(pin: str, ok: bool) -> None:
    assert (pin_problem(pin) is None) is ok


def test_pin_messages_have_no_english_suffix_in_swedish() -> None:
    from posplugin.manager_pin import attempts_left, pin_problem

    assert attempts_left(3, "sv") == "3 försök kvar innan spärr"
    assert attempts_left(3, "en") == "3 left before a lockout"
    assert pin_problem("12", "sv") == "PIN-koden ska vara 4-12 siffror"
    assert pin_problem("1111", "sv") == "PIN-koden är för lätt att gissa (samma siffra eller en följd)"

"""The compile_error oracle keeps what the cell showed: its first error, not any error."""

from __future__ import annotations

from kit.engine import oracles

MISMATCH = ("host.ii:94846:142: error: type/value mismatch at argument 1 in template parameter "
            "list for 'template<class ... Args> struct cute::Copy_Atom'")
SIGNATURE = oracles.signature_of(MISMATCH)


def test_the_first_error_decides() -> None:
    assert SIGNATURE == "type/value mismatch at argument #"
    assert oracles.same_error(f"host.ii: In function 'int run()':\n{MISMATCH}\n", SIGNATURE)


def test_a_mismatch_below_errors_of_another_kind_is_no_match() -> None:
    # what a reduction that deleted declarations leaves: the signature appears, but late
    log = ("host.ii:85720:55: error: 'take' was not declared in this scope\n"
           f"{MISMATCH}\n")
    assert not oracles.same_error(log, SIGNATURE)


def test_no_error_at_all_is_no_match() -> None:
    assert not oracles.same_error("host.ii:3: warning: unused variable 'x'\n", SIGNATURE)

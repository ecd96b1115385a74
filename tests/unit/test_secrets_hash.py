"""The callee's secret as an argon2id hash: a PHC string that verifies the digits it
was made of and nothing else, never the secret in an error, batches off the loop."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from callrouter import secrets_hash
from callrouter.secrets_hash import hash_secret, hash_secrets, verify_secret, verify_secrets
from callrouter.secrets_pepper import Pepper

PHC = re.compile(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}")


def test_a_secret_is_an_argon2id_phc_string_with_a_real_memory_cost() -> None:
    phc = hash_secret("12031980")
    match = PHC.fullmatch(phc)
    assert match is not None, phc
    memory, time_cost, lanes = (int(g) for g in match.groups())
    assert (memory, time_cost, lanes) == (secrets_hash.MEMORY_KIB, secrets_hash.TIME_COST, 1)
    assert memory >= 8 * 1024, "argon2id with a real memory cost"
    assert "12031980" not in phc
    assert hash_secret("12031980") != phc, "a fresh salt each time"


def test_only_the_same_digits_verify() -> None:
    phc = hash_secret("0042")
    assert verify_secret(phc, "0042")
    for wrong in ("42", "00420", "0043", "", "00 42", "٠٠٤٢"):
        assert not verify_secret(phc, wrong), wrong


@pytest.mark.parametrize(
    "phc",
    ["", "not a hash", "$argon2id$v=19$m=12288,t=2,p=1$AAAA$BBBB", "$2b$12$abcdefghijklmnopqrstuv"],
)
def test_a_malformed_or_foreign_hash_verifies_nothing(phc: str) -> None:
    assert verify_secret(phc, "1234") is False


def test_a_hash_made_with_other_parameters_still_verifies() -> None:
    from argon2 import PasswordHasher

    older = PasswordHasher(time_cost=3, memory_cost=8 * 1024, parallelism=2).hash("1234")
    assert verify_secret(older, "1234") and not verify_secret(older, "1235")


def test_only_digits_are_hashed_and_the_error_does_not_quote_them() -> None:
    with pytest.raises(ValueError) as refused:
        hash_secret("12.03.1980")
    assert "12" not in str(refused.value)


async def test_a_batch_is_hashed_in_order_in_worker_threads_and_the_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = [f"{n:04d}" for n in range(12)]
    threads: set[int] = set()
    real = secrets_hash.hash_secret

    def watched(digits: str, pepper: Pepper | None = None) -> str:
        threads.add(threading.get_ident())
        return real(digits, pepper)

    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(ticking())
    monkeypatch.setattr(secrets_hash, "hash_secret", watched)
    hashes = await hash_secrets(secrets, threads=3)
    ticker.cancel()
    assert threading.get_ident() not in threads and len(threads) == 3
    assert ticks > 5, "the event loop ran while the batch was hashed"
    assert await verify_secrets([*zip(hashes, secrets, strict=True), (hashes[0], "9999")], threads=2) == [
        *[True] * 12,
        False,
    ]
    assert await hash_secrets([], threads=2) == []


PEPPER = Pepper(b"a pepper of the centre, 32 bytes")
OTHER = Pepper(b"another centre's pepper of its own")


def test_a_peppered_hash_names_its_pepper_and_verifies_only_under_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = hash_secret("12031980", PEPPER)
    assert stored.startswith(f"$callrouter-pepper${PEPPER.id}$")
    assert PHC.fullmatch(stored.removeprefix(f"$callrouter-pepper${PEPPER.id}")), stored
    assert re.fullmatch(r"[0-9a-f]{8}", PEPPER.id) and PEPPER.id != OTHER.id
    assert "pepper" not in PEPPER.id and b"pepper" not in repr(PEPPER).encode()
    assert verify_secret(stored, "12031980", PEPPER)
    assert not verify_secret(stored, "12031981", PEPPER)
    # The database alone (a copy of the row) verifies nothing: neither without the pepper nor under another.
    caplog.set_level("WARNING", logger="callrouter.secrets_hash")
    assert not verify_secret(stored, "12031980")
    assert not verify_secret(stored, "12031980", OTHER)
    said = caplog.text
    assert f"pepper {PEPPER.id}" in said and "no pepper is configured" in said and OTHER.id in said
    assert "12031980" not in said


def test_the_pepper_is_part_of_what_is_hashed_not_only_a_label() -> None:
    """The PHC string under the label is the hash of the HMAC: the bare digits do not verify it."""
    inner = hash_secret("0707", PEPPER).removeprefix(f"$callrouter-pepper${PEPPER.id}")
    assert not verify_secret(inner, "0707")
    relabelled = f"$callrouter-pepper${OTHER.id}{inner}"
    assert not verify_secret(relabelled, "0707", OTHER), "another pepper under a forged label"


def test_a_hash_put_in_before_the_pepper_still_verifies_as_it_was_made() -> None:
    plain = hash_secret("4455")
    assert verify_secret(plain, "4455", PEPPER) and not verify_secret(plain, "4456", PEPPER)


@pytest.mark.parametrize(
    "stored",
    ["$callrouter-pepper$", "$callrouter-pepper$zzzzzzzz$argon2id$x", "$callrouter-pepper$0123abcd"],
)
def test_a_malformed_peppered_hash_verifies_nothing(stored: str) -> None:
    assert verify_secret(stored, "1234", PEPPER) is False


def test_a_short_pepper_is_refused_and_none_given_is_none() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Pepper(b"short")
    assert Pepper.of(None) is None and Pepper.of("") is None


async def test_a_batch_under_a_pepper() -> None:
    hashes = await hash_secrets(["1111", "2222"], threads=2, pepper=PEPPER)
    assert all(h.startswith("$callrouter-pepper$") for h in hashes)
    pairs = [(hashes[0], "1111"), (hashes[1], "2222"), (hashes[1], "1111")]
    assert await verify_secrets(pairs, pepper=PEPPER) == [True, True, False]
    assert await verify_secrets(pairs) == [False, False, False]


def test_the_pepper_id_is_a_slow_hash_of_it_not_a_quick_one() -> None:
    """A stored id must not be a cheap test of a guessed pepper: it is scrypt's, not sha256's."""
    import hashlib

    key = b"a pepper of the centre, 32 bytes"
    assert (
        Pepper(key).id
        == hashlib.scrypt(key, salt=b"callrouter results pepper id", n=2**14, r=8, p=1, dklen=4).hex()
    )
    assert Pepper(key).id not in hashlib.sha256(key).hexdigest()
    assert Pepper(key).id == Pepper(key).id, "the same pepper names itself the same way in every process"

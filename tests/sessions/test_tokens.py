"""Session tokens: signed, expiring, and one secret per deployment (shared through Redis)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from sessions import TokenError, load_secret, make_token, read_token, verify_token
from settings import Settings
from store import Store

SECRET = b"k" * 32
NOW = 1_700_000_000.0


def test_round_trip():
    token = make_token(SECRET, "user-1@example.com", ttl_s=60, now=NOW)
    assert verify_token(SECRET, token, now=NOW + 59) == "user-1@example.com"


def test_token_is_url_safe():
    token = make_token(SECRET, "a.b:c@d-e_f", now=NOW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_expired_at_and_after_expiry():
    token = make_token(SECRET, "u1", ttl_s=60, now=NOW)
    for later in (NOW + 60, NOW + 86400):
        with pytest.raises(TokenError, match="^expired token$"):
            verify_token(SECRET, token, now=later)


def _swap_payload(token: str, user_id: str, expiry: int) -> str:
    """Another payload under the old timestamp and signature."""
    payload = base64.urlsafe_b64encode(json.dumps([user_id, expiry]).encode()).rstrip(b"=")
    _, stamp, signature = token.split(".")
    return f"{payload.decode()}.{stamp}.{signature}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: _swap_payload(t, "u2", 9999999999),  # another user, old signature
        lambda t: _swap_payload(t, "u1", 9999999999),  # longer life, old signature
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    ],
)
def test_tampered_token_has_a_bad_signature(tamper):
    token = make_token(SECRET, "u1", ttl_s=60, now=NOW)
    with pytest.raises(TokenError, match="^bad signature$"):
        verify_token(SECRET, tamper(token), now=NOW)


def test_other_secret_is_a_bad_signature():
    token = make_token(b"other-secret-" + b"x" * 32, "u1", now=NOW)
    with pytest.raises(TokenError, match="^bad signature$"):
        verify_token(SECRET, token, now=NOW)


@pytest.mark.parametrize("token", [None, ""])
def test_missing(token):
    with pytest.raises(TokenError, match="^missing token$"):
        verify_token(SECRET, token, now=NOW)


@pytest.mark.parametrize("token", ["abc", ".", "abc.", ".abc", "abc.déf", "ü.abc.x", "a.b.c.d"])
def test_malformed(token):
    with pytest.raises(TokenError, match="^(malformed token|bad signature)$"):
        verify_token(SECRET, token, now=NOW)


def test_signed_garbage_payload_is_malformed():
    """Even a correctly signed token must hold [user, expiry] with a valid user id."""
    from itsdangerous import URLSafeTimedSerializer

    from sessions.tokens import _SALT

    signer = URLSafeTimedSerializer(SECRET, salt=_SALT)
    for payload in ("no-list", ["u1", "not-a-number"], ["bad user", 9999999999], [1, 2], ["u1"]):
        with pytest.raises(TokenError, match="^malformed token$"):
            verify_token(SECRET, signer.dumps(payload), now=NOW)


def test_a_token_signed_before_its_user_was_revoked_is_refused():
    token = make_token(SECRET, "u1", ttl_s=3600)
    grant = read_token(SECRET, token)
    assert grant.user_id == "u1" and grant.expires_at > grant.issued_at
    assert read_token(SECRET, token, revoked_before=grant.issued_at - 1).user_id == "u1"
    with pytest.raises(TokenError, match="^revoked token$"):
        read_token(SECRET, token, revoked_before=grant.issued_at + 1)


@pytest.mark.parametrize("user_id", ["", "has space", "nul\x00", "x" * 129, "pipe|d"])
def test_make_token_refuses_bad_user_ids(user_id):
    with pytest.raises(ValueError):
        make_token(SECRET, user_id, now=NOW)


def test_configured_secret_wins(settings: Settings, store: Store):
    configured = settings.model_copy(update={"session_secret": "from-the-environment" * 2})
    assert load_secret(configured, store) == b"from-the-environment" * 2


def test_generated_secret_is_shared_through_redis(settings: Settings):
    """Two processes (two Stores, empty NOTIFY_SESSION_SECRET) agree on one generated key."""
    prefix = f"{settings.key_prefix}secret-{uuid.uuid4().hex[:6]}:"
    unset = settings.model_copy(update={"session_secret": ""})
    first, second = Store(settings.redis_url, prefix), Store(settings.redis_url, prefix)
    try:
        secret = load_secret(unset, first)
        assert len(secret) >= 32
        assert load_secret(unset, second) == secret
        token = make_token(secret, "u1")
        assert verify_token(load_secret(unset, second), token) == "u1"
        assert first.client.get(first.keys.session_secret()) == secret
    finally:
        first.client.delete(first.keys.session_secret())

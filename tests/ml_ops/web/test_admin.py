"""The admin key's login sessions: a cookie value that is not the key, that the server
stops accepting at its expiry, and that cannot be altered or made with another key."""

from __future__ import annotations

from ml_ops.web import AdminKey

KEY = "dvr-admin-web-test-0123456789abcdef"
NOW = 1_800_000_000.0


def test_a_session_is_not_the_key_and_is_accepted_until_it_expires() -> None:
    admin = AdminKey.of(KEY)
    session = admin.session(3600, now=NOW)
    assert KEY not in session and KEY[10:20] not in session
    assert not admin.matches(session)
    assert admin.accepts_session(session, now=NOW)
    assert admin.accepts_session(session, now=NOW + 3599)
    assert not admin.accepts_session(session, now=NOW + 3600)


def test_an_altered_or_foreign_session_is_refused() -> None:
    admin = AdminKey.of(KEY)
    session = admin.session(3600, now=NOW)
    expires, _, signature = session.partition(".")
    longer = f"{int(expires) + 10**6}.{signature}"
    other = AdminKey.of(KEY + "-other").session(3600, now=NOW)
    flipped = session[:-1] + ("0" if session[-1] != "0" else "1")
    for value in (longer, other, flipped, KEY, "", None, f"{expires}.", "x.y", "\u00b2.ab"):
        assert not admin.accepts_session(value, now=NOW), value

"""Helpers behind the test fixtures in ``tests/service_fixtures.py``.

One module per concern: ``policy`` (skip locally, fail in CI), ``reaper`` (no orphaned
servers, even when pytest is killed), ``redis_server``, ``postgres_server`` and ``netguard``
(no test reaches the internet). See docs/testing.md.
"""

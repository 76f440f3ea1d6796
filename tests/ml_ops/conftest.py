"""Fixtures for the ml_ops tests: the loopback provider fake of the `ai` tests, shared."""

from tests.ai.conftest import clock, fake, fake_server

__all__ = ["clock", "fake", "fake_server"]

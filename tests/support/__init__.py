"""Test support in one place: factories, clients per role, race helpers and the fixtures
plugin (tests/support/fixtures.py, loaded by the root conftest)."""

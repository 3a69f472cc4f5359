"""The suite's fixtures live in tests/support/fixtures.py, a plugin loaded for every test."""

pytest_plugins = ["tests.support.fixtures"]

"""The test suite: one folder per app (mirroring its code) and support/ (factories, role
clients, race helpers, fixtures).
"""

"""Settings of the server `make bench` starts: the product's, with one extra URL (the ceiling)."""

from medappt.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"

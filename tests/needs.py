"""Tests that need something a machine may lack (a PostgreSQL server, a browser, ruff).

Outside CI such a test skips and says what to install; in CI, where .ci/run provides all of it,
the same absence fails the test, so a green CI run never hides a test that did not run."""

import functools
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs(available: bool, reason: str):
    if available:
        return lambda test: test
    if not IN_CI:
        return pytest.mark.skip(reason=reason)

    def fail_instead(test):
        @functools.wraps(test)
        def failing(*args, **kwargs):
            pytest.fail(f"{reason} (CI runs every test: .ci/run must provide it)")

        return failing

    return fail_instead

"""Errors a user can cause and fix: reported as one line, never as a traceback."""

import re


class BabysitError(Exception):
    """A problem with the user's input (config, files, data); the message says what to fix."""


def find_user_error(exc: BaseException) -> BabysitError | None:
    """Return the BabysitError behind `exc` (Hydra wraps errors raised in constructors); a
    setting Lightning refuses (MisconfigurationException, e.g. trainer=gpu without a GPU) is one too."""
    seen, where = set(), None
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, BabysitError):
            return exc
        key = re.search(r"full_key: (\S+)", str(exc))
        where = where or (key.group(1) if key else None)
        if type(exc).__name__ == "MisconfigurationException":
            hint = "; trainer=cpu trains on the CPU" if re.search(r"gpu|cuda|mps", str(exc), re.I) else ""
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return BabysitError(f"Lightning refuses the {where or 'trainer'} settings: {first}{hint}")
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None

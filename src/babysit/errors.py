"""Errors a user can cause and fix: reported as one line, never as a traceback."""


class BabysitError(Exception):
    """A problem with the user's input (config, files, data); the message says what to fix."""


def find_user_error(exc: BaseException) -> BabysitError | None:
    """Return the BabysitError behind `exc` (Hydra wraps errors raised in constructors)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, BabysitError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None

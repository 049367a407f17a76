"""Errors a user can cause. The CLI prints them in one line and exits with status 2."""


class UserError(Exception):
    """A mistake in the user's input: a bad file, flag, override or decision."""


def one_line(text: str) -> str:
    """``text`` on one line whatever it quotes: line breaks and other control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(text: str) -> str:
    """User text in a one-line message: as it is, or escaped as ``repr`` escapes it if it holds a
    control character."""
    return text if text.isprintable() else repr(text)[1:-1]

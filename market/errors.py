"""Errors a user can cause. The CLI prints them in one line and exits with status 2."""


class UserError(Exception):
    """A mistake in the user's input: a bad file, flag, override or decision."""

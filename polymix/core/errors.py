"""Errors whose message alone tells the user what to fix: the CLI prints them without a traceback."""


class UserFacingError(Exception):
    pass

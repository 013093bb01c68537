"""Errors that mean "the user's input is wrong": the CLI prints them as one line and exits with 2."""


class UserError(Exception):
    """Bad input (unknown model or preset, missing or corrupt checkpoint, weights not matching config)."""

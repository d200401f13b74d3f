"""What each CLI command does, apart from option parsing (gomme/cli.py) so both stay small."""


class UsageError(ValueError):
    """Bad input on the command line: shown as one line, exit 2."""

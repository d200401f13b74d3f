"""What each CLI command does, apart from option parsing (gomme/cli.py) so both stay small."""

from rich.text import Text


class UsageError(ValueError):
    """Bad input on the command line: shown as one line, exit 2."""


def error_line(message: str) -> Text:
    """`error: <message>`, the label styled and the message as it is: brackets in a path, a config key
    (`[daemon] address`) or a CRM's text are shown, never taken for markup."""
    return Text("error: ", style="bold red") + Text(message)

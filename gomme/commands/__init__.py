"""What each CLI command does, apart from option parsing (gomme/cli.py) so both stay small."""

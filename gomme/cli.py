"""The `gomme` command line (typer)."""

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def version() -> None:
    from gomme import __version__

    typer.echo(__version__)


def main() -> None:
    app()

"""The command line: Typer commands, Rich rendering, the interactive loops."""

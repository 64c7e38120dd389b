"""`python -m ovtool` runs the CLI."""

from ovtool.cli.main import main

main()

"""Run the CLI with `python -m paracluster`."""

from paracluster.cli import main

main()

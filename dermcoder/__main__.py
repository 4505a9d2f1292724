"""`python -m dermcoder` runs the CLI."""

from dermcoder.cli import main

main()

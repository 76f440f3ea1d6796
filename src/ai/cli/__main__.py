"""`python -m ai.cli` runs the `devora` command."""

from ai.cli.app import main

main()

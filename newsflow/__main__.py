"""`python -m newsflow` = the `newsflow` command."""

from newsflow.cli.app import main

main()

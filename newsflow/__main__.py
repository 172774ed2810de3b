"""`python -m newsflow` = the `newsflow` command."""

from newsflow.cli import main

main()

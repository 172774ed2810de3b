"""The `newsflow` command line: newsflow.cli.app registers the commands of the modules here."""

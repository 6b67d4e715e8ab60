"""``python -m tierwatch``: the same as the ``tierwatch`` command."""

from tierwatch.cli import main

main()

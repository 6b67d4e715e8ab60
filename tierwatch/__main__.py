"""``python -m tierwatch``: the same as the ``tierwatch`` command."""

from tierwatch.cli import main

if __name__ == "__main__":
    main()

"""``python -m mvote`` is the ``mvote`` command."""

from mvote.cli import main

main()

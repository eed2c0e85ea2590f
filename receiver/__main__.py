"""``python -m receiver``: the same commands as the console script ``receiver``, but no ``.env`` is read."""

from .cli import main

main()

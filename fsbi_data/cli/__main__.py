"""``python -m fsbi_data.cli``: the same as the ``fsbi-data`` command."""

from .main import main

main()

"""The ``fsbi-data`` command line; the only package that knows about the CLI."""

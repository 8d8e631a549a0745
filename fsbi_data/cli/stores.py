"""CLI commands: stores."""

import click

commands: list[click.Command] = []

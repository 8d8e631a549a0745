"""CLI commands: figures."""

import click

commands: list[click.Command] = []

"""CLI commands: metrics."""

import click

commands: list[click.Command] = []

"""CLI commands: queries."""

import click

commands: list[click.Command] = []

"""CLI commands: inference."""

import click

commands: list[click.Command] = []

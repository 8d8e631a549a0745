"""CLI commands: simulate."""

import click

commands: list[click.Command] = []

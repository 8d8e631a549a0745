"""CLI commands: release."""

import click

commands: list[click.Command] = []

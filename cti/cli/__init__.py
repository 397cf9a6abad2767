"""The ``cti`` command. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cti.cli import accounts, demo, ha, planning, privacy, prompts, reports, serve
from cti.cli.common import EXIT_CONFIG, Refused
from cti.config import ConfigError, load_settings
from cti.logging import configure_logging

# Each module adds its sub-commands and sets ``run(settings, args) -> int`` on their parsers.
COMMAND_GROUPS = (serve, accounts, reports, planning, prompts, privacy, demo, ha)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {}
    if getattr(args, "http", None):
        overrides["CTI_HTTP"] = args.http
    if getattr(args, "sip", None):
        overrides["CTI_SIP_LISTEN"] = args.sip
    if getattr(args, "node_id", None):
        overrides["CTI_HA_NODE_ID"] = args.node_id
    try:
        settings = load_settings(args.config, {**os.environ, **overrides})
    except ConfigError as exc:
        print(f"cti: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_format)
    try:
        code: int = args.run(settings, args)
    except Refused as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return exc.code
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description="CTI service for the city IT helpdesk")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser

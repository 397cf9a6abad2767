"""``cti prompts build``: the voice-prompt WAVs from their texts."""

from __future__ import annotations

import argparse
from pathlib import Path

from cti.cli.common import Refused, SubParsers, with_config
from cti.config import Settings


def register(sub: SubParsers) -> None:
    prompts = sub.add_parser("prompts", help="voice prompts")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    build = with_config(prompts_sub.add_parser(
        "build", help="(re)generate the prompt WAVs from their texts (Open JTalk or espeak-ng)"))
    build.add_argument("--dir", help="prompt folder (default: the shipped config/prompts)")
    build.add_argument("--missing", action="store_true", help="only prompts without a WAV")
    build.set_defaults(run=_prompts_build)


def _prompts_build(settings: Settings, args: argparse.Namespace) -> int:
    from cti.calls.wiring import ivr_settings, prompt_dir
    from cti.sip.prompts import build_for_menu, engine

    target = Path(args.dir) if args.dir else prompt_dir()
    try:
        written = build_for_menu(target, target, ivr_settings(settings).entries,
                                 only_missing=args.missing)
    except (OSError, RuntimeError) as exc:
        raise Refused(f"cannot build prompts in {target}: {exc}") from None
    print(f"{len(written)} prompt(s) written to {target} with {engine()}")
    return 0

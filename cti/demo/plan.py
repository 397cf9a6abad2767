"""Who calls, about what, and how they behave: a deterministic plan from a seed (no I/O)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from cti.config import Service


class Behaviour(StrEnum):
    TALK = "talk"                  # chooses a service, waits, talks to an operator, hangs up
    HANG_UP_IN_MENU = "menu_hangup"  # hangs up before choosing
    CALLBACK = "callback"          # chooses, then presses * while waiting: "call me back"


@dataclass(frozen=True, slots=True)
class PlannedCall:
    number: int
    start_s: float        # seconds after the demo starts
    caller: str           # an internal extension (invented), the From user
    digit: str            # the menu digit the caller presses
    behaviour: Behaviour
    hold_s: float         # how long the caller stays after choosing (talk, or waiting before *)
    summary: str          # what the operator types (with personal data the redactor must mask)
    answer: str
    category: str


# Invented people and numbers only; every one of them must be masked before storage.
_PEOPLE = ("山田太郎", "佐藤花子", "鈴木一郎", "高橋美咲", "田中健一", "Hanako Suzuki")
_STORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "isolation": (("{who}さん（携帯 090-{a}-{b}）より、Citrix Workspace にログインできないとの連絡。",
                   "セッションをリセットし、再ログインで解消。"),
                  ("{who}さんからファイル無害化後のファイルが開けないとの問い合わせ。連絡先 {mail}",
                   "無害化の対象外形式のため、PDF に変換して再送するよう案内。")),
    "skysea": (("{who}さん（内線 {ext}）、USB メモリが使用禁止と表示される。",
                "申請済みデバイスとして登録し、再接続で利用可能になった。"),),
    "portal": (("{who}さんより、部局サイトの記事が更新できない。折り返し 011-{c}-{b}",
                "WordPress の編集権限を付与して解消。"),),
    "licence": (("{who}さん、Adobe Acrobat のライセンス認証エラー。メール {mail}",
                 "ライセンスを再割り当てし、サインインし直して解消。"),),
    "telework": (("{who}さんのスマートフォンで CACHATTO に接続できない（090-{a}-{b}）。",
                  "端末証明書の期限切れ。再発行手順を案内。"),),
}
_DEFAULT_STORY = (("{who}さんからの問い合わせ。連絡先 090-{a}-{b}", "手順を案内して解決。"),)


def plan_calls(count: int, rate_per_s: float, services: tuple[Service, ...], seed: int,
               talk_s: float) -> list[PlannedCall]:
    """``count`` calls, one every ``1/rate_per_s`` seconds (with a little jitter)."""
    if count < 1 or rate_per_s <= 0 or not services:
        raise ValueError("a demo needs at least one call, a positive rate and a service")
    rng = random.Random(seed)
    calls = []
    for n in range(count):
        service = rng.choice(services)
        roll = rng.random()
        behaviour = (Behaviour.HANG_UP_IN_MENU if roll < 0.1
                     else Behaviour.CALLBACK if roll < 0.2 else Behaviour.TALK)
        story, answer = rng.choice(_STORIES.get(service.id, _DEFAULT_STORY))
        who = rng.choice(_PEOPLE)
        summary = story.format(who=who, a=rng.randint(1000, 9999), b=rng.randint(1000, 9999),
                               c=rng.randint(100, 999), ext=rng.randint(2000, 2999),
                               mail=f"user{rng.randint(10, 99)}@example.jp")
        calls.append(PlannedCall(
            number=n + 1,
            start_s=round(n / rate_per_s + rng.uniform(0, 0.2 / rate_per_s), 3),
            caller=str(rng.randint(3000, 3999)),
            digit=service.digit,
            behaviour=behaviour,
            hold_s=round(talk_s * rng.uniform(0.7, 1.3), 2),
            summary=summary,
            answer=answer,
            category=(service.categories[0] if service.categories else "その他"),
        ))
    return calls

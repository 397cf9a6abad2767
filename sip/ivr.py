"""The helpdesk IVR as a sans-IO state machine.

No I/O, no clock: the coordinator feeds it ``start``, ``playback_finished``, ``digit``,
``handle_timer`` and ``caller_hung_up`` with ``now`` (monotonic seconds) and carries out the
decisions it returns (``PlayPrompt`` -> ``CallControl.play``, ``SelectService`` -> routing,
``HangUp`` -> ``CallControl.hangup``). ``next_deadline()`` says when to call ``handle_timer``.

Open hours: greeting (+ the supervisor's incident message when one is active) -> menu ("press 1
for ...") -> wait ``digit_timeout_s`` for a digit. A digit may barge in at any time. An invalid
digit or no digit repeats the menu up to ``max_repeats`` times, then routes to the fallback
service ("other"). A caller who hangs up after hearing the whole incident message and before
choosing a service counts as deflected.

Closed hours: an announcement that says why the helpdesk is closed and when it reopens, then
hang up. The state table below is the whole machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cti.sip.errors import IllegalIvrTransitionError

GREETING = "greeting"
INVALID = "invalid_choice"
NO_INPUT = "no_input"
FALLBACK = "transfer_other"


@dataclass(frozen=True, slots=True)
class MenuEntry:
    digit: str
    service_id: str
    name_ja: str
    name_en: str

    @property
    def prompt(self) -> str:
        """Name of this entry's prompt; it names the digit, so a remapped digit needs a new file."""
        return f"menu_{self.digit}_{self.service_id}"

    @property
    def text(self) -> str:
        """The prompt's text: a Japanese line, then an English line."""
        ja = _spoken(self.name_ja)
        ja = f"{ja}は" if ja.endswith("お問い合わせ") else f"{ja}のお問い合わせは"
        return f"{ja}、{self.digit}番を押してください。\nFor {_spoken(self.name_en)}, press {self.digit}."


def _spoken(name: str) -> str:
    """A written service name as spoken: without its parenthesised details."""
    return re.sub(r"\s*[（(][^）)]*[）)]", "", name).strip()


def menu_prompt_texts(entries: tuple[MenuEntry, ...]) -> dict[str, str]:
    """Prompt name -> text for every menu entry (write them beside the WAVs and build)."""
    return {e.prompt: e.text for e in entries}


@dataclass(frozen=True, slots=True)
class IvrSettings:
    entries: tuple[MenuEntry, ...]
    fallback_service: str = "other"
    max_repeats: int = 2  # menu is played at most 1 + max_repeats times
    digit_timeout_s: float = 6.0

    def __post_init__(self) -> None:
        digits = [e.digit for e in self.entries]
        if len(set(digits)) != len(digits):
            raise ValueError(f"duplicate menu digits: {digits}")
        for d in digits:
            if len(d) != 1 or d not in "0123456789*#":
                raise ValueError(f"menu digit must be one DTMF key, got {d!r}")
        if self.max_repeats < 0 or self.digit_timeout_s <= 0:
            raise ValueError("max_repeats must be >= 0 and digit_timeout_s > 0")


# -- decisions -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlayPrompt:
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StopPlayback:
    pass


@dataclass(frozen=True, slots=True)
class SelectService:
    service_id: str
    digit: str | None  # None when routed by fallback
    attempts: int  # menu plays heard
    fallback: bool


@dataclass(frozen=True, slots=True)
class HangUp:
    reason: str


@dataclass(frozen=True, slots=True)
class CallerLeft:
    deflected: bool  # heard the whole incident message and left before choosing


IvrDecision = PlayPrompt | StopPlayback | SelectService | HangUp | CallerLeft


class ClosedReason(StrEnum):
    BEFORE_HOURS = "before_hours"
    AFTER_HOURS = "after_hours"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    YEAR_END = "year_end"


_WEEKDAYS_JA = "月火水木金土日"
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def reopen_text(reopen_at: datetime) -> str:
    """Spoken 'when we reopen' sentence for a local (Asia/Tokyo) datetime."""
    ja = (
        f"次の受付は、{reopen_at.month}月{reopen_at.day}日、"
        f"{_WEEKDAYS_JA[reopen_at.weekday()]}曜日の{reopen_at.hour}時{reopen_at.minute}分からです。"
    )
    en = (
        f"\nWe reopen on {_WEEKDAYS_EN[reopen_at.weekday()]} {reopen_at.strftime('%B')}"
        f" {reopen_at.day} at {reopen_at.strftime('%H:%M')}."
    )
    return ja + en


class IvrState(StrEnum):
    IDLE = "idle"
    ANNOUNCING = "announcing"  # greeting (+ incident) playing
    MENU = "menu"  # menu playing
    WAITING = "waiting"  # digit timer running
    CLOSED = "closed"  # closed announcement playing
    DONE = "done"


class IvrInput(StrEnum):
    START = "start"
    START_CLOSED = "start_closed"
    PLAYBACK_FINISHED = "playback_finished"
    DIGIT = "digit"
    TIMER = "timer"
    HANGUP = "caller_hung_up"


_I = IvrInput
_S = IvrState
# (state, input) -> allowed. The handler picks among the listed outcomes.
TRANSITIONS: dict[tuple[IvrState, IvrInput], frozenset[IvrState]] = {
    (_S.IDLE, _I.START): frozenset({_S.ANNOUNCING}),
    (_S.IDLE, _I.START_CLOSED): frozenset({_S.CLOSED}),
    (_S.ANNOUNCING, _I.PLAYBACK_FINISHED): frozenset({_S.MENU}),
    (_S.ANNOUNCING, _I.DIGIT): frozenset({_S.DONE, _S.MENU}),
    (_S.ANNOUNCING, _I.HANGUP): frozenset({_S.DONE}),
    (_S.MENU, _I.PLAYBACK_FINISHED): frozenset({_S.WAITING}),
    (_S.MENU, _I.DIGIT): frozenset({_S.DONE, _S.MENU}),
    (_S.MENU, _I.HANGUP): frozenset({_S.DONE}),
    (_S.WAITING, _I.DIGIT): frozenset({_S.DONE, _S.MENU}),
    (_S.WAITING, _I.TIMER): frozenset({_S.DONE, _S.MENU}),
    (_S.WAITING, _I.HANGUP): frozenset({_S.DONE}),
    (_S.CLOSED, _I.PLAYBACK_FINISHED): frozenset({_S.DONE}),
    (_S.CLOSED, _I.DIGIT): frozenset({_S.CLOSED}),  # ignored
    (_S.CLOSED, _I.HANGUP): frozenset({_S.DONE}),
    (_S.DONE, _I.DIGIT): frozenset({_S.DONE}),  # late digits are ignored
    (_S.DONE, _I.PLAYBACK_FINISHED): frozenset({_S.DONE}),
    (_S.DONE, _I.TIMER): frozenset({_S.DONE}),
    (_S.DONE, _I.HANGUP): frozenset({_S.DONE}),
}


class Ivr:
    """One caller's walk through the menu. Not thread-safe; one per call."""

    def __init__(self, settings: IvrSettings, *, incident_prompt: str | None = None) -> None:
        self.settings = settings
        self.incident_prompt = incident_prompt
        self.state = IvrState.IDLE
        self.menu_plays = 0  # how many times the menu was started
        self.incident_heard = False
        self.selected: SelectService | None = None
        self._deadline: float | None = None
        self._by_digit = {e.digit: e for e in settings.entries}

    # -- inputs ------------------------------------------------------------------------------
    def start(self, now: float) -> list[IvrDecision]:
        self._go(_I.START, _S.ANNOUNCING)
        prompts = (GREETING,) if self.incident_prompt is None else (GREETING, self.incident_prompt)
        return [PlayPrompt(prompts)]

    def start_closed(
        self, now: float, reason: ClosedReason, reopen_at: datetime | None
    ) -> list[IvrDecision]:
        self._go(_I.START_CLOSED, _S.CLOSED)
        prompts = [f"closed_{reason.value}"]
        if reopen_at is not None:
            prompts.append("tts:" + reopen_text(reopen_at))
        return [PlayPrompt(tuple(prompts))]

    def playback_finished(self, now: float) -> list[IvrDecision]:
        match self.state:
            case _S.ANNOUNCING:
                self.incident_heard = self.incident_prompt is not None
                return self._play_menu(_I.PLAYBACK_FINISHED, prefix=())
            case _S.MENU:
                self._go(_I.PLAYBACK_FINISHED, _S.WAITING)
                self._deadline = now + self.settings.digit_timeout_s
                return []
            case _S.CLOSED:
                self._go(_I.PLAYBACK_FINISHED, _S.DONE)
                return [HangUp("closed")]
            case _:
                self._go(_I.PLAYBACK_FINISHED, self.state)
                return []

    def digit(self, digit: str, now: float) -> list[IvrDecision]:
        if self.state in (_S.CLOSED, _S.DONE):
            self._go(_I.DIGIT, self.state)
            return []
        entry = self._by_digit.get(digit)
        if entry is not None:
            self._go(_I.DIGIT, _S.DONE)
            return [StopPlayback(), self._select(entry.service_id, digit, fallback=False)]
        return self._retry(_I.DIGIT, INVALID)

    def handle_timer(self, now: float) -> list[IvrDecision]:
        if self._deadline is None or now < self._deadline:
            return []
        return self._retry(_I.TIMER, NO_INPUT)

    def caller_hung_up(self, now: float) -> list[IvrDecision]:
        was_selected = self.selected is not None
        self._go(_I.HANGUP, _S.DONE)
        return [CallerLeft(deflected=self.incident_heard and not was_selected)]

    def next_deadline(self) -> float | None:
        return self._deadline if self.state is _S.WAITING else None

    # -- internals -----------------------------------------------------------------------------
    def _retry(self, trigger: IvrInput, why: str) -> list[IvrDecision]:
        if self.menu_plays > self.settings.max_repeats:
            self._go(trigger, _S.DONE)
            decisions: list[IvrDecision] = [StopPlayback()] if trigger is _I.DIGIT else []
            return [*decisions, self._select(self.settings.fallback_service, None, fallback=True)]
        return self._play_menu(trigger, prefix=(why,))

    def _play_menu(self, trigger: IvrInput, prefix: tuple[str, ...]) -> list[IvrDecision]:
        self._go(trigger, _S.MENU)
        self.menu_plays += 1
        self._deadline = None
        return [PlayPrompt((*prefix, *(e.prompt for e in self.settings.entries)))]

    def _select(self, service_id: str, digit: str | None, *, fallback: bool) -> SelectService:
        self._deadline = None
        self.selected = SelectService(service_id, digit, self.menu_plays, fallback)
        return self.selected

    def _go(self, trigger: IvrInput, target: IvrState) -> None:
        allowed = TRANSITIONS.get((self.state, trigger))
        if allowed is None or target not in allowed:
            raise IllegalIvrTransitionError(self.state.value, trigger.value)
        self.state = target

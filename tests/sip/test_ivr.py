from __future__ import annotations

from datetime import datetime

import pytest

from cti.sip.errors import IllegalIvrTransitionError
from cti.sip.ivr import (
    CallerLeft,
    ClosedReason,
    HangUp,
    Ivr,
    IvrSettings,
    IvrState,
    MenuEntry,
    PlayPrompt,
    SelectService,
    StopPlayback,
    menu_prompt_texts,
    reopen_text,
)

ENTRIES = (
    MenuEntry("1", "isolation", "インターネット分離", "internet isolation"),
    MenuEntry("2", "skysea", "スカイシー", "SKYSEA"),
    MenuEntry("9", "other", "その他", "other questions"),
)
MENU = ("menu_1_isolation", "menu_2_skysea", "menu_9_other")


def make(incident: str | None = None, repeats: int = 2) -> Ivr:
    return Ivr(IvrSettings(ENTRIES, max_repeats=repeats, digit_timeout_s=5.0), incident_prompt=incident)


def test_greeting_then_menu_then_digit_selects_service() -> None:
    ivr = make()
    assert ivr.start(0.0) == [PlayPrompt(("greeting",))]
    assert ivr.playback_finished(3.0) == [PlayPrompt(MENU)]
    assert ivr.next_deadline() is None  # timer starts only after the menu was heard
    assert ivr.playback_finished(9.0) == []
    assert ivr.next_deadline() == 14.0
    assert ivr.digit("2", 10.0) == [StopPlayback(), SelectService("skysea", "2", 1, False)]
    assert ivr.state is IvrState.DONE
    assert ivr.next_deadline() is None


def test_digit_barges_into_greeting() -> None:
    ivr = make()
    ivr.start(0.0)
    assert ivr.digit("1", 0.5)[-1] == SelectService("isolation", "1", 0, False)


def test_invalid_digit_replays_menu_then_falls_back() -> None:
    ivr = make(repeats=1)
    ivr.start(0.0)
    ivr.playback_finished(1.0)
    ivr.playback_finished(2.0)
    assert ivr.digit("7", 3.0) == [PlayPrompt(("invalid_choice", *MENU))]
    ivr.playback_finished(4.0)
    assert ivr.digit("#", 5.0) == [StopPlayback(), SelectService("other", None, 2, True)]


def test_no_digit_repeats_then_routes_to_other() -> None:
    ivr = make(repeats=2)
    ivr.start(0.0)
    ivr.playback_finished(1.0)
    now = 2.0
    ivr.playback_finished(now)
    for _ in range(2):
        deadline = ivr.next_deadline()
        assert deadline == now + 5.0
        assert ivr.handle_timer(deadline - 0.1) == []  # early wake-ups do nothing
        assert ivr.handle_timer(deadline) == [PlayPrompt(("no_input", *MENU))]
        now = deadline + 4.0
        ivr.playback_finished(now)
    assert ivr.handle_timer(now + 5.0) == [SelectService("other", None, 3, True)]
    assert ivr.menu_plays == 3


def test_incident_message_then_hangup_counts_as_deflected() -> None:
    ivr = make(incident="incident_citrix")
    assert ivr.start(0.0) == [PlayPrompt(("greeting", "incident_citrix"))]
    ivr.playback_finished(8.0)
    assert ivr.caller_hung_up(9.0) == [CallerLeft(deflected=True)]


def test_hangup_during_incident_message_is_not_deflected() -> None:
    ivr = make(incident="incident_citrix")
    ivr.start(0.0)
    assert ivr.caller_hung_up(1.0) == [CallerLeft(deflected=False)]


def test_hangup_after_choosing_is_not_deflected() -> None:
    ivr = make(incident="incident_citrix")
    ivr.start(0.0)
    ivr.playback_finished(8.0)
    ivr.digit("1", 9.0)
    assert ivr.caller_hung_up(10.0) == [CallerLeft(deflected=False)]


def test_closed_hours_says_why_and_when_then_hangs_up() -> None:
    ivr = make()
    reopen = datetime(2027, 1, 4, 8, 45)
    (play,) = ivr.start_closed(0.0, ClosedReason.YEAR_END, reopen)
    assert isinstance(play, PlayPrompt)
    assert play.prompts[0] == "closed_year_end"
    assert play.prompts[1].startswith("tts:次の受付は、1月4日、月曜日の8時45分")
    assert "Monday January 4 at 08:45" in play.prompts[1]
    assert ivr.digit("1", 1.0) == []  # no menu when closed
    assert ivr.playback_finished(5.0) == [HangUp("closed")]


def test_illegal_transition_is_named() -> None:
    ivr = make()
    with pytest.raises(IllegalIvrTransitionError):
        ivr.playback_finished(0.0)  # nothing is playing before start
    ivr.start(0.0)
    with pytest.raises(IllegalIvrTransitionError):
        ivr.start(1.0)


def test_settings_reject_duplicate_digits() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        IvrSettings((ENTRIES[0], MenuEntry("1", "portal", "ポータル", "portal")))


def test_menu_texts_japanese_first() -> None:
    texts = menu_prompt_texts(ENTRIES)
    assert texts["menu_1_isolation"].startswith("インターネット分離のお問い合わせは、1番")
    assert texts["menu_1_isolation"].endswith("\nFor internet isolation, press 1.")
    assert reopen_text(datetime(2026, 11, 30, 8, 45)).startswith("次の受付は、11月30日、月曜日")

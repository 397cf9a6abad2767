"""A minimal coordinator for tests: wires a CallControl's events to one Ivr per call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from cti.sip.control import CallControl
from cti.sip.events import CallEnded, CallEvent, CallOffered, DigitReceived, PlaybackFinished
from cti.sip.ivr import (
    CallerLeft,
    ClosedReason,
    HangUp,
    Ivr,
    IvrDecision,
    IvrSettings,
    PlayPrompt,
    SelectService,
    StopPlayback,
)


@dataclass
class IvrDriver:
    control: CallControl
    settings: IvrSettings
    closed: tuple[ClosedReason, datetime | None] | None = None
    incident_prompt: str | None = None
    ivrs: dict[str, Ivr] = field(default_factory=dict)
    selected: dict[str, SelectService] = field(default_factory=dict)
    left: dict[str, CallerLeft] = field(default_factory=dict)
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    async def handle(self, event: CallEvent) -> None:
        now = asyncio.get_running_loop().time()
        match event:
            case CallOffered(call_id=call_id):
                ivr = Ivr(self.settings, incident_prompt=self.incident_prompt)
                self.ivrs[call_id] = ivr
                await self.control.answer(call_id)
                if self.closed is not None:
                    await self.apply(call_id, ivr.start_closed(now, *self.closed))
                else:
                    await self.apply(call_id, ivr.start(now))
            case PlaybackFinished(call_id=call_id) if call_id in self.ivrs:
                await self.apply(call_id, self.ivrs[call_id].playback_finished(now))
            case DigitReceived(call_id=call_id, digit=digit) if call_id in self.ivrs:
                await self.apply(call_id, self.ivrs[call_id].digit(digit, now))
            case CallEnded(call_id=call_id) if call_id in self.ivrs:
                ivr = self.ivrs.pop(call_id)
                handle = self.timers.pop(call_id, None)
                if handle is not None:
                    handle.cancel()
                for d in ivr.caller_hung_up(now):
                    if isinstance(d, CallerLeft):
                        self.left[call_id] = d
            case _:
                pass

    async def apply(self, call_id: str, decisions: list[IvrDecision]) -> None:
        for d in decisions:
            match d:
                case PlayPrompt(prompts=prompts):
                    await self.control.play(call_id, prompts)
                case StopPlayback():
                    await self.control.stop_playback(call_id)
                case SelectService():
                    self.selected[call_id] = d
                    await self.control.hangup(call_id)  # the test ends the call here
                case HangUp():
                    await self.control.hangup(call_id)
                case _:
                    pass
        self._arm(call_id)

    def _arm(self, call_id: str) -> None:
        old = self.timers.pop(call_id, None)
        if old is not None:
            old.cancel()
        ivr = self.ivrs.get(call_id)
        deadline = ivr.next_deadline() if ivr else None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self.timers[call_id] = loop.call_at(
                deadline, lambda: asyncio.ensure_future(self._timer(call_id)))

    async def _timer(self, call_id: str) -> None:
        ivr = self.ivrs.get(call_id)
        if ivr is not None:
            await self.apply(call_id, ivr.handle_timer(asyncio.get_running_loop().time()))

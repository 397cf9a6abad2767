"""Voice prompts: the standard texts and ``build(text_dir, out_dir)`` for ``cti prompts build``.

A prompt is ``<name>.txt`` beside ``<name>.wav``: the first line is Japanese, an optional
second line English (spoken after the Japanese). A single line "日本語。 English text." is
split the same way (``split_languages``). WAVs are 8 kHz, mono, 16-bit PCM.

Engines, best first:
- Open JTalk (Debian ``open-jtalk`` + ``open-jtalk-mecab-naist-jdic``) with an HTS voice: the
  Debian voice package ``hts-voice-nitech-jp-atr503-m001`` when installed, else any
  ``*.htsvoice`` under /usr/share/hts-voice, else the file named by ``CTI_HTS_VOICE``.
  (The Debian voice package has no candidate in this machine's package sources.)
- espeak-ng (``-v ja``): placeholder quality, used when no HTS voice is found.
English lines always use espeak-ng (``-v en``).
"""

from __future__ import annotations

import audioop
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Mapping
from pathlib import Path

import structlog

from cti.sip.audio import RATE, read_wav, silence
from cti.sip.ivr import MenuEntry, menu_prompt_texts

log = structlog.get_logger("cti.sip.prompts")

JTALK_DIC = Path("/var/lib/mecab/dic/open-jtalk/naist-jdic")
DEBIAN_VOICE = Path(
    "/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice")
GAP_S = 0.35

STANDARD_TEXTS: dict[str, str] = {
    "greeting": "お電話ありがとうございます。情報システム課ヘルプデスクです。\n"
                "Thank you for calling the IT helpdesk.",
    "invalid_choice": "入力された番号は選択肢にありません。\n"
                      "Sorry, that is not one of the choices.",
    "no_input": "番号が入力されませんでした。\nWe did not receive your choice.",
    "transfer_other": "担当者におつなぎします。\nWe will connect you to an operator.",
    "queue_wait": "ただいま電話が混み合っております。順番におつなぎしますので、このままお待ちください。\n"
                  "All operators are busy. Please stay on the line.",
    "queue_ahead": "あなたの前に、お待ちのお客様がいらっしゃいます。\n"
                   "There are callers ahead of you.",
    "operator_unavailable": "ただいま担当者におつなぎできません。後ほどおかけ直しください。\n"
                            "No operator is available now. Please call again later.",
    "closed_before_hours": "ただいまの時間は受付時間前です。受付時間は平日8時45分から17時15分です。\n"
                           "The helpdesk is not open yet. Hours are weekdays 8:45 to 17:15.",
    "closed_after_hours": "本日の受付は終了しました。受付時間は平日8時45分から17時15分です。\n"
                          "The helpdesk is closed for today. Hours are weekdays 8:45 to 17:15.",
    "closed_weekend": "土曜日、日曜日は受付を行っておりません。\n"
                      "The helpdesk is closed on weekends.",
    "closed_holiday": "本日は祝日のため、受付を行っておりません。\n"
                      "The helpdesk is closed today for a public holiday.",
    "closed_year_end": "年末年始のため、受付を行っておりません。\n"
                       "The helpdesk is closed for the New Year holidays.",
    "goodbye": "お電話ありがとうございました。\nThank you for calling. Goodbye.",
    "callback_registered": "お電話番号を承りました。担当者から折り返しお電話いたします。\n"
                           "We have your number. An operator will call you back.",
}
STANDARD_TEXTS.update({
    f"queue_position_{n}": f"あなたの順番は{n}番目です。\nYou are number {n} in the queue."
    for n in range(1, 11)
})


class PromptEngineError(RuntimeError):
    """No speech synthesiser is installed."""


def find_hts_voice() -> Path | None:
    env = os.environ.get("CTI_HTS_VOICE")
    if env and Path(env).is_file():
        return Path(env)
    if DEBIAN_VOICE.is_file():
        return DEBIAN_VOICE
    root = Path("/usr/share/hts-voice")
    found = sorted(root.rglob("*.htsvoice")) if root.is_dir() else []
    return found[0] if found else None


def engine() -> str:
    """Which engine speaks Japanese here: 'open_jtalk', 'espeak-ng' or 'none'."""
    if shutil.which("open_jtalk") and JTALK_DIC.is_dir() and find_hts_voice() is not None:
        return "open_jtalk"
    if shutil.which("espeak-ng"):
        return "espeak-ng"
    return "none"


def _run(args: list[str], stdin: str | None = None) -> None:
    subprocess.run(args, input=stdin, text=True, check=True, capture_output=True, timeout=60)


def _speak(text: str, lang: str, tmp: Path) -> bytes:
    out = tmp / f"{lang}.wav"
    if lang == "ja" and engine() == "open_jtalk":
        voice = find_hts_voice()
        assert voice is not None
        src = tmp / "ja.txt"
        src.write_text(text)
        _run(["open_jtalk", "-x", str(JTALK_DIC), "-m", str(voice), "-ow", str(out), str(src)])
    elif shutil.which("espeak-ng"):
        _run(["espeak-ng", "-v", lang, "-s", "150", "-w", str(out), text])
    else:
        raise PromptEngineError("neither open_jtalk (with a voice) nor espeak-ng is installed")
    return read_wav(out)


_ENGLISH_TAIL = re.compile(r"^(.*[^\x00-\x7f][^A-Za-z]*?)\s*([A-Za-z][\x00-\x7f]* [\x00-\x7f]*)$")


def split_languages(text: str) -> list[str]:
    """Lines of a prompt text; a line "日本語 English sentence." becomes two lines."""
    out: list[str] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        m = _ENGLISH_TAIL.match(line)
        out += [m.group(1).strip(), m.group(2).strip()] if m else [line]
    return out


def synthesize(text: str, wav_path: Path) -> None:
    """Speak a prompt text (Japanese line, optional English line) into an 8 kHz WAV."""
    lines = split_languages(text)
    if not lines:
        raise ValueError("empty prompt text")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        pcm = _speak(lines[0], "ja", tmp)
        for line in lines[1:]:
            pcm += silence(GAP_S) + _speak(line, "en", tmp)
    pcm = audioop.mul(pcm, 2, 0.9)  # a little headroom for G.711
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)


def write_texts(text_dir: Path, texts: Mapping[str, str]) -> list[Path]:
    """Write ``<name>.txt`` files (standard prompts, menu entries from config)."""
    text_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        path = text_dir / f"{name}.txt"
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def build(text_dir: Path, out_dir: Path, *, only_missing: bool = False) -> list[Path]:
    """Regenerate ``out_dir/<name>.wav`` for every ``text_dir/<name>.txt``; returns the WAVs."""
    which = engine()
    if which == "none":
        raise PromptEngineError("install open-jtalk (+ a voice) or espeak-ng to build prompts")
    log.info("sip.prompts_build", engine=which, voice=str(find_hts_voice() or ""),
             text_dir=str(text_dir), out_dir=str(out_dir))
    built = []
    for src in sorted(text_dir.glob("*.txt")):
        wav = out_dir / f"{src.stem}.wav"
        if only_missing and wav.exists():
            continue
        synthesize(src.read_text(encoding="utf-8"), wav)
        built.append(wav)
    return built


def add_missing_texts(text_dir: Path, entries: tuple[MenuEntry, ...]) -> list[Path]:
    """Write the standard and menu texts that do not exist yet (edited texts are kept)."""
    texts = {**STANDARD_TEXTS, **menu_prompt_texts(entries)}
    missing = {name: text for name, text in texts.items()
               if not (text_dir / f"{name}.txt").exists()}
    return write_texts(text_dir, missing)


def build_for_menu(text_dir: Path, out_dir: Path, entries: tuple[MenuEntry, ...],
                   *, only_missing: bool = False) -> list[Path]:
    """What ``cti prompts build`` needs: texts for the configured menu, then every WAV."""
    add_missing_texts(text_dir, entries)
    return build(text_dir, out_dir, only_missing=only_missing)

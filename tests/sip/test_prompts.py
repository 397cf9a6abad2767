from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

import pytest

from cti.sip.audio import PromptLibrary
from cti.sip.ivr import GREETING, INVALID, NO_INPUT, ClosedReason
from cti.sip.prompts import STANDARD_TEXTS, build, engine, write_texts
from cti.sip.sdp import Codec

PROMPTS = Path(__file__).resolve().parents[2] / "config" / "prompts"


def test_shipped_prompts_cover_what_the_ivr_plays() -> None:
    lib = PromptLibrary(PROMPTS)
    names = [GREETING, INVALID, NO_INPUT, *(f"closed_{r.value}" for r in ClosedReason),
             *STANDARD_TEXTS]
    for name in names:
        assert (PROMPTS / f"{name}.txt").is_file(), name
        pcm = lib.pcm(name)
        assert len(pcm) > 8000 * 2 * 0.5, name  # at least half a second of speech
        with wave.open(str(PROMPTS / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert len(lib.encoded(GREETING, Codec.PCMA)) == len(lib.pcm(GREETING)) // 2
    assert lib.missing([GREETING, "tone:hold", "tts:x", "no_such_prompt", "../etc"]) == [
        "no_such_prompt", "../etc"]


def test_build_makes_8khz_wavs(tmp_path: Path) -> None:
    if engine() == "none":
        if os.environ.get("CTI_REQUIRE_PEERS"):
            pytest.fail("no speech engine installed")
        pytest.skip("no speech engine (open_jtalk with a voice, or espeak-ng)")
    write_texts(tmp_path, {"hello": "こんにちは。\nHello."})
    (wav,) = build(tmp_path, tmp_path / "out")
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 8000 * 0.8
    assert build(tmp_path, tmp_path / "out", only_missing=True) == []


async def test_tts_prompt_is_synthesised_off_the_loop(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None and engine() == "none":
        if os.environ.get("CTI_REQUIRE_PEERS"):
            pytest.fail("no speech engine installed")
        pytest.skip("no speech engine")
    from cti.sip.prompts import synthesize

    lib = PromptLibrary(tmp_path, synthesize, cache_dir=tmp_path / "tts")
    name = "tts:次の受付は、1月4日です。\nWe reopen on January 4."
    await lib.prepare((name,))
    assert len(lib.pcm(name)) > 8000 * 2
    assert len(list((tmp_path / "tts").glob("tts-*.wav"))) == 1


async def test_tts_defaults_to_the_installed_engine_and_degrades_without_one(
    tmp_path: Path,
) -> None:
    if engine() != "none":
        lib = PromptLibrary(tmp_path)  # no synthesiser, no cache dir given
        assert await lib.prepare(("tts:こんにちは",)) == ("tts:こんにちは",)
        assert len(lib.pcm("tts:こんにちは")) > 8000

    def broken(text: str, path: Path) -> None:
        raise RuntimeError("no speech engine")

    lib = PromptLibrary(PROMPTS, broken)
    assert await lib.prepare(("greeting", "tts:x")) == ("greeting",)  # the rest still plays


def test_split_languages() -> None:
    from cti.sip.prompts import split_languages

    assert split_languages("Citrixが停止しています。 Citrix is down, we are working on it.") == [
        "Citrixが停止しています。", "Citrix is down, we are working on it."]
    assert split_languages("こんにちは。\nHello there.") == ["こんにちは。", "Hello there."]
    assert split_languages("SKYSEAのお問い合わせ") == ["SKYSEAのお問い合わせ"]
    assert split_languages("English only text.") == ["English only text."]


def test_build_for_menu_adds_texts_for_new_entries_and_keeps_edits(tmp_path: Path) -> None:
    if engine() == "none":
        if os.environ.get("CTI_REQUIRE_PEERS"):
            pytest.fail("no speech engine installed")
        pytest.skip("no speech engine")
    from cti.sip.ivr import MenuEntry
    from cti.sip.prompts import add_missing_texts

    (tmp_path / "greeting.txt").write_text("編集済みの挨拶。\nEdited greeting.\n")
    entries = (MenuEntry("7", "printers", "プリンター", "printers"),)
    written = add_missing_texts(tmp_path, entries)
    assert tmp_path / "menu_7_printers.txt" in written
    assert tmp_path / "greeting.txt" not in written
    assert (tmp_path / "greeting.txt").read_text().startswith("編集済み")

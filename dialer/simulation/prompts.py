"""The robot's voice as the SIP far end hears it over RTP: cut into prompts at its
pauses (GAP_S: the longest pause inside a prompt is 0.42 s), and known by its G.711
codes when heard whole; a piece of a known prompt is waited for, the rest of the
prompt joining it only if it is, code for code, how that prompt goes on."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from speech.channel import RATE, ulaw_decode, ulaw_encode

GAP_S = 0.6  # this much quiet after the robot's voice ends a prompt
HOLD_S = 2.0  # ... or this much, after a piece of a known prompt short of its end
LOUD = 150.0  # RMS of a 20 ms frame that is the robot speaking
ZERO = b"\xff"  # a zero sample's mu-law code
SHORTEST = int(0.5 * RATE)  # a prompt is longer than this (a click or a cut word is not)


class Prompts:
    """The robot's voice as it arrives, cut into prompts at its pauses. A piece of a
    known prompt short of its end (its sentence pause stretched by late packets) is
    waited for up to HOLD_S, as a person waits for the question after "Sorry, I did not
    catch that."; the robot's voice that comes next joins it only if it is, code for
    code, how that prompt goes on: a piece cut by a barge-in ends where it was cut."""

    def __init__(self, rests: Callable[[np.ndarray], list[bytes]] | None = None) -> None:
        self._buf: list[np.ndarray] = []
        self._start: int | None = None  # line sample where the current prompt began
        self._quiet = 0  # samples of quiet since its last loud frame
        self._rests = rests
        self._held: tuple[np.ndarray, list[bytes]] | None = None  # piece, how it goes on
        self.t = 0  # samples received
        self.held = 0  # pieces waited for past GAP_S (the demo's -v log says how many)
        self.joined = 0  # ... and of those, the ones the rest of their prompt followed

    def feed(self, x: np.ndarray) -> tuple[int, np.ndarray] | None:
        """The next samples received; a finished prompt (the sample count where it began,
        its sound) when one ended."""
        n = len(x) // 160
        frames = x[:n * 160].reshape(n, 160)
        loud = np.sqrt(np.mean(frames.astype(np.float32) ** 2, axis=1)) > LOUD
        done = None
        for i in range(n):
            at = self.t + i * 160
            if loud[i] and self._held is not None and not self._goes_on(frames[i]):
                done = self._end(self._held[0])  # the piece alone; a new prompt begins
            if self._start is None and loud[i]:
                self._start, self._buf, self._quiet = at, [], 0
            if self._start is None:
                continue
            self._buf.append(frames[i])
            if loud[i]:
                self._quiet, self._held = 0, None
                continue
            self._quiet += 160
            if self._held is None and self._quiet >= GAP_S * RATE:
                audio = np.concatenate(self._buf)
                kept = audio[:len(audio) - self._quiet + 1200]  # and 0.15 s after it
                rests = self._rests(kept) if self._rests else []
                if not rests:
                    done = self._end(kept)
                else:
                    self._held, self.held = (kept, rests), self.held + 1
            elif self._held is not None and self._quiet >= HOLD_S * RATE:
                done = self._end(self._held[0])
        self.t += n * 160
        return done

    def _end(self, audio: np.ndarray) -> tuple[int, np.ndarray]:
        """The current prompt, finished: where it began, its sound."""
        assert self._start is not None
        start, self._start, self._held = self._start, None, None
        return start, audio

    def _goes_on(self, frame: np.ndarray) -> bool:
        """Whether this loud frame is how the held piece's prompt goes on."""
        assert self._held is not None
        codes = _codes(frame)
        if len(codes) >= 40 and not any(codes in rest for rest in self._held[1]):
            return False
        self.joined += 1
        return True


def _codes(x: np.ndarray) -> bytes:
    """A sound as G.711 carries it, whatever quiet surrounds it, and without its zero
    codes: RTP brings the robot's codes unchanged but for runs of zeros a starved packet
    was padded with (5-20 ms inside a word, measured in `demo --line sip`), which would
    make a prompt heard whole unknown by its codes."""
    loud = np.flatnonzero(np.abs(x) > 16)
    codes = ulaw_encode(x[loud[0]:loud[-1] + 1]) if len(loud) else b""
    return codes.replace(ZERO, b"")


class KnownPrompts:
    """A person who has heard the questions before knows them by their sound. G.711
    carries the robot's mu-law codes unchanged, so a prompt heard whole (its first
    milliseconds may be lost as the stream starts) is, code for code, the end of a
    prompt as said: found by its last 0.2 s, then checked whole. A prompt cut short
    (barge-in) or damaged goes to the callee's ear instead."""

    TAIL = 1600

    def __init__(self, prompts: dict[str, bytes]) -> None:
        self._by_tail: dict[bytes, list[tuple[bytes, bytes]]] = {}
        for line in prompts.values():
            codes = _codes(ulaw_decode(line))
            self._by_tail.setdefault(codes[-self.TAIL:], []).append((codes, line))

    def rests(self, heard: np.ndarray) -> list[bytes]:
        """If this is a piece of a known prompt short of its end (and no whole prompt),
        how each prompt it may be goes on: the codes after it, 1.5 s at most."""
        codes = _codes(heard)
        if len(codes) < SHORTEST or self.find(heard) is not None:
            return []
        out = []
        for kept in self._by_tail.values():
            for known, _ in kept:
                at = known.find(codes)
                if at >= 0 and at + len(codes) < len(known):
                    out.append(known[at + len(codes):at + len(codes) + 12000])
        return out

    def find(self, heard: np.ndarray) -> bytes | None:
        codes = _codes(heard)
        for known, line in self._by_tail.get(codes[-self.TAIL:], []):
            if len(codes) >= 0.97 * len(known) and known.endswith(codes):
                return line
        return None

"""A simulated population on simulated lines: who picks up, who is busy, who has a machine.

All of it is decided from (seed, contact, attempt) so a resumed campaign replays
exactly what an uninterrupted one would have done. The robot learns none of it
except through the line: signalling for invalid/busy/no answer (as a network
would report), audio for everything after pick-up.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np

from dialer.lines.backend import PlannedCall
from dialer.lines.simulated.persona import Persona, make_persona
from dialer.policy.hours import planned_hour
from dialer.wire import LineSpec, SimSpec
from speech.amd import beep
from speech.channel import RATE
from speech.tts import Synthesizer, Voice
from survey_scripts.model import Survey

# share of calls answered, by the callee's local hour (people pick up more in the evening)
ANSWER_BY_HOUR = {9: 0.6, 10: 0.6, 11: 0.55, 12: 0.7, 13: 0.6, 14: 0.5, 15: 0.5, 16: 0.55,
                  17: 0.7, 18: 0.8, 19: 0.8}
GREETINGS = ("Hi, you have reached {name}. I cannot take your call right now. "
             "Please leave a message after the tone.",
             "The person you are calling is not available. Please leave a message after the beep.")


@dataclass(frozen=True)
class PopulationParams:
    invalid_share: float = 0.02  # numbers that do not exist (fixed per contact)
    busy: float = 0.06  # per attempt
    machine: float = 0.4  # of calls not answered by a person, a machine picks up


def _rng(*parts: object) -> random.Random:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def invalid(seed: int, contact_id: int, p: PopulationParams = PopulationParams()) -> bool:
    """A number that does not exist (the same on every attempt)."""
    return _rng(seed, contact_id, "invalid").random() < p.invalid_share


def network(seed: int, contact_id: int, attempt: int, local_hour: int,
            p: PopulationParams = PopulationParams()) -> str:
    """What the network reports on dialling: invalid, busy, no_answer, machine or human."""
    if invalid(seed, contact_id, p):
        return "invalid"
    r = _rng(seed, contact_id, attempt, "dial")
    if r.random() < p.busy:
        return "busy"
    if r.random() < ANSWER_BY_HOUR.get(local_hour, 0.4):
        return "human"
    return "machine" if r.random() < p.machine else "no_answer"


def persona(seed: int, contact_id: int, survey: Survey) -> Persona:
    """The person behind a contact: the same across attempts and runs."""
    return make_persona(seed * 1_000_003 + contact_id, survey)


def machine_greeting(seed: int, contact_id: int, synth: Synthesizer) -> np.ndarray:
    """A recorded greeting and its beep, then silence, as the line carries them (8 kHz)."""
    r = _rng(seed, contact_id, "machine")
    text = r.choice(GREETINGS).format(name=r.choice(("Sam", "Alex", "Lee", "Jordan")))
    voice = r.choice((Voice("flite", "slt"), Voice("flite", "rms"), Voice("flite", "kal16")))
    speech = synth.speak(text, voice).resampled(RATE).samples
    gap = np.zeros(int(0.4 * RATE), dtype=np.int16)
    tail = np.zeros(3 * RATE, dtype=np.int16)
    out = np.concatenate([gap, speech, gap, beep(), tail]).astype(np.float32)
    out += np.random.default_rng(contact_id).standard_normal(len(out)).astype(np.float32) * 30
    return np.clip(out, -32768, 32767).astype(np.int16)


def plan(call: PlannedCall) -> LineSpec:
    """The simulated line's own data for one call: the population's seed, and the local
    hour the attempt was planned for (answer rates depend on it, not on line luck)."""
    hour = planned_hour(call.start_at, call.attempt, call.timezone, call.settings)
    return LineSpec(call.config.kind, call.contact, call.attempt, call.ext,
                    SimSpec(call.config.seed, hour, call.config.callees))

"""Campaign administration: load a call list, change a campaign, keep the do-not-call list.

Everything is checked before anything is stored: a load that fails leaves no
campaign behind, and a later load of an existing campaign adds contacts only;
it refuses (rather than silently ignores) another survey, region or settings.
The survey is frozen with the campaign at its first load (its text and hash),
and the recognition engine is chosen once, from the survey's language.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dialer.policy.contacts import (
    DncList,
    ParsedList,
    Rejected,
    mask,
    parse_list,
    read_dnc,
    supported_region,
)
from dialer.policy.hours import never_open
from dialer.policy.settings import CampaignSettings
from dialer.store import Campaign, Store
from dialer.store.schema import survey_hash
from dialer.wire import EngineSpec, LineConfig
from speech import engines
from survey_scripts.errors import AudioError, EngineError, SurveyError, UsageError
from survey_scripts.loader import load_survey_text, read_survey_file
from survey_scripts.model import Survey
from survey_scripts.phrases import every_phrase
from survey_scripts.prompts import every_prompt

log = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass
class LoadReport:
    loaded: int = 0
    duplicates: int = 0
    dnc: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"loaded": self.loaded, "duplicates": self.duplicates, "do_not_call": self.dnc,
                "rejected": [{"row": r.row, "reason": r.reason} for r in self.rejected]}


@dataclass(frozen=True)
class LoadRequest:
    """What `healthdial load` was given; None means "not given" (keep or default)."""

    list_path: Path
    campaign: str
    script: str | None = None  # required for a new campaign
    region: str | None = None  # default CN
    dnc_path: Path | None = None
    dnc_lenient: bool = False
    seed: int | None = None  # of the simulated population; default 1
    start_at: float | None = None
    settings: CampaignSettings | None = None
    engine: str | None = None
    vosk_model: str | None = None
    callees: str | None = None  # the simulated line's callees: duplex (default) or classic
    line: str | None = None  # the line kind: simulated (default) or sip
    far_end: str | None = None  # "simulated": a SIP line to the simulated population (demo)


def check_name(name: str) -> str:
    """A campaign name is a folder of recordings and a part of web addresses: `.`, `..`
    and hidden names would point elsewhere."""
    if not NAME.match(name) or name.startswith("."):
        raise UsageError(f"campaign name {name[:70]!r}: use 1 to 64 letters, digits, _, - "
                         "or ., not starting with . (it appears in web addresses and file "
                         "names)")
    return name


def read_survey(script: str) -> tuple[str, Survey]:
    """The survey file's text and the survey it makes; SurveyError lists its problems."""
    text = read_survey_file(script)
    return text, load_survey_text(text, script)


def check_engine(survey: Survey, spec: EngineSpec, required: bool) -> None:
    """The engine can hear every word the survey's grammars use. When the model is not on
    this machine and not `required` (RQ workers elsewhere), the workers check instead."""
    try:
        engines.model_path(spec) if spec.model else None
    except EngineError:
        if required:
            raise
        log.info("model %s is not on this machine; each worker checks it", spec.model)
        return
    recognizer = engines.make_recognizer(spec)
    engines.check_words(recognizer, every_phrase(survey), f"survey {survey.name}")


_SPOKEN: set[tuple[object, tuple[str, ...]]] = set()  # said once in this process already


def check_speakable(survey: Survey) -> None:
    """Every text the dialog can say, synthesized once in the survey's voice: a voice that
    does not exist or a template that cannot be filled fails here, not on every call."""
    from speech.audio import read_wav
    from speech.tts import Synthesizer, Voice

    synth, voice = Synthesizer(), Voice.of(survey.language.voice, survey.language.rate)
    try:
        prompts = every_prompt(survey, notice=True)
    except (IndexError, KeyError, ValueError) as e:
        raise SurveyError(survey.path, [f"a prompt template cannot be filled ({e}); check "
                                        "language: confirm and keypad_choice"]) from e
    for text, wav in survey.recorded().items():  # readable now, or the campaign does not load
        try:
            read_wav(wav)
        except AudioError as e:
            raise SurveyError(survey.path, [f"the recording of {text[:40]!r}: {e}"]) from e
    key = (voice, tuple(p.text for p in prompts))
    if key in _SPOKEN:
        return
    for said in prompts:
        try:
            synth.speak(said.text, voice)
        except Exception as e:  # espeak-ng refuses a voice in its own ways: any is ours
            raise SurveyError(survey.path, [
                f"language: voice {survey.language.voice!r} cannot say {said.text[:40]!r} "
                f"({e}); use a voice `espeak-ng --voices` lists, e.g. gmw/en-us"]) from e
    _SPOKEN.add(key)


def load(store: Store, req: LoadRequest) -> LoadReport:
    """Add a call list to a campaign (created on first load); good rows load, bad are listed."""
    name = check_name(req.campaign)
    region = (req.region or "CN").upper()
    if not supported_region(region):
        raise UsageError(f"--region {region[:10]!r} is not a region phone numbers know; use a "
                         "two-letter country code such as CN, US or KR")
    existing = store.campaign(name) if store.has_campaign(name) else None
    new = None if existing else _new_campaign(req, region)
    if existing:
        _refuse_changes(existing, req, region)
    dnc = _read_dnc(req.dnc_path, region, req.dnc_lenient) if req.dnc_path else DncList()
    blocked = store.blocked_numbers() | set(dnc.numbers)
    parsed = parse_list(req.list_path, region, blocked,
                        store.known_numbers(name) if existing else set())
    settings = existing.settings if existing else new.settings if new else CampaignSettings()
    _reject_uncallable(parsed, settings)
    if new is not None and not parsed.contacts:
        why = "; ".join(f"row {r.row}: {r.reason}" for r in parsed.rejected[:5]) or (
            f"its {parsed.dnc} numbers are on the do-not-call list" if parsed.dnc else
            "it has no rows")
        raise UsageError(f"{req.list_path}: no row could be loaded ({why}"
                         f"{'; ...' if len(parsed.rejected) > 5 else ''}); campaign "
                         f"{name!r} was not created. Fix the list and load it again")
    if dnc.numbers:
        store.dnc_add(dnc.numbers, f"load {req.dnc_path}")
    if new is not None:
        added = store.create_campaign(new, parsed.contacts)
    else:
        assert existing is not None
        added = store.add_contacts(name, parsed.contacts, existing.start_at)
    return LoadReport(added, parsed.duplicates + len(parsed.contacts) - added, parsed.dnc,
                      parsed.rejected)


def _reject_uncallable(parsed: ParsedList, settings: CampaignSettings) -> None:
    """A number whose possible zones share no calling hour (a mobile of a country that
    spans many zones, with no `timezone` column) cannot be called without risking a call
    at night: rejected, with what to do."""
    now = time.time()
    keep = []
    for c in parsed.contacts:
        if never_open(c.timezone, settings, now):
            zones = c.timezone.split()
            parsed.rejected.append(Rejected(c.row, (
                f"{mask(c.e164, c.ext)} may be in {len(zones)} time zones ({zones[0]} to "
                f"{zones[-1]}) that share no hour of the calling window "
                f"{settings.hours_start}-{settings.hours_end}; give its zone in a timezone "
                f"column (one of those, e.g. {zones[0]})")))
        else:
            keep.append(c)
    parsed.contacts = keep
    parsed.rejected.sort(key=lambda r: r.row)


def _new_campaign(req: LoadRequest, region: str) -> Campaign:
    if not req.script:
        raise UsageError(f"campaign {req.campaign!r} is new: give its survey with --script FILE")
    text, survey = read_survey(req.script)
    check_speakable(survey)
    choice = engines.choose(req.engine, req.vosk_model, survey.language.code,
                            survey.keys_only)
    spec = EngineSpec(*choice)
    check_engine(survey, spec, required=False)
    settings = (req.settings or CampaignSettings()).checked()
    start = req.start_at if req.start_at is not None else time.time()
    return Campaign(req.campaign, str(Path(req.script).resolve()), region, settings, start,
                    text, survey_hash(text), spec,
                    LineConfig(req.line or "simulated", 1 if req.seed is None else req.seed,
                               req.callees or "duplex", req.far_end or ""))


def _refuse_changes(c: Campaign, req: LoadRequest, region: str) -> None:
    """A later load adds contacts; a different survey, region or setting is refused."""
    changed = []
    if req.script:
        text, _ = read_survey(req.script)
        if survey_hash(text) != c.survey_hash:
            changed.append(f"--script (the campaign keeps the survey it was loaded with, "
                           f"from {c.script})")
    if req.region and region != c.region:
        changed.append(f"--region (the campaign's is {c.region})")
    if req.settings is not None and req.settings != c.settings:
        changed.append("--hours, --retry-minutes or --max-attempts (change them with "
                       f"`healthdial set {c.name} ...`)")
    if req.seed is not None and req.seed != c.seed:
        changed.append(f"--seed (the campaign's is {c.seed})")
    if req.line is not None and req.line != c.line.kind:
        changed.append(f"--line (the campaign's is {c.line.kind})")
    if req.callees is not None and req.callees != c.line.callees:
        changed.append(f"--callees (the campaign's are {c.line.callees})")
    if (req.engine or req.vosk_model) and EngineSpec(*engines.choose(
            req.engine, req.vosk_model, _language(c))) != c.engine:
        changed.append(f"--engine/--vosk-model (the campaign's is {c.engine.engine}"
                       f"{' ' + c.engine.model if c.engine.model else ''})")
    if changed:
        raise UsageError(f"campaign {c.name!r} exists; a later load only adds contacts and "
                         f"cannot change: {'; '.join(changed)}. Drop those options, or load "
                         "into a new campaign")


def _language(c: Campaign) -> str:
    return frozen_survey(c).language.code


def frozen_survey(c: Campaign) -> Survey:
    """The survey the campaign was loaded with, whatever happened to its file since."""
    if c.survey_text is None:
        raise UsageError(f"campaign {c.name!r} has no frozen survey (it was loaded by an older "
                         f"release, and {c.script} is gone); freeze one with `healthdial set "
                         f"{c.name} --script FILE`")
    try:
        return load_survey_text(c.survey_text, f"{c.script} (as frozen with {c.name})")
    except SurveyError as e:
        raise SurveyError(e.path, [*e.problems, f"fix it with `healthdial set {c.name} "
                                                "--script FILE`"]) from e


def _read_dnc(path: Path, region: str, lenient: bool) -> DncList:
    dnc = read_dnc(path, region)
    if dnc.rejected and not lenient:
        rows = "; ".join(f"line {r.row}: {r.reason}" for r in dnc.rejected[:10])
        more = f" and {len(dnc.rejected) - 10} more" if len(dnc.rejected) > 10 else ""
        raise UsageError(f"{path}: {len(dnc.rejected)} unreadable do-not-call line(s) ({rows}"
                         f"{more}); nothing was loaded, since a number meant to be blocked "
                         "could be called. Fix them, or pass --dnc-lenient to block the "
                         "readable ones and go on")
    return dnc


def change(store: Store, name: str, settings: dict[str, Any], script: str | None,
           line: str | None = None) -> Campaign:
    """`healthdial set`: new calling hours or retries; a survey only where none is frozen
    or no call has been made (answers must mean what their questions asked); another line
    kind only before the first call (a campaign's results come from one kind of line:
    simulated answers must never mix with people's)."""
    c = store.campaign(name)
    if line is not None and line != c.line.kind:
        if store.attempts_made(name):
            raise UsageError(f"campaign {name!r} has made calls on {c.line.kind} lines; its "
                             f"results must come from one kind of line: load the list into "
                             f"a new campaign with --line {line}")
        store.set_line(name, replace(c.line, kind=line))
    new_settings = replace(c.settings, **settings).checked() if settings else None
    text = None
    if script:
        text, survey = read_survey(script)
        check_speakable(survey)
        if c.survey_text is not None and store.contacts_reached(name) and \
                survey_hash(text) != c.survey_hash:
            raise UsageError(f"campaign {name!r} has reached people with its frozen survey; "
                             "a changed survey needs a new campaign (answers must mean what "
                             "their questions asked)")
    store.update_campaign(name, new_settings, text, str(Path(script).resolve()) if script
                          else None)
    return store.campaign(name)


def dnc_add(store: Store, path: Path, region: str) -> tuple[int, DncList]:
    """Numbers from a file onto the do-not-call list of every campaign; the readable ones
    are added, the unreadable ones come back as rejected."""
    if not supported_region(region):
        raise UsageError(f"--region {region[:10]!r} is not a region phone numbers know")
    dnc = read_dnc(path, region)
    return store.dnc_add(dnc.numbers, str(path)), dnc

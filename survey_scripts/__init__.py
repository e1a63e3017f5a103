"""What is asked: survey files and the dialog engine. Pure logic, no audio, no I/O.

It imports nothing of speech, the dialer or the workers."""

from pathlib import Path

DEFAULT_SURVEY = Path(__file__).resolve().parent / "covid19_symptoms.yaml"

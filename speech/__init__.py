"""Sound in and out: synthesis, recognition, the phone channel, endpointing, DTMF.

It imports survey_scripts (the survey's words and phrases) and nothing else of
healthdial."""

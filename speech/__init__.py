"""Sound in and out: synthesis, recognition, the phone channel, endpointing, DTMF."""

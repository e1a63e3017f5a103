"""The subcommands of `healthdial`, one module per kind of work; each `register`s its own.

The CLI is an assembler: it may import any part of the dialer and the workers; nothing
imports it but dialer/cli.py."""

"""The subcommands of `healthdial`, one module per kind of work; each `register`s its own."""

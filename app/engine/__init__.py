"""The pure call engine: no I/O, no clock, no framework. See ``session.CallSession``."""

"""Huashu: the live call-script assistant."""

__version__ = "0.1.0"

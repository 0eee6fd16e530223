"""CLETS testbed: discrete-event simulator of California's law-enforcement network and its oversight."""

__version__ = "0.1.0"

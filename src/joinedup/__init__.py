"""joinedup: an open shared care record and analytics platform for an English ICS."""

__version__ = "0.1.0"

"""callrouter: one front door for a healthcare contact centre, on Asterisk ARI."""

__version__ = "0.1.0"

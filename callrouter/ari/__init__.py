"""Asterisk edge: typed ARI events in, REST commands out."""

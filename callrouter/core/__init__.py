"""Pure decisions: no I/O, the clock passed in. One module per concept."""

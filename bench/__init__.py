"""Benchmarks: the router's inbound path against app_queue on the same Asterisk
(arrives with the benchmark issue; see the README's Performance section)."""

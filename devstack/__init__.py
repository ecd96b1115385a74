"""The dev stack: real Asterisk 22, PostgreSQL 15 and sipp on loopback."""

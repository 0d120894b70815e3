"""``ccpulse bench``: ccpulse's speed side by side with the stream processors a user would pick
instead, on the same pre-produced data, in one command (see docs/performance.md)."""

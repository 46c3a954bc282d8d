"""Return (DTenV): departure, forced return and Dublin transfer."""

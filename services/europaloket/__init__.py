"""Europaloket gateway: the chain's one door to the eu-LISA systems (simulated)."""

"""Operator commands: run the whole chain, feed arrivals, show a case's trace."""

"""Asylum (IND): registers applications, chooses the procedure, decides."""

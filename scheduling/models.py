"""Scheduling models arrive with the scheduling issue."""

"""Tickets: built from call events without anyone typing, completed by the operator."""

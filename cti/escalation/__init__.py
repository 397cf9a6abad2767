"""Escalating a ticket to city staff or the service's vendor by e-mail, and taking the answer back."""

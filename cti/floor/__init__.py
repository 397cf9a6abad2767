"""The floor: operators and supervisors at work.

``feed`` carries live events to the consoles, ``hours`` decides whether the helpdesk is open
(calendar plus the supervisor's override), ``incidents`` holds the supervisor's incident notice,
``desk`` restores an operator's screen from the service's state, ``kpi`` computes today's figures
for the wallboard from the same definitions Prometheus exposes.
"""

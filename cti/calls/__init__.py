"""The call path inside the service: the call centre that turns SIP events into IVR, routing,
tickets and screen pops (``center``), and the mapping of our settings onto the SIP stack
(``wiring``)."""

"""``cti demo``: fills a running helpdesk with realistic calls over real SIP.

``plan`` decides who calls about what and how they behave (pure, seeded); ``phones`` is a small
SIP user agent on our own ``cti.sip`` message layer (callers and auto-answering operator phones);
``desks`` plays the operators' consoles over the HTTP API; ``run`` puts them together, bounded in
calls and time.
"""

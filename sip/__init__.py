"""cti.sip: the SIP front door (see README.md in this folder).

Public entry points: ``cti.sip.control.CallControl`` (protocol), ``cti.sip.events`` (call
events), ``cti.sip.adapter.SipFrontDoor`` (SIP/RTP implementation),
``cti.sip.memory.MemoryPhoneNetwork`` (in-memory implementation for tests), ``cti.sip.ivr``
(sans-IO IVR) and ``cti.sip.prompts.build`` (``cti prompts build``).
"""

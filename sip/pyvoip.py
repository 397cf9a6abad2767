"""The one module that imports pyVoIP (pinned 1.6.8).

What the front door still takes from pyVoIP: the SIP status/reason table (``SIPStatus``), the
RTP payload-type table (``PayloadType``), G.711 conversion through ``audioop`` exactly as
pyVoIP's RTP client does it, and the stock ``VoIPPhone`` as the baseline of the benchmark.
pyVoIP's transport, transaction, dialog, registration and RTP-pacing layers are replaced in
this package because the eleven measured defects (shared/notes/pyvoip-1.6.8.md) live there;
each replacement carries a comment naming the defect it fixes.

Import order matters: ``pyVoIP.SIP`` imported first hits a circular import inside pyVoIP
1.6.8, so ``pyVoIP.VoIP`` is imported before it.
"""

from __future__ import annotations

import pyVoIP.VoIP as _voip  # must precede pyVoIP.SIP (circular import in 1.6.8)
from pyVoIP.RTP import PayloadType
from pyVoIP.SIP import SIPStatus

VoIPPhone = _voip.VoIPPhone
CallState = _voip.CallState
InvalidStateError = _voip.InvalidStateError

__all__ = ["CallState", "InvalidStateError", "PayloadType", "SIPStatus", "VoIPPhone"]

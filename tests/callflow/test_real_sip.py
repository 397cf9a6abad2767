"""The whole service over real SIP: a SIPp caller dials `cti`'s front door (direct mode), picks
SKYSEA with a SIP INFO digit, and is bridged to an operator phone (SIPp UAS) that the operator
made available over HTTP. The ticket then says what happened. Nothing is faked but the people.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests_support import direct_service

from cti.keys import CALL_CENTER, SESSIONS, TICKET_WRITER
from cti.storage import tickets as store

sys.path.insert(0, str(Path(__file__).parents[1] / "sip"))
from peers import SippServer, free_udp_port, render, run_sipp

pytestmark = pytest.mark.peers

CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="caller_picks_skysea">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:2345@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      [routes]
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:2345@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="800"/>
  <send retrans="500">
    <![CDATA[

      INFO [next_url] SIP/2.0
      [routes]
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 INFO
      Contact: sip:2345@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=2
      Duration=160

    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="3000"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      [routes]
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2345@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Contact: sip:2345@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""

OPERATOR_HANGS_UP_ON_BYE = """  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>"""


async def test_call_through_the_whole_service(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    operator_phone = SippServer(render("uas_operator.xml", tmp_path, ring_ms=300,
                                       media_port=free_udp_port(even=True), codec=0,
                                       then=OPERATOR_HANGS_UP_ON_BYE), tmp_path, timeout_s=30)
    client, sip_port = await direct_service(aiohttp_client, tmp_path,
                                            {"op02": operator_phone.uri})

    caller = tmp_path / "caller.xml"
    caller.write_text(CALLER)
    async with operator_phone:
        result = await run_sipp(caller, sip_port, tmp_path, timeout_s=30)
        assert result.returncode == 0, result.errors or result.stdout
        operator = await operator_phone.result(within=20)
        assert operator.returncode == 0, operator.errors or operator.stdout

    center = client.app[CALL_CENTER]
    async with asyncio.timeout(10):
        await center.wait_for(lambda: not center.active_calls)
        await client.app[TICKET_WRITER].flush()
    found = await store.list_tickets(client.app[SESSIONS], store.TicketFilter())
    assert len(found) == 1
    ticket = found[0]
    assert (ticket.service, ticket.outcome, ticket.operator_id) == ("skysea", "answered", "op02")
    _, timeline = await store.get_ticket(client.app[SESSIONS], ticket.id)
    kinds = [e.kind for e in timeline]
    assert kinds == ["offered", "service_selected", "queued", "operator_offered", "connected",
                     "ended"]
    assert timeline[-1].data["hung_up_by"] == "caller"
    assert timeline[1].data["digit"] == "2"

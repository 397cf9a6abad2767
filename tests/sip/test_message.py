"""Pure parsing/building: SIP messages, SDP, digest auth (no sockets)."""

from __future__ import annotations

import pytest

from cti.sip import message as sipmsg
from cti.sip.registration import digest_authorization, parse_challenge
from cti.sip.sdp import Codec, NoCommonCodecError, SdpError, build_sdp, parse_offer

INVITE = (
    b"INVITE sip:helpdesk@127.0.0.1 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb\r\n"
    b"f: \"Caller, Test\" <sip:0355501234@example.invalid>;tag=abc\r\n"
    b"t: <sip:helpdesk@example.invalid>\r\n"
    b"i: call-1@example.invalid\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Record-Route: <sip:p1.example.invalid;lr>, <sip:p2.example.invalid;lr>\r\n"
    b"Record-Route: <sip:p3.example.invalid;lr>\r\n"
    b"Subject: a folded\r\n  header\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n\r\nbodyEXTRA"
)


def test_parse_compact_folded_and_lists() -> None:
    msg = sipmsg.parse(INVITE, ("127.0.0.1", 5061))
    assert msg.method == "INVITE" and msg.call_id == "call-1@example.invalid"
    assert msg.cseq == (7, "INVITE")
    assert msg.from_tag == "abc" and msg.to_tag == ""
    assert len(msg.all("via")) == 2 and msg.top_via_branch == "z9hG4bKa"
    assert [sipmsg.header_uri(r) for r in msg.all("record-route")] == [
        "sip:p1.example.invalid;lr", "sip:p2.example.invalid;lr", "sip:p3.example.invalid;lr"]
    assert msg.get("subject") == "a folded header"
    assert msg.body == b"body"  # Content-Length wins over trailing bytes
    assert sipmsg.uri_user(sipmsg.header_uri(msg.get("from"))) == "0355501234"


def test_response_copies_dialog_headers_and_stamps_via() -> None:
    msg = sipmsg.parse(INVITE.replace(b"branch=z9hG4bKa", b"branch=z9hG4bKa;rport"),
                       ("127.0.0.1", 40000))
    data = sipmsg.build_response(msg, 180, to_tag="xyz")
    reply = sipmsg.parse(data)
    assert reply.status == 180 and reply.to_tag == "xyz"
    assert "rport=40000" in reply.all("via")[0]
    assert len(reply.all("record-route")) == 3
    assert sipmsg.response_address(msg) == ("127.0.0.1", 40000)


@pytest.mark.parametrize("bad", [
    b"", b"garbage", b"INVITE sip:x SIP/2.0\r\n\r\n", b"SIP/2.0 999 Nope\r\n\r\n",
    b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\n"
    b"CSeq: 1 INVITE\r\n\r\n",
    b"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\n"
    b"CSeq: 1 INVITE\r\n\r\n",
    b"\xff\xfe\r\n\r\n",
])
def test_malformed_raises_one_error_type(bad: bytes) -> None:
    with pytest.raises(sipmsg.SipParseError):
        sipmsg.parse(bad)


def test_sdp_offer_answer() -> None:
    offer = parse_offer(b"v=0\r\nc=IN IP4 192.0.2.10\r\nm=audio 4000 RTP/AVP 8 0 101\r\n"
                        b"a=rtpmap:101 telephone-event/8000\r\nm=video 5000 RTP/AVP 96\r\n")
    assert (offer.address, offer.port) == ("192.0.2.10", 4000)
    assert offer.codecs == (Codec.PCMA, Codec.PCMU) and offer.event_pt == 101
    # an rtpmap for a payload type missing from m= (pyVoIP drops such INVITEs) is harmless
    offer2 = parse_offer(b"c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:8 PCMA/8000\r\n")
    assert offer2.codecs == (Codec.PCMU,)
    with pytest.raises(NoCommonCodecError):
        parse_offer(b"c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 18\r\n")
    with pytest.raises(SdpError):
        parse_offer(b"v=0\r\n")
    answer = build_sdp("127.0.0.1", 30000, (Codec.PCMA,), 101, session_id=1).decode()
    assert "m=audio 30000 RTP/AVP 8 101" in answer and "a=rtpmap:8 PCMA/8000" in answer


def test_digest_matches_rfc2617_example() -> None:
    challenge = parse_challenge('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                                'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                                'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    header = digest_authorization(challenge, "GET", "/dir/index.html", "Mufasa",
                                  "Circle Of Life", nc=1, cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header

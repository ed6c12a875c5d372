"""The native WinRM engine's pure parts: envelopes, reply parsing, sealed-body framing."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from auditor.lab.winrs import soap
from auditor.transports.wsman import messages as m
from auditor.transports.wsman import sealing


def test_envelope_carries_the_headers_windows_requires_and_escapes_text():
    body, options = m.command_body("powershell", ["-Command", "<&'\">"], console_mode_stdin=False)
    xml, message_id = m.envelope("http://h:5985/wsman", m.ACTION_COMMAND, body, 20, shell_id="S-1", options=options)
    root = ET.fromstring(xml)  # well-formed despite the hostile argument
    header = root.find("s:Header", m.NS)
    assert header is not None
    assert header.findtext("a:Action", None, m.NS) == m.ACTION_COMMAND
    assert header.findtext("a:MessageID", None, m.NS) == message_id and message_id.startswith("uuid:")
    assert header.findtext("w:OperationTimeout", None, m.NS) == "PT20S"
    assert header.findtext("w:ResourceURI", None, m.NS) == m.RESOURCE_CMD
    assert header.findtext("w:MaxEnvelopeSize", None, m.NS) == "153600"
    assert header.find("w:SelectorSet/w:Selector[@Name='ShellId']", m.NS).text == "S-1"
    opts = {o.get("Name"): o.text for o in header.iterfind("w:OptionSet/w:Option", m.NS)}
    assert opts == {"WINRS_CONSOLEMODE_STDIN": "FALSE", "WINRS_SKIP_CMD_SHELL": "FALSE"}
    assert root.findtext(".//rsp:Arguments", None, m.NS) == "-Command <&'\">"
    # the lab's server reads the same request back
    req = soap.parse_request(xml)
    assert (req.action, req.shell_id, req.operation_timeout) == (m.ACTION_COMMAND, "S-1", 20.0)


def test_replies_from_the_lab_parse():
    assert m.shell_id_of(soap.created("uuid:1", "http://h/wsman", "ABC-1")) == "ABC-1"
    assert m.command_id_of(soap.command_response("uuid:1", "CMD-9")) == "CMD-9"
    running = m.output_of(soap.receive_response("uuid:1", "CMD-9", b"part", b"", done=False, exit_code=0))
    assert (running.stdout, running.done, running.exit_code) == (b"part", False, None)
    done = m.output_of(soap.receive_response("uuid:1", "CMD-9", b"out", b"err", done=True, exit_code=4))
    assert (done.stdout, done.stderr, done.done, done.exit_code) == (b"out", b"err", True, 4)


def test_faults_keep_their_wsman_code():
    timeout = m.fault_of(soap.fault("uuid:1", m.OPERATION_TIMEOUT, "w:TimedOut", "still running", "WIN"))
    assert timeout is not None and timeout.code == m.OPERATION_TIMEOUT
    quota = m.fault_of(soap.fault("uuid:1", m.QUOTA_MAX_OPERATIONS, "w:QuotaLimit", "quota", "WIN"))
    assert quota is not None and (quota.code, quota.subcode, str(quota)) == (m.QUOTA_MAX_OPERATIONS, "w:QuotaLimit", "quota")
    assert m.fault_of(soap.created("uuid:1", "a", "b")) is None
    assert m.fault_of(b"<not-xml") is None


@pytest.mark.parametrize("reply", [b"", b"<x", b"<a/>", "<s:Envelope xmlns:s='x'>\u00e9</s:Envelope>".encode()])
def test_replies_that_make_no_sense_are_protocol_errors(reply):
    for parse in (m.shell_id_of, m.command_id_of):
        with pytest.raises(m.ProtocolError):
            parse(reply)


def test_receive_with_a_broken_stream_is_a_protocol_error():
    bad = soap.receive_response("uuid:1", "C", b"x", b"", True, 0).replace(base64.b64encode(b"x"), b"@@@=")
    with pytest.raises(m.ProtocolError):
        m.output_of(bad)


def test_sealed_framing_round_trips_and_rejects_garbage():
    body = sealing.frame(b"S" * 16, b"sealed-bytes", 99)
    assert sealing.unframe(body) == (b"S" * 16, b"sealed-bytes", 99)
    assert sealing.is_sealed(sealing.CONTENT_TYPE) and not sealing.is_sealed("application/soap+xml")
    for garbage in (b"", b"--Encrypted Boundary\r\n", body.replace(b"Length=99", b""),
                    body[: body.find(b"octet-stream\r\n") + 16]):
        with pytest.raises(ValueError):
            sealing.unframe(garbage)


def test_channel_binding_of_a_certificate_with_an_unknown_signature_algorithm():
    """cryptography raises UnsupportedAlgorithm for a signature OID it does not know: bind with SHA-256."""
    import hashlib

    from auditor.lab.winrs.certs import generate_lab_certs
    from auditor.transports.wsman.auth import channel_bindings

    import ssl
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        certs = generate_lab_certs(tmp, ["127.0.0.1"], ["h"], "u")
        der = ssl.PEM_cert_to_DER_cert(certs.server_cert.read_text())
    ecdsa_sha256 = bytes.fromhex("06082a8648ce3d040302")        # 1.2.840.10045.4.3.2
    unknown = bytes.fromhex("06082a8648ce3d04037f")             # 1.2.840.10045.4.3.127: no such algorithm
    odd = der.replace(ecdsa_sha256, unknown)
    assert odd != der
    bound = channel_bindings(odd)
    assert bound is not None
    assert bound.application_data == b"tls-server-end-point:" + hashlib.sha256(odd).digest()


def test_ntlm_hashes_match_the_ms_nlmp_vectors():
    from auditor.transports.wsman.ntlm_hash import lm_hash, nt_hash

    assert nt_hash("Password") == "A4F49C406510BDCAB6824EE7C30FD852"
    assert lm_hash("Password") == "E52CAC67419A9A224A3B108F3FA6CB6D"


def test_credssp_bodies_seal_in_parts_of_16_kib():
    parts = b"".join(sealing.frame_part(b"T" * 4, b"x" * 10, 16384, sealing.CREDSSP_ENCRYPTED) for _ in range(3))
    body = parts + sealing.BOUNDARY + b"--\r\n"
    assert [p[2] for p in sealing.unframe_all(body)] == [16384] * 3
    assert sealing.is_sealed(sealing.content_type(sealing.CREDSSP_ENCRYPTED, multi=True))
    with pytest.raises(ValueError):
        sealing.unframe(body)  # one part expected

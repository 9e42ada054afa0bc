"""The DSN we owe after a 250 (RFC 3464; RFC 6533 for non-ASCII addresses) is a valid
multipart/report whatever the job holds, and never carries a raw control byte."""

from __future__ import annotations

import email
import email.policy

from consentry.notify import build_dsn

JOB = {"id": "j1", "to": "news@sender.example", "at": 1_700_000_000.0,
       "message_id": "<m1@sender.example>",
       "refused": [{"recipient": "dead@example.org", "code": 550,
                    "text": "5.1.1 no such user"},
                   {"recipient": "policy@example.org", "code": 554,
                    "text": "5.7.1 rejected"}]}


def parsed(data: bytes) -> email.message.EmailMessage:
    m = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(m, email.message.EmailMessage)
    return m


def test_dsn_is_a_multipart_report_with_delivery_status() -> None:
    data = build_dsn(JOB, "consentry.test")
    m = parsed(data)
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    parts = list(m.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status"]
    assert "dead@example.org" in parts[0].get_content()
    status = data.split(b"message/delivery-status", 1)[1]
    assert b"Reporting-MTA: dns; consentry.test" in status
    assert b"Final-Recipient: rfc822; dead@example.org\r\nAction: failed\r\n" \
           b"Status: 5.1.1\r\n" in status
    assert b"Status: 5.7.1" in status
    assert m["To"].addresses[0].addr_spec == "news@sender.example"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["From"].addresses[0].username == "MAILER-DAEMON"


def test_dsn_lines_end_in_crlf_only() -> None:
    data = build_dsn(JOB, "consentry.test")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")


def test_non_ascii_addresses_use_global_delivery_status() -> None:
    job = {**JOB, "to": "jürgen@bücher.de",
           "refused": [{"recipient": "müller@bücher.de", "code": 550,
                        "text": "5.1.1 unknown"}]}
    data = build_dsn(job, "consentry.test")
    m = parsed(data)
    assert [p.get_content_type() for p in m.iter_parts()] == [
        "text/plain", "message/global-delivery-status"]
    assert "Final-Recipient: utf-8; müller@bücher.de".encode() in data


def test_hostile_job_fields_cannot_inject_headers() -> None:
    job = {**JOB, "to": "a@b.example\r\nBcc: victim@example.org",
           "message_id": "<x>\r\nX-Evil: 1",
           "refused": [{"recipient": "r@x.example\r\nAction: delivered", "code": "550\r\n",
                        "text": "5.1.1 \x1b[2J\r\nStatus: 2.0.0"}]}
    data = build_dsn(job, "consentry.test")
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\r\nX-Evil" not in data
    assert b"\r\nAction: delivered" not in data
    assert b"\r\nStatus: 2.0.0" not in data
    assert b"\x1b" not in data


def test_missing_message_id_and_no_time() -> None:
    job = {"to": "a@b.example", "refused": [{"recipient": "c@d.example", "code": 550,
                                             "text": "not enhanced"}]}
    data = build_dsn(job, "consentry.test")
    assert b"(no Message-ID)" in data.replace(b"=\r\n", b"")
    assert b"Status: 5.0.0" in data

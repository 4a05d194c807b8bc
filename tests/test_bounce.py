"""Bounces (RFC 3464): the report lib-dsn builds is parsed by Python's email package as
a valid multipart/report with the right Status and Final-Recipient. The unit test binary
of lib-dsn writes one (TERN_DSN_DUMP); the test is skipped when that binary is not built
(lib-dsn not yet in the root meson.build). A protocol test for a recipient that fails
after acceptance runs once the queue manager sends bounces (dsn_send_bounce)."""
import email
import email.policy
import os
import smtplib
import subprocess
import time

import pytest

from conftest import TERN


def dsn_test_binary():
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(TERN))))
    path = os.path.join(build, "test-lib-dsn")
    return path if os.access(path, os.X_OK) else None


def test_bounce_parses_as_multipart_report(tmp_path):
    binary = dsn_test_binary()
    if binary is None:
        pytest.skip("test-lib-dsn not built")
    dump = tmp_path / "bounce.eml"
    env = dict(os.environ, TERN_DSN_DUMP=str(dump))
    r = subprocess.run([binary], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    msg = email.message_from_bytes(dump.read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"] == "auto-replied"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "message/rfc822"]
    assert not msg.defects and all(not p.defects for p in parts)
    # message/delivery-status: a list of field blocks, per message then per recipient.
    blocks = parts[1].get_payload()
    assert blocks[0]["Reporting-MTA"] == "dns; mx.example.test"
    assert blocks[0]["Arrival-Date"]
    rcpts = blocks[1:]
    assert [b["Final-Recipient"] for b in rcpts] == ["rfc822; gone@example.test",
                                                     "rfc822; far@remote.test"]
    assert [b["Status"] for b in rcpts] == ["5.1.1", "5.7.1"]
    assert [b["Action"] for b in rcpts] == ["failed", "failed"]
    assert rcpts[0]["Original-Recipient"] == "rfc822;Gone+x@example.test"
    assert rcpts[1]["Remote-MTA"] == "dns; mx.remote.test"
    original = parts[2].get_payload()[0]
    assert original["Subject"] == "hello"
    assert "third line" in original.get_content()


def wait_for(pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_user_deleted_after_acceptance_bounces(tern):
    """carol is accepted at RCPT and deleted before the message is queued: the delivery
    fails with 5.1.1 and the sender bob gets a bounce."""
    tern.add_user("carol@example.test", "carol-pw")
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("me.test")
    s.mail("bob@example.test")
    assert s.rcpt("carol@example.test")[0] == 250
    tern.run("user", "del", "carol@example.test", check=True)
    s.data(b"Subject: to be bounced\r\n\r\nbody\r\n")
    s.quit()
    got = wait_for(lambda: tern.message_files("bob@example.test"), timeout=10)
    assert got, tern.log()
    msg = email.message_from_bytes(tern.read_messages("bob@example.test")[-1],
                                   policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    blocks = list(msg.iter_parts())[1].get_payload()
    assert blocks[1]["Final-Recipient"] == "rfc822; carol@example.test"
    assert blocks[1]["Status"] == "5.1.1"

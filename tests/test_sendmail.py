"""`sendmail -bs`: one SMTP session on stdin/stdout, delivered to alice byte for byte."""
import os

ALICE = "alice@example.test"


def test_sendmail_bs(tern):
    body = (b"From: bob@example.test\r\nTo: alice@example.test\r\n"
            b"Subject: over -bs\r\nMessage-ID: <bs1@example.test>\r\n"
            b"Date: Thu, 26 Nov 2026 07:00:00 +0000\r\n\r\n"
            b"hello\r\n..leading dot\r\nend\r\n")
    session = (b"EHLO localhost\r\nMAIL FROM:<bob@example.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\nDATA\r\n" + body + b".\r\nQUIT\r\n")
    r = tern.run("sendmail", "-bs", input=session)
    out = r.stdout
    assert r.returncode == 0, (out, r.stderr)
    assert out.startswith(b"220"), out
    assert b"\r\n354" in out
    assert out.count(b"\r\n250") >= 3, out
    assert b"\r\n221" in out
    files = tern.wait_messages(ALICE, 1, timeout=15)
    assert len(files) == 1, tern.log()
    data = open(files[0], "rb").read()
    assert data.startswith(b"Return-Path: <bob@example.test>\nDelivered-To: alice@example.test\n")
    want = body.replace(b"\r\n", b"\n").replace(b"\n..leading", b"\n.leading")
    # Whatever trace fields the SMTP server adds come first; the message follows unchanged.
    assert data.endswith(want), data
    assert os.path.basename(files[0]).split(",S=")[1] == str(len(data))

"""Quotas at local delivery: a message that would put a mailbox over its quota is
deferred (4.2.2) or failed (5.2.2) as quota_exceeded says, and `tern user list` shows
the usage."""
import smtplib
import time


def send(tern, rcpt, size):
    body = b"Subject: q\r\n\r\n" + (b"x" * 76 + b"\r\n") * (size // 78)
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.sendmail("sender@remote.test", [rcpt], body)
    s.quit()


def wait_log(tern, text, timeout=10):
    deadline = time.time() + timeout
    while text not in tern.log():
        assert time.time() < deadline, tern.log()[-3000:]
        time.sleep(0.05)


def test_quota_defer_then_bounce(tern_factory):
    tern = tern_factory(start=False)
    r = tern.run("user", "add", "carol@example.test", "--quota", "5k", input="pw\n")
    assert r.returncode == 0, r.stderr
    tern.start()
    send(tern, "carol@example.test", 3000)
    assert len(tern.wait_messages("carol@example.test", 1)) == 1
    send(tern, "carol@example.test", 3000)
    wait_log(tern, "over quota: 4.2.2")
    assert len(tern.message_files("carol@example.test")) == 1
    q = tern.run("queue", "list")
    assert "4.2.2" in q.stdout, q.stdout
    listing = tern.run("user", "list").stdout
    line = [l for l in listing.splitlines() if l.startswith("carol@")][0]
    assert line.split()[2] == "1" and line.split()[3] == "5120", line
    # bounce instead of waiting
    tern.stop()
    tern.set_option("quota_exceeded", "bounce")
    tern.start()
    send(tern, "carol@example.test", 3000)
    wait_log(tern, "5.2.2 mailbox full")
    # a user without a quota is not affected
    send(tern, "alice@example.test", 3000)
    assert len(tern.wait_messages("alice@example.test", 1)) == 1

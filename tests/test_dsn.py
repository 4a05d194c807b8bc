"""Delivery status notifications from the queue: delay warnings and expiry (RFC 3464
Action delayed, then failed), NOTIFY honoured (RFC 3461 5.2.5, 5.2.6), a warning sent
once across a restart; DSN parameters passed on to a next hop that offers DSN (RFC 3461
5.2.1) and "relayed" reports for one that does not (5.2.2); "delivered" reports for local
delivery (5.2.3).

The destination that is down is a transport_map route to a loopback port nobody listens
on (connections refused at once); the retry schedule, delay_warning_time and
queue_lifetime are seconds so that the whole life of a message fits in a test. The next
hops that take mail are a small capturing SMTP server written here (it prints every
command it got) and, when the machine has it, a private Postfix (bench/postfix-peer.sh).
"""
import email
import email.policy
import os
import re
import smtplib
import subprocess
import time

import pytest

from conftest import ScriptedSmtpServer, free_port
from test_relay import postfix_peer, wait_queue_empty  # noqa: F401 (a fixture)


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report", raw[:2000]
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts][:2] == ["text/plain",
                                                         "message/delivery-status"]
    assert not msg.defects and all(not p.defects for p in parts), raw[:2000]
    blocks = parts[1].get_payload()
    return msg, parts, blocks[0], blocks[1:]


def wait_files(tern, addr, n, timeout):
    files = tern.wait_messages(addr, n, timeout=timeout)
    assert len(files) >= n, "%d of %d messages for %s:\n%s" % (
        len(files), n, addr, tern.log()[-4000:])
    return files


def down_options(**extra):
    opts = {"transport_map": "down.test relay:[127.0.0.1]:%d" % free_port(),
            "queue_retry_min": "1s", "queue_retry_max": "1s",
            "delay_warning_time": "2s", "queue_lifetime": "9s"}
    opts.update(extra)
    return opts


def submit(tern, sender, rcpts, subject, mail_options=(), rcpt_options=None):
    """One message over SMTP from loopback (a trusted network: relaying allowed)."""
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("client.test")
    s.mail(sender, list(mail_options))
    for r in rcpts:
        code, text = s.rcpt(r, (rcpt_options or {}).get(r, []))
        assert code == 250, (r, code, text)
    code, text = s.data(("Subject: %s\r\nFrom: <%s>\r\n\r\nbody of %s\r\n" %
                         (subject, sender, subject)).encode())
    assert code == 250, text
    s.quit()


def test_delay_warning_once_then_bounce_across_restart(tern_factory):
    tern = tern_factory(options=down_options())
    r = tern.run("sendmail", "-i", "-f", "alice@example.test", "bob@down.test",
                 input=b"Subject: slow one\n\nwaiting\n")
    assert r.returncode == 0, r.stderr
    files = wait_files(tern, "alice@example.test", 1, timeout=15)
    assert len(files) == 1
    msg, parts, per_msg, rcpts = parse(open(files[0], "rb").read())
    assert msg["Subject"].startswith("Delayed Mail")
    assert msg["Auto-Submitted"] == "auto-replied"
    assert per_msg["Reporting-MTA"] == "dns; mx.example.test"
    assert len(rcpts) == 1
    assert rcpts[0]["Final-Recipient"] == "rfc822; bob@down.test"
    assert rcpts[0]["Action"] == "delayed"
    assert re.fullmatch(r"4\.\d+\.\d+", rcpts[0]["Status"]), rcpts[0]["Status"]
    assert "cannot connect" in rcpts[0]["Diagnostic-Code"], rcpts[0]["Diagnostic-Code"]
    assert rcpts[0]["Will-Retry-Until"]
    # A warning carries only the original's header (RFC 3461 6.2).
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert "Subject: slow one" in parts[2].get_content()
    # The message is still queued and tried again.
    assert "bob@down.test" in tern.run("mailq").stdout

    # A restart before expiry: the "w" record keeps a second warning from going out.
    tern.stop()
    tern.start()
    files = wait_files(tern, "alice@example.test", 2, timeout=20)
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    time.sleep(1.5)  # a second warning or bounce would come with the next pass
    files = tern.message_files("alice@example.test")
    assert len(files) == 2, tern.log()[-4000:]
    msg, parts, per_msg, rcpts = parse(open(files[1], "rb").read())
    assert msg["Subject"].startswith("Undelivered Mail")
    assert [b["Action"] for b in rcpts] == ["failed"]
    assert rcpts[0]["Final-Recipient"] == "rfc822; bob@down.test"
    assert rcpts[0]["Status"] == "5.4.7"
    assert "expired" in rcpts[0]["Diagnostic-Code"]
    assert "cannot connect" in rcpts[0]["Diagnostic-Code"]
    assert parts[2].get_content_type() == "message/rfc822"
    assert len(re.findall(r"sender delay notification", tern.log())) == 1, tern.log()


def test_delay_warning_honours_notify_and_null_sender(tern_factory):
    tern = tern_factory(options=down_options())
    submit(tern, "alice@example.test", ["a@down.test", "b@down.test", "c@down.test"],
           "notify test", mail_options=["RET=FULL", "ENVID=env+2Bone"],
           rcpt_options={"a@down.test": ["NOTIFY=DELAY,FAILURE"],
                         "b@down.test": ["NOTIFY=FAILURE"],
                         "c@down.test": ["NOTIFY=NEVER"]})
    # From <>: no warning and no bounce, ever (RFC 3461 5.2).
    submit(tern, "", ["d@down.test"], "from the null sender")
    files = wait_files(tern, "alice@example.test", 2, timeout=20)
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    time.sleep(1.5)
    files = tern.message_files("alice@example.test")
    assert len(files) == 2, tern.log()[-4000:]
    _, _, per_msg, warned = parse(open(files[0], "rb").read())
    assert per_msg["Original-Envelope-Id"] == "env+one"
    assert [(b["Final-Recipient"], b["Action"]) for b in warned] == [
        ("rfc822; a@down.test", "delayed")]
    _, parts, _, failed = parse(open(files[1], "rb").read())
    assert sorted((b["Final-Recipient"], b["Action"]) for b in failed) == [
        ("rfc822; a@down.test", "failed"), ("rfc822; b@down.test", "failed")]
    assert parts[2].get_content_type() == "message/rfc822"  # RET=FULL
    log = tern.log()
    assert len(re.findall(r"sender delay notification", log)) == 1, log
    assert len(re.findall(r"sender \S+ notification: ", log)) == 2, log
    assert re.search(r"to=<d@down.test>, relay=\S+, status=bounced \(5\.4\.7", log), log


def test_one_delay_warning_for_local_and_remote_deferrals(tern_factory):
    """A local recipient over quota (4.2.2) and a remote one that is down, in one message:
    one warning names both."""
    tern = tern_factory(options=down_options(queue_lifetime="30s"), start=False)
    r = tern.run("user", "add", "carol@example.test", "--quota", "1k", input="carol-pw\n")
    assert r.returncode == 0, r.stderr
    tern.start()
    r = tern.run("sendmail", "-i", "-f", "alice@example.test", "carol@example.test",
                 "bob@down.test", input=b"Subject: big\n\n" + b"x" * 70 * 40 + b"\n")
    assert r.returncode == 0, r.stderr
    files = wait_files(tern, "alice@example.test", 1, timeout=15)
    time.sleep(3)  # the next passes: no second warning
    assert len(tern.message_files("alice@example.test")) == 1, tern.log()[-3000:]
    _, _, _, rcpts = parse(open(files[0], "rb").read())
    got = sorted((b["Final-Recipient"], b["Action"], b["Status"]) for b in rcpts)
    assert got == [("rfc822; bob@down.test", "delayed", "4.4.1"),
                   ("rfc822; carol@example.test", "delayed", "4.2.2")], got


def test_delay_warning_off(tern_factory):
    tern = tern_factory(options=down_options(delay_warning_time="0", queue_lifetime="4s"))
    r = tern.run("sendmail", "-i", "-f", "alice@example.test", "bob@down.test",
                 input=b"Subject: no warning\n\nx\n")
    assert r.returncode == 0, r.stderr
    files = wait_files(tern, "alice@example.test", 1, timeout=15)
    assert wait_queue_empty(tern)
    _, _, _, rcpts = parse(open(files[0], "rb").read())
    assert [b["Action"] for b in rcpts] == ["failed"]
    assert len(tern.message_files("alice@example.test")) == 1


# ---- DSN parameters on the next hop (RFC 3461 5.2.1, 5.2.2) ----

class CapturingServer(ScriptedSmtpServer):
    """Takes every message and keeps every command line it got; lists DSN in its EHLO
    reply only when told to."""

    def __init__(self, port, dsn):
        self.dsn, self.lines = dsn, []
        super().__init__("127.0.0.1", port)

    def session(self, f):
        self.say(f, "220 capture.test ESMTP")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("ascii", "replace")
            self.lines.append(cmd)
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.say(f, "250-capture.test\r\n250-PIPELINING\r\n%s250 8BITMIME" %
                         ("250-DSN\r\n" if self.dsn else ""))
            elif up == "DATA":
                self.say(f, "354 go")
                self.read_data(f)
                self.say(f, "250 2.0.0 queued as CAPTURED")
            elif up == "QUIT":
                self.say(f, "221 bye")
                return
            else:
                self.say(f, "250 2.0.0 ok")

    def wait(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.messages) < n and time.time() < deadline:
            time.sleep(0.05)
        return self.messages

    def commands(self, verb):
        """The command lines starting with verb ("MAIL FROM:"), sorted."""
        return sorted(l for l in self.lines if l.upper().startswith(verb))


@pytest.fixture
def capture():
    made = []

    def make(dsn):
        port = free_port()
        srv = CapturingServer(port, dsn)
        made.append(srv)
        return srv, port
    yield make
    for s in made:
        s.stop()


DSN_MAIL = ["RET=HDRS", "ENVID=QQ+2B1+3Dx"]
DSN_RCPTS = {"bob@peer.test": ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob+2Btag@peer.test"],
             "quiet@peer.test": ["NOTIFY=NEVER"]}


def relay_with_dsn(tern_factory, capture, dsn):
    """One message with DSN parameters relayed to a capturing peer with or without DSN:
    the instance, and the MAIL and RCPT lines the peer got."""
    srv, port = capture(dsn=dsn)
    tern = tern_factory(options={"transport_map": "peer.test relay:[127.0.0.1]:%d" % port})
    submit(tern, "alice@example.test", ["bob@peer.test", "carol@peer.test", "quiet@peer.test"],
           "dsn %s" % dsn, mail_options=DSN_MAIL, rcpt_options=DSN_RCPTS)
    assert len(srv.wait(1)) == 1, tern.log()[-3000:]
    return tern, srv.commands("MAIL FROM:"), srv.commands("RCPT TO:")


def test_dsn_passed_on_to_peer_with_dsn(tern_factory, capture):
    tern, mail, rcpt = relay_with_dsn(tern_factory, capture, True)
    assert len(mail) == 1
    assert re.fullmatch(r"MAIL FROM:<alice@example\.test>( SIZE=\d+)? RET=HDRS "
                        r"ENVID=QQ\+2B1\+3Dx", mail[0]), mail
    # An ORCPT as received goes on as it is; without one, Tern adds the address it got
    # (RFC 3461 5.2.1 d); NOTIFY only where it was given.
    assert rcpt == ["RCPT TO:<bob@peer.test> NOTIFY=SUCCESS,FAILURE "
                    "ORCPT=rfc822;Bob+2Btag@peer.test",
                    "RCPT TO:<carol@peer.test> ORCPT=rfc822;carol@peer.test",
                    "RCPT TO:<quiet@peer.test> NOTIFY=NEVER ORCPT=rfc822;quiet@peer.test"], rcpt
    assert wait_queue_empty(tern)
    # The next hop took the request: success is its to report, not ours.
    time.sleep(1)
    assert tern.message_files("alice@example.test") == []
    assert "sender delivery notification" not in tern.log()


def test_dsn_relayed_report_for_peer_without_dsn(tern_factory, capture):
    tern, mail, rcpt = relay_with_dsn(tern_factory, capture, False)
    # RFC 3461 5.2.2 (a): none of the parameters to a server without DSN.
    assert re.fullmatch(r"MAIL FROM:<alice@example\.test>( SIZE=\d+)?", mail[0]), mail
    assert rcpt == ["RCPT TO:<bob@peer.test>", "RCPT TO:<carol@peer.test>",
                    "RCPT TO:<quiet@peer.test>"], rcpt
    # (b): Tern reports "relayed" for bob, whose NOTIFY has SUCCESS; nobody else.
    files = wait_files(tern, "alice@example.test", 1, timeout=15)
    assert wait_queue_empty(tern)
    time.sleep(1)
    assert len(tern.message_files("alice@example.test")) == 1
    msg, parts, per_msg, rcpts = parse(open(files[0], "rb").read())
    assert msg["Subject"] == "Successful Mail Delivery Report"
    assert per_msg["Original-Envelope-Id"] == "QQ+1=x"
    assert len(rcpts) == 1
    assert rcpts[0]["Final-Recipient"] == "rfc822; bob@peer.test"
    assert rcpts[0]["Original-Recipient"] == "rfc822;Bob+tag@peer.test"
    assert rcpts[0]["Action"] == "relayed"
    assert rcpts[0]["Status"] == "2.0.0"
    assert "250 2.0.0 queued as CAPTURED" in rcpts[0]["Diagnostic-Code"]
    assert parts[2].get_content_type() == "text/rfc822-headers"


def test_dsn_delivered_report_for_local_delivery(tern):
    submit(tern, "alice@example.test", ["bob@example.test"], "local success",
           rcpt_options={"bob@example.test": ["NOTIFY=SUCCESS"]})
    submit(tern, "alice@example.test", ["bob@example.test"], "local no notify")
    assert len(wait_files(tern, "bob@example.test", 2, timeout=10)) == 2
    files = wait_files(tern, "alice@example.test", 1, timeout=10)
    assert wait_queue_empty(tern)
    time.sleep(1)
    assert len(tern.message_files("alice@example.test")) == 1
    msg, parts, _, rcpts = parse(open(files[0], "rb").read())
    assert [(b["Final-Recipient"], b["Action"], b["Status"]) for b in rcpts] == [
        ("rfc822; bob@example.test", "delivered", "2.0.0")]
    assert "Subject: local success" in parts[2].get_content()


def test_dsn_through_postfix(tern_factory, postfix_peer):
    """Tern -> a real Postfix (which offers DSN) with NOTIFY=SUCCESS, ORCPT and ENVID:
    Postfix delivers and sends its own "delivered" report back through Tern, carrying the
    ORCPT and ENVID that Tern passed on."""
    tern = tern_factory(options={
        "transport_map": "peer.test relay:[127.0.0.1]:%d" % postfix_peer.port})
    etc = os.path.join(postfix_peer.dir, "etc")
    subprocess.run(["postconf", "-c", etc, "-e",
                    "relayhost=[127.0.0.1]:%d" % tern.ports["smtp"]], check=True)
    subprocess.run(["postfix", "-c", etc, "reload"], capture_output=True, check=True)
    time.sleep(1)
    submit(tern, "alice@example.test", ["bob@peer.test"], "through postfix",
           mail_options=DSN_MAIL, rcpt_options=DSN_RCPTS)
    assert len(postfix_peer.messages(1)) == 1, tern.log()[-3000:]
    files = wait_files(tern, "alice@example.test", 1, timeout=30)
    msg, parts, per_msg, rcpts = parse(open(files[0], "rb").read())
    assert per_msg["Reporting-MTA"] == "dns; peer.peer.test"
    assert per_msg["Original-Envelope-Id"] == "QQ+1=x"
    assert len(rcpts) == 1
    assert rcpts[0]["Original-Recipient"] == "rfc822;Bob+tag@peer.test"
    assert rcpts[0]["Action"] == "delivered"
    assert rcpts[0]["Status"].startswith("2.")
    # Tern itself sent no report: Postfix had taken the request.
    assert "sender delivery notification" not in tern.log()

"""Protocol tests for the inbound SMTP server (role smtp): RFC 5321 sessions driven by
smtplib, swaks and a raw socket; limits, policies and the SMTP smuggling case.
Delivered Maildir content is compared byte for byte where the test is about content."""
import os
import re
import smtplib
import socket
import subprocess
import time

import pytest

CRLF = b"\r\n"


class Raw:
    """A bare SMTP client: exact bytes out, whole replies in."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """(code, text of all lines joined by newlines)"""
        lines = []
        while True:
            line = self.line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] == " ":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, text):
        self.send(text.encode() + CRLF if isinstance(text, str) else text + CRLF)
        return self.reply()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def session(tern, port_name="smtp"):
    r = Raw(tern.ports[port_name])
    code, text = r.reply()
    assert code == 220, text
    code, text = r.cmd("EHLO client.test")
    assert code == 250, text
    return r


def body_of(message):
    """What follows the trace/header block the server and delivery add, up to our own
    first header: messages in these tests start with 'Subject:'."""
    i = message.find(b"Subject:")
    assert i >= 0, message
    return message[i:]


def test_single_recipient_byte_exact(tern):
    msg = b"Subject: one\r\nFrom: x@remote.test\r\n\r\nline 1\r\n..leading dot\r\nend\r\n"
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"]) as s:
        s.sendmail("x@remote.test", ["alice@example.test"], msg)
    files = tern.wait_messages("alice@example.test", 1)
    assert len(files) == 1
    data = open(files[0], "rb").read()
    assert body_of(data) == msg.replace(b"\r\n", b"\n")  # smtplib dot-stuffs, we unstuff
    assert re.search(rb"Received: from [^\n]*\(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test "
                     rb"\(Tern\) with ESMTP id [0-9A-V]+\n\tfor <alice@example\.test>; ", data)
    log = tern.log()
    assert "connect from [127.0.0.1]" in log
    assert re.search(r"[0-9A-V]+: from=<x@remote.test>, size=\d+, nrcpt=1, "
                     r"rcpt=<alice@example.test>, client=\[127.0.0.1\]", log)


def test_many_recipients(tern):
    msg = b"Subject: many\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"]) as s:
        refused = s.sendmail("x@remote.test", ["alice@example.test", "bob@example.test",
                                               "ALICE@Example.Test"], msg)
    assert refused == {}
    for user in ("alice@example.test", "bob@example.test"):
        files = tern.wait_messages(user, 1)
        assert len(files) == 1
        assert body_of(open(files[0], "rb").read()) == b"Subject: many\n\nhi\n"
    time.sleep(0.5)
    assert len(tern.message_files("alice@example.test")) == 1  # the duplicate collapsed


def test_pipelining_replies_in_order(tern):
    r = session(tern)
    r.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    code, text = r.reply()
    assert code == 550 and text.startswith("5.1.1"), text
    assert r.reply()[0] == 250
    assert r.reply()[0] == 354
    r.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
    code, text = r.reply()
    assert code == 250 and "queued as" in text
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert r.closed()
    for user in ("alice@example.test", "bob@example.test"):
        files = tern.wait_messages(user, 1)
        assert body_of(open(files[0], "rb").read()) == b"Subject: piped\n\nbody\n"


def test_bdat_chunks(tern):
    r = session(tern)
    assert r.cmd("MAIL FROM:<x@remote.test> BODY=8BITMIME")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    c1 = b"Subject: chunked\r\n\r\nfirst line\r"  # the CRLF is split across chunks
    c2 = b"\n.not a dot end\r\n.\r\nlast"
    r.send(b"BDAT %d\r\n" % len(c1) + c1 + b"BDAT %d\r\n" % len(c2) + c2)
    code, text = r.reply()
    assert code == 250, text
    assert r.reply()[0] == 250
    code, text = r.cmd("BDAT 0 LAST")
    assert code == 250 and "queued as" in text, text
    # A refused BDAT still has its chunk read (RFC 3030): the session stays in step.
    r.send(b"BDAT 5\r\nxxxxx")
    assert r.reply()[0] == 503
    assert r.cmd("NOOP")[0] == 250
    r.cmd("QUIT")
    files = tern.wait_messages("alice@example.test", 1)
    assert body_of(open(files[0], "rb").read()) == \
        b"Subject: chunked\n\nfirst line\n.not a dot end\n.\nlast"


def test_8bit_and_smtputf8(tern):
    msg = "Subject: café\r\n\r\nnaïve 8-bit body ✓\r\n".encode()
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"]) as s:
        s.ehlo()
        assert s.has_extn("smtputf8") and s.has_extn("8bitmime")
        s.sendmail("jörg@bücher.test", ["alice@example.test"], msg,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    files = tern.wait_messages("alice@example.test", 1)
    data = open(files[0], "rb").read()
    assert body_of(data) == msg.replace(b"\r\n", b"\n")
    assert b"with UTF8SMTP id" in data
    r = session(tern)
    code, text = r.cmd("MAIL FROM:<jörg@bücher.test>")
    assert code == 553 and text.startswith("5.6.7"), text
    assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<ålice@example.test>")
    assert code == 553 and text.startswith("5.6.7"), text


def test_size_limit(tern_factory):
    tern = tern_factory(options={"smtp_max_message_size": "10k"})
    r = session(tern)
    code, text = r.cmd("EHLO client.test")
    assert "SIZE 10240" in text
    code, text = r.cmd("MAIL FROM:<x@remote.test> SIZE=20000")
    assert code == 552 and text.startswith("5.3.4"), text
    assert r.cmd("MAIL FROM:<x@remote.test> SIZE=1000")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 400 + b".\r\n")
    code, text = r.reply()
    assert code == 552 and text.startswith("5.3.4"), text
    assert r.cmd("NOOP")[0] == 250  # the session goes on after the whole message was read
    r.cmd("QUIT")
    time.sleep(0.5)
    assert tern.message_files("alice@example.test") == []
    assert re.search(r"reject: DATA from \[127.0.0.1\]:\d+: 552 5.3.4", tern.log())


def test_unknown_user_and_relay(tern_factory):
    tern = tern_factory(options={"mynetworks": ""})  # loopback is trusted by default
    r = session(tern)
    assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<nobody@example.test>")
    assert code == 550 and text.startswith("5.1.1"), text
    code, text = r.cmd("RCPT TO:<victim@elsewhere.test>")
    assert code == 554 and text.startswith("5.7.1") and "Relay access denied" in text
    for trick in ("alice%elsewhere.test@example.test", '"alice@elsewhere.test"@example.test',
                  "elsewhere.test!alice@example.test", "alice@[127.0.0.1]"):
        code, text = r.cmd("RCPT TO:<%s>" % trick)
        assert code in (550, 554), (trick, code, text)
    code, text = r.cmd("DATA")
    assert code == 554, text  # no valid recipients
    log = tern.log()
    assert re.search(r"reject: RCPT from \[127.0.0.1\]:\d+: 550 5.1.1 .*from=<x@remote.test> "
                     r"to=<nobody@example.test>", log)
    assert "554 5.7.1" in log


def test_syntax_errors(tern):
    r = session(tern)
    assert r.cmd("MAIL FROM:alice@example.test")[0] == 501
    assert r.cmd("MAIL FROM:<a@b> FOO=1")[0] == 555
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 503
    assert r.cmd("XYZZY")[0] == 500
    assert r.cmd("DATA now")[0] == 501
    assert r.cmd("mail from:<x@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<a..b@example.test>")[0] == 501
    assert r.cmd('RCPT TO:<"alice"@example.test>')[0] == 250  # needless quotes are fine
    code, text = r.cmd("VRFY alice@example.test")
    assert code == 252, text
    assert r.cmd("EXPN staff")[0] == 502
    assert r.cmd("HELP")[0] == 214
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 503


def test_line_and_header_limits(tern_factory):
    tern = tern_factory(options={"smtp_max_line_length": "1k", "smtp_max_header_size": "2k"})
    r = session(tern)
    code, text = r.cmd("NOOP " + "x" * 3000)
    assert code == 500 and text.startswith("5.5.2"), text
    assert r.cmd("NOOP")[0] == 250
    for bad in (b"Subject: long\r\n\r\n" + b"y" * 1500 + b"\r\n",
                b"Subject: hdr\r\n" + b"X-Filler: zzzzzzzzzzzzzzzzzzzzzzzz\r\n" * 100 + b"\r\nb\r\n"):
        assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 250
        assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        code, text = r.cmd(bad + b".")
        assert code == 552 and text.startswith("5.3.4"), text
    r.cmd("QUIT")


def test_too_many_recipients(tern_factory):
    tern = tern_factory(options={"smtp_max_recipients": "1"})
    r = session(tern)
    assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    code, text = r.cmd("RCPT TO:<bob@example.test>")
    assert code == 452 and text.startswith("4.5.3"), text
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd(b"Subject: x\r\n\r\nx\r\n.")
    assert code == 250
    assert len(tern.wait_messages("alice@example.test", 1)) == 1


def send_data(tern, data, rcpt="alice@example.test"):
    r = session(tern)
    assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(data)
    return r


def test_bare_lf_accepted_by_default(tern):
    r = send_data(tern, b"Subject: lf\r\n\r\nbare\nlf\r\n.\r\n")
    assert r.reply()[0] == 250
    files = tern.wait_messages("alice@example.test", 1)
    assert body_of(open(files[0], "rb").read()) == b"Subject: lf\n\nbare\nlf\n"


def test_bare_lf_rejected(tern_factory):
    tern = tern_factory(options={"smtp_bare_lf": "reject"})
    r = send_data(tern, b"Subject: lf\r\n\r\nbare\nlf\r\n.\r\n")
    code, text = r.reply()
    assert code == 550 and text.startswith("5.6.0"), text


def test_nul_rejected(tern):
    r = send_data(tern, b"Subject: nul\r\n\r\na\0b\r\n.\r\n")
    code, text = r.reply()
    assert code == 550 and text.startswith("5.6.0"), text


def test_smuggling_does_not_end_data(tern):
    smuggled = (b"Subject: outer\r\n\r\nhello\n.\nMAIL FROM:<evil@remote.test>\n"
                b"RCPT TO:<bob@example.test>\nDATA\nSubject: smuggled\n\nboo\n.\n"
                b"more\r\n.\r\n")
    r = send_data(tern, smuggled)
    code, text = r.reply()
    assert code == 250, text
    assert r.cmd("QUIT")[0] == 221
    files = tern.wait_messages("alice@example.test", 1)
    data = body_of(open(files[0], "rb").read())
    assert data.startswith(b"Subject: outer\n\nhello\n.\nMAIL FROM:<evil@remote.test>\n")
    assert data.endswith(b"boo\n.\nmore\n")
    time.sleep(1)
    assert tern.message_files("bob@example.test") == []


def test_timeout(tern_factory):
    tern = tern_factory(options={"smtp_timeout": "2s"})
    r = Raw(tern.ports["smtp"])
    assert r.reply()[0] == 220
    start = time.time()
    code, text = r.reply()
    assert code == 421 and text.startswith("4.4.2"), text
    assert 1.5 < time.time() - start < 6
    assert r.closed()


def test_connection_limits(tern_factory):
    tern = tern_factory(options={"smtp_max_connections_per_ip": "2"})
    time.sleep(0.5)  # the fixture's own probe connection must be gone
    a, b = Raw(tern.ports["smtp"]), Raw(tern.ports["smtp"])
    assert a.reply()[0] == 220 and b.reply()[0] == 220
    c = Raw(tern.ports["smtp"])
    code, text = c.reply()
    assert code == 421 and text.startswith("4.7.0"), text
    assert c.closed()
    a.cmd("QUIT")
    assert a.closed()
    time.sleep(0.2)
    d = Raw(tern.ports["smtp"])
    assert d.reply()[0] == 220


def test_too_many_errors(tern_factory):
    tern = tern_factory(options={"smtp_max_errors": "3"})
    r = Raw(tern.ports["smtp"])
    assert r.reply()[0] == 220
    for _ in range(3):
        assert r.cmd("BOGUS")[0] == 500
    r.send(b"BOGUS\r\n")
    assert r.reply()[0] == 500
    code, text = r.reply()
    assert code == 421 and text.startswith("4.7.0"), text
    assert r.closed()


def test_submission_needs_auth(tern):
    r = session(tern, "submission")
    code, text = r.cmd("MAIL FROM:<alice@example.test>")
    assert code == 530 and text.startswith("5.7.0"), text


def test_swaks_pipelining(tern):
    out = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["smtp"],
                          "--to", "bob@example.test", "--from", "x@remote.test",
                          "--pipeline", "--header", "Subject: swaks"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "queued as" in out.stdout
    assert len(tern.wait_messages("bob@example.test", 1)) == 1


def test_sigterm_sends_421(tern):
    r = session(tern)
    tern.stop()
    code, text = r.reply()
    assert code == 421 and text.startswith("4.3.2"), text


def smtpd_pid(tern):
    for pid in tern.pids():
        try:
            cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if b"worker" in cmd and b"smtp" in cmd:
            return pid
    raise AssertionError("no smtp worker")


def test_large_message_constant_memory(tern_factory):
    tern = tern_factory(options={"smtp_max_message_size": "200M"})
    size = 100 * 1024 * 1024
    r = send_data(tern, b"Subject: big\r\n\r\n")
    line = b"z" * 998 + b"\r\n"
    block = line * 1024
    sent = 0
    while sent < size:
        r.send(block)
        sent += len(block)
    r.send(b".\r\n")
    code, text = r.reply()
    assert code == 250, text
    status = open("/proc/%d/status" % smtpd_pid(tern)).read()
    hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
    if os.environ.get("TERN_SANITIZE") != "true":
        assert hwm < 16 * 1024, "smtpd peak resident %d kB" % hwm


def test_sighup_applies_new_limits(tern):
    tern.set_option("smtp_max_recipients", "1")
    tern.reload()
    deadline = time.time() + 10
    while "configuration reloaded; new limits" not in tern.log():
        assert time.time() < deadline, tern.log()
        time.sleep(0.1)
    r = session(tern)
    assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    assert r.cmd("RCPT TO:<bob@example.test>")[0] == 452


def test_local_submission_over_stdin(tern):
    """`sendmail -bs`: one session on stdin/stdout, trusted local submission: non-local
    recipients are queued as given, not refused."""
    script = (b"EHLO me\r\nMAIL FROM:<root@localhost>\r\nRCPT TO:<someone@far.test>\r\n"
              b"RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: local\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    r = tern.run("sendmail", "-bs", input=script)
    out = r.stdout.decode()
    assert "250 2.0.0 Ok: queued as" in out, out + r.stderr.decode()
    assert "554" not in out
    assert out.rstrip().endswith("221 2.0.0 Bye")
    files = tern.wait_messages("alice@example.test", 1)
    assert body_of(open(files[0], "rb").read()) == b"Subject: local\n\nhi\n"

"""Outbound delivery: Tern relaying through its SMTP/LMTP client to real peers.

Each test starts a dnsmasq on a free loopback port serving the test domains (MX records
pointing at 127.0.0.x, a null MX, a missing domain) and points Tern's dns_resolver at it;
MX hosts listen on relay_port (dnsmasq cannot put a port in an MX record). Peers are
Postfix's smtp-sink (SMTP and LMTP, writing each message to a file) and a private Postfix
(bench/postfix-peer.sh) with and without STARTTLS.
"""
import glob
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, ScriptedSmtpServer, free_port

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
pytestmark = pytest.mark.skipif(not (os.path.exists(DNSMASQ) and os.path.exists(SINK)),
                                reason="dnsmasq and smtp-sink are needed")

RECORDS = [
    "--mx-host=remote.test,mx1.remote.test,10",
    "--host-record=mx1.remote.test,127.0.0.1",
    "--mx-host=refuse.test,mx.refuse.test,10",
    "--host-record=mx.refuse.test,127.0.0.2",
    "--mx-host=down.test,mx.down.test,10",
    "--host-record=mx.down.test,127.0.0.3",
    "--mx-host=multi.test,mx-dead.multi.test,5",
    "--mx-host=multi.test,mx-live.multi.test,20",
    "--host-record=mx-dead.multi.test,127.0.0.4",
    "--host-record=mx-live.multi.test,127.0.0.1",
    "--host-record=implicit.test,127.0.0.1",
    "--mx-host=nullmx.test,.,0",
    "--server=/servfail.test/127.0.0.1#9",
    "--local=/test/",
]


class Dnsmasq:
    def __init__(self, tmp):
        self.port = free_port()
        self.log = open(os.path.join(tmp, "dnsmasq.log"), "wb")
        self.proc = subprocess.Popen(
            [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--pid-file=",
             "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
             "--no-resolv", "--no-hosts"] + RECORDS, stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self._answers():
                return
            time.sleep(0.05)
        raise AssertionError("dnsmasq did not start")

    def _answers(self):
        q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06remote\x04test\x00\x00\x0f\x00\x01"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", self.port))
            return len(s.recv(512)) > 12
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class Sink:
    """smtp-sink on ADDRESS:port writing every message to a file in self.dir."""

    def __init__(self, tmp, address, port, args=()):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="sink-")
        os.chmod(self.dir, 0o755)
        self.address, self.port, self.args = address, port, list(args)
        self.proc = None

    def start(self):
        where = self.address if self.address.startswith("unix:") else \
            "%s:%d" % (self.address, self.port)
        self.proc = subprocess.Popen([SINK, "-u", "root", "-d", self.dir + "/%M."] +
                                     self.args + [where, "100"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.address.startswith("unix:"):
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(self.address[5:])
                    s.close()
                    os.chmod(self.address[5:], 0o666)
                else:
                    socket.create_connection((self.address, self.port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("smtp-sink did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def messages(self, n=1, timeout=20):
        deadline = time.time() + timeout
        while True:
            files = sorted(glob.glob(os.path.join(self.dir, "*")))
            if len(files) >= n or time.time() > deadline:
                break
            time.sleep(0.05)
        # smtp-sink writes a file as the data comes: wait until the sizes settle.
        sizes = None
        while time.time() < deadline + 5:
            now = [os.path.getsize(f) for f in files]
            if now == sizes:
                break
            sizes = now
            time.sleep(0.3)
        return [open(f, "rb").read() for f in files]


@pytest.fixture
def env(tmp_path):
    """A dnsmasq, the relay port, and sinks to start; everything stopped afterwards."""
    class Env:
        pass
    e = Env()
    # The queue worker may run as an unprivileged account: it must reach the LMTP socket.
    e.tmp = tempfile.mkdtemp(prefix="tern-relay-")
    os.chmod(e.tmp, 0o755)
    e.dns = Dnsmasq(e.tmp)
    e.port = free_port()
    e.sinks = []

    def sink(address="127.0.0.1", port=None, args=(), start=True):
        s = Sink(e.tmp, address, port or e.port, args)
        e.sinks.append(s)
        return s.start() if start else s
    e.sink = sink
    yield e
    for s in e.sinks:
        s.stop()
    e.dns.stop()
    shutil.rmtree(e.tmp, ignore_errors=True)


def relay_options(env, **extra):
    opts = {"dns_resolver": "127.0.0.1@%d" % env.dns.port, "relay_port": str(env.port),
            "queue_retry_min": "1s", "queue_retry_max": "2s"}
    opts.update(extra)
    return opts


def wait_log(tern, pattern, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, tern.log())
        if m:
            return m
        time.sleep(0.1)
    raise AssertionError("no %r in the log:\n%s" % (pattern, tern.log()[-4000:]))


def wait_queue_empty(tern, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if "Mail queue is empty" in tern.run("mailq").stdout:
            return True
        time.sleep(0.1)
    return False


def strip_sink(data):
    """The message as the sink got it: without its X-* envelope lines and the Received
    header it adds, line ends made LF."""
    data = data.replace(b"\r\n", b"\n")
    lines = data.split(b"\n")
    while lines and lines[0].startswith(b"X-"):
        lines.pop(0)
    assert lines[0].startswith(b"Received: from")
    lines.pop(0)
    while lines and lines[0][:1] in (b" ", b"\t"):
        lines.pop(0)
    return b"\n".join(lines)


TRICKY_BODY = (b".leading dot\n..two dots\n.\n. space\nlong " + b"x" * 3000 + b"\n" +
               b"8-bit \xc3\xa9t\xc3\xa9\n\nlast line without end")


def sendmail(tern, rcpts, body=b"hello\n", subject="relay test"):
    msg = b"Subject: " + subject.encode() + b"\nTo: " + ", ".join(rcpts).encode() + \
        b"\n\n" + body
    r = tern.run("sendmail", "-i", "-f", "alice@example.test", *rcpts, input=msg)
    assert r.returncode == 0, r.stderr
    return msg


def unbreak(body, limit=998):
    """body as relayed with relay_max_line_length = limit: every line at most limit octets
    (CRLF not counted); the breaks (LF SP once the sink's CRLF are LF) taken out."""
    assert max(len(line) for line in body.split(b"\n")) <= limit
    return body.replace(b"\n ", b"")


@pytest.mark.parametrize("max_line", [None, "0"])
def test_relay_mx_byte_for_byte(env, tern_factory, max_line):
    """With the default relay_max_line_length TRICKY_BODY's 3005-octet line is broken into
    lines of at most 998 octets (RFC 5321 4.5.3.1.6) by CRLF SP, and logged; with 0 it
    goes as it is."""
    sink = env.sink()
    extra = {} if max_line is None else {"relay_max_line_length": max_line}
    tern = tern_factory(options=relay_options(env, **extra))
    msg = sendmail(tern, ["bob@remote.test", "carol@remote.test"], TRICKY_BODY)
    got = sink.messages(1)
    assert len(got) == 1
    assert b"X-Rcpt-Args: <bob@remote.test>" in got[0]
    assert b"X-Rcpt-Args: <carol@remote.test>" in got[0]
    assert b"X-Mail-Args: <alice@example.test>" in got[0]
    text = strip_sink(got[0])
    # Tern's sendmail adds its Received:, From:, Date: and Message-ID: headers.
    head, body = text.split(b"\n\n", 1)
    assert b"Subject: relay test" in head
    if max_line is None:
        assert body.rstrip(b"\n") != TRICKY_BODY
        assert unbreak(body.rstrip(b"\n")) == TRICKY_BODY
        wait_log(tern, r": relay=mx1\.remote\.test\[127\.0\.0\.1\]:\d+: 1 line\(s\) longer "
                       r"than 998 octets broken")
    else:
        assert body.rstrip(b"\n") == TRICKY_BODY
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    wait_log(tern, r"to=<bob@remote.test>, relay=smtp:remote.test:\d+, status=sent "
                   r"\(2\.0\.0 mx1\.remote\.test\[127\.0\.0\.1\]:\d+ said: 250")
    assert msg  # the input, for the reader


def test_relay_implicit_mx_and_mixed_local(env, tern_factory):
    sink = env.sink()
    tern = tern_factory(options=relay_options(env))
    sendmail(tern, ["dave@implicit.test", "alice@example.test"])
    assert len(sink.messages(1)) == 1
    assert len(tern.wait_messages("alice@example.test", 1)) == 1
    assert wait_queue_empty(tern), tern.run("mailq").stdout


def test_relay_connection_reuse(env, tern_factory):
    sink = env.sink()
    tern = tern_factory(options=relay_options(env, relay_max_per_destination="1",
                                              log_level="debug"))
    for i in range(6):
        sendmail(tern, ["u%d@remote.test" % i], subject="n%d" % i)
    assert len(sink.messages(6)) == 6
    assert wait_queue_empty(tern)
    # One connection at a time: fewer connections than messages.
    conns = len(re.findall(r"relay: smtp:remote\.test:\d+: connected to", tern.log()))
    assert 1 <= conns < 6, tern.log()[-3000:]


def test_relay_null_mx_and_nxdomain_fail_at_once(env, tern_factory):
    tern = tern_factory(options=relay_options(env))
    sendmail(tern, ["x@nullmx.test", "y@nx.test"])
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    wait_log(tern, r"to=<x@nullmx.test>, relay=\S+, status=bounced \(5\.1\.10 ")
    wait_log(tern, r"to=<y@nx.test>, relay=\S+, status=bounced \(5\.1\.2 ")
    # One non-delivery notification for both, back to the (local) sender.
    wait_log(tern, r"sender non-delivery notification: [0-9A-V]{19}")
    bounces = tern.wait_messages("alice@example.test", 1)
    assert len(bounces) == 1
    text = open(bounces[0], "rb").read()
    assert b"multipart/report" in text and b"report-type=delivery-status" in text
    assert b"Final-Recipient: rfc822; x@nullmx.test" in text
    assert b"Final-Recipient: rfc822; y@nx.test" in text
    assert b"Status: 5.1.10" in text and b"Status: 5.1.2" in text


def test_relay_permanent_refusal(env, tern_factory):
    env.sink("127.0.0.2", args=["-f", "RCPT"])
    tern = tern_factory(options=relay_options(env))
    sendmail(tern, ["bob@refuse.test"])
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    wait_log(tern, r"to=<bob@refuse.test>, relay=\S+, status=bounced \(5\.3\.0 "
                   r"mx\.refuse\.test\[127\.0\.0\.2\]:\d+ said: 500 5\.3\.0 .*in reply to RCPT TO")


def test_relay_down_then_up(env, tern_factory):
    """Messages queued before the start all meet the dead destination at once (several
    connections failing together): every one is deferred, then delivered."""
    sink = env.sink("127.0.0.3", start=False)
    tern = tern_factory(options=relay_options(env), start=False)
    for i in range(12):
        sendmail(tern, ["bob%d@down.test" % i])
    tern.start()
    deadline = time.time() + 20
    while len(re.findall(r"to=<bob\d+@down.test>, relay=\S+, status=deferred \(4\.4\.1 "
                         r"cannot connect", tern.log())) < 12:
        assert time.time() < deadline, tern.log()[-4000:]
        time.sleep(0.1)
    out = tern.run("mailq").stdout
    assert "bob0@down.test" in out and "deferred: 4.4.1 cannot connect" in out, out
    sink.start()
    assert len(sink.messages(12, timeout=30)) == 12
    assert wait_queue_empty(tern), tern.run("mailq").stdout


def test_relay_next_mx_when_first_is_dead(env, tern_factory):
    sink = env.sink()
    tern = tern_factory(options=relay_options(env))
    sendmail(tern, ["bob@multi.test"])
    assert len(sink.messages(1)) == 1
    wait_log(tern, r"to=<bob@multi.test>, relay=\S+, status=sent \(2\.0\.0 "
                   r"mx-live\.multi\.test")


def test_relay_smtputf8_to_peer_without_it(env, tern_factory):
    env.sink()  # smtp-sink does not announce SMTPUTF8
    tern = tern_factory(options=relay_options(env))
    s = smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=10)
    s.ehlo()
    if s.has_extn("starttls"):
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
    s.login("alice@example.test", "alice-pw")
    s.sendmail("alice@example.test", ["b\u00f6b@remote.test"],
               "Subject: utf8 \u00e9\r\n\r\nbody\r\n".encode(), mail_options=["SMTPUTF8"])
    s.quit()
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    wait_log(tern, r"status=bounced \(5\.6\.7 .*does not support SMTPUTF8")


def test_relay_peer_without_8bitmime_and_pipelining(env, tern_factory):
    """One command at a time (no PIPELINING), no 8BITMIME, a 1 MB message."""
    sink = env.sink(args=["-8", "-p"])
    tern = tern_factory(options=relay_options(env))
    body = (b"x" * 70 + b"\n") * 15000
    sendmail(tern, ["bob@remote.test", "eve@remote.test"], body)
    got = sink.messages(1)
    assert strip_sink(got[0]).split(b"\n\n", 1)[1].rstrip(b"\n") == body.rstrip(b"\n")
    assert wait_queue_empty(tern), tern.run("mailq").stdout


def test_relay_tls_required_but_not_offered(env, tern_factory):
    env.sink()
    tern = tern_factory(options=relay_options(env, tls_policy_map="remote.test:encrypt"))
    sendmail(tern, ["bob@remote.test"])
    wait_log(tern, r"to=<bob@remote.test>, relay=\S+, status=deferred \(4\.7\.10 ")


def test_relay_transport_map_lmtp(env, tern_factory):
    lport = free_port()
    inet = env.sink("127.0.0.1", lport, args=["-L"])
    sock = os.path.join(env.tmp, "lmtp.sock")
    unix = env.sink("unix:" + sock, 0, args=["-L"])
    tmap = "lmtp.test lmtp:inet:127.0.0.1:%d, sock.test lmtp:unix:%s" % (lport, sock)
    tern = tern_factory(options=relay_options(env, transport_map=tmap))
    sendmail(tern, ["a@lmtp.test", "b@lmtp.test", "c@sock.test"], TRICKY_BODY)
    got = inet.messages(1)
    assert len(got) == 1 and b"X-Rcpt-Args: <b@lmtp.test>" in got[0]
    assert unbreak(strip_sink(got[0]).split(b"\n\n", 1)[1].rstrip(b"\n")) == TRICKY_BODY
    assert len(unix.messages(1)) == 1
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    wait_log(tern, r"to=<b@lmtp.test>, relay=lmtp:\[127\.0\.0\.1\]:\d+, status=sent")


def test_relay_transport_map_relay_literal(env, tern_factory):
    other = free_port()
    sink = env.sink("127.0.0.1", other)
    tern = tern_factory(options=relay_options(
        env, transport_map="elsewhere.test relay:[127.0.0.1]:%d" % other))
    sendmail(tern, ["bob@elsewhere.test"])
    assert len(sink.messages(1)) == 1


# ---- A private Postfix as the peer, with and without STARTTLS ----

PEER = os.path.join(ROOT, "bench", "postfix-peer.sh")


@pytest.fixture
def postfix_peer(tmp_path):
    if os.geteuid() != 0 or not shutil.which("postfix"):
        pytest.skip("needs root and postfix")
    d = tempfile.mkdtemp(prefix="tern-pf-")
    os.chmod(d, 0o755)  # the postfix account must reach its folders
    port = free_port()
    r = subprocess.run(["sh", PEER, "start", d, str(port), "peer.test"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        pytest.skip("private Postfix did not start: " + r.stderr[-500:])

    class Peer:
        pass
    p = Peer()
    p.dir, p.port = d, port

    def enable_tls(cert, key):
        etc = os.path.join(d, "etc")
        subprocess.run(["postconf", "-c", etc, "-e", "smtpd_tls_security_level=may",
                        "smtpd_tls_cert_file=" + cert, "smtpd_tls_key_file=" + key],
                       check=True)
        subprocess.run(["postfix", "-c", etc, "reload"], capture_output=True, check=True)
        time.sleep(1)
    p.enable_tls = enable_tls

    def messages(n=1, timeout=30):
        deadline = time.time() + timeout
        while True:
            files = glob.glob(os.path.join(d, "mail", "*", "new", "*"))
            if len(files) >= n or time.time() > deadline:
                return [open(f, "rb").read() for f in sorted(files)]
            time.sleep(0.1)
    p.messages = messages
    yield p
    subprocess.run(["sh", PEER, "stop", d], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def test_relay_tls_verify_fails_on_self_signed(env, tern_factory, postfix_peer):
    tern = tern_factory(options=relay_options(
        env, transport_map="peer.test relay:[localhost]:%d" % postfix_peer.port,
        tls_policy_map="localhost:verify", dns_resolver=""))
    inst = os.path.dirname(tern.conf)
    postfix_peer.enable_tls(os.path.join(inst, "tls", "cert.pem"),
                            os.path.join(inst, "tls", "key.pem"))
    sendmail(tern, ["someone@peer.test"])
    wait_log(tern, r"to=<someone@peer.test>, relay=\S+, status=deferred \(4\.7\.5 "
                   r"certificate of localhost\[127\.0\.0\.1\]:\d+ not verified")
    assert postfix_peer.messages(0, timeout=0) == []


def test_relay_dns_servfail_defers(env, tern_factory):
    tern = tern_factory(options=relay_options(env))
    sendmail(tern, ["bob@servfail.test"])
    wait_log(tern, r"to=<bob@servfail.test>, relay=\S+, status=deferred \(4\.4\.3 ",
             timeout=60)


@pytest.mark.parametrize("tls", [False, True])
def test_relay_to_postfix(env, tern_factory, postfix_peer, tls):
    tern = tern_factory(options=relay_options(
        env, transport_map="peer.test relay:[127.0.0.1]:%d" % postfix_peer.port,
        tls_policy_map="127.0.0.1:%s" % ("encrypt" if tls else "may")))
    if tls:
        inst = os.path.dirname(tern.conf)
        postfix_peer.enable_tls(os.path.join(inst, "tls", "cert.pem"),
                                os.path.join(inst, "tls", "key.pem"))
    sendmail(tern, ["someone@peer.test"], TRICKY_BODY)
    got = postfix_peer.messages(1)
    assert len(got) == 1, tern.log()[-3000:]
    head, body = got[0].split(b"\n\n", 1)
    assert unbreak(body.rstrip(b"\n")) == TRICKY_BODY
    assert b"Subject: relay test" in head
    assert (b"with ESMTPS" in head) == tls, head
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    if tls:
        wait_log(tern, r"relay: 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: TLS TLSv1\.[23]")


def test_relay_size_bigger_than_peer_limit(env, tern_factory, postfix_peer):
    etc = os.path.join(postfix_peer.dir, "etc")
    subprocess.run(["postconf", "-c", etc, "-e", "message_size_limit=20000"], check=True)
    subprocess.run(["postfix", "-c", etc, "reload"], capture_output=True, check=True)
    time.sleep(1)
    tern = tern_factory(options=relay_options(
        env, transport_map="peer.test relay:[127.0.0.1]:%d" % postfix_peer.port))
    sendmail(tern, ["big@peer.test"], (b"y" * 60 + b"\n") * 1000)
    sendmail(tern, ["small@peer.test"], b"small\n")
    assert wait_queue_empty(tern), tern.run("mailq").stdout
    wait_log(tern, r"to=<big@peer.test>, relay=\S+, status=bounced \(5\.3\.4 message of "
                   r"\d+ bytes exceeds the limit")
    assert len(postfix_peer.messages(1)) == 1


def test_relay_smarthost_with_auth(env, tern_factory):
    """Tern -> (STARTTLS, AUTH PLAIN) -> another Tern's submission port -> smtp-sink."""
    sink = env.sink()
    hub = tern_factory(options=relay_options(env))
    edge = tern_factory(options=relay_options(
        env, relayhost="[127.0.0.1]:%d" % hub.ports["submission"],
        relayhost_auth="alice@example.test:" + hub.users["alice@example.test"]))
    sendmail(edge, ["far@remote.test"])
    got = sink.messages(1)
    assert len(got) == 1, edge.log()[-3000:] + hub.log()[-3000:]
    assert wait_queue_empty(edge)
    wait_log(edge, r"relay: 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: TLS TLSv1\.[23]")
    wait_log(hub, r"ESMTPSA|auth")


def test_relay_smarthost_wrong_password_defers(env, tern_factory):
    hub = tern_factory(options=relay_options(env))
    edge = tern_factory(options=relay_options(
        env, relayhost="[127.0.0.1]:%d" % hub.ports["submission"],
        relayhost_auth="alice@example.test:wrong"))
    sendmail(edge, ["far@remote.test"])
    wait_log(edge, r"to=<far@remote.test>, relay=\S+, status=deferred \(4\.7\.0 "
                   r"authentication failed", timeout=30)


class BrokenTlsServer(ScriptedSmtpServer):
    """An SMTP server that offers STARTTLS and then breaks the handshake; without
    STARTTLS it takes the message (what some real servers with bad TLS setups do)."""

    def __init__(self, address, port):
        self.starttls = 0
        super().__init__(address, port)

    def session(self, f):
        self.say(f, "220 broken.test ESMTP")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                self.say(f, "250-broken.test\r\n250-STARTTLS\r\n250 8BITMIME")
            elif cmd == b"STARTTLS":
                self.starttls += 1
                self.say(f, "220 go ahead")
                f.write(b"this is not TLS\r\n" * 4)
                f.flush()
                return
            elif cmd == b"DATA":
                self.say(f, "354 go")
                self.read_data(f)
                self.say(f, "250 2.0.0 ok")
            elif cmd == b"QUIT":
                self.say(f, "221 bye")
                return
            else:
                self.say(f, "250 2.0.0 ok")


def test_relay_may_falls_back_to_clear_text(env, tern_factory):
    srv = BrokenTlsServer("127.0.0.1", env.port)
    try:
        tern = tern_factory(options=relay_options(env))
        sendmail(tern, ["bob@remote.test"])
        assert wait_queue_empty(tern), tern.log()[-3000:]
        assert srv.starttls >= 1 and len(srv.messages) == 1
        wait_log(tern, r"4\.7\.5 TLS handshake with \S+ failed.*; trying again without TLS")
    finally:
        srv.stop()

"""Relay control (RFC 5321 3.6, 7.1; DESIGN.md principle 5): from an untrusted address no
open-relay trick gets a 250; trusted networks (mynetworks) and authenticated clients may
relay. The untrusted client sits in a network namespace the test makes (a veth pair with
10.231.x.y addresses); the test is skipped where `ip netns` is not allowed. Also: the DSN
extension (RFC 3461) is offered and its parameters kept in the queue, and a message with
too many Received: fields is refused (5.4.6)."""
import json
import os
import smtplib
import subprocess
import textwrap

import pytest

TRICKS = [
    "victim@elsewhere.test",
    "alice%elsewhere.test@example.test",
    "elsewhere.test!alice@example.test",
    "@example.test:victim@elsewhere.test",
    '"victim@elsewhere.test"@example.test',
    "victim@[192.0.2.1]",
    "victim@[IPv6:2001:db8::1]",
    "victim@elsewhere.test.",
    "victim@example.test.",
    "VICTIM@ELSEWHERE.TEST",
    "victim@example.test.elsewhere.test",
    "victim@xn--exmple-cua.test",
    "victim@exampl\u0435.test",          # Cyrillic 'е'
    "victim@\uff45xample.test",          # full-width 'e'
    "alice@example.test@elsewhere.test",
    "<victim@elsewhere.test>",
    "victim@elsewhere.test%example.test",
    "postmaster@elsewhere.test",
]

CLIENT = textwrap.dedent("""
    import json, smtplib, sys
    host, port, rcpts = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    out = []
    for r in rcpts:  # a session each: refusals count towards smtp_max_errors
        s = smtplib.SMTP(host, port, timeout=20)
        s.command_encoding = "utf-8"
        s.ehlo("attacker.test")
        s.docmd("MAIL FROM:<spam@attacker.test> SMTPUTF8")
        code, text = s.docmd("RCPT TO:<%s>" % r)
        out.append([r, code, text.decode("utf-8", "replace")])
        s.close()
    print(json.dumps(out))
""")


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


@pytest.fixture
def netns():
    """(namespace, host address, client address), or skip."""
    n = os.getpid() % 200 + 20
    ns, veth = "ternrc%d" % os.getpid(), "trc%d" % os.getpid()
    host, client = "10.231.%d.1" % n, "10.231.%d.2" % n
    if ip("netns", "add", ns, check=False).returncode != 0:
        pytest.skip("ip netns add is not allowed here")
    try:
        ip("link", "add", veth + "h", "type", "veth", "peer", "name", veth + "c")
        ip("link", "set", veth + "c", "netns", ns)
        ip("addr", "add", host + "/24", "dev", veth + "h")
        ip("link", "set", veth + "h", "up")
        ip("netns", "exec", ns, "ip", "addr", "add", client + "/24", "dev", veth + "c")
        ip("netns", "exec", ns, "ip", "link", "set", veth + "c", "up")
        ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
    except subprocess.CalledProcessError as e:
        ip("netns", "del", ns, check=False)
        ip("link", "del", veth + "h", check=False)
        pytest.skip("cannot set up a veth pair: %s" % e.stderr)
    yield ns, host, client
    ip("link", "del", veth + "h", check=False)
    ip("netns", "del", ns, check=False)


def listen_everywhere(tern):
    text = open(tern.conf).read()
    port = tern.ports["smtp"]
    text = text.replace("address = 127.0.0.1:%d" % port, "address = *:%d" % port)
    open(tern.conf, "w").write(text)


def from_netns(ns, host, port, rcpts):
    r = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", CLIENT, host,
                        str(port), json.dumps(rcpts)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_open_relay_battery_untrusted(netns, tern_factory):
    ns, host, client = netns
    tern = tern_factory(start=False)
    listen_everywhere(tern)
    tern.start()
    results = from_netns(ns, host, tern.ports["smtp"], TRICKS + ["alice@example.test"])
    accepted = [r for r in results[:-1] if r[1] // 100 == 2]
    assert accepted == [], accepted
    # A local user is still welcome from there.
    assert results[-1][1] == 250, results[-1]
    for r, code, text in results[:-1]:
        assert code // 100 in (4, 5), (r, code, text)
    assert "Relay access denied" in tern.log()


def test_trusted_network_may_relay(netns, tern_factory):
    ns, host, client = netns
    tern = tern_factory(options={"mynetworks": "127.0.0.0/8, %s/32" % client}, start=False)
    listen_everywhere(tern)
    tern.start()
    results = from_netns(ns, host, tern.ports["smtp"],
                         ["victim@elsewhere.test", "alice%elsewhere.test@example.test"])
    assert results[0][1] == 250, results
    # Routing in the local part is never honoured, trusted or not.
    assert results[1][1] == 554, results


def test_loopback_trusted_by_default_and_not_when_removed(tern_factory):
    tern = tern_factory()
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("me.test")
    s.mail("me@example.test")
    assert s.rcpt("friend@remote.test")[0] == 250
    s.quit()
    tern2 = tern_factory(options={"mynetworks": ""})
    s = smtplib.SMTP("127.0.0.1", tern2.ports["smtp"], timeout=10)
    s.ehlo("me.test")
    s.mail("me@example.test")
    code, text = s.rcpt("friend@remote.test")
    assert (code, text[:5]) == (554, b"5.7.1"), text
    s.quit()


def test_authenticated_may_relay(tern_factory):
    tern = tern_factory(options={"mynetworks": "", "smtp_auth_on_port25": "yes"})
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("me.test")
    s.mail("spam@attacker.test")
    assert s.rcpt("friend@remote.test")[0] == 554
    s.rset()
    s.login("alice@example.test", tern.users["alice@example.test"])
    s.mail("alice@example.test")
    assert s.rcpt("friend@remote.test")[0] == 250
    s.quit()


def test_dsn_offered_and_kept(tern_factory):
    tern = tern_factory(options={"mynetworks": ""})
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("me.test")
    assert s.has_extn("dsn")
    s.hold = True
    assert s.docmd("MAIL FROM:<x@remote.test> RET=HDRS ENVID=abc+2Bdef")[0] == 250
    assert s.docmd("RCPT TO:<alice@example.test> NOTIFY=FAILURE,DELAY "
                   "ORCPT=rfc822;Alice+2Bx@example.test")[0] == 250
    assert s.docmd("RCPT TO:<bob@example.test> NOTIFY=NEVER")[0] == 250
    tern.run("queue", "hold", "ALL")  # harmless when unsupported
    s.data(b"Subject: dsn\r\n\r\nbody\r\n")
    s.quit()
    log = tern.log()
    assert "nrcpt=2" in log


def test_too_many_hops_refused(tern_factory):
    tern = tern_factory(options={"max_hops": "5"})
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("me.test")
    ok = b"".join(b"Received: from h%d by h%d; Thu, 1 Jan 2026 00:00:00 +0000\r\n" % (i, i)
                  for i in range(4)) + b"Subject: ok\r\n\r\nbody\r\n"
    s.sendmail("x@remote.test", ["alice@example.test"], ok)
    loop = b"Received: from h by h; Thu, 1 Jan 2026 00:00:00 +0000\r\n" + ok
    with pytest.raises(smtplib.SMTPDataError) as e:
        s.sendmail("x@remote.test", ["alice@example.test"], loop)
    assert e.value.smtp_code == 554 and e.value.smtp_error.startswith(b"5.4.6")
    s.quit()
    assert len(tern.wait_messages("alice@example.test", 1)) == 1

"""Protocol tests for the submission service (RFC 6409) and relaying rules: AUTH before
MAIL (530 5.7.0), an authenticated user's mail to other domains is queued, the envelope
sender must be the user's own (553 5.7.1), Message-ID and Date are added when missing and
nothing else changes, port 25 still refuses relaying unless the client authenticated there
(smtp_auth_on_port25)."""
import base64
import re
import smtplib
import ssl
import time

from conftest import free_port

from test_smtp_tls import ALICE, ALICE_PW, client_ctx, greet, plain

BOB = "bob@example.test"


def submit_session(tern, user=ALICE, password=ALICE_PW):
    c, _ = greet(tern.ports["submission"], tls=True)
    code, text = c.cmd("AUTH PLAIN " + plain(user, password))
    assert code == 235, text
    return c


def queue_ids(tern):
    out = tern.run("queue", "list", check=True).stdout
    return re.findall(r"(?m)^([0-9A-Z]{10,})\*?!?\s", out), out


def wait_queued(tern, n, timeout=10):
    deadline = time.time() + timeout
    while True:
        ids, out = queue_ids(tern)
        if len(ids) >= n or time.time() > deadline:
            return ids, out
        time.sleep(0.1)


def test_mail_needs_auth(tern):
    for tls in (False, True):
        c, _ = greet(tern.ports["submission"], tls=tls)
        code, text = c.cmd("MAIL FROM:<%s>" % ALICE)
        assert (code, text[:5]) == (530, "5.7.0"), text
        c.close()
    c, _ = greet(tern.ports["submissions"], implicit=True)
    assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 530
    c.close()


def test_relay_after_auth_is_queued(tern_factory):
    # The smarthost is down, so the relayed message stays queued where we can see it.
    tern = tern_factory(options={"relayhost": "[127.0.0.1]:%d" % free_port()})
    c = submit_session(tern)
    assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
    code, text = c.cmd("RCPT TO:<friend@remote.test>")
    assert code == 250, text
    assert c.cmd("DATA")[0] == 354
    code, text = c.cmd("Subject: out\r\n\r\nto the world\r\n.")
    assert code == 250, text
    qid = text.split()[-1]
    c.close()
    ids, out = wait_queued(tern, 1)
    assert qid in ids, out
    assert "friend@remote.test" in out
    show = tern.run("queue", "show", qid, check=True).stdout
    assert "attr auth_user: alice@example.test" in show, show
    assert re.search(r"attr protocol: ESMTPSA", show), show
    # mailq, the sendmail-compatible name, sees it too.
    assert qid in tern.run("queue", "list").stdout


def test_unauthenticated_port25_does_not_relay(tern_factory):
    tern = tern_factory(options={"mynetworks": ""})  # loopback is trusted by default
    c, text = greet(tern.ports["smtp"])
    assert "AUTH" not in text
    assert c.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    code, text = c.cmd("RCPT TO:<friend@remote.test>")
    assert (code, text[:5]) == (554, "5.7.1"), text
    c.close()


def test_port25_auth_when_enabled(tern_factory):
    inst = tern_factory(options={"smtp_auth_on_port25": "yes", "mynetworks": "",
                                 "relayhost": "[127.0.0.1]:%d" % free_port()})
    c, text = greet(inst.ports["smtp"])
    assert any(l.startswith("AUTH ") and "PLAIN" in l for l in text.split("\n")), text
    # Without AUTH: still no relay, and MAIL needs no AUTH on port 25.
    assert c.cmd("MAIL FROM:<x@remote.test>")[0] == 250
    assert c.cmd("RCPT TO:<friend@remote.test>")[0] == 554
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 235
    assert c.cmd("MAIL FROM:<%s> AUTH=<>" % ALICE)[0] == 250
    assert c.cmd("RCPT TO:<friend@remote.test>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    code, text = c.cmd("Subject: p25\r\n\r\nx\r\n.")
    assert code == 250, text
    c.close()
    ids, out = wait_queued(inst, 1)
    assert text.split()[-1] in ids, out


def test_sender_must_be_own_address(tern):
    c = submit_session(tern)
    code, text = c.cmd("MAIL FROM:<%s>" % BOB)
    assert (code, text[:5]) == (553, "5.7.1"), text
    assert c.cmd("MAIL FROM:<someone@remote.test>")[0] == 553
    assert c.cmd("MAIL FROM:<alice+lists@example.test>")[0] == 250
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<ALICE@Example.Test>")[0] == 250
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<>")[0] == 250  # null sender: MDNs, bounces
    c.close()
    assert "not owned by user <alice@example.test>" in tern.log()


def test_sender_check_off(tern_factory):
    inst = tern_factory(options={"submission_sender_check": "no"})
    c = submit_session(inst)
    assert c.cmd("MAIL FROM:<%s>" % BOB)[0] == 250
    c.close()


def test_message_id_and_date_added(tern):
    body = (b"Subject: bare\r\nFrom: alice@example.test\r\nTo: bob@example.test\r\n\r\n"
            b"line one\r\n..dotted\r\n\r\ntrailing spaces   \r\n")
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"]) as s:
        s.starttls(context=client_ctx())
        s.login(ALICE, ALICE_PW)
        s.sendmail(ALICE, [BOB], body)
    files = tern.wait_messages(BOB, 1)
    data = open(files[0], "rb").read()
    head, _, rest = data.partition(b"Subject: bare\n")
    assert re.search(rb"(?m)^Message-ID: <[^@>\s]+@mx\.example\.test>$", head), head
    assert re.search(rb"(?m)^Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$", head)
    # Everything the client sent is there, unchanged but for LF line ends (smtplib
    # dot-stuffs the ".." line and the server removes the stuffing again).
    expected = body.replace(b"\r\n", b"\n")
    assert b"Subject: bare\n" + rest == expected


def test_message_id_and_date_kept(tern):
    body = (b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id: <given@client.test>\r\n"
            b"Subject: full\r\n\r\nbody\r\n")
    c = submit_session(tern)
    assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
    assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
    # BDAT too (RFC 3030), in two chunks that split the header section.
    c.send(b"BDAT 20\r\n" + body[:20])
    assert c.reply()[0] == 250
    rest = body[20:]
    c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
    code, text = c.reply()
    assert code == 250, text
    c.close()
    data = open(tern.wait_messages(BOB, 1)[0], "rb").read()
    assert data.count(b"Message-I") == 1 and data.count(b"\nDate: ") == 1, data
    assert data.endswith(body.replace(b"\r\n", b"\n"))


def test_header_only_message(tern):
    c = submit_session(tern)
    assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
    assert c.cmd("RCPT TO:<%s>" % BOB)[0] == 250
    assert c.cmd("DATA")[0] == 354
    code, text = c.cmd("Subject: no body\r\n.")
    assert code == 250, text
    c.close()
    data = open(tern.wait_messages(BOB, 1)[0], "rb").read()
    assert b"\nMessage-ID: <" in data and b"\nDate: " in data
    assert data.endswith(b"Subject: no body\n")


def test_port25_messages_untouched(tern):
    body = b"Subject: inbound\r\n\r\nno id here\r\n"
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"]) as s:
        s.sendmail("x@remote.test", [BOB], body)
    data = open(tern.wait_messages(BOB, 1)[0], "rb").read()
    assert b"Message-ID" not in data and b"\nDate:" not in data

"""Address rewriting as mail comes in: masquerading and canonical maps (lib-rewrite).

Mail is sent by authenticated submission (smtplib), by the sendmail command and by an
unauthenticated SMTP client, from user@host.dept.example.test; it is relayed to Postfix's
smtp-sink (which writes each message with its envelope: X-Mail-Args is the MAIL FROM) or
delivered to a local Maildir. Checked: the envelope sender and the header addresses are
masqueraded / mapped, an excepted local part is not, display names, comments, groups and
folding survive, the body is byte-identical, and a client that is neither local nor
authenticated keeps its header as sent (header_rewrite_clients), while its envelope is
still rewritten.
"""
import hashlib
import os
import re
import smtplib
import ssl

import pytest

from conftest import SANITIZE, free_port
from test_relay import SINK, Sink, strip_sink

pytestmark = pytest.mark.skipif(not os.path.exists(SINK), reason="smtp-sink is needed")

CANONICAL = """\
# canonical map for the tests
oldname@example.test   New.Name@example.test
@legacy.test           @example.test
"""
RECIPIENT_CANONICAL = "sales@example.test  alice@example.test\n"

BODY = (b"From: alice@host.dept.example.test is not a header here\n"
        b"To: Team: bob@ws1.dept.example.test;\n"
        b".leading dot\n..two dots\n\n8-bit \xc3\xa9t\xc3\xa9\n"
        b"last line\n")

HEADER = (b"From: \"Alice (Sales), A.\" <alice@host.dept.example.test> (office)\n"
          b"Sender: root@host.dept.example.test\n"
          b"To: Team: bob@remote.test,\n"
          b"\t\"Carol Q\" <carol@ws1.dept.example.test>;\n"
          b"Cc: dave@sub.example.test (Dave), \"odd local\"@h.example.test\n"
          b"Reply-To: x@legacy.test\n"
          b"Subject: from alice@host.dept.example.test\n")

WANT_HEADER = (b"From: \"Alice (Sales), A.\" <alice@example.test> (office)\n"
               b"Sender: root@host.dept.example.test\n"
               b"To: Team: bob@remote.test,\n"
               b"\t\"Carol Q\" <carol@example.test>;\n"
               b"Cc: dave@example.test (Dave), \"odd local\"@example.test\n"
               b"Reply-To: x@example.test\n"
               b"Subject: from alice@host.dept.example.test\n")


@pytest.fixture
def sink(tmp_path):
    os.chmod(str(tmp_path), 0o755)
    s = Sink(str(tmp_path), "127.0.0.1", free_port()).start()
    yield s
    s.stop()


def make(tern_factory, sink=None, **extra):
    opts = {"masquerade_domains": "example.test",
            "masquerade_exceptions": "root, postmaster",
            "canonical_maps": "canonical",
            "recipient_canonical_maps": "recipient_canonical",
            "submission_sender_check": "no",
            "queue_retry_min": "1s", "queue_retry_max": "2s"}
    if sink is not None:
        opts["transport_map"] = "remote.test relay:[127.0.0.1]:%d" % sink.port
    opts.update(extra)
    tern = tern_factory(options=opts, start=False)
    data = os.path.join(tern.dir, "inst", "data")
    open(os.path.join(data, "canonical"), "w").write(CANONICAL)
    open(os.path.join(data, "recipient_canonical"), "w").write(RECIPIENT_CANONICAL)
    tern.start()
    return tern


def crlf(msg):
    """The message as an SMTP client sends it (smtplib sends bytes as they are)."""
    return msg.replace(b"\n", b"\r\n")


def split(msg):
    head, body = msg.split(b"\n\n", 1)
    return head + b"\n", body


def relayed(data):
    """Header and body of a message as smtp-sink wrote it (it adds a line end)."""
    head, body = split(strip_sink(data))
    assert body.endswith(b"\n\n")
    return head, body[:-1]


def test_submission_masquerades_envelope_and_header(tern_factory, sink):
    tern = make(tern_factory, sink)
    msg = HEADER + b"\n" + BODY
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=30) as c:
        c.starttls(context=ssl._create_unverified_context())
        c.login("alice@example.test", tern.users["alice@example.test"])
        c.sendmail("alice@host.dept.example.test", ["bob@remote.test"], crlf(msg))
    got = sink.messages(1)
    assert len(got) == 1
    assert b"X-Mail-Args: <alice@example.test>" in got[0]
    assert b"X-Rcpt-Args: <bob@remote.test>" in got[0]
    head, body = relayed(got[0])
    # Our Received: comes first; then the client's fields, rewritten, in their order.
    assert head.startswith(b"Received: from ")
    assert WANT_HEADER in head, head
    assert body == BODY
    # The submission service still adds what was missing (after the rewriting).
    assert b"\nMessage-ID: <" in head and b"\nDate: " in head


def test_sendmail_command_rewrites(tern_factory, sink):
    tern = make(tern_factory, sink)
    msg = HEADER + b"\n" + BODY
    r = tern.run("sendmail", "-i", "-f", "oldname@host.dept.example.test", "bob@remote.test",
                 input=msg)
    assert r.returncode == 0, r.stderr
    # -t: the recipients come from the header, then are rewritten; Bcc goes
    r = tern.run("sendmail", "-t", "-i", "-f", "oldname@example.test",
                 input=b"To: Bob <bob@remote.test>\nBcc: bob@legacy.test\n"
                       b"From: oldname@example.test\nSubject: t\n\n" + BODY)
    assert r.returncode == 0, r.stderr
    # an excepted local part keeps its host
    r = tern.run("sendmail", "-i", "-f", "root@host.dept.example.test", "bob@remote.test",
                 input=b"From: root@host.dept.example.test\nSubject: root\n\nx\n")
    assert r.returncode == 0, r.stderr
    got = sink.messages(3)
    assert len(got) == 3
    by_subject = {re.search(rb"\nSubject: (.*)\n", g).group(1): g for g in got}
    first, second = by_subject[b"from alice@host.dept.example.test"], by_subject[b"t"]
    assert b"X-Mail-Args: <root@host.dept.example.test>" in by_subject[b"root"]
    assert b"\nFrom: root@host.dept.example.test\n" in by_subject[b"root"]
    # bob@legacy.test became bob@example.test, a local user
    local = tern.wait_messages("bob@example.test", 1)
    assert len(local) == 1
    assert b"Subject: t\n" in open(local[0], "rb").read()
    # masqueraded; then canonical: oldname@example.test -> New.Name@example.test
    assert b"X-Mail-Args: <oldname@example.test>" in first
    head, body = relayed(first)
    assert WANT_HEADER in head, head
    assert body == BODY
    assert b"X-Mail-Args: <New.Name@example.test>" in second
    head, body = relayed(second)
    assert b"\nFrom: New.Name@example.test\n" in head, head
    assert b"Bcc:" not in head
    assert body == BODY


def test_unauthenticated_client_keeps_its_header(tern_factory):
    tern = make(tern_factory)
    msg = HEADER.replace(b"bob@remote.test", b"alice@example.test") + b"\n" + BODY
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as c:
        # sales@ is no user: the recipient map makes it alice@
        c.sendmail("carol@ws1.dept.example.test", ["sales@example.test"], crlf(msg))
    files = tern.wait_messages("alice@example.test", 1)
    assert len(files) == 1
    data = open(files[0], "rb").read()
    # the envelope is rewritten for every client...
    assert data.startswith(b"Return-Path: <carol@example.test>\n"), data[:200]
    head, body = split(data)
    # ...the header only for local and authenticated ones
    assert HEADER.replace(b"bob@remote.test", b"alice@example.test") in head, head
    assert body == BODY


def test_header_rewrite_clients_mynetworks(tern_factory):
    tern = make(tern_factory, header_rewrite_clients="mynetworks")
    msg = b"From: Carol <carol@ws1.dept.example.test>\nTo: alice@example.test\n\nhi\n"
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as c:
        c.sendmail("carol@example.test", ["alice@example.test"], crlf(msg))
    files = tern.wait_messages("alice@example.test", 1)
    data = open(files[0], "rb").read()
    assert b"\nFrom: Carol <carol@example.test>\n" in data, data


def test_check_shows_options_and_map_errors(tern_factory):
    tern = make(tern_factory)
    r = tern.run("check")
    assert r.returncode == 0, r.stderr
    assert "masquerade_domains = example.test" in r.stdout
    assert "header_rewrite_clients = local authenticated" in r.stdout
    canon = os.path.join(tern.dir, "inst", "data", "canonical")
    open(canon, "a").write("two@example.test a@x.test b@x.test\nbad@ a@b@c\n")
    r = tern.run("check")
    assert r.returncode == 78
    assert "%s:4: expected exactly one address" % canon in r.stderr, r.stderr
    assert "%s:5: the key is not" % canon in r.stderr, r.stderr
    tern.set_option("masquerade_classes", "envelope_sender, header_sendr")
    r = tern.run("check")
    assert r.returncode == 78
    assert "masquerade_classes" in r.stderr and "header_sendr" in r.stderr, r.stderr


def test_big_message_rewritten_in_constant_memory(tern_factory):
    """30 MB from a client whose header is rewritten (header_rewrite_clients = all): the
    From: is masqueraded, the body arrives byte for byte, and no process grows."""
    from test_delivery import MB, send_big, tern_rss_kb
    tern = make(tern_factory, header_rewrite_clients="all", smtp_max_message_size="100M")
    header = (b"From: Big <big@host.dept.example.test> (sender)\nTo: alice@example.test\n"
              b"Subject: 30 MB\n\n")
    code, text, digest = send_big(tern.ports["smtp"], "alice@example.test", header, 30 * MB)
    assert code == 250, text
    files = tern.wait_messages("alice@example.test", 1, timeout=120)
    assert len(files) == 1
    sha = hashlib.sha256()
    with open(files[0], "rb") as f:
        head = b""
        while b"\n\n" not in head:
            head += f.readline()
        assert b"\nFrom: Big <big@example.test> (sender)\nTo: alice@example.test\n" in head, head
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    assert sha.hexdigest() == digest, "the body changed on its way"
    if not SANITIZE:
        for name, kb in tern_rss_kb(tern).items():
            assert kb < 16 * 1024, "%s peaked at %d kB resident" % (name, kb)

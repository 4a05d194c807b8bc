"""mailq for every local user (doc/sendmail.md, src/smtpd/smtpd-mailq.c): an ordinary Unix
user, who may not read the queue, runs mailq (the tern binary under that name, sendmail
-bp, tern queue list) and gets, from the server over the local submission socket, the
same listing root's mailq reads from the queue: queue IDs, sizes, arrival times, senders,
recipients and deferral reasons; "Mail queue is empty" and 0 for an empty queue; 75 and a
clear message while the server is stopped; 77 when mailq_users does not allow it; at most
mailq_max_entries messages (the oldest) with the rest counted."""
import os
import re
import smtplib

from conftest import TERN, free_port
from sysaccounts import needs_root, unix_user, wait_for  # noqa: F401
from test_localsubmit import as_user, instance

pytestmark = needs_root


def mailq_link(tern):
    """The tern binary under the name mailq, as a system's /usr/bin/mailq."""
    bindir = os.path.join(tern.dir, "bin")
    os.makedirs(bindir, exist_ok=True)
    link = os.path.join(bindir, "mailq")
    if not os.path.exists(link):
        os.symlink(TERN, link)
    return link


def root_mailq(tern):
    r = tern.run("mailq")
    assert r.returncode == 0, r.stderr
    return r.stdout


def deferred_queue(tern_factory, unix_user, **options):
    """An instance whose relay host refuses connections, with mail to remote addresses
    queued by an ordinary user and by root, each deferred with a reason."""
    a = unix_user()
    tern = instance(tern_factory, relayhost="[127.0.0.1]:%d" % free_port(), **options)
    r = as_user(a, [TERN, "sendmail", "far@remote.example"], tern,
                input=b"Subject: one\n\nfrom a user\n")
    assert r.returncode == 0, r.stderr
    r = tern.run("sendmail", "-f", "boss@example.test", "x@remote.example", "y@remote.example",
                 input="Subject: two\n\n" + "body line\n" * 300)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: tern.log().count("status=deferred") >= 3, 30), tern.log()
    return tern, a


def test_mailq_as_an_ordinary_user_shows_roots_listing(tern_factory, unix_user):
    tern, a = deferred_queue(tern_factory, unix_user)
    want = root_mailq(tern)
    # root's listing: two messages, their senders, recipients and why they wait
    ids = re.findall(r"(?m)^([0-9A-V]{19}) ", want)
    assert len(ids) == 2, want
    assert want.startswith("-Queue ID-  "), want
    assert a.address(tern.domain) in want and "boss@example.test" in want
    for rcpt in ("far@remote.example", "x@remote.example", "y@remote.example"):
        assert re.search(r"\(deferred: [^)]+\)\n +%s\n" % re.escape(rcpt), want), want
    assert want.endswith(" Kbytes in 2 Requests.\n"), want
    # an ordinary user gets the same bytes, however mailq is called
    link = mailq_link(tern)
    for args in ([link], [TERN, "mailq"], [TERN, "sendmail", "-bp"], [TERN, "queue", "list"]):
        r = as_user(a, args, tern)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.decode() == want, (args, r.stdout, want)
        assert r.stderr == b"", r.stderr
    # the user cannot read the queue itself: this came from the server
    qdir = os.path.join(os.path.dirname(tern.conf), "queue", "env")
    r = as_user(a, ["ls", qdir], tern)
    assert r.returncode != 0
    assert "mailq from local uid=%d user=%s" % (a.uid, a.name) in tern.log()
    # the listing is read-only: the queue is as it was
    assert root_mailq(tern) == want


def test_empty_queue(tern_factory, unix_user):
    a = unix_user()
    tern = instance(tern_factory)
    assert root_mailq(tern) == "Mail queue is empty\n"
    r = as_user(a, [mailq_link(tern)], tern)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"


def test_server_stopped_exit_75(tern_factory, unix_user):
    a = unix_user()
    tern = instance(tern_factory)
    tern.stop()
    r = as_user(a, [mailq_link(tern)], tern)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == b""
    assert b"cannot reach the mail server" in r.stderr, r.stderr
    assert b"try again later" in r.stderr, r.stderr
    # root reads the queue itself, server or not
    assert root_mailq(tern) == "Mail queue is empty\n"


def test_mailq_users_restricts(tern_factory, unix_user):
    b = unix_user()
    tern, a = deferred_queue(tern_factory, unix_user, mailq_users="trusted",
                             sendmail_trusted_users=b.name)
    want = root_mailq(tern)
    link = mailq_link(tern)
    r = as_user(a, [link], tern)
    assert r.returncode == 77, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == b""
    assert b"not allowed to list the queue" in r.stderr and b"mailq_users" in r.stderr, r.stderr
    r = as_user(b, [link], tern)  # a trusted user
    assert r.returncode == 0 and r.stdout.decode() == want, (r.stdout, r.stderr)
    # root: only root and run_user; new sessions take the new setting after a reload
    tern.set_option("mailq_users", "root")
    tern.reload()
    assert wait_for(lambda: as_user(b, [link], tern).returncode == 77, 15), tern.log()
    assert root_mailq(tern) == want
    tern.set_option("mailq_users", "any")
    tern.reload()
    assert wait_for(lambda: as_user(a, [link], tern).returncode == 0, 15), tern.log()


def test_listing_is_bounded(tern_factory, unix_user):
    tern, a = deferred_queue(tern_factory, unix_user, mailq_max_entries="1")
    want = root_mailq(tern)  # root reads the whole queue
    first = want.split("\n\n")[0] + "\n\n"
    r = as_user(a, [mailq_link(tern)], tern)
    assert r.returncode == 0, r.stderr
    got = r.stdout.decode()
    assert got.startswith(first), (got, want)
    assert len(re.findall(r"(?m)^[0-9A-V]{19} ", got)) == 1, got
    assert got.endswith(" Kbytes in 1 Request.\n-- 1 more not listed (mailq_max_entries = 1)\n"), got


def test_xmailq_only_on_the_local_socket(tern):
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10) as s:
        s.ehlo("client.example")
        code, text = s.docmd("XMAILQ")
        assert code == 500, (code, text)


def test_long_listing_streams(tern_factory, unix_user):
    """A listing far larger than the server's output buffer (64 KB) arrives whole and in
    order: the server sends it as the client reads."""
    a = unix_user()
    tern = instance(tern_factory, relayhost="[127.0.0.1]:%d" % free_port())
    rcpts = ["r%03d-%s@remote.example" % (i, "x" * 40) for i in range(200)]
    for n in range(12):
        r = tern.run("sendmail", *rcpts, input="Subject: many %d\n\nbody\n" % n)
        assert r.returncode == 0, r.stderr
    assert wait_for(lambda: root_mailq(tern).count("(deferred: ") == 12 * 200, 60), tern.log()
    want = root_mailq(tern)
    assert len(want) > 4 * 65536 and want.endswith(" in 12 Requests.\n"), len(want)
    r = as_user(a, [mailq_link(tern)], tern)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == want
    # the raw protocol, from a client that closes its side after the command (-bs
    # through the socket): every line of the listing as a 211- line, then "211 "
    r = as_user(a, [TERN, "sendmail", "-bs"], tern, input=b"XMAILQ\r\n")
    lines = r.stdout.decode().split("\r\n")
    assert lines[0].startswith("220 ") and lines[-1] == "", lines[:3]
    body = [l[4:] for l in lines[1:-2]]
    assert all(l.startswith("211-") for l in lines[1:-2]), lines[1:4]
    assert lines[-2].startswith("211 "), lines[-3:]
    assert "\n".join(body) + "\n" == want


def test_local_submit_off(tern_factory, unix_user):
    a = unix_user()
    tern = tern_factory(options={"user_source": "system",
                                 "system_mailbox": "maildir:~/Maildir", "local_submit": "no"})
    r = as_user(a, [mailq_link(tern)], tern)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert b"local_submit = no" in r.stderr and r.stdout == b"", r.stderr
    assert root_mailq(tern) == "Mail queue is empty\n"

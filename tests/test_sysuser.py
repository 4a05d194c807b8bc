"""System users (user_source = system, doc/system-users.md): mail for Unix accounts made
here with useradd, delivered by a child of the root deliver worker that runs as the
recipient: /var/mail/USER (mbox, the user's, mode 0600) or ~/Maildir; ~/.forward with
addresses and \\user; ~/.procmailrc commands run as the user; ~/.dovecot.sieve;
~/.vacation.msg; a temporary failure stays queued and is delivered once later; SMTP AUTH
with the shadow password (checked by the root auth worker) or PAM, and its lockout;
`tern deliver -d` as root and as a user; and which uid each worker runs as."""
import grp
import os
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import TERN
from sysaccounts import check_worker_uids, needs_root, unix_user, UnixUser, wait_for  # noqa: F401

pytestmark = needs_root

SENDER = "someone@example.org"


def system_instance(tern_factory, mailbox="mbox:/var/mail/%u", **options):
    opts = {"user_source": "system", "system_mailbox": mailbox}
    opts.update(options)
    return tern_factory(options=opts)


def send(tern, rcpts, subject="system user test", body="Hello, system user.",
         sender=SENDER):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n"
           % (sender, ", ".join(rcpts), subject, body))
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as s:
        refused = s.sendmail(sender, rcpts, msg)
    assert refused == {}


def spool_messages(path):
    """The messages of an mbox file, each starting with its From_ line."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return []
    return [m for m in (b"\n" + data).split(b"\nFrom ") if m.strip()]


def wait_spool(path, n, timeout=15):
    wait_for(lambda: len(spool_messages(path)) >= n, timeout)
    return spool_messages(path)


def maildir_files(folder):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(folder, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in os.listdir(d)]
    return out


def test_mbox_delivery_as_the_user(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    send(tern, [u.address(tern.domain)], body="first")
    send(tern, [u.address(tern.domain)], body="second")
    msgs = wait_spool(u.spool, 2)
    assert len(msgs) == 2, tern.log()
    st = os.stat(u.spool)
    assert st.st_uid == u.uid
    assert st.st_mode & 0o777 == 0o600
    # /var/mail is set-group-id mail on Debian: the spool keeps that group
    assert st.st_gid == grp.getgrnam("mail").gr_gid
    assert msgs[0].startswith(SENDER.encode() + b"  ")
    assert b"\nReturn-Path: <%s>\n" % SENDER.encode() in msgs[0]
    assert b"\nDelivered-To: %s\n" % u.address(tern.domain).encode() in msgs[0]
    # (the queue delivers in parallel threads: either may come first)
    assert sorted(m.split(b"\n\n", 1)[1].strip() for m in msgs) == [b"first", b"second"], msgs
    # no dotlock left behind (the writer removes it just after its fsync)
    assert wait_for(lambda: not os.path.exists(u.spool + ".lock"))


def test_maildir_delivery_as_the_user(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, mailbox="maildir:~/Maildir")
    send(tern, [u.address(tern.domain)])
    inbox = os.path.join(u.home, "Maildir")
    assert wait_for(lambda: len(maildir_files(inbox)) == 1), tern.log()
    for path in [inbox, os.path.join(inbox, "new")] + maildir_files(inbox):
        assert os.stat(path).st_uid == u.uid, path
    assert b"Hello, system user." in open(maildir_files(inbox)[0], "rb").read()
    assert not os.path.exists(u.spool)


def test_unknown_and_system_accounts_refused(tern_factory, unix_user):
    tern = system_instance(tern_factory)
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as s:
        s.ehlo()
        s.mail(SENDER)
        # daemon (uid 1) is below system_min_uid; the other name is no account at all
        for rcpt in ("daemon@" + tern.domain, "nosuchuser-x1@" + tern.domain):
            code, _ = s.rcpt(rcpt)
            assert code == 550, rcpt


def test_forward_to_an_address_and_backslash_self(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = system_instance(tern_factory)
    # an unqualified name is in the user's own domain; no copy stays with a
    a.write_home_file(".forward", "# to b\n%s\n" % b.name)
    send(tern, [a.address(tern.domain)], body="forwarded")
    got = wait_spool(b.spool, 1)
    assert len(got) == 1, tern.log()
    # the forward keeps the original envelope sender (RFC 5321 3.4)
    assert got[0].startswith(SENDER.encode() + b"  ")
    assert b"\nReturn-Path: <%s>\n" % SENDER.encode() in got[0]
    assert b"Delivered-To: %s\n" % a.address(tern.domain).encode() in got[0]
    assert spool_messages(a.spool) == []
    # \a: a keeps a copy (with no further forwarding), b gets one too
    a.write_home_file(".forward", '\\%s, "%s"\n' % (a.name, b.address(tern.domain)))
    send(tern, [a.address(tern.domain)], body="both")
    assert len(wait_spool(b.spool, 2)) == 2
    mine = wait_spool(a.spool, 1)
    assert len(mine) == 1 and b"\n\nboth\n" in mine[0]
    # a .forward others may write is not obeyed: the mail stays with a
    a.write_home_file(".forward", "%s\n" % b.name, mode=0o666)
    send(tern, [a.address(tern.domain)], body="unsafe")
    assert len(wait_spool(a.spool, 2)) == 2
    time.sleep(0.5)
    assert len(spool_messages(b.spool)) == 2


def test_forward_pipe_and_file(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    u.write_home_file(".forward", '"|/bin/sh -c \'id -u > $HOME/pipe-uid\'", ~/saved\n')
    send(tern, [u.address(tern.domain)])
    saved = os.path.join(u.home, "saved")
    assert len(wait_spool(saved, 1)) == 1, tern.log()
    assert os.stat(saved).st_uid == u.uid
    assert wait_for(lambda: os.path.exists(os.path.join(u.home, "pipe-uid")))
    assert open(os.path.join(u.home, "pipe-uid")).read().strip() == str(u.uid)


def test_procmailrc_commands_run_as_the_user(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    # The command writes its own uid, and the uids of its parent: the delivery child.
    u.write_home_file(".procmailrc",
                      ":0 c\n| id -u > $HOME/uid.txt; grep ^Uid: /proc/$PPID/status"
                      " > $HOME/parent.txt\n\n"
                      ":0\n* ^Subject:.*refile\nrefiled\n")
    send(tern, [u.address(tern.domain)], subject="please refile")
    refiled = os.path.join(u.home, "refiled")
    assert len(wait_spool(refiled, 1)) == 1, tern.log()
    assert os.stat(refiled).st_uid == u.uid
    assert wait_for(lambda: os.path.getsize(os.path.join(u.home, "parent.txt")) > 0
                    if os.path.exists(os.path.join(u.home, "parent.txt")) else False)
    assert open(os.path.join(u.home, "uid.txt")).read().strip() == str(u.uid)
    parent = open(os.path.join(u.home, "parent.txt")).read().split()
    assert parent[1:] == [str(u.uid)] * 4, parent
    assert spool_messages(u.spool) == []


@pytest.mark.parametrize("mailbox", ["mbox:/var/mail/%u", "maildir:~/Maildir"])
def test_sieve_script_of_the_user(tern_factory, unix_user, mailbox):
    u = unix_user()
    tern = system_instance(tern_factory, mailbox=mailbox)
    u.write_home_file(".dovecot.sieve",
                      'require ["fileinto", "imap4flags"];\n'
                      'if header :contains "subject" "work" { fileinto "Work"; }\n'
                      'else { keep :flags ["\\\\Flagged", "Kw"]; }\n')
    send(tern, [u.address(tern.domain)], subject="work item")
    send(tern, [u.address(tern.domain)], subject="other", body="kept")
    work = os.path.join(u.home, "Maildir", ".Work")
    assert wait_for(lambda: len(maildir_files(work)) == 1), tern.log()
    assert os.stat(maildir_files(work)[0]).st_uid == u.uid
    if mailbox.startswith("mbox:"):
        kept = wait_spool(u.spool, 1)
        assert len(kept) == 1 and b"\n\nkept\n" in kept[0]
        # imap4flags: the flagged keep is in the mbox INBOX, flags as status headers
        assert b"\nX-Status: F\nX-Keywords: Kw\n" in kept[0], kept[0]
    else:
        inbox = os.path.join(u.home, "Maildir")
        assert wait_for(lambda: len(maildir_files(inbox)) == 1)
        assert b"kept" in open(maildir_files(inbox)[0], "rb").read()
        assert maildir_files(inbox)[0].endswith(":2,Fa")  # imap4flags: \Flagged, keyword a


def test_vacation_of_a_system_user(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = system_instance(tern_factory)
    a.write_home_file(".vacation.msg", "Subject: away ($SUBJECT)\n\nBack on Monday.\n")
    r = subprocess.run(["setpriv", "--reuid", str(a.uid), "--regid", str(a.gid),
                        "--init-groups", TERN, "vacation", "-i"],
                       capture_output=True, text=True, cwd="/", env=dict(os.environ, HOME=a.home))
    assert r.returncode == 0, r.stderr
    send(tern, [a.address(tern.domain)], subject="meeting", sender=b.address(tern.domain))
    # the message is delivered, and the answer (from <>, queued by the delivery child's
    # helper) reaches the sender
    assert len(wait_spool(a.spool, 1)) == 1, tern.log()
    replies = wait_spool(b.spool, 1)
    assert len(replies) == 1, tern.log()
    assert replies[0].startswith(b"MAILER-DAEMON  ") or b"Return-Path: <>" in replies[0]
    assert b"Subject: away (meeting)" in replies[0]
    assert b"Auto-Submitted: auto-replied" in replies[0]


def test_temporary_failure_stays_queued_then_delivered_once(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, queue_retry_min="1h")
    os.mkdir(u.spool)  # a folder where the mbox should be: every attempt fails
    try:
        send(tern, [u.address(tern.domain)], body="later")
        assert wait_for(lambda: "status=deferred" in tern.log()), tern.log()
        r = tern.run("queue", "list", check=True)
        assert u.address(tern.domain) in r.stdout, r.stdout
    finally:
        os.rmdir(u.spool)
    tern.run("queue", "flush", check=True)
    msgs = wait_spool(u.spool, 1)
    assert len(msgs) == 1 and b"\n\nlater\n" in msgs[0], tern.log()
    assert wait_for(lambda: tern.run("queue", "list").stdout.strip() in ("", "Mail queue is empty"))
    time.sleep(0.5)
    assert len(spool_messages(u.spool)) == 1


def test_workers_uids_in_system_mode(tern_factory, unix_user):
    tern = system_instance(tern_factory)
    roles = check_worker_uids(tern)
    assert len(roles["deliver"]) == 1


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_submission_auth_with_the_shadow_password(tern_factory, unix_user):
    u, other = unix_user(), unix_user()
    tern = system_instance(tern_factory, auth_failure_delay="1s")
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=30) as s:
        s.starttls(context=tls_ctx())
        s.ehlo()
        # shadow holds crypt(3) hashes: no SCRAM secret, so no SCRAM
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        start = time.time()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(u.name, u.password + "x")
        assert e.value.smtp_code == 535
        assert time.time() - start >= 0.9  # auth_failure_delay
        code, _ = s.login(u.address(tern.domain), u.password)
        assert code == 235
        # the authenticated user may send as itself, to anyone; not as another user
        with pytest.raises(smtplib.SMTPSenderRefused):
            s.sendmail(other.address(tern.domain), [u.address(tern.domain)], "x\r\n")
        s.sendmail(u.address(tern.domain), [u.address(tern.domain)],
                   "From: %s\r\nSubject: self\r\n\r\nsubmitted\r\n" % u.address(tern.domain))
    msgs = wait_spool(u.spool, 1)
    assert len(msgs) == 1 and b"submitted" in msgs[0]
    log = tern.log()
    assert "proto=smtp, mech=PLAIN, user=<%s>" % u.name in log
    assert "result=bad-credentials" in log and "result=ok" in log
    assert u.password not in log
    # swaks, AUTH LOGIN over STARTTLS
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["submission"],
                        "--tls", "--auth", "LOGIN", "--auth-user", u.name,
                        "--auth-password", u.password, "--from", u.address(tern.domain),
                        "--to", u.address(tern.domain), "--body", "via swaks"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0" in r.stdout
    assert len(wait_spool(u.spool, 2)) == 2
    # the smtp worker stayed run_user all along
    check_worker_uids(tern)


def auth_plain(s, user, password):
    """One AUTH PLAIN (smtplib's login() tries every mechanism in turn)."""
    s.user, s.password = user, password
    return s.auth("PLAIN", s.auth_plain)


def test_submission_auth_lockout(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, auth_failure_delay="0", auth_max_failures="2",
                           auth_lockout_time="1h")
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=30) as s:
        s.starttls(context=tls_ctx())
        s.ehlo()
        for _ in range(2):
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                auth_plain(s, u.name, "wrong")
            assert e.value.smtp_code == 535
        # locked out: even the right password is refused, with a temporary error
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            auth_plain(s, u.name, u.password)
        assert e.value.smtp_code == 454
    assert "result=locked-out" in tern.log()


def test_submission_auth_through_pam(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, system_auth="pam", system_pam_service="tern-test",
                           auth_failure_delay="0")
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=30) as s:
        s.starttls(context=tls_ctx())
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            auth_plain(s, u.name, "wrong")
        assert e.value.smtp_code == 535
        code, _ = auth_plain(s, u.name, u.password)
        assert code == 235
    # a locked account: PAM's account check refuses it
    subprocess.run(["usermod", "-L", u.name], check=True)
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"], timeout=30) as s:
        s.starttls(context=tls_ctx())
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            auth_plain(s, u.name, u.password)
        assert e.value.smtp_code == 535


def test_deliver_command_as_root_and_as_the_user(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = tern_factory(options={"user_source": "system",
                                 "system_mailbox": "maildir:~/Maildir"}, start=False)
    msg = "From: x@example.org\nSubject: lda\n\nby the LDA\n"
    # root (an MTA's mailbox_command): delivers as the user
    r = tern.run("deliver", "-d", a.name, "-f", "x@example.org", input=msg)
    assert r.returncode == 0, r.stderr
    files = maildir_files(os.path.join(a.home, "Maildir"))
    assert len(files) == 1 and os.stat(files[0]).st_uid == a.uid
    # a user: only for itself
    os.chmod(tern.conf, 0o644)
    os.chmod(os.path.dirname(tern.conf), 0o755)
    env = dict(os.environ, TERN_CONF=tern.conf)

    def as_user(user, target, *opts, data=msg):
        return subprocess.run(["setpriv", "--reuid", str(user.uid), "--regid", str(user.gid),
                               "--init-groups", TERN, "deliver"] + list(opts) + ["-d", target],
                              input=data, text=True, capture_output=True, env=env, cwd="/")
    r = as_user(b, a.name)
    assert r.returncode == 77, (r.returncode, r.stderr)
    r = as_user(b, b.name)
    assert r.returncode == 0, r.stderr
    files = maildir_files(os.path.join(b.home, "Maildir"))
    assert len(files) == 1 and os.stat(files[0]).st_uid == b.uid
    assert len(maildir_files(os.path.join(a.home, "Maildir"))) == 1
    # -s, an mbox of two: by the user for itself; refused (64) to root, whose deliveries
    # as a user each run in a child that becomes the user
    mbox = "From x@example.org  Thu Nov 26 07:00:00 2026\n%s\n" % msg * 2
    r = tern.run("deliver", "-s", "-d", a.name, input=mbox)
    assert r.returncode == 64 and "run it as %s" % a.name in r.stderr, (r.returncode, r.stderr)
    assert len(maildir_files(os.path.join(a.home, "Maildir"))) == 1
    r = as_user(b, b.name, "-s", data=mbox)
    assert r.returncode == 0, r.stderr
    files = maildir_files(os.path.join(b.home, "Maildir"))
    assert len(files) == 3 and all(os.stat(f).st_uid == b.uid for f in files)


def test_tern_sieve_for_a_system_user(tern_factory, unix_user, tmp_path):
    """tern sieve run by root for a system user: the script goes to ~/sieve (Dovecot's
    layout), owned by the user; ~/.dovecot.sieve becomes a link to it; mail follows it."""
    u = unix_user()
    tern = system_instance(tern_factory, mailbox="maildir:~/Maildir")
    script = tmp_path / "s.sieve"  # readable by root only: read before becoming the user
    script.write_text('require "fileinto";\nfileinto "Sorted";\n')
    os.chmod(script, 0o600)
    addr = u.address(tern.domain)
    tern.run("sieve", "put", addr, "main", str(script), check=True)
    tern.run("sieve", "activate", addr, "main", check=True)
    assert os.stat(os.path.join(u.home, "sieve", "main.sieve")).st_uid == u.uid
    assert os.readlink(os.path.join(u.home, ".dovecot.sieve")) == "sieve/main.sieve"
    assert tern.run("sieve", "list", addr, check=True).stdout == "* main\n"
    send(tern, [addr], subject="to be sorted")
    sorted_ = os.path.join(u.home, "Maildir", ".Sorted")
    assert wait_for(lambda: len(maildir_files(sorted_)) == 1), tern.log()

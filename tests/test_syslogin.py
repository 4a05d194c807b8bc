"""System users' IMAP and POP3 logins (user_source = system; doc/system-users.md):
throwaway Unix accounts made here with useradd; imaplib LOGIN and AUTHENTICATE PLAIN over
STARTTLS and implicit TLS, poplib USER/PASS and AUTH; the messages end up in the user's
own mail files, owned by the user; wrong passwords, the failure delay and the lockout;
which process runs as whom (the session as the user, the pre-login worker as run_user
chrooted into DATA/login, the auth process as root); no process left behind when a client
goes away in the middle of a session; mbsync and curl as real clients."""
import base64
import imaplib
import os
import poplib
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from sysaccounts import check_worker_uids, needs_root, unix_user, wait_for  # noqa: F401

pytestmark = needs_root

MSG = (b"From: someone@example.test\r\nTo: you@example.test\r\n"
       b"Subject: system user test\r\n\r\nHello, system user.\r\n")


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def system_instance(tern_factory, mailbox="mbox:/var/mail/%u", **options):
    opts = {"user_source": "system", "system_mailbox": mailbox}
    opts.update(options)
    return tern_factory(options=opts)


def procs():
    """{pid: (cmdline words, uids, root)} of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            uids = None
            for line in open("/proc/%s/status" % p):
                if line.startswith("Uid:"):
                    uids = [int(x) for x in line.split()[1:]]
            root = os.readlink("/proc/%s/root" % p)
        except OSError:
            continue
        out[int(p)] = ([c.decode(errors="replace") for c in cmd if c], uids, root)
    return out


def session_pids(user):
    return [pid for pid, (cmd, uids, root) in procs().items()
            if "--inetd" in cmd and user.name in cmd]


def test_imap_login_starttls_append_fetch_mbox(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    m.starttls(ssl_context=ctx())
    caps = m.capability()[1][0].decode()
    assert "AUTH=PLAIN" in caps and "SCRAM" not in caps, caps
    typ, data = m.login(u.name, u.password)
    assert typ == "OK"
    # the OK carried the logged-in capabilities, from the session process
    assert "IDLE" in m.capabilities or "MOVE" in m.capabilities, m.capabilities
    typ, data = m.select("INBOX")
    assert typ == "OK" and data[0] == b"0"
    typ, data = m.append("INBOX", None, None, MSG)
    assert typ == "OK", data
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == MSG
    # the message is in /var/mail/USER, owned by the user; the session runs as the user
    st = os.stat(u.spool)
    assert (st.st_uid, st.st_mode & 0o777) == (u.uid, 0o600)
    assert b"Hello, system user." in open(u.spool, "rb").read()
    pids = session_pids(u)
    assert len(pids) == 1, pids
    cmd, uids, root = procs()[pids[0]]
    assert uids == [u.uid] * 4, uids
    assert root == "/"
    m.logout()
    assert wait_for(lambda: not session_pids(u)), "the session process did not end"


def test_imap_authenticate_plain_implicit_tls_maildir(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, mailbox="maildir:~/Maildir")
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    cred = ("\0%s\0%s" % (u.name, u.password)).encode()
    typ, data = m.authenticate("PLAIN", lambda _: cred)
    assert typ == "OK", data
    m.append("INBOX", "(\\Seen)", None, MSG)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data[0] == b"1"
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"\\Seen" in data[0][0] and b"system user test" in data[0][1]
    m.logout()
    cur = os.path.join(u.home, "Maildir", "cur")
    files = os.listdir(cur)
    assert len(files) == 1
    for path in (os.path.join(u.home, "Maildir"), os.path.join(cur, files[0])):
        assert os.stat(path).st_uid == u.uid, path
    # a system user has no `tern user add`: the first login made the special-use folders,
    # as the user, subscribed
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        folder = os.path.join(u.home, "Maildir", "." + name)
        for path in (folder, os.path.join(folder, "cur"), os.path.join(folder, "maildirfolder")):
            assert os.stat(path).st_uid == u.uid, path
    subs = os.path.join(u.home, "Maildir", "subscriptions")
    assert sorted(open(subs).read().split()) == ["Archive", "Drafts", "Junk", "Sent", "Trash"]


def test_pop3_user_pass_and_auth(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    with open(u.spool, "wb") as f:
        f.write(b"From sender@example.test Thu Nov 26 10:00:00 2026\n" +
                MSG.replace(b"\r\n", b"\n") + b"\n")
    os.chown(u.spool, u.uid, 8)
    os.chmod(u.spool, 0o600)
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"])
    p.stls(context=ctx())
    capa = p.capa()
    assert capa.get("SASL") == ["PLAIN", "LOGIN"], capa
    p.user(u.name)
    resp = p.pass_(u.password)
    assert resp.startswith(b"+OK maildrop has 1 message"), resp
    resp, lines, octets = p.retr(1)
    assert b"Hello, system user." in b"\n".join(lines)
    p.quit()
    assert wait_for(lambda: not session_pids(u))
    # AUTH PLAIN over POP3S as ACCOUNT@domain, then DELE: the spool is rewritten, still
    # the user's
    p = poplib.POP3_SSL("127.0.0.1", tern.ports["pop3s"], context=ctx())
    who = "%s@%s" % (u.name, tern.domain)
    cred = base64.b64encode(("\0%s\0%s" % (who, u.password)).encode()).decode()
    resp = p._shortcmd("AUTH PLAIN " + cred)
    assert resp.startswith(b"+OK"), resp
    assert p.stat()[0] == 1
    p.dele(1)
    p.quit()
    assert wait_for(lambda: os.path.getsize(u.spool) == 0)
    assert os.stat(u.spool).st_uid == u.uid


def test_wrong_password_and_lockout(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, auth_failure_delay="1s", auth_max_failures="3")
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    m.starttls(ssl_context=ctx())
    t0 = time.time()
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(u.name, "wrong")
    assert "AUTHENTICATIONFAILED" in str(e.value)
    assert time.time() - t0 >= 0.9, "the failure was answered without the delay"
    p = poplib.POP3_SSL("127.0.0.1", tern.ports["pop3s"], context=ctx())
    p.user(u.name)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong again")
    assert b"-ERR [AUTH]" in e.value.args[0]
    with pytest.raises(imaplib.IMAP4.error):
        m.login(u.name, "still wrong")
    # three failures for the user: now even the right password is refused, unchecked
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(u.name, u.password)
    assert "UNAVAILABLE" in str(e.value)
    p.user(u.name)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(u.password)
    assert b"-ERR [LOGIN-DELAY]" in e.value.args[0]
    assert not session_pids(u)
    assert "result=locked-out" in tern.log()


def test_who_runs_as_whom(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    m.login(u.name, u.password)
    m.select("INBOX")
    check_worker_uids(tern)  # uids, from sysaccounts' one table
    table = procs()
    login_dir = os.path.join(tern.dir, "inst", "data", "login")
    for pid in tern.pids():
        cmd, uids, root = table[pid]
        if cmd[1] == "worker":
            # the pre-login parsers are chrooted; the others need the file system
            want = login_dir if cmd[2] in ("imap", "pop3", "sieve") else "/"
            assert root == want, (cmd[2], root)
    # the chroot holds nothing but the auth socket, and only root may write there
    assert os.listdir(login_dir) == ["auth"]
    st = os.stat(login_dir)
    assert st.st_uid == 0 and st.st_mode & 0o022 == 0
    [pid] = session_pids(u)
    cmd, uids, root = table[pid]
    assert uids == [u.uid] * 4 and root == "/"
    status = open("/proc/%d/status" % pid).read()
    assert "NoNewPrivs:\t1" in status and "CapEff:\t0000000000000000" in status
    m.logout()


def test_client_killed_mid_session_leaves_nothing(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory)
    for port_name in ("imaps", "pop3s"):
        raw = socket.create_connection(("127.0.0.1", tern.ports[port_name]))
        s = ctx().wrap_socket(raw)
        s.recv(1000)
        if port_name == "imaps":
            # commands pipelined behind LOGIN reach the session process
            s.sendall(b"a LOGIN %s %s\r\nb SELECT INBOX\r\nc IDLE\r\n" %
                      (u.name.encode(), u.password.encode()))
            data = b""
            while b"\r\n+ " not in data:  # the IDLE continuation
                chunk = s.recv(4000)
                assert chunk, data
                data += chunk
            assert b"a OK" in data and b"b OK" in data, data
        else:
            s.sendall(b"USER %s\r\nPASS %s\r\n" % (u.name.encode(), u.password.encode()))
            data = b""
            while data.count(b"\r\n") < 2:
                data += s.recv(4000)
            assert b"+OK maildrop" in data
        assert wait_for(lambda: len(session_pids(u)) == 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        s.close()  # a reset, as when a client machine goes away
        assert wait_for(lambda: not session_pids(u)), "a session process was left behind"


def test_sessions_per_user_limit(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, imap_max_sessions_per_user="2")
    conns = []
    for i in range(2):
        m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
        m.login(u.name, u.password)
        conns.append(m)
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(u.name, u.password)
    assert "LIMIT" in str(e.value)
    conns[0].logout()
    assert wait_for(lambda: len(session_pids(u)) == 1)
    typ, _ = m.login(u.name, u.password)
    assert typ == "OK"
    m.logout()
    conns[1].logout()


@pytest.mark.skipif(shutil.which("mbsync") is None or shutil.which("curl") is None,
                    reason="mbsync and curl are needed")
def test_mbsync_and_curl(tern_factory, unix_user, tmp_path):
    u = unix_user()
    tern = system_instance(tern_factory, mailbox="maildir:~/Maildir")
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    m.login(u.name, u.password)
    for i in range(3):
        m.append("INBOX", None, None, MSG.replace(b"test", b"test %d" % i))
    m.logout()
    local = tmp_path / "local"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        "IMAPAccount t\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\nSSLType IMAPS\n"
        "CertificateFile %s\nSystemCertificates no\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount t\n\nMaildirStore local\nPath %s/\nInbox %s/INBOX\n\n"
        "Channel c\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\n"
        "SyncState *\n"
        % (tern.ports["imaps"], u.name, u.password,
           os.path.join(tern.dir, "inst", "tls", "cert.pem"), local, local))
    r = subprocess.run(["mbsync", "-c", str(rc), "c"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    got = sorted(os.listdir(local / "INBOX" / "new") + os.listdir(local / "INBOX" / "cur"))
    assert len(got) == 3, got
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "30",
                        "pop3://127.0.0.1:%d/1" % tern.ports["pop3"],
                        "-u", "%s:%s" % (u.name, u.password)], capture_output=True)
    assert r.returncode == 0, r.stderr
    assert b"system user test 0" in r.stdout


def worker_pids(tern, role):
    table = procs()
    return sorted(pid for pid in tern.pids() if pid in table and
                  table[pid][0][1:3] == ["worker", role])


def test_reload_replaces_chrooted_workers(tern_factory, unix_user):
    u = unix_user()
    tern = system_instance(tern_factory, worker_processes="1")
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    m.login(u.name, u.password)
    m.select("INBOX")
    old_imap, old_pop3 = worker_pids(tern, "imap"), worker_pids(tern, "pop3")
    assert len(old_imap) == 1 and len(old_pop3) == 1
    tern.reload()
    assert wait_for(lambda: len(worker_pids(tern, "imap")) == 2)
    # the old pop3 worker had no session: it is gone; the old imap one keeps its session
    assert wait_for(lambda: old_pop3[0] not in worker_pids(tern, "pop3"))
    assert m.noop()[0] == "OK"
    m2 = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    assert m2.login(u.name, u.password)[0] == "OK"
    m2.logout()
    m.logout()
    assert wait_for(lambda: worker_pids(tern, "imap") != old_imap and
                    len(worker_pids(tern, "imap")) == 1)
    p = poplib.POP3_SSL("127.0.0.1", tern.ports["pop3s"], context=ctx())
    p.user(u.name)
    assert p.pass_(u.password).startswith(b"+OK")
    p.quit()


def test_parallel_logins(tern_factory, unix_user):
    """Logins at the same time (the checks run in the auth process's thread pool), with
    wrong passwords among them: every one gets its own right answer."""
    import threading
    u = unix_user()
    tern = system_instance(tern_factory, auth_failure_delay="1s", auth_max_failures="50")
    results = {}

    def one(i):
        m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
        try:
            m.login(u.name, u.password if i % 3 else "wrong-%d" % i)
            results[i] = m.select("INBOX")[0]
            m.logout()
        except imaplib.IMAP4.error as e:
            results[i] = str(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 9, results
    for i, r in results.items():
        if i % 3:
            assert r == "OK", (i, r)
        else:
            assert "AUTHENTICATIONFAILED" in r, (i, r)
    assert wait_for(lambda: not session_pids(u))


def test_login_waits_for_a_restarting_auth_worker(tern_factory, unix_user):
    """The auth worker dies: the master starts a new one, and a login made meanwhile
    waits for it (the worker connects again) instead of failing."""
    u = unix_user()
    tern = system_instance(tern_factory)
    assert wait_for(lambda: len(worker_pids(tern, "auth")) == 1)
    [auth] = worker_pids(tern, "auth")
    os.kill(auth, 9)
    t0 = time.time()
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=ctx())
    assert m.login(u.name, u.password)[0] == "OK"
    m.logout()
    [new_auth] = worker_pids(tern, "auth")
    assert new_auth != auth and time.time() - t0 < 10

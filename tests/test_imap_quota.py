"""IMAP QUOTA (RFC 9208): the user's quota from the user directory, its usage over every
folder, refused SETQUOTA, and no quota root for a user without a quota."""
import imaplib
import smtplib


def test_quota_root_and_usage(tern_factory):
    tern = tern_factory(start=False)
    r = tern.run("user", "add", "carol@example.test", "--quota", "10M",
                 "--quota-messages", "100", input="carol-pw\n")
    assert r.returncode == 0, r.stderr
    tern.start()
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.sendmail("x@remote.test", ["carol@example.test"],
               b"Subject: q\r\n\r\n" + b"y" * 3000 + b"\r\n")
    s.quit()
    assert tern.wait_messages("carol@example.test", 1)
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    m.login("carol@example.test", "carol-pw")
    caps = m.capability()[1][0].split()
    assert b"QUOTA" in caps and b"QUOTA=RES-STORAGE" in caps and b"QUOTA=RES-MESSAGE" in caps
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK", data
    roots, quotas = data
    assert roots[0] == b'INBOX ""', roots
    # 10M = 10240 KiB; one message of about 3 KiB; 1 of 100 messages
    q = quotas[0].decode()
    assert q.startswith('"" (STORAGE ') and "10240" in q and "MESSAGE 1 100" in q, q
    used_kb = int(q.split("STORAGE ")[1].split()[0])
    assert 3 <= used_kb <= 5, q
    typ, data = m.getquota('""')
    assert typ == "OK" and data[0].decode() == q
    typ, data = m.setquota('""', "(STORAGE 1)")
    assert typ == "NO"
    m.logout()


def test_no_quota_no_root(tern):
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    m.login("alice@example.test", "alice-pw")
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data[0][0] == b"INBOX", data
    typ, data = m.getquota('""')
    assert typ == "NO"
    m.logout()

"""End to end: what arrives in the Maildir, checked the way users see it.

- a 100 MB message over SMTP arrives byte for byte, while every Tern process (master and
  every worker) stays under 16 MB resident;
- mutt opens the delivered Maildir and lists the message (under tmux).
"""
import hashlib
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import SANITIZE

MB = 1024 * 1024


def body_lines(total):
    """Reproducible text lines (LF-terminated), total bytes in all."""
    n = 0
    i = 0
    while n < total:
        line = ("%08d " % i + "abcdefghijklmnopqrstuvwxyz0123456789" * 2 + "\n").encode()
        if n + len(line) > total:
            line = line[: total - n - 1] + b"\n"
        yield line
        n += len(line)
        i += 1


def send_big(port, rcpt, header, total):
    """DATA written in pieces over a raw SMTP session (smtplib wants the whole message)."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    s.ehlo("big.example")
    s.mail("sender@remote.test", ["SIZE=%d" % (total + len(header) + 1000)])
    s.rcpt(rcpt)
    code, _ = s.docmd("DATA")
    assert code == 354
    sha = hashlib.sha256()
    chunk = []
    size = 0
    s.send(header.replace(b"\n", b"\r\n"))
    for line in body_lines(total):
        sha.update(line)
        wire = line[:-1] + b"\r\n"
        if wire.startswith(b"."):
            wire = b"." + wire
        chunk.append(wire)
        size += len(wire)
        if size > 256 * 1024:
            s.send(b"".join(chunk))
            chunk, size = [], 0
    s.send(b"".join(chunk) + b".\r\n")
    code, text = s.getreply()
    s.quit()
    return code, text, sha.hexdigest()


def tern_rss_kb(inst):
    out = {}
    for pid in inst.pids():
        try:
            status = open("/proc/%d/status" % pid).read()
            cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        name = b" ".join(cmd[1:3]).decode()
        out[name] = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
    return out


def test_100mb_byte_for_byte_constant_memory(tern_factory):
    tern = tern_factory(options={"smtp_max_message_size": "200M"})
    header = b"From: big@remote.test\nTo: alice@example.test\nSubject: 100 MB\n\n"
    code, text, digest = send_big(tern.ports["smtp"], "alice@example.test", header, 100 * MB)
    assert code == 250, text
    files = tern.wait_messages("alice@example.test", 1, timeout=120)
    assert len(files) == 1
    # Wait until the delivery is complete (the file appears whole by link, but be sure
    # the queue worker is done with it).
    deadline = time.time() + 60
    while os.listdir(os.path.join(tern.dir, "inst", "queue", "env")) and time.time() < deadline:
        time.sleep(0.1)
    sha = hashlib.sha256()
    with open(files[0], "rb") as f:
        head = b""
        while b"\n\n" not in head:
            head += f.readline()
        assert head.startswith(b"Return-Path: <sender@remote.test>\nDelivered-To: alice@example.test\n")
        assert b"Received: from big.example" in head
        assert head.endswith(header[header.index(b"From:"):])
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            sha.update(block)
    assert sha.hexdigest() == digest, "the body changed on its way"
    rss = tern_rss_kb(tern)
    assert "serve -c" in rss and any("smtp" in k for k in rss) and any("queue" in k for k in rss), rss
    if not SANITIZE:
        for name, kb in rss.items():
            assert kb < 16 * 1024, "%s peaked at %d kB resident" % (name, kb)


@pytest.mark.skipif(shutil.which("mutt") is None or shutil.which("tmux") is None,
                    reason="mutt and tmux are needed")
def test_mutt_lists_delivered_message(tern):
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.sendmail("carol@remote.test", ["alice@example.test"],
               b"From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\n"
               b"Subject: seen by mutt\r\n\r\nhello\r\n")
    s.quit()
    assert tern.wait_messages("alice@example.test", 1)
    session = "tern-mutt-%d" % os.getpid()
    maildir = tern.maildir("alice@example.test")
    muttrc = os.path.join(tern.dir, "muttrc")
    open(muttrc, "w").write("set folder=%s\nset spoolfile=%s\n" % (maildir, maildir) +
                            "set mbox_type=Maildir\nset sort=date\nset mail_check=0\n"
                            "set index_format='%4C %-15.15L %s'\n")
    env = dict(os.environ, TERM="xterm", HOME=tern.dir)
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    "mutt -n -F %s -f %s" % (muttrc, maildir)], check=True, env=env)
    try:
        screen = ""
        deadline = time.time() + 10
        while "seen by mutt" not in screen and time.time() < deadline:
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True).stdout
        assert "seen by mutt" in screen and "Carol" in screen, screen
        assert "1 " in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)

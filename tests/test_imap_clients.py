"""Real IMAP clients against Tern: mbsync (isync) syncing several folders both ways, twice,
with nothing to do the second time; offlineimap syncing them to a local Maildir, then flag
changes and deletions on both sides, both sides compared message for message (bytes and
flags); curl listing and fetching; Python imaplib with CONDSTORE
resynchronisation (CHANGEDSINCE), MOVE, and APPEND/COPY with UIDPLUS.
"""
import imaplib
import os
import re
import shutil
import subprocess
import time

import pytest

USER, PASSWORD = "alice@example.test", "alice-pw"
FOLDERS = {"INBOX": 150, "Lists/tern": 100, "Work": 60}
SMALL = {"INBOX": 10, "Lists/tern": 10, "Work": 10}


def _message(folder, i):
    return ("From: sender%d@example.org\r\nTo: %s\r\nSubject: %s message %d\r\n"
            "Message-ID: <%s.%d@example.org>\r\nDate: Mon, 7 Feb 2022 10:00:%02d +0000\r\n\r\n"
            "Body of message %d in %s.\r\n" % (i, USER, folder, i, folder.replace("/", "-"),
                                                i, i % 60, i, folder)).encode()


def _fill(port, small=False):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PASSWORD)
    for folder, count in (SMALL if small else FOLDERS).items():
        if folder != "INBOX":
            m.create(folder)
        for i in range(count):
            typ, _ = m.append(folder, "(\\Seen)" if i % 3 == 0 else None, None,
                              _message(folder, i))
            assert typ == "OK"
    m.logout()


def _count(port, folder):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PASSWORD)
    typ, data = m.select('"%s"' % folder, readonly=True)
    m.logout()
    return int(data[0])


def _local_files(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) in ("cur", "new"):
            out[dirpath] = len(files)
    return out


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync is not installed")
def test_mbsync_both_ways_twice(tern, tmp_path):
    port = tern.ports["imap"]
    _fill(port)
    local = tmp_path / "mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text("""IMAPAccount tern
Host 127.0.0.1
Port %d
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account tern

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""" % (port, USER, PASSWORD, local, local))

    def run():
        r = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    run()
    files = _local_files(local)
    assert sum(files.values()) >= sum(FOLDERS.values())
    for folder, count in FOLDERS.items():
        d = local / folder
        assert len(os.listdir(d / "cur")) + len(os.listdir(d / "new")) == count, folder
    # nothing changed: a second run changes nothing on either side
    run()
    assert _local_files(local) == files
    for folder, count in FOLDERS.items():
        assert _count(port, folder) == count
    # a message written locally reaches the server; a server deletion reaches the client
    new = local / "Work" / "new" / ("%d.local.mbsync" % int(time.time()))
    new.write_bytes(_message("Work", 999).replace(b"\r\n", b"\n"))
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PASSWORD)
    m.select('"Lists/tern"')
    m.store("1", "+FLAGS", "\\Deleted")
    m.expunge()
    m.logout()
    run()
    assert _count(port, "Work") == FOLDERS["Work"] + 1
    d = local / "Lists" / "tern"
    assert len(os.listdir(d / "cur")) + len(os.listdir(d / "new")) == FOLDERS["Lists/tern"] - 1
    files = _local_files(local)
    run()
    assert _local_files(local) == files
    assert _count(port, "Work") == FOLDERS["Work"] + 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_list_and_fetch(tern):
    port = tern.ports["imap"]
    _fill(port, small=True)
    base = "imap://127.0.0.1:%d" % port
    auth = ["-u", "%s:%s" % (USER, PASSWORD)]
    r = subprocess.run(["curl", "-s", "--max-time", "20"] + auth + [base + "/"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "INBOX" in r.stdout and "Lists/tern" in r.stdout
    r = subprocess.run(["curl", "-s", "--max-time", "20"] + auth +
                       [base + "/Work;UID=3"], capture_output=True)
    assert r.returncode == 0
    assert b"Subject: Work message 2" in r.stdout
    r = subprocess.run(["curl", "-s", "--max-time", "20", "-X", "SEARCH SUBJECT \"message 7\""]
                       + auth + [base + "/INBOX"], capture_output=True, text=True)
    assert r.returncode == 0
    assert re.search(r"\* SEARCH( \d+)+", r.stdout)


def test_imaplib_condstore_move_uidplus(tern):
    port = tern.ports["imap"]
    _fill(port, small=True)
    a = imaplib.IMAP4("127.0.0.1", port)
    a.login(USER, PASSWORD)
    typ, _ = a._simple_command("ENABLE", "CONDSTORE")
    assert typ == "OK"
    a.select("Work")
    highest = int(a.untagged_responses["HIGHESTMODSEQ"][0])
    # another client changes flags, expunges and appends
    b = imaplib.IMAP4("127.0.0.1", port)
    b.login(USER, PASSWORD)
    b.select("Work")
    b.uid("STORE", "5", "+FLAGS", "(\\Flagged)")
    typ, data = b.append("Work", None, None, _message("Work", 500))
    assert typ == "OK"
    appenduid = re.match(rb"(\d+) (\d+)$", b.response("APPENDUID")[1][0])
    assert appenduid
    typ, data = b.uid("COPY", "6", "INBOX")
    assert typ == "OK"
    assert re.match(rb"\d+ 6 \d+$", b.response("COPYUID")[1][0])
    typ, data = b.uid("MOVE", "7", "Lists/tern")
    assert typ == "OK"
    b.logout()
    # the first client resynchronises with CHANGEDSINCE
    a.noop()
    typ, data = a.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d)" % highest)
    assert typ == "OK"
    changed = b" ".join(x if isinstance(x, bytes) else x[0] for x in data if x)
    assert b"UID 5 " in changed and b"\\Flagged" in changed
    assert ("UID %s " % appenduid.group(2).decode()).encode() in changed
    typ, data = a.uid("SEARCH", "UID", "7")
    assert data == [b""]
    assert _count(port, "Lists/tern") == SMALL["Lists/tern"] + 1
    a.logout()


# --- offlineimap: a two-way sync of several folders, then changes on both sides

MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}


def _msgid(data):
    m = re.search(rb"^Message-ID: *(<[^>\r\n]*>)", data, re.M | re.I)
    assert m, data[:200]
    return m.group(1).decode()


def _server_state(port, folders):
    """{folder: {Message-ID: (bytes with LF line ends, set of flags)}} from the server."""
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PASSWORD)
    out = {}
    for folder in folders:
        typ, _ = m.select('"%s"' % folder, readonly=True)
        assert typ == "OK", folder
        msgs = {}
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
            body = item[1].replace(b"\r\n", b"\n")
            msgs[_msgid(body)] = (body, set(f for f in flags if f != "\\Recent"))
        out[folder] = msgs
    m.logout()
    return out


def _local_state(root, folders):
    """The same from the local Maildir (flags from the ":2," info of each file name)."""
    out = {}
    for folder in folders:
        msgs = {}
        for sub in ("cur", "new"):
            d = root / folder / sub
            for name in os.listdir(d):
                body = (d / name).read_bytes().replace(b"\r\n", b"\n")
                info = name.split(":2,", 1)[1] if ":2," in name else ""
                msgs[_msgid(body)] = (body, set(MAILDIR_FLAGS[c] for c in info
                                                if c in MAILDIR_FLAGS))
        out[folder] = msgs
    return out


def _local_file(root, folder, msgid):
    for sub in ("cur", "new"):
        d = root / folder / sub
        for name in os.listdir(d):
            if _msgid((d / name).read_bytes()) == msgid:
                return d / name
    raise AssertionError("%s not in %s" % (msgid, folder))


@pytest.mark.skipif(shutil.which("offlineimap") is None, reason="offlineimap3 is not installed")
def test_offlineimap_both_ways(tern, tmp_path):
    port = tern.ports["imap"]
    _fill(port)
    local = tmp_path / "mail"
    local.mkdir()
    rc = tmp_path / "offlineimaprc"
    rc.write_text("""[general]
accounts = tern
metadata = %s/meta
ui = quiet

[Account tern]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s
sep = /

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
""" % (tmp_path, local, port, USER, PASSWORD))

    def run():
        r = subprocess.run(["offlineimap", "-c", str(rc), "-o", "-u", "basic"],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, HOME=str(tmp_path)))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr

    def agree():
        server, here = _server_state(port, FOLDERS), _local_state(local, FOLDERS)
        for folder in FOLDERS:
            assert set(server[folder]) == set(here[folder]), folder
            for msgid, (body, flags) in server[folder].items():
                assert here[folder][msgid][0] == body, (folder, msgid)
                assert here[folder][msgid][1] == flags, (folder, msgid)
        return server

    run()
    server = agree()
    for folder, count in FOLDERS.items():
        assert len(server[folder]) == count
    assert sum(1 for v in server["INBOX"].values() if "\\Seen" in v[1]) == 50
    # nothing changed: the second run changes nothing on either side
    files = _local_files(local)
    run()
    assert _local_files(local) == files
    agree()

    # changes on the server: flags set and cleared, two messages deleted
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PASSWORD)
    m.select("INBOX")
    assert m.store("1:5", "+FLAGS", "(\\Flagged)")[0] == "OK"
    assert m.store("1", "-FLAGS", "(\\Seen)")[0] == "OK"
    m.select("Work")
    assert m.store("2,4", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert m.expunge()[0] == "OK"
    m.logout()
    # changes here: flags by renaming, a file removed, a new message
    ids = sorted(server["Lists/tern"])
    for msgid in ids[:3]:
        f = _local_file(local, "Lists/tern", msgid)
        base, _, info = f.name.partition(":2,")
        os.rename(f, local / "Lists/tern" / "cur" / (base + ":2," + "".join(sorted(info + "R"))))
    gone = sorted(server["INBOX"])[10]
    _local_file(local, "INBOX", gone).unlink()
    (local / "Work" / "new" / ("%d.P1Q1.offlineimap-test" % int(time.time()))).write_bytes(
        _message("Work", 999).replace(b"\r\n", b"\n"))
    run()
    server = agree()
    assert len(server["INBOX"]) == FOLDERS["INBOX"] - 1 and gone not in server["INBOX"]
    assert len(server["Work"]) == FOLDERS["Work"] - 2 + 1
    assert len(server["Lists/tern"]) == FOLDERS["Lists/tern"]
    for msgid in ids[:3]:
        assert "\\Answered" in server["Lists/tern"][msgid][1]
    flagged = [k for k, v in server["INBOX"].items() if "\\Flagged" in v[1]]
    assert len(flagged) == 5
    # and a last run has nothing to do
    files = _local_files(local)
    run()
    assert _local_files(local) == files
    agree()

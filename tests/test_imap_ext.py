"""IMAP extension tests (src/imapd) over raw sockets: BODY[n] of a binary part as base64
(RFC 3516), a new UIDVALIDITY for a re-created folder, QRESYNC (RFC 7162), CONTEXT=SEARCH
(RFC 5267), CATENATE (RFC 4469), NOTIFY (RFC 5465), COMPRESS=DEFLATE (RFC 4978), UTF8=ACCEPT
(RFC 6855) and SEARCH BODY in base64/quoted-printable parts.
"""
import base64
import re
import socket
import zlib

import pytest

ALICE = "alice@example.test"

MSG = (b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: hello %d\r\n"
       b"Message-ID: <m%d@example.test>\r\n\r\nbody %d\r\n")


class Client:
    """A small IMAP client: cmd() sends a tagged command and returns (untagged, tagged)."""

    def __init__(self, tern, login=True):
        self.sock = socket.create_connection(("127.0.0.1", tern.ports["imap"]), 10)
        self.buf = b""
        self.n = 0
        self.inflate = None
        self.deflate = None
        self.greeting = self.line()
        if login:
            _, tagged = self.cmd('LOGIN "%s" "%s"' % (ALICE, tern.users[ALICE]))
            assert b" OK" in tagged, tagged

    def send(self, data):
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        if self.inflate is not None:
            data = self.inflate.decompress(data)
        self.buf += data

    def line(self):
        """One response line with its literals folded in."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            ln, self.buf = self.buf.split(b"\r\n", 1)
            out += ln
            m = re.search(rb"~?\{(\d+)\+?\}$", ln)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]

    def cmd(self, text, literals=(), tag=None):
        """Sends a command (literals replace each {N} placeholder, synchronising)."""
        self.n += 1
        tag = tag.encode() if tag else b"t%d" % self.n
        data = text.encode() if isinstance(text, str) else text
        parts = data.split(b"\x00LIT\x00")
        self.send(tag + b" " + parts[0])
        for i, lit in enumerate(literals):
            self.send(b"\r\n")
            ln = self.line()
            assert ln.startswith(b"+"), ln
            self.send(lit + parts[i + 1])
        self.send(b"\r\n")
        return self.read_until(tag)

    def read_until(self, tag):
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag + b" "):
                return untagged, ln
            untagged.append(ln)

    def close(self):
        self.sock.close()


def lit(n):
    return "{%d}\x00LIT\x00" % n


def fill(c, box, count):
    for i in range(1, count + 1):
        m = MSG % (i, i, i)
        _, t = c.cmd("APPEND %s %s" % (box, lit(len(m))), [m])
        assert b" OK" in t, t


def test_body_of_binary_part_is_base64(tern):
    c = Client(tern)
    raw = b"\x00\x01\xff binary\r\n"
    msg = (b"From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream"
           b"\r\nContent-Transfer-Encoding: binary\r\n\r\n" + raw)
    _, t = c.cmd("APPEND INBOX ~{%d}\x00LIT\x00" % len(msg), [msg])
    assert b" OK" in t, t
    c.cmd("SELECT INBOX")
    u, t = c.cmd("FETCH 1 (BODY.PEEK[1] BINARY.PEEK[1])")
    assert b" OK" in t
    text = b"\n".join(u)
    m = re.search(rb"BODY\[1\] \{(\d+)\}\r\n([A-Za-z0-9+/=\r\n]+)", text)
    assert m, text
    assert base64.b64decode(m.group(2)) == raw
    assert b"BINARY[1] ~{%d}\r\n" % len(raw) + raw in text


def test_recreated_folder_gets_new_uidvalidity(tern):
    c = Client(tern)
    c.cmd("CREATE again")
    u1, _ = c.cmd("STATUS again (UIDVALIDITY)")
    c.cmd("DELETE again")
    c.cmd("CREATE again")
    u2, _ = c.cmd("STATUS again (UIDVALIDITY)")
    assert u1 != u2, (u1, u2)


def _uidvalidity(untagged):
    for ln in untagged:
        m = re.search(rb"UIDVALIDITY (\d+)", ln)
        if m:
            return int(m.group(1))


def _highestmodseq(untagged):
    for ln in untagged:
        m = re.search(rb"HIGHESTMODSEQ (\d+)", ln)
        if m:
            return int(m.group(1))


def test_qresync(tern):
    c = Client(tern)
    assert b"QRESYNC" in b" ".join(c.cmd("CAPABILITY")[0])
    c.cmd("CREATE q")
    fill(c, "q", 6)
    # not enabled: the parameter is refused
    _, t = c.cmd("SELECT q (QRESYNC (1 1))")
    assert b" BAD" in t
    u, t = c.cmd("ENABLE QRESYNC")
    assert b"* ENABLED QRESYNC" in u
    u, t = c.cmd("SELECT q")
    validity, modseq = _uidvalidity(u), _highestmodseq(u)
    # another session expunges 2 and 5 and flags 3
    d = Client(tern)
    d.cmd("SELECT q")
    d.cmd("STORE 2,5 +FLAGS (\\Deleted)")
    d.cmd("STORE 3 +FLAGS (\\Flagged)")
    d.cmd("EXPUNGE")
    # the enabled session sees VANISHED, not EXPUNGE
    u, t = c.cmd("NOOP")
    text = b"\n".join(u)
    assert b"* VANISHED 2,5" in text, text
    assert b"EXPUNGE" not in text
    c.cmd("UNSELECT")
    u, t = c.cmd("SELECT q (QRESYNC (%d %d 1:6))" % (validity, modseq))
    assert b" OK" in t, t
    text = b"\n".join(u)
    assert b"* VANISHED (EARLIER) 2,5" in text, text
    assert re.search(rb"\* 2 FETCH \(UID 3 FLAGS \([^)]*\\Flagged", text), text
    newmod = _highestmodseq(u)
    # sequence match data: 4 is still UID 6, so nothing at or below 6 vanished
    u, t = c.cmd("SELECT q (QRESYNC (%d %d 1:6 (4 6)))" % (validity, modseq))
    assert b"VANISHED" not in b"\n".join(u)
    # nothing changed since the current HIGHESTMODSEQ
    u, t = c.cmd("SELECT q (QRESYNC (%d %d))" % (validity, newmod))
    assert b"VANISHED" not in b"\n".join(u) and b"FETCH" not in b"\n".join(u)
    # a wrong UIDVALIDITY: as if nothing changed
    u, t = c.cmd("SELECT q (QRESYNC (%d %d 1:6))" % (validity + 1, modseq))
    assert b"VANISHED" not in b"\n".join(u)
    # UID FETCH with VANISHED
    u, t = c.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert b" OK" in t, t
    assert u[0] == b"* VANISHED (EARLIER) 2,5", u
    assert any(b"UID 3 " in x for x in u[1:])
    _, t = c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert b" BAD" in t
    _, t = c.cmd("UID FETCH 1:* (FLAGS) (VANISHED)")
    assert b" BAD" in t


def test_context_search_update_and_partial(tern):
    c = Client(tern)
    assert b"CONTEXT=SEARCH" in b" ".join(c.cmd("CAPABILITY")[0])
    c.cmd("CREATE ctx")
    fill(c, "ctx", 5)
    c.cmd("SELECT ctx")
    u, t = c.cmd("UID SEARCH RETURN (UPDATE ALL) FLAGGED", tag="s1")
    assert b" OK" in t
    _, t = c.cmd("SEARCH RETURN (UPDATE) FLAGGED", tag="s2")
    _, t = c.cmd("SEARCH RETURN (UPDATE) SEEN", tag="s2")
    assert b" BAD" in t, t
    u, t = c.cmd("STORE 2,3 +FLAGS (\\Flagged)")
    text = b"\n".join(u)
    assert b'* ESEARCH (TAG "s1") UID ADDTO (0 2:3)' in text, text
    assert b'* ESEARCH (TAG "s2") ADDTO (0 2:3)' in text, text
    # another session expunges 2: REMOVEFROM before the EXPUNGE
    d = Client(tern)
    d.cmd("SELECT ctx")
    d.cmd("STORE 2 +FLAGS (\\Deleted)")
    d.cmd("EXPUNGE")
    u, t = c.cmd("NOOP")
    assert u.index(b'* ESEARCH (TAG "s1") UID REMOVEFROM (0 2)') < u.index(b"* 2 EXPUNGE"), u
    assert b'* ESEARCH (TAG "s2") REMOVEFROM (0 2)' in u, u
    _, t = c.cmd('CANCELUPDATE "s1" "s2"')
    assert b" OK" in t
    u, t = c.cmd("STORE 1 +FLAGS (\\Flagged)")
    assert not any(b"ESEARCH" in x for x in u), u
    u, _ = c.cmd("SEARCH RETURN (PARTIAL 2:3) ALL", tag="p1")
    assert u == [b'* ESEARCH (TAG "p1") PARTIAL (2:3 2:3)'], u
    u, _ = c.cmd("SEARCH RETURN (PARTIAL 9:9) ALL")
    assert u[0].endswith(b"PARTIAL (9:9 NIL)"), u
    u, _ = c.cmd("SORT RETURN (PARTIAL 1:2) (REVERSE SUBJECT) US-ASCII ALL")
    assert u[0].endswith(b"PARTIAL (1:2 4,3)"), u
    _, t = c.cmd("SEARCH RETURN (PARTIAL 1:*) ALL")
    assert b" BAD" in t


def test_catenate(tern):
    c = Client(tern)
    assert b"CATENATE" in b" ".join(c.cmd("CAPABILITY")[0])
    c.cmd("CREATE cat")
    src = b"From: a@example.test\r\nSubject: src\r\n\r\nsource body\r\n"
    _, t = c.cmd("APPEND cat %s" % lit(len(src)), [src])
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", t).group(1))
    big = b"x" * 20000 + b"\r\n"  # above the parser's inline limit: streamed
    _, t = c.cmd(('APPEND cat (\\Seen) CATENATE (URL "/cat/;uid=%d/;section=HEADER" TEXT %s'
                  ' URL "/cat/;uid=%d/;section=TEXT") CATENATE (TEXT %s)') %
                 (uid, lit(len(big)), uid, lit(3)), [big, b"abc"])
    assert b" OK" in t, t
    c.cmd("SELECT cat")
    u, _ = c.cmd("FETCH 2:3 (FLAGS BODY.PEEK[])")
    text = b"\n".join(u)
    assert b"Subject: src\r\n\r\n" + big + b"source body\r\n" in text, text[:300]
    assert b"\\Seen" in u[0]
    assert u[1].endswith(b"{3}\r\nabc)"), u[1]
    _, t = c.cmd('APPEND cat CATENATE (URL "/cat;uidvalidity=1/;uid=%d")' % uid)
    assert b"NO [BADURL" in t, t
    _, t = c.cmd('APPEND nosuch CATENATE (TEXT %s)' % lit(3), [b"abc"])
    assert b"NO [TRYCREATE]" in t, t
    u, _ = c.cmd("NOOP")
    assert not any(b"EXISTS" in x for x in u), u  # the failed APPENDs added nothing


def test_notify(tern):
    c = Client(tern)
    assert b"NOTIFY" in b" ".join(c.cmd("CAPABILITY")[0])
    c.cmd("CREATE other")
    fill(c, "INBOX", 2)
    c.cmd("SELECT INBOX")
    _, t = c.cmd("NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange)) "
                 "(MAILBOXES other (MessageNew MessageExpunge))")
    assert b" OK" in t, t
    _, t = c.cmd("NOTIFY SET (PERSONAL (MailboxName))")
    assert b"NO [BADEVENT" in t, t
    _, t = c.cmd("NOTIFY SET (SELECTED (MessageNew MessageExpunge)) "
                 "(MAILBOXES other (MessageNew MessageExpunge))")
    d = Client(tern)
    fill(d, "other", 1)
    fill(d, "INBOX", 1)
    d.cmd("SELECT INBOX")
    d.cmd("STORE 1 +FLAGS (\\Deleted)")
    d.cmd("EXPUNGE")
    # without any command, the first session hears of it
    c.sock.settimeout(5)
    seen = []
    while not (any(b"EXPUNGE" in x for x in seen) and any(b"STATUS" in x for x in seen)):
        seen.append(c.line())
    assert b"* 1 EXPUNGE" in seen, seen
    assert any(re.match(rb"\* STATUS other \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)", x)
               for x in seen), seen
    _, t = c.cmd("NOTIFY NONE")
    assert b" OK" in t


def test_compress_deflate(tern):
    c = Client(tern)
    assert b"COMPRESS=DEFLATE" in b" ".join(c.cmd("CAPABILITY")[0])
    _, t = c.cmd("COMPRESS DEFLATE")
    assert b" OK" in t, t
    c.inflate = zlib.decompressobj(-15)
    c.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    _, t = c.cmd("COMPRESS DEFLATE")
    assert b"NO [COMPRESSIONACTIVE]" in t, t
    body = b"Subject: big\r\n\r\n" + b"compressible line\r\n" * 5000
    _, t = c.cmd("APPEND INBOX %s" % lit(len(body)), [body])
    assert b" OK" in t, t
    c.cmd("SELECT INBOX")
    u, t = c.cmd("FETCH 1 BODY.PEEK[]")
    assert body in u[0]
    # two commands in one compressed write
    c.send(b"p1 NOOP\r\np2 NOOP\r\n")
    assert c.read_until(b"p1")[1].startswith(b"p1 OK")
    assert c.read_until(b"p2")[1].startswith(b"p2 OK")
    c.cmd("LOGOUT")


def test_compress_with_pipelined_command(tern):
    c = Client(tern)
    o = zlib.compressobj(6, zlib.DEFLATED, -15)
    c.sock.sendall(b"z COMPRESS DEFLATE\r\n" + o.compress(b"y NOOP\r\n") +
                   o.flush(zlib.Z_SYNC_FLUSH))
    assert c.line() == b"z OK DEFLATE active"
    c.inflate = zlib.decompressobj(-15)
    c.buf = c.inflate.decompress(c.buf)  # compressed bytes read with the OK line
    c.deflate = o
    assert c.read_until(b"y")[1] == b"y OK NOOP completed"


def test_utf8_accept_append_and_search_decoded_parts(tern):
    c = Client(tern)
    assert b"UTF8=ACCEPT" in b" ".join(c.cmd("CAPABILITY")[0])
    msg = ("From: Jürgen <j@example.test>\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           base64.b64encode("hidden treasure in base64".encode()).decode() + "\r\n--b\r\n"
           "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
           "soft=\r\nbroken w=C3=B6rd\r\n--b--\r\n").encode()
    _, t = c.cmd("APPEND INBOX UTF8 (~{%d}\x00LIT\x00)" % len(msg), [msg])
    assert b" BAD" in t, t  # not enabled yet
    c.cmd("ENABLE UTF8=ACCEPT")
    _, t = c.cmd("APPEND INBOX UTF8 (~{%d}\x00LIT\x00)" % len(msg), [msg])
    assert b" OK" in t, t
    c.cmd("SELECT INBOX")
    u, _ = c.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert "Grüße".encode() in u[0]
    for key, hit in (("BODY \"treasure in base64\"", True), ("TEXT softbroken", True),
                     ("BODY \"w\u00f6rd\"", True), ("BODY aGlkZGVu", True),
                     ("BODY nowhere", False)):
        u, t = c.cmd(("SEARCH CHARSET UTF-8 " + key).encode())
        assert (u == [b"* SEARCH 1"]) == hit, (key, u, t)

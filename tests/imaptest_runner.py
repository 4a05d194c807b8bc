#!/usr/bin/python3
"""An independent runner for Dovecot imaptest's scripted tests (test=DIR mode).

    python3 tests/imaptest_runner.py --host 127.0.0.1 --port N --user U --password P \
        [--user2 U2 --password2 P2] [--test NAME ...] [--timeout S] [-v] DIR

Reads every test file in DIR (sorted; `.mbox` files, dot files and directories are
not tests), runs each against the server and prints PASS / FAIL (first mismatch, the
command and its line) / SKIP (missing capability, needs user2) per group, then
`N passed, N failed, N skipped`. Exit status 1 if any group failed.

The semantics follow imaptest's test-parser.c and test-exec.c (see
../shared/imaptest-FORMAT.md): the same setup per `state:`, the same tags
(`<client id>.<n>`), the same argument parser (atoms, quoted strings, literals,
literal8, lists, NIL), the same matching (variables captured on first sight,
`$` wildcard, `$N` relative sequence numbers adjusted by EXPUNGEs, `$!` list
directives and the default directives for LIST/LSUB/STATUS/FETCH/FLAGS,
prefix matching of the last argument of OK/NO/BAD/BYE replies), the same rules
for what ends a test (unexpected BAD, unexpected disconnection, invalid EXISTS or
EXPUNGE). Where imaptest would abort (a script literal without LITERAL+), this
runner uses a synchronising literal instead. Every wait is bounded by --timeout.

Only the Python standard library is used. Also importable: `run_tests(...)`.
"""
import argparse
import base64
import os
import re
import select
import socket
import sys
import time
import urllib.parse

# ---------------------------------------------------------------------------
# IMAP arguments (a port of the parts of Dovecot's imap-parser that matter here)

ATOM, STRING, LITERAL, NIL, LIST = "atom", "string", "literal", "nil", "list"
ALL = 1 << 32  # imaptest's UINT_MAX: "everything matched"

_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def up(s):
    """ASCII-only upper case, as Dovecot's i_toupper/strcasecmp."""
    return s.translate(_UPPER)


class Arg:
    __slots__ = ("type", "value")

    def __init__(self, type_, value):
        self.type = type_
        self.value = value  # str for atom/string/literal, list for LIST, None for NIL

    def astring(self):
        """The value as imaptest sees it: a C string, so it ends at the first NUL."""
        if self.type not in (ATOM, STRING, LITERAL):
            return None
        v = self.value
        return v[:v.index("\0")] if "\0" in v else v

    def __repr__(self):
        return "Arg(%s,%r)" % (self.type, self.value)


class ParseError(Exception):
    pass


def parse_args(text, lenient=False):
    """Parse one IMAP line (literal data inline after `{n}\\r\\n`) into a list of Args.

    Flags as imaptest uses them: literal8 (`~{n}`), atoms of any characters, quoted
    strings may hold line breaks. A `)` outside a list is part of an atom."""
    root = []
    stack = []
    cur = root
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == " ":
            i += 1
            continue
        if c in "\r\n" and not lenient:
            break
        if c in "\r\n":
            break
        if c == '"':
            j = i + 1
            out = []
            while True:
                if j >= n:
                    raise ParseError("Missing '\"'")
                ch = text[j]
                if ch == "\\" and j + 1 < n:
                    out.append(text[j + 1])
                    j += 2
                    continue
                if ch == '"':
                    break
                out.append(ch)
                j += 1
            cur.append(Arg(STRING, "".join(out)))
            i = j + 1
            continue
        if c == "{" or (c == "~" and i + 1 < n and text[i + 1] == "{"):
            j = text.find("}", i)
            if j < 0:
                raise ParseError("Missing '}'")
            size_s = text[i + (2 if c == "~" else 1):j]
            if size_s.endswith("+"):
                size_s = size_s[:-1]
            if not size_s.isdigit():
                raise ParseError("Invalid literal size")
            size = int(size_s)
            j += 1
            if text.startswith("\r\n", j):
                j += 2
            elif text.startswith("\n", j):
                j += 1
            else:
                raise ParseError("Missing LF after literal size")
            if j + size > n:
                raise ParseError("Missing data")
            cur.append(Arg(LITERAL, text[j:j + size]))
            i = j + size
            continue
        if c == "(":
            lst = Arg(LIST, [])
            cur.append(lst)
            stack.append(cur)
            cur = lst.value
            i += 1
            continue
        if c == ")" and stack:
            cur = stack.pop()
            i += 1
            continue
        # atom: up to space, line break, or ')' inside a list
        j = i
        while j < n:
            ch = text[j]
            if ch == " " or ch in "\r\n" or (ch == ")" and stack and j > i):
                break
            j += 1
        atom = text[i:j]
        if up(atom) == "NIL":
            cur.append(Arg(NIL, None))
        else:
            cur.append(Arg(ATOM, atom))
        i = j
    if stack:
        raise ParseError("Missing ')'")
    return root


def args_to_str(args):
    out = []
    for a in args:
        if a.type == NIL:
            out.append("NIL")
        elif a.type == ATOM:
            out.append(a.value)
        elif a.type == LIST:
            out.append("(" + args_to_str(a.value) + ")")
        elif a.type == LITERAL:
            out.append("{%d}\r\n%s" % (len(a.value), a.value))
        else:
            v = a.value
            if "\r" in v or "\n" in v:
                out.append("{%d}\r\n%s" % (len(v), v))
            else:
                out.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def imap_quote(s):
    if any(ord(c) > 127 or c in "\r\n\0" for c in s):
        b = s.encode("latin-1", "replace")
        return "{%d}\r\n%s" % (len(b), s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------
# Test files

MUST, MUST_NOT, MAY = "*", "!", "?"
STATES = ["nonauth", "auth", "created", "appended", "selected"]


class Untagged:
    def __init__(self, args, existence, linenum, text):
        self.args = args
        self.existence = existence
        self.linenum = linenum
        self.text = text


class Command:
    def __init__(self, linenum, text, reply, tag):
        self.linenum = linenum
        self.text = text      # unexpanded command line (literal data inline)
        self.reply = reply    # list of Args, or None until its reply line is seen
        self.tag = tag        # "tagN" number, 0 if none
        self.cur_tag = None   # tag string on the wire while pending


class Group:
    def __init__(self):
        self.commands = []
        self.untagged = []
        self.conn_idx = 0
        self.replies_pending = 0
        self.have_untagged_bye = False
        self.sleep = 0.0


class Test:
    def __init__(self, name, path, mbox):
        self.name = name
        self.path = path
        self.mbox = mbox
        self.capabilities = None
        self.connection_count = 1
        self.users = {}  # connection index -> username template
        self.require_user2 = False
        self.message_count = 0
        self.state = "selected"
        self.ignore_extra_untagged = True
        self.groups = []


def _parse_time(value):
    m = re.match(r"^\s*(\d+)\s*([a-z]*)\s*$", value.lower())
    if not m:
        raise ParseError("Invalid !sleep value %s" % value)
    num, unit = int(m.group(1)), m.group(2)
    mult = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
            "ms": 0.001, "msec": 0.001, "msecs": 0.001, "millisecond": 0.001,
            "milliseconds": 0.001, "m": 60, "min": 60, "mins": 60, "minute": 60,
            "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}.get(unit)
    if mult is None:
        raise ParseError("Invalid !sleep value %s" % value)
    return num * mult


def _get_cmd_reply(line):
    """imaptest's test_get_cmd_reply: optional `tagN `, then ok|no|bad|"".
    Returns (reply_word or None, tag, rest)."""
    tag = 0
    first = line.split(" ", 1)[0]
    if first[:3].lower() == "tag" and " " in line and first[3:].isdigit() and int(first[3:]) > 0:
        tag = int(first[3:])
        line = line.split(" ", 1)[1]
        first = line.split(" ", 1)[0]
    reply = None
    lf = first.lower()
    if lf in ("ok", "no", "bad"):
        reply = lf
        line = line[len(first):]
    elif first == '""':
        reply = ""
        line = line[2:]
    if reply is not None and line.startswith(" "):
        line = line[1:]
    return reply, tag, line


def _list_directives(ctx, args):
    i = 0
    while i < len(args) and args[i].type == ATOM and args[i].value.startswith("$!"):
        s = args[i].value[2:]
        if s.startswith("unordered"):
            if s == "unordered":
                pass
            elif s[9:10] == "=" and s[10:].isdigit():
                ctx["chain"] = int(s[10:])
            else:
                raise ParseError("Broken $!unordered directive")
        elif s in ("ordered", "noextra", "extra") or s.startswith("ignore=") or s.startswith("ban="):
            pass
        else:
            raise ParseError("Unknown directive: %s" % s)
        ctx["directives"] = True
        i += 1


def _add_default_directives(ctx, args):
    parent = ctx["parent"]
    if parent is None:
        return
    name = ctx["reply_name"]

    def ins(*dirs):
        for d in dirs:
            args.insert(0, Arg(ATOM, d))
    if name in ("list", "lsub"):
        if parent["parent"] is None and parent["chain_idx"] == 0 and ctx["chain_idx"] == 1:
            ins("$!unordered")
    elif name == "status":
        if parent["parent"] is None and parent["chain_idx"] == 0 and ctx["chain_idx"] == 2:
            ins("$!unordered=2")
    elif name == "fetch":
        if parent["parent"] is None and parent["chain_idx"] == 0 and ctx["chain_idx"] == 2:
            ins("$!unordered=2")
        elif (parent["parent"] is not None and parent["parent"]["parent"] is None and
              parent["parent"]["chain_idx"] == 0 and parent["chain_idx"] == 2 and
              ctx["prev_atom"] == "flags"):
            ins("$!unordered", "$!noextra", "$!ignore=\\recent",
                "$!ignore=$HasAttachment", "$!ignore=$HasNoAttachment")


def _untagged_directives(ctx, args):
    _list_directives(ctx, args)
    if not ctx["directives"]:
        _add_default_directives(ctx, args)
    # imaptest's count of leading directives looks at args[0] on each round: it is
    # either all of the arguments or none
    ndir = len(args) if args and args[0].type == ATOM and args[0].value.startswith("$!") else 0
    if (len(args) - ndir) % ctx["chain"] != 0:
        raise ParseError("Invalid list argument count, chain size=%u" % ctx["chain"])
    prev_atom = None
    for i, a in enumerate(args):
        if a.type == ATOM:
            prev_atom = a.value.lower()
        if a.type != LIST:
            continue
        sub = {"parent": ctx, "reply_name": ctx["reply_name"].lower(), "chain": 1,
               "prev_atom": prev_atom, "directives": False,
               "chain_idx": i if ctx["chain"] == 1 else i % ctx["chain"]}
        _untagged_directives(sub, a.value)


def _parse_untagged(text):
    args = parse_args(text)
    reply_name = ""
    if args and args[0].type == ATOM:
        reply_name = args[0].value
        if reply_name[:1] == "$" or reply_name[:1].isdigit():
            reply_name = args[1].value if len(args) > 1 and args[1].type == ATOM else ""
    ctx = {"parent": None, "reply_name": reply_name, "chain": 1, "prev_atom": None,
           "directives": False, "chain_idx": 0}
    _untagged_directives(ctx, args)
    return args, reply_name


def parse_test_file(path, name, mbox):
    test = Test(name, path, mbox)
    with open(path, "rb") as f:
        data = f.read().decode("latin-1")
    if data and not data.endswith("\n"):
        raise ParseError("Last line doesn't end with LF")
    raw_lines = data.split("\n")[:-1] if data else []
    header = True
    group = None
    ifenv = []  # (linenum, else_seen, saved_skip)
    skip = False
    continues = False
    binary = False
    multiline = ""
    start_pos = last_line_end = 0
    start_linenum = 0
    for linenum, line in enumerate(raw_lines, 1):
        if continues:
            if not line.startswith("}}}"):
                multiline += line
                last_line_end = len(multiline)
                # imaptest asks i_stream_last_line_crlf(), which its manual line
                # splitting never sets: binary literals always join lines with LF
                # (a CR at the end of a file line stays part of the line)
                multiline += "\n" if binary else "\r\n"
                continue
            multiline = multiline[:last_line_end]
            rest = line[3:]
            size = len(multiline) - start_pos
            multiline = multiline[:start_pos] + ("~" if binary else "") + \
                "{%d}\r\n" % size + multiline[start_pos:]
            if len(rest) >= 3 and rest.endswith("{{{"):
                if len(rest) > 3 and rest[-4] == "~":
                    binary = True
                    rest = rest[:-4]
                else:
                    binary = False
                    rest = rest[:-3]
                multiline += rest
                start_pos = last_line_end = len(multiline)
                continue
            line = multiline + rest
            continues = False
        else:
            start_linenum = linenum
            if line == "":
                header = False
                continue
            if line.startswith("#"):
                continue
            if line.endswith("{{{"):
                if len(line) > 3 and line[-4] == "~":
                    binary = True
                    multiline = line[:-4]
                else:
                    binary = False
                    multiline = line[:-3]
                start_pos = last_line_end = len(multiline)
                continues = True
                continue
        try:
            if header:
                _parse_header_line(test, line)
            else:
                group, skip = _parse_command_line(test, group, start_linenum, line,
                                                  ifenv, skip)
        except ParseError as e:
            raise ParseError("%s line %d: %s" % (name, linenum, e))
    if continues:
        raise ParseError("Multiline reply at line %d not ended" % start_linenum)
    if group is None:
        raise ParseError("No commands in file")
    if group.replies_pending > 0:
        missing = [c for c in group.commands if c.reply is None][0]
        raise ParseError("Missing reply from previous command at line %d" % missing.linenum)
    if ifenv:
        raise ParseError("!ifenv at line %d not closed with !endif" % ifenv[0][0])
    # imaptest adds a LOGOUT on the first connection unless the test has one
    has_logout = any(c.text.lower() == "logout" or g.have_untagged_bye
                     for g in test.groups for c in g.commands)
    if not has_logout:
        g = Group()
        g.conn_idx = 0
        g.commands.append(Command(0, "logout", [Arg(ATOM, "ok")], 0))
        test.groups.append(g)
    return test


def _parse_header_line(test, line):
    if ":" not in line:
        raise ParseError("Missing ':'")
    key, value = line.split(":", 1)
    key = key.rstrip(" ").lower()
    value = value.lstrip(" ").rstrip()
    if key == "capabilities":
        test.capabilities = value.split()
    elif key == "connections":
        test.connection_count = 2 if value == "n" else int(re.match(r"\d*", value).group() or 0)
    elif key == "ignore_extra_untagged":
        test.ignore_extra_untagged = value[:1] == "y"
    elif key.startswith("user ") and key[5:].isdigit() and int(key[5:]) != 0:
        idx = int(key[5:])
        if value in ("$user2", "${user2}"):
            test.require_user2 = True
            value = None  # the --user2 account
        test.users[idx - 1] = value
    elif key == "messages":
        test.message_count = None if value == "all" else int(re.match(r"\d*", value).group() or 0)
    elif key == "state":
        v = value.lower()
        if v not in STATES:
            raise ParseError("Unknown state value")
        test.state = v
    else:
        raise ParseError("Unknown setting")


def _parse_command_line(test, group, linenum, line, ifenv, skip):
    if line.startswith("!ifenv ") or line.startswith("!ifnenv "):
        # imaptest reads the variable name from line+7 for both forms
        have_env = os.environ.get(line[7:]) is None
        if line.startswith("!ifnenv "):
            have_env = not have_env
        ifenv.append([linenum, False, skip])
        if have_env:
            skip = True
        return group, skip
    if line == "!else":
        if not ifenv:
            raise ParseError("!else without !ifenv")
        if ifenv[-1][1]:
            raise ParseError("!else already seen")
        ifenv[-1][1] = True
        if not ifenv[-1][2]:
            skip = not skip
        return group, skip
    if line == "!endif":
        if not ifenv:
            raise ParseError("!endif without !ifenv")
        skip = ifenv.pop()[2]
        return group, skip
    if skip:
        return group, skip

    if group is not None:
        if line.startswith("!sleep "):
            group.sleep = _parse_time(line[7:])
            return group, skip
        if line.startswith("!output "):
            return group, skip
        if line[:2] in ("* ", "! ", "? "):
            existence = line[0]
            args, reply_name = _parse_untagged(line[2:])
            if up(reply_name[:3]) == "BYE":
                if existence == MUST:
                    group.have_untagged_bye = True
                elif existence == MAY:
                    raise ParseError("? BYE not currently supported")
            group.untagged.append(Untagged(args, existence, linenum, line))
            return group, skip
        if group.replies_pending > 0:
            reply, tag, _ = _get_cmd_reply(line)
            if reply is not None:
                cmd = [c for c in group.commands if c.tag == tag]
                if not cmd:
                    raise ParseError("Reply for unknown tag")
                cmd = cmd[0]
                if cmd.reply is not None:
                    raise ParseError("Command already has a reply")
                args = parse_args(line)
                cmd.reply = args[0 if tag == 0 else 1:]
                group.replies_pending -= 1
                return group, skip

    if group is None or group.replies_pending == 0:
        group = Group()
        test.groups.append(group)
    if test.connection_count > 1:
        first = line.split(" ", 1)[0]
        if not first.isdigit() or int(first) == 0:
            raise ParseError("Missing client index")
        cidx = int(first)
        if group.commands and group.conn_idx != cidx - 1:
            raise ParseError("All pipelined commands must use the same connection")
        group.conn_idx = cidx - 1
        if test.connection_count < cidx:
            test.connection_count = cidx
        line = line.split(" ", 1)[1] if " " in line else ""
    reply, tag, line = _get_cmd_reply(line)
    reply_args = None if reply is None else [Arg(ATOM, reply)]
    if tag == 0:
        if group.replies_pending > 0:
            raise ParseError("Missing reply from previous command group")
    elif any(c.tag == tag for c in group.commands):
        raise ParseError("Tag reused within command group")
    if reply_args is None:
        group.replies_pending += 1
    group.commands.append(Command(linenum, line, reply_args, tag))
    return group, skip


def load_tests(directory, names=None):
    """[(name, Test or ParseError)] for the test files in directory, sorted."""
    out = []
    default_mbox = os.path.join(directory, "default.mbox")
    for name in sorted(os.listdir(directory)):
        if name.startswith(".") or name.endswith(".mbox"):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            continue
        if names and name not in names:
            continue
        mbox = path + ".mbox" if os.path.exists(path + ".mbox") else default_mbox
        try:
            out.append((name, parse_test_file(path, name, mbox)))
        except (ParseError, OSError, ValueError) as e:
            out.append((name, ParseError(str(e))))
    return out


# ---------------------------------------------------------------------------
# The mbox message source

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_FROM_RE = re.compile(
    r"^From \S*\s+(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+(?:[A-Za-z]{3,4}\s+)?(\d{4})(?:\s+([+-]\d{4}))?")


def _parse_from_line(line):
    m = _FROM_RE.match(line)
    if not m:
        return None
    mon = m.group(1).capitalize()
    if mon not in MONTHS:
        return None
    tm = (int(m.group(6)), MONTHS.index(mon) + 1, int(m.group(2)), int(m.group(3)),
          int(m.group(4)), int(m.group(5) or 0))
    if m.group(7):
        sign = -1 if m.group(7)[0] == "-" else 1
        tz = sign * (int(m.group(7)[1:3]) * 60 + int(m.group(7)[3:5]))
    else:
        # no zone: local time, as Dovecot's mbox_from_parse
        t = time.mktime(tm + (0, 0, -1))
        tz = time.localtime(t).tm_gmtoff // 60
    sign = "-" if tz < 0 else "+"
    return "%02d-%s-%04d %02d:%02d:%02d %s%02d%02d" % (
        tm[2], MONTHS[tm[1] - 1], tm[0], tm[3], tm[4], tm[5], sign, abs(tz) // 60, abs(tz) % 60)


class MboxSource:
    """The messages of an mbox, as imaptest's mailbox-source-mbox: every line up to
    the next valid From_ line (the separating blank line included), CRLF line ends;
    wraps around at the end."""

    def __init__(self, path):
        self.messages = []
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        cur = None
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            date = _parse_from_line(line.decode("latin-1")) if line.startswith(b"From ") else None
            if date is not None and (cur is None or cur[1]):
                cur = [date, []]
                self.messages.append(cur)
                continue
            if cur is None:
                raise ParseError("Not a valid mbox file: %s" % path)
            cur[1].append(line)
        if not self.messages:
            raise ParseError("Empty mbox file: %s" % path)
        self.messages = [(d, b"".join(l + b"\r\n" for l in body)) for d, body in self.messages]
        self.next = 0
        self.wrapped = False

    def eof(self):
        return self.next >= len(self.messages)

    def get_next(self):
        if self.next >= len(self.messages):
            self.next = 0
        msg = self.messages[self.next]
        self.next += 1
        return msg


# ---------------------------------------------------------------------------
# Matching (test-exec.c)

def _is_var_char(c):
    return c.isascii() and (c.isalnum() or c == "_")


class TestFailed(Exception):
    """A failure that ends the test group (imaptest disconnects)."""


class Ctx:
    def __init__(self):
        self.vars = {}
        self.added = []
        self.seqmap = []

    def relative_seq(self, seq):
        if seq == 0:
            return "<zero seq>"
        if seq > len(self.seqmap):
            return "<out of range>"
        if self.seqmap[seq - 1] == 0:
            return "<expunged>"
        return str(self.seqmap[seq - 1])

    def expand_all(self, line, skip_uninitialized):
        """Expand variables in a command line. Returns (text, error)."""
        if "$" not in line:
            return line, None
        out = []
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if c != "$" or i == n - 1:
                out.append(c)
                i += 1
                continue
            i += 1
            if line[i] == "$":
                out.append("$")
                i += 1
            elif line[i] == "!":
                while i + 1 < n and line[i + 1] != " ":
                    i += 1
                i += 1
            else:
                if line[i] == "{":
                    p = line.find("}", i + 1)
                    if p < 0:
                        return "".join(out), "Missing '}'"
                    name = line[i + 1:p]
                    p += 1
                else:
                    p = i
                    while p < n and _is_var_char(line[p]):
                        p += 1
                    name = line[i:p]
                if name.isdigit() and name.isascii():
                    value = self.relative_seq(int(name))
                else:
                    value = self.vars.get(name)
                    if value is None:
                        if not skip_uninitialized:
                            return "".join(out), "Uninitialized variable: %s" % name
                        value = "$"
                out.append(value)
                i = p
        return "".join(out), None

    def expand_input(self, s, inp):
        """test_expand_input: expand s against the input, capturing unknown variables.
        Returns the expanded string or None on a mismatch."""
        out = []
        i, j = 0, 0
        n = len(s)
        while i < n:
            if s[i] != "$" or s[i + 1:i + 2] == "$":
                if s[i] == "$":
                    i += 1
                if j >= len(inp) or up(s[i]) != up(inp[j]):
                    return None
                j += 1
                out.append(s[i])
                i += 1
                continue
            i += 1
            if s[i:i + 1] == "{":
                p = s.find("}", i + 1)
                if p < 0:
                    return ""
                name = s[i + 1:p]
                i = p + 1
            else:
                p = i
                while p < n and _is_var_char(s[p]):
                    p += 1
                name = s[i:p]
                i = p
            if name.isdigit() and name.isascii():
                value = self.relative_seq(int(name))
            else:
                value = self.vars.get(name) if name else None
                if value is None:
                    rest = s[i:]
                    if rest[:1] == "$":
                        tmp = self.expand_input(rest, inp[j:]) or ""
                    else:
                        tmp = rest
                    stop = up(tmp[:1])
                    p = j
                    while p < len(inp) and up(inp[p]) != stop:
                        p += 1
                    value = inp[j:p]
                    if name:
                        self.vars[name] = value
                        self.added.append(name)
            out.append(value)
            if inp[j:j + len(value)] != value:
                return None
            j += len(value)
        return "".join(out)

    def match_args(self, match, mi, args, ai, maxn, prefix):
        ret = 0
        while mi < len(match) and maxn > 0:
            m = match[mi]
            a = args[ai] if ai < len(args) else None
            if m.type == NIL:
                if a is None or a.type != NIL:
                    return ret
            elif m.type in (ATOM, STRING, LITERAL):
                if m.value == "$" and a is not None and a.type == LIST:
                    pass
                else:
                    astr = a.astring() if a is not None else None
                    if astr is None:
                        return ret
                    mstr = self.expand_input(m.astring(), astr)
                    if mstr is None:
                        return ret
                    if prefix and mi == len(match) - 1:
                        if up(astr[:len(mstr)]) != up(mstr):
                            return ret
                    elif up(astr) != up(mstr):
                        return ret
            elif m.type == LIST:
                if a is None or a.type != LIST:
                    return ret
                sub = self.match_list(m.value, a.value)
                if sub != ALL:
                    return ret + sub
            ret += 1
            mi += 1
            ai += 1
            maxn -= 1
        if prefix or ai >= len(args) or maxn == 0:
            return ALL
        return ret

    def match_list(self, match, args):
        unordered = False
        chain = 1
        noextra = -1
        ignores, bans = [], []
        k = 0
        while k < len(match) and match[k].type == ATOM and match[k].value.startswith("$!"):
            s = match[k].value[2:]
            if s.startswith("unordered"):
                unordered = True
                if noextra == -1:
                    noextra = 0
                if s[9:10] == "=":
                    chain = int(s[10:])
            elif s == "ordered":
                unordered = False
            elif s == "extra":
                noextra = 0
            elif s == "noextra":
                noextra = 1
            elif s.startswith("ignore="):
                ignores.append(s[7:])
            elif s.startswith("ban="):
                bans.append(s[4:])
            k += 1
        if noextra == -1:
            noextra = 1
        if not unordered:
            return self.match_args(match, k, args, 0, ALL, False)
        arg_count = len(args)
        if arg_count % chain != 0:
            return 0
        matched = [False] * arg_count
        ret = 0
        mi = k
        while mi < len(match):
            for i in range(0, arg_count, chain):
                if self.match_args(match, mi, args, i, chain, False) == ALL:
                    matched[i] = True
                    break
            else:
                return ret
            mi += chain
            ret += 1
        if noextra > 0:
            for i in range(0, arg_count, chain):
                if matched[i]:
                    continue
                s = args[i].astring()
                if s is None:
                    continue
                if not any(up(x) == up(s) for x in ignores):
                    return ret
        elif bans:
            for i in range(0, arg_count, chain):
                if matched[i]:
                    continue
                s = args[i].astring()
                if s is None:
                    continue
                if any(up(x) == up(s) for x in bans):
                    return ret
        return ALL


# ---------------------------------------------------------------------------
# Connections

class Disconnected(Exception):
    pass


class Timeout(Exception):
    pass


_LIT_END = re.compile(rb"~?\{(\d+)\+?\}\r?\n$")


class Conn:
    def __init__(self, runner, idx, global_id, user, password):
        self.runner = runner
        self.idx = idx
        self.global_id = global_id
        self.user = user
        self.password = password
        self.sock = None
        self.buf = b""
        self.eof = False
        self.tag_counter = 1
        self.caps = []
        self.postlogin_caps = False
        self.logged_in = False
        self.count = 0           # messages in the selected mailbox view
        self.storage = runner.mailbox
        self.seen_bye = False
        self.logout_sent = False
        self.last_cmd_state = None

    # -- I/O
    def connect(self):
        self.sock = socket.create_connection((self.runner.host, self.runner.port),
                                             timeout=self.runner.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.runner.trace(self, ">", data)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Disconnected("send failed: %s" % e)

    def _fill(self, deadline):
        if self.eof:
            raise Disconnected("connection closed")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout()
        r, _, _ = select.select([self.sock], [], [], remaining)
        if not r:
            raise Timeout()
        try:
            data = self.sock.recv(65536)
        except OSError as e:
            self.eof = True
            raise Disconnected("recv failed: %s" % e)
        if not data:
            self.eof = True
            raise Disconnected("connection closed")
        self.buf += data

    def has_line(self):
        """A whole response (with its literals) is buffered."""
        pos = 0
        while True:
            nl = self.buf.find(b"\n", pos)
            if nl < 0:
                return False
            m = _LIT_END.search(self.buf, pos, nl + 1)
            if not m:
                return True
            pos = nl + 1 + int(m.group(1))
            if pos > len(self.buf):
                return False

    def read_response(self, deadline):
        """One whole server response, as str (latin-1), without the final CRLF."""
        out = b""
        pos = 0
        while True:
            nl = self.buf.find(b"\n", pos)
            while nl < 0:
                self._fill(deadline)
                nl = self.buf.find(b"\n", pos)
            m = _LIT_END.search(self.buf, pos, nl + 1)
            if not m:
                out = self.buf[:nl + 1]
                self.buf = self.buf[nl + 1:]
                break
            end = nl + 1 + int(m.group(1))
            while len(self.buf) < end:
                self._fill(deadline)
            pos = end
        self.runner.trace(self, "<", out)
        text = out.decode("latin-1")
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        return text

    def next_tag(self):
        tag = "%d.%d" % (self.global_id, self.tag_counter)
        self.tag_counter += 1
        return tag

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # -- state tracking (imap_client_handle_untagged)
    def track_untagged(self, args, raw):
        if not args or args[0].type != ATOM:
            raise TestFailed("Invalid untagged input: %s" % raw)
        word = up(args[0].value)
        rest = args[1:]
        if word.isdigit():
            num = int(word)
            if not rest or rest[0].type != ATOM:
                raise TestFailed("Invalid untagged input: %s" % raw)
            what = up(rest[0].value)
            if what == "EXISTS":
                if num < self.count:
                    raise TestFailed("Message count dropped %d -> %d" % (self.count, num))
                self.count = num
            if num > self.count and self.last_cmd_state in ("append", "logout", "noop"):
                pass  # imaptest only warns
            elif what == "EXPUNGE":
                if num == 0:
                    raise TestFailed("Tried to expunge sequence 0")
                if num > self.count:
                    raise TestFailed("Tried to expunge sequence %d with only %d msgs" %
                                     (num, self.count))
                self.count -= 1
        elif word == "BYE":
            self.count = 0
            self.seen_bye = True
            self.logged_in = False
        elif word == "CAPABILITY":
            self.set_caps(raw.split(" ", 2)[2] if raw.count(" ") >= 2 else "")
        elif word == "VANISHED":
            if rest and rest[0].type == LIST:
                return  # VANISHED (EARLIER)
            if rest and rest[0].astring():
                n = 0
                for part in rest[0].astring().split(","):
                    lo, _, hi = part.partition(":")
                    try:
                        n += abs(int(hi or lo) - int(lo)) + 1
                    except ValueError:
                        pass
                self.count = max(0, self.count - n)
        elif word == "OK":
            self.resp_code(raw)

    def resp_code(self, raw):
        p = raw.upper().find("[CAPABILITY ")
        if p >= 0:
            end = raw.find("]", p)
            self.set_caps(raw[p + 12:end if end >= 0 else len(raw)])

    def set_caps(self, text):
        if self.logged_in:
            self.postlogin_caps = True
        self.caps = text.split(" ")

    def has_cap(self, name):
        return any(up(c) == up(name) for c in self.caps)


# ---------------------------------------------------------------------------
# Running one test group

class Result:
    def __init__(self, name, status, reason="", detail=""):
        self.name = name
        self.status = status  # PASS FAIL SKIP
        self.reason = reason
        self.detail = detail

    def __repr__(self):
        return "Result(%s, %s, %r)" % (self.name, self.status, self.reason)


class Skip(Exception):
    pass


class PendingCmd:
    def __init__(self, tag, cmdline, tcmd, kind, chunks):
        self.tag = tag
        self.cmdline = cmdline
        self.tcmd = tcmd      # Command from the test, or None for setup commands
        self.kind = kind      # "append", "logout", "select", ...
        self.chunks = chunks  # data still to send, each after a "+" continuation
        self.reply = None     # (status, args, raw)
        self.expect_bad = False


class TestRun:
    def __init__(self, runner, test):
        self.runner = runner
        self.test = test
        self.ctx = Ctx()
        self.failures = []
        self.conns = []
        self.source = None
        self.init_finished = False
        self.group = None
        self.group_idx = 0

    # -- failure bookkeeping
    def fail(self, msg):
        if self.init_finished and self.group is not None:
            cmd = self.group.commands[0]
            where = "command %d/%d (line %d)" % (self.group_idx + 1, len(self.test.groups),
                                                 cmd.linenum)
            tag = ""
            if cmd.cur_tag:
                tag = " (tag %s)" % cmd.cur_tag
            text = "%s: %s\n - Command%s: %s" % (where, msg, tag, _show(cmd.text))
        else:
            text = "initialization failed: %s" % msg
        self.failures.append(text)

    # -- sending
    def _split_literals(self, conn, cmdline):
        """Split a command line at its literals: LITERAL+ when the server offers it,
        else synchronising literals (a chunk per "+" continuation)."""
        chunks = []
        cur = ""
        pos = 0
        n = len(cmdline)
        literalplus = conn.has_cap("LITERAL+")
        while True:
            nl = cmdline.find("\n", pos)
            if nl < 0:
                cur += cmdline[pos:]
                break
            line = cmdline[pos:nl + 1]
            m = re.search(r" (~?)\{(\d+)(\+?)\}\r?\n$", line)
            if not m:
                cur += line
                pos = nl + 1
                continue
            size = int(m.group(2))
            head = line[:m.start()] + " " + m.group(1) + "{" + m.group(2)
            if literalplus or m.group(3):
                cur += head + "+}\r\n" + cmdline[nl + 1:nl + 1 + size]
            else:
                cur += head + "}\r\n"
                chunks.append(cur)
                cur = cmdline[nl + 1:nl + 1 + size]
            pos = nl + 1 + size
            if pos > n:
                pos = n
        chunks.append(cur + "\r\n")
        return chunks

    def send_command(self, conn, cmdline, kind, tcmd=None, body=None):
        """Queue a command; body (bytes) is an APPEND message sent as a literal."""
        tag = conn.next_tag()
        if body is not None:
            lit = "{%d+}" if conn.has_cap("LITERAL+") else "{%d}"
            line = "%s %s %s" % (tag, cmdline, lit % len(body))
            if conn.has_cap("LITERAL+"):
                chunks = [line + "\r\n" + body.decode("latin-1") + "\r\n"]
            else:
                chunks = [line + "\r\n", body.decode("latin-1") + "\r\n"]
            full = cmdline + " " + lit % len(body)
        else:
            chunks = self._split_literals(conn, "%s %s" % (tag, cmdline))
            full = cmdline
        p = PendingCmd(tag, full, tcmd, kind, chunks)
        conn.last_cmd_state = kind
        # SELECT/EXAMINE of another mailbox switches the tracked view
        word = cmdline.split(" ", 1)
        if len(word) == 2 and word[0].lower() in ("select", "examine"):
            try:
                a = parse_args(word[1])
                name = a[0].astring() if a else None
            except ParseError:
                name = None
            if name is not None and name != conn.storage:
                conn.storage = name
                conn.count = 0
        self.pending.append(p)
        self.sendq.append((conn, p))
        self.pump()
        return p

    def pump(self):
        """Send queued data until a synchronising literal needs a continuation."""
        while self.sendq:
            conn, p = self.sendq[0]
            if p.reply is not None:  # answered before its literal was sent
                self.sendq.pop(0)
                continue
            if self.waiting_cont is p:
                return
            conn.send(p.chunks.pop(0))
            if p.chunks:
                self.waiting_cont = p
                return
            self.sendq.pop(0)

    # -- receiving
    def read_one(self, conn, deadline, matching):
        raw = conn.read_response(deadline)
        if raw.startswith("+"):
            p = self.waiting_cont
            if p is None:
                raise TestFailed("Unexpected command continuation: %s" % raw)
            self.waiting_cont = None
            self.pump()
            return
        try:
            args = parse_args(raw)
        except ParseError as e:
            raise TestFailed("error parsing input: %s: %s" % (e, _show(raw)))
        if not args or args[0].type != ATOM:
            raise TestFailed("Broken tag: %s" % _show(raw))
        tag = args[0].value
        if tag == "*":
            conn.track_untagged(args[1:], raw)
            if matching:
                self.match_untagged(conn, args[1:], raw)
            if (len(args) > 2 and args[1].type == ATOM and args[2].type == ATOM and
                    up(args[2].value) == "EXPUNGE" and args[1].value.isdigit()):
                self.handle_expunge(int(args[1].value))
            if (len(args) > 4 and args[1].type == ATOM and args[2].type == LIST and
                    args[3].type in (NIL, ATOM, STRING, LITERAL) and args[4].astring() is not None):
                if up(args[1].value) == "LIST":
                    self.listed.append(args[4].astring())
                elif up(args[1].value) == "LSUB":
                    self.subscribed.append(args[4].astring())
            return
        if len(args) < 2 or args[1].type != ATOM:
            raise TestFailed("Broken tagged reply: %s" % _show(raw))
        p = None
        for c in self.pending:
            if c.tag == tag and c.reply is None:
                p = c
        if p is None:
            raise TestFailed("Unexpected tagged reply: %s" % _show(raw))
        status = up(args[1].value)
        if status not in ("OK", "NO", "BAD"):
            raise TestFailed("Broken tagged reply: %s" % _show(raw))
        p.reply = (status, args[1:], raw)
        if self.waiting_cont is p:
            self.waiting_cont = None
        self.pending.remove(p)
        if status == "BAD" and not p.expect_bad:
            raise TestFailed("BAD reply for command: %s\n - Reply: %s" %
                             (_show(p.cmdline), _show(raw)))
        # imap_client_handle_tagged_reply
        low = p.cmdline.lower()
        if status == "OK" and (low == "close" or low == "unselect"):
            conn.count = 0
        if status == "OK" and p.kind == "login":
            conn.logged_in = True
        conn.resp_code(raw)
        if matching and p.tcmd is not None:
            self.match_tagged(conn, p, args[1:], raw)
        self.pump()

    def wait_replies(self, conn, cmds, matching=False):
        # --timeout without any response, and a hard limit for a server that talks
        # without ever answering
        hard = time.monotonic() + 6 * self.runner.timeout
        deadline = time.monotonic() + self.runner.timeout
        while any(p.reply is None for p in cmds):
            try:
                self.read_one(conn, deadline, matching)
                deadline = min(hard, time.monotonic() + self.runner.timeout)
            except Timeout:
                waiting = [p for p in cmds if p.reply is None][0]
                raise TestFailed("Timeout (%ss) waiting for the reply to: %s" %
                                 (self.runner.timeout, _show(waiting.cmdline)))

    def drain(self, conn):
        """Process responses that are already here (during setup)."""
        while True:
            r, _, _ = select.select([conn.sock], [], [], 0)
            if r:
                try:
                    conn._fill(time.monotonic() + 1)
                except (Disconnected, Timeout):
                    return
            if not conn.has_line():
                return
            self.read_one(conn, time.monotonic() + self.runner.timeout, False)

    # -- matching against the script
    def match_untagged(self, conn, args, raw):
        group = self.group
        untagged = group.untagged
        if not untagged and (self.test.ignore_extra_untagged or conn.logout_sent):
            return
        prefix = bool(args) and args[0].type == ATOM and up(args[0].value) in ("OK", "NO", "BAD", "BYE")
        first = group.commands[0]
        tag = first.cur_tag
        ctx = self.ctx
        ctx.added = []
        found_some = False
        for i, ut in enumerate(untagged):
            if self.found[i]:
                continue
            if tag is not None:
                ctx.vars["tag"] = tag
            mc = ctx.match_args(ut.args, 0, args, 0, ALL, prefix)
            if tag is not None:
                ctx.vars.pop("tag", None)
            if mc == ALL:
                if ut.existence == MUST_NOT:
                    self.fail("Unexpected untagged match:\nMatch: %s\nReply: %s" %
                              (ut.text, _show(raw)))
                    return
                self.found[i] = True
                found_some = True
                ctx.added = []
                continue
            if self.maybes[i][0] < mc:
                self.maybes[i] = (mc, raw)
            for v in ctx.added:
                ctx.vars.pop(v, None)
            ctx.added = []
        if not found_some:
            self.mismatch_count += 1
            if not self.test.ignore_extra_untagged and self.first_extra is None:
                self.first_extra = raw

    def match_tagged(self, conn, p, args, raw):
        ctx = self.ctx
        ctx.vars["tag"] = p.tag
        mc = ctx.match_args(p.tcmd.reply, 0, args, 0, ALL, True)
        ctx.vars.pop("tag", None)
        if mc != ALL:
            self.fail("Expected tagged reply '%s', got '%s'" %
                      (args_to_str(p.tcmd.reply), _show(raw.split(" ", 1)[1])))
        p.tcmd.cur_tag = None

    def handle_expunge(self, seq):
        seqs = self.ctx.seqmap
        if seq > len(seqs):
            return
        for i in range(seq - 1, len(seqs)):
            if seqs[i] >= seq:
                if seqs[i] == seq:
                    seqs[i] = 0
                else:
                    seqs[i] -= 1

    def check_missing(self):
        group = self.group
        missing = [i for i, ut in enumerate(group.untagged)
                   if ut.existence == MUST and not self.found[i]]
        if missing:
            ut = group.untagged[missing[0]]
            expanded, _ = self.ctx.expand_all(ut.text[2:], True)
            best = self.maybes[missing[0]][1]
            self.fail("Missing %d untagged replies (%d mismatches)\n"
                      " - first unexpanded: %s\n - first expanded: %s\n - best match: %s" %
                      (len(missing), self.mismatch_count, ut.text[2:], _show(expanded),
                       _show(best or "")))
        if self.first_extra is not None:
            self.fail("%d unexpected untagged replies received, first: %s" %
                      (self.mismatch_count, _show(self.first_extra)))

    # -- the setup
    def setup(self):
        test = self.test
        runner = self.runner
        for i in range(test.connection_count):
            user, password = runner.user, runner.password
            if i in test.users:
                if test.users[i] is None:
                    user, password = runner.user2, runner.password2
                else:
                    user = test.users[i]
            if user is None:  # no --user2: connect as the first user, skipped later
                user, password = runner.user, runner.password
            runner.global_id += 1
            conn = Conn(runner, i, runner.global_id, user, password)
            self.conns.append(conn)
            vi = "" if i == 0 else str(i + 1)
            self.ctx.vars["user" + vi] = user
            self.ctx.vars["username" + vi] = user.split("@", 1)[0]
            self.ctx.vars["domain" + vi] = user.split("@", 1)[1] if "@" in user else runner.host
            self.ctx.vars["password" + vi] = password
        self.ctx.vars["mailbox"] = runner.mailbox
        self.ctx.vars["mailbox_url"] = _mailbox_url(runner.mailbox)
        self.source = MboxSource(test.mbox)

        deadline = time.monotonic() + runner.timeout
        for conn in self.conns:
            try:
                conn.connect()
            except OSError as e:
                raise TestFailed("connect failed: %s" % e)
        for conn in self.conns:
            banner = conn.read_response(deadline)
            if up(banner[:10]) == "* PREAUTH ":
                conn.logged_in = True
            elif up(banner[:5]) != "* OK ":
                raise TestFailed('Malformed banner "%s"' % banner)
            p = banner.upper().find("[CAPABILITY ")
            if p >= 0:
                conn.caps = banner[p + 12:].split("]", 1)[0].split(" ")
                if conn.logged_in:
                    conn.postlogin_caps = True
            else:
                self.command_wait(conn, "CAPABILITY", "capability")
        if test.state == "nonauth":
            return
        for conn in self.conns:
            if not conn.logged_in:
                p = self.command_wait(conn, "LOGIN %s %s" % (imap_quote(conn.user),
                                                             imap_quote(conn.password)),
                                      "login", ok_only=True)
        c0 = self.conns[0]
        if not c0.postlogin_caps:
            p = self.command_wait(c0, "CAPABILITY", "capability")
            if p.reply[0] != "OK" or not c0.postlogin_caps:
                raise TestFailed("CAPABILITY failed")
        if test.require_user2 and runner.user2 is None:
            raise Skip("needs a second user (--user2)")
        if test.capabilities:
            missing = [c for c in test.capabilities if not c0.has_cap(c)]
            if missing:
                raise Skip("missing capabilities: %s" % " ".join(missing))
        # delete old test mailboxes
        self.listed, self.subscribed = [], []
        mask = imap_quote(runner.mailbox + "*")
        p1 = self.send_command(c0, 'LIST "" %s' % mask, "list")
        p2 = self.send_command(c0, 'LSUB "" %s' % mask, "list")
        self.wait_replies(c0, [p1, p2])
        for p in (p1, p2):
            if p.reply[0] != "OK":
                raise TestFailed("%s failed: %s" % (p.cmdline, p.reply[2]))
        cmds = []
        for name in sorted(self.listed, key=up, reverse=True):
            cmds.append(self.send_command(c0, "DELETE %s" % imap_quote(name), "mdelete"))
        for name in sorted(self.subscribed, key=up, reverse=True):
            cmds.append(self.send_command(c0, "UNSUBSCRIBE %s" % imap_quote(name), "mdelete"))
        self.wait_replies(c0, cmds)
        if test.state == "auth":
            return
        if up(runner.mailbox) != "INBOX":
            self.command_wait(c0, "CREATE %s" % imap_quote(runner.mailbox), "mcreate",
                              ok_only=True)
        if test.state == "created":
            return
        left = test.message_count
        while left is None or left > 0:
            if left is None and self.source.eof():
                break
            if left is not None:
                left -= 1
            date, body = self.source.get_next()
            self.command_wait(c0, "APPEND %s \"%s\"" % (imap_quote(runner.mailbox), date),
                              "append", body=body, ok_only=True)
        if test.state == "appended":
            return
        for conn in self.conns:
            self.command_wait(conn, "SELECT %s" % imap_quote(runner.mailbox), "select",
                              ok_only=True)
        for conn in self.conns:
            self.drain(conn)

    def command_wait(self, conn, cmdline, kind, body=None, ok_only=False):
        p = self.send_command(conn, cmdline, kind, body=body)
        self.wait_replies(conn, [p])
        if ok_only and p.reply[0] != "OK":
            raise TestFailed("%s (tag %s) failed: %s" % (cmdline, p.tag, _show(p.reply[2])))
        return p

    # -- the script
    def run_groups(self):
        self.init_finished = True
        for gi, group in enumerate(self.test.groups):
            self.group_idx = gi
            self.group = group
            if group.conn_idx >= len(self.conns):
                raise TestFailed("connection %d not open" % (group.conn_idx + 1))
            conn = self.conns[group.conn_idx]
            self.found = [False] * len(group.untagged)
            self.maybes = [(0, None)] * len(group.untagged)
            self.mismatch_count = 0
            self.first_extra = None
            self.ctx.seqmap = list(range(1, conn.count + 1))
            cmds = []
            for tcmd in group.commands:
                cmds.append(self.send_test_command(conn, group, tcmd))
            try:
                self.wait_replies(conn, cmds, matching=True)
            except Disconnected:
                if group.have_untagged_bye and conn.seen_bye:
                    for tcmd in group.commands:
                        r = tcmd.reply
                        if not (len(r) == 1 and r[0].type == ATOM and r[0].value == ""):
                            self.fail("Command expected '%s' as tagged reply - only \"\" "
                                      "allowed when BYE happens" % args_to_str(r))
                    for p in cmds:
                        if p in self.pending:
                            self.pending.remove(p)
                    self.sendq = []
                    self.waiting_cont = None
                else:
                    raise TestFailed("Unexpected disconnection")
            self.check_missing()
            if group.sleep:
                time.sleep(group.sleep)

    def send_test_command(self, conn, group, tcmd):
        cmdline, err = self.ctx.expand_all(tcmd.text, False)
        if err:
            self.fail(err)
        low = cmdline.lower()
        if low == "append":
            date, body = self.source.get_next()
            p = self.send_command(conn, "APPEND %s \"%s\"" % (imap_quote(conn.storage), date),
                                  "append", tcmd=tcmd, body=body)
        elif low.startswith("append ") and not _append_has_body(cmdline[7:]):
            date, body = self.source.get_next()
            p = self.send_command(conn, "APPEND " + cmdline[7:], "append", tcmd=tcmd, body=body)
        else:
            if tcmd.linenum == 0 or low == "logout" or group.have_untagged_bye:
                conn.logout_sent = True
                kind = "logout"
            else:
                kind = "select"
            p = self.send_command(conn, cmdline, kind, tcmd=tcmd)
            r = tcmd.reply
            p.expect_bad = bool(r) and r[0].type == ATOM and up(r[0].value) == "BAD"
        tcmd.cur_tag = p.tag
        return p

    def run(self):
        self.pending = []
        self.sendq = []
        self.waiting_cont = None
        self.listed, self.subscribed = [], []
        test = self.test
        try:
            try:
                self.setup()
            except Skip as e:
                for conn in self.conns:
                    if conn.sock is not None:
                        try:
                            conn.send("%s LOGOUT\r\n" % conn.next_tag())
                        except Disconnected:
                            pass
                return Result(test.name, "SKIP", str(e))
            except (Disconnected, Timeout) as e:
                raise TestFailed("Unexpected disconnection (%s)" % e if isinstance(e, Disconnected)
                                 else "Timeout")
            except ParseError as e:
                raise TestFailed(str(e))
            if not self.failures:
                self.run_groups()
        except TestFailed as e:
            self.fail(str(e))
        except (Disconnected, Timeout) as e:
            self.fail("Unexpected disconnection" if isinstance(e, Disconnected) else "Timeout")
        except Exception as e:  # a bug here, or input nothing above expected
            import traceback
            self.fail("runner error: %r\n%s" % (e, traceback.format_exc()))
        finally:
            for conn in self.conns:
                conn.close()
        if self.failures:
            detail = "\n".join(self.failures[1:])
            return Result(test.name, "FAIL", self.failures[0], detail)
        return Result(test.name, "PASS")


def _append_has_body(text):
    try:
        args = parse_args(text)
    except ParseError:
        return False
    if not args:
        return False
    i = 0
    if len(args) > 1 and args[1].type == LIST:
        i += 1
    if len(args) > i + 1 and args[i + 1].type == STRING:
        i += 1
    if len(args) <= i + 1:
        return False
    a = args[i + 1]
    return a.type == LITERAL or (a.type == ATOM and up(a.value) == "CATENATE")


def _mailbox_url(name):
    # mUTF-7 -> UTF-8, then URL path encoding (';' escaped too)
    def dec(m):
        s = m.group(1)
        if s == "":
            return "&"
        b = s.replace(",", "/")
        b += "=" * (-len(b) % 4)

        return base64.b64decode(b).decode("utf-16-be")
    utf8 = re.sub(r"&([A-Za-z0-9+,]*)-", dec, name)
    return urllib.parse.quote(utf8, safe="/:@!$&'()*+,=-._~")


def _show(s):
    s = s if isinstance(s, str) else s.decode("latin-1")
    if len(s) > 400:
        s = s[:400] + "..."
    return s.replace("\r\n", "\\r\\n ")


# ---------------------------------------------------------------------------

class Runner:
    def __init__(self, host, port, user, password, user2=None, password2=None,
                 timeout=10.0, mailbox="imaptest", verbose=False, out=None):
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.user2 = user2
        self.password2 = password2 if password2 is not None else password
        self.timeout = timeout
        self.mailbox = mailbox
        self.verbose = verbose
        self.out = out or sys.stdout
        self.global_id = 0

    def trace(self, conn, direction, data):
        if self.verbose:
            text = data.decode("latin-1") if isinstance(data, bytes) else data
            for line in text.rstrip("\r\n").split("\r\n"):
                self.out.write("  [%d] %s %s\n" % (conn.idx + 1, direction, line[:300]))

    def run_test(self, test):
        if isinstance(test, ParseError):
            raise test
        return TestRun(self, test).run()


def run_tests(directory, host, port, user, password, user2=None, password2=None,
              names=None, timeout=10.0, verbose=False, out=None):
    """Run the groups in directory; returns a list of Result."""
    runner = Runner(host, port, user, password, user2, password2, timeout=timeout,
                    verbose=verbose, out=out)
    results = []
    for name, test in load_tests(directory, names):
        if isinstance(test, ParseError):
            results.append(Result(name, "FAIL", "test file: %s" % test))
        else:
            results.append(runner.run_test(test))
    return results


def format_result(r):
    if r.status == "PASS":
        return "PASS %s" % r.name
    text = "%s %s: %s" % (r.status, r.name, r.reason)
    if r.detail:
        text += "\n" + r.detail
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run imaptest scripted tests against an IMAP server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--user2")
    ap.add_argument("--password2")
    ap.add_argument("--test", action="append", default=[], help="run only this group (repeatable)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply")
    ap.add_argument("-v", "--verbose", action="store_true", help="show the protocol")
    ap.add_argument("dir")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.dir):
        ap.error("%s is not a folder" % a.dir)
    runner = Runner(a.host, a.port, a.user, a.password, a.user2, a.password2,
                    timeout=a.timeout, verbose=a.verbose)
    tests = load_tests(a.dir, set(a.test) or None)
    if a.test:
        unknown = set(a.test) - {n for n, _ in tests}
        if unknown:
            ap.error("no such test: %s" % " ".join(sorted(unknown)))
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for name, test in tests:
        if isinstance(test, ParseError):
            r = Result(name, "FAIL", "test file: %s" % test)
        else:
            r = runner.run_test(test)
        counts[r.status] += 1
        print(format_result(r), flush=True)
    print("%d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"], counts["SKIP"]))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""deliver-bench: local delivery with filters, `tern deliver` vs procmail and dovecot-lda.

COUNT messages (2-50 KB: personal and work mail, mailing lists, spam and spam-like mail,
notifications, bounces, attachments; made here with a fixed seed) are delivered one
process per message, each written to the agent's standard input through a pipe, as an
MTA runs a delivery agent, by six sides in the same run:

  tern-rc             tern deliver -a rc@example.test -f SENDER   (RC as the user's .procmailrc)
  tern-deliver-rc     tern-deliver -a rc2@example.test -f SENDER  (the agent alone, same RC)
  procmail            procmail -f SENDER -m MAILDIR=... DEFAULT=.../ ORGMAIL=.../ RCFILE
  tern-sieve          tern deliver -a sv@example.test -f SENDER   (SIEVE as the active script)
  tern-deliver-sieve  tern-deliver -a sv2@example.test -f SENDER
  dovecot-lda         dovecot-lda -c CONF -a sv@example.test -f SENDER   (Pigeonhole Sieve)

and three sides that take each batch (below) as one mbox on their standard input, one
process per batch, each message's sender in its From_ line:

  tern-rc-mbox        tern deliver -s -a rc3@example.test       (RC; peer: procmail-mbox)
  procmail-mbox       formail -s procmail -m MAILDIR=... ... RCFILE (procmail's own way)
  tern-sieve-mbox     tern deliver -s -a sv3@example.test       (SIEVE; peer: dovecot-lda,
                                                               which has no such mode)

RC is a 30-recipe personal rc file (header regexes on From/To/Subject/List-Id/Cc, body
conditions, weighted scoring, `c` copies, a nested block with MATCH, Maildir and mbox
folders with locks, /dev/null); most messages fall through to the default. SIEVE says the
same in Sieve (fileinto, :copy, body, regex with match variables, discard; RC's mbox
folders are Maildir folders there).

Each side delivers into its own folders under one temporary folder: Tern into a `tern init`
instance (the tests' Instance helper), procmail into a MAILDIR of its own with a HOME of
its own, Dovecot with a private config (mail_location, the sieve plugin, its log in a
file; no Dovecot service: dovecot-lda needs none when it delivers for the user that runs
it). Every process runs as the instance's account (tern), so no side switches users; each
side's standard error goes to its own log file. Afterwards the folders and message counts
of every Tern side are compared with its peer's: the run fails if they differ, so that
the comparison is fair.

Timing: WARMUP messages first, untimed, through every side (the folders are made: procmail
sleeps a second after it creates an mbox file). Then the messages go in batches of BATCH;
in every batch each side delivers the same messages, the order of the sides rotating from
batch to batch, so that load from elsewhere on the machine falls on all of them alike.
Prints, for each side, messages per second (total, and the spread of the per-batch
figures) and the CPU time per message of the agent processes (user + system, from
wait4); the ratios Tern/peer (overall, per batch, and on CPU); and the same figures for
/bin/true spawned from the same loop (the driver's floor).

Run as root from the source tree after building (build/src/tern/tern and tern-deliver):
    /usr/bin/python3 bench/deliver-bench.py [--count N] [--batch N] [--sides a,b] [--keep]
Needs the procmail (procmail, formail), dovecot-core and dovecot-sieve packages (no
Dovecot service used).
"""
import argparse
import json
import os
import pwd
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

DOMAIN = "example.test"
PROCMAIL = "/usr/bin/procmail"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
SLOW = 0.1  # seconds: a delivery slower than this is listed
# Tern's sides: `tern deliver` (the tern program, the lean front of src/tern/main.c) and
# the tern-deliver program (the agent alone), each with the rc file and with the Sieve
# script, each for a user of its own.
SIDES = ["tern-rc", "tern-deliver-rc", "procmail",
         "tern-sieve", "tern-deliver-sieve", "dovecot-lda",
         "tern-rc-mbox", "procmail-mbox", "tern-sieve-mbox"]
# The sides that take a whole batch as one mbox on their standard input, one process per
# batch: `tern deliver -s`, and procmail's own way of doing that, `formail -s procmail`.
MBOX_SIDES = {"tern-rc-mbox", "procmail-mbox", "tern-sieve-mbox"}
TERN_USERS = {"tern-rc": "rc@" + DOMAIN, "tern-deliver-rc": "rc2@" + DOMAIN,
              "tern-sieve": "sv@" + DOMAIN, "tern-deliver-sieve": "sv2@" + DOMAIN,
              "tern-rc-mbox": "rc3@" + DOMAIN, "tern-sieve-mbox": "sv3@" + DOMAIN}
LABELS = {"tern-rc": "tern deliver (rc)", "tern-deliver-rc": "tern-deliver (rc)",
          "tern-sieve": "tern deliver (Sieve)", "tern-deliver-sieve": "tern-deliver (Sieve)",
          "tern-rc-mbox": "tern deliver -s (rc)", "tern-sieve-mbox": "tern deliver -s (Sieve)",
          "procmail-mbox": "formail -s procmail", "true": "/bin/true"}
PEERS = {"tern-rc": "procmail", "tern-deliver-rc": "procmail",
         "tern-sieve": "dovecot-lda", "tern-deliver-sieve": "dovecot-lda",
         "tern-rc-mbox": "procmail-mbox", "tern-sieve-mbox": "dovecot-lda"}
TARGETS = {"procmail": 3, "procmail-mbox": 3, "dovecot-lda": 2}
FORMAIL = "/usr/bin/formail"

# ---------------------------------------------------------------- the filters

RC = r"""# A personal rc file of 30 recipes. MAILDIR and DEFAULT come from the caller.

# 1. spam tagged upstream
:0
* ^X-Spam-Flag: YES
spam/

# 2. spam by score: needs 50 points
:0
* -49^0
* 40^0 ^Subject:.*(viagra|lottery|winner|free money|cheap meds|act now)
* 30^0 ^From:.*@(promo|deals|offers)\.
* 20^0 ^X-Mailer:.*(MassMailer|BulkPro)
* 15^0 B ?? (click here|limited time offer)
* 10^0 ^Content-Type: text/html
spam/

# 3. borderline spam
:0
* ^X-Spam-Level: \*\*\*\*\*
maybe-spam/

# 4-6. lists with their own folders
:0:
* ^List-Id:.*<debian-devel\.lists\.debian\.org>
debian-devel.mbox

:0
* ^List-Id:.*<linux-kernel\.vger\.kernel\.org>
lkml/

:0:
* ^List-Id:.*<postfix-users\.postfix\.org>
postfix-users.mbox

# 7-8. announcements: an mbox archive copy, then a folder
:0 c:
* ^List-Id:.*<announce\.example\.com>
announce-archive.mbox

:0
* ^List-Id:.*<announce\.example\.com>
announce/

# 9. the example.org lists, a folder each
:0
* ^List-Id:.*\.example\.org>
{
  :0
  * ^List-Id:.*<\/[a-z0-9-]+
  list-$MATCH/
}

# 10. any other list
:0
* ^List-Id:
lists-other/

# 11. bounces
:0
* ^From:.*(MAILER-DAEMON|postmaster)@
bounces/

# 12-13. the boss: a copy of everything, urgent mail apart
:0 c
* ^From:.*boss@example\.com
boss-archive/

:0
* ^From:.*boss@example\.com
* ^Subject:.*(urgent|asap)
urgent/

# 14. security notices
:0
* ^Subject:.*\[SECURITY\]
security/

# 15. GitHub: mentions and review requests apart
:0
* ^From:.*notifications@github\.com
{
  :0
  * ^X-GitHub-Reason: (mention|review_requested)
  github-mentions/

  :0 E
  github/
}

# 16. JIRA
:0:
* ^From:.*jira@
* ^Subject:.*\[JIRA\]
jira.mbox

# 17. cron
:0
* ^Subject: Cron <
cron/

# 18. CI
:0
* ^Subject:.*build (failed|broken)
ci/

# 19. social networks
:0
* ^From:.*@(facebookmail|linkedin|twitter)\.com
social/

# 20. receipts
:0
* ^Subject:.*(receipt|order confirmation|your order)
receipts/

# 21. high priority
:0
* ^X-Priority: 1
priority/

# 22. sales
:0
* ^To:.*sales@example\.test
sales/

# 23. the team list by Cc
:0:
* ^Cc:.*team@example\.test
team.mbox

# 24. auto-replies go away
:0
* ^Subject:.*(out of office|automatic reply)
/dev/null

# 25. newsletters: unsubscribe links but no list
:0
* ^List-Unsubscribe:
* ! ^List-Id:
newsletters/

# 26. signed mail
:0
* B ?? ^-----BEGIN PGP SIGNED MESSAGE-----
signed/

# 27. invoices
:0
* ^Subject:.*invoice
* B ?? (amount due|total due)
invoices/

# 28. big attachments
:0
* ^Content-Type: multipart/mixed
* > 40000
attachments/

# 29. foreign charsets
:0
* ^Content-Type:.*charset="?(big5|gb2312|koi8-r)
foreign/

# 30. family: a backup copy, then on to the INBOX
:0 c:
* ^From:.*@family\.example\.net
family-backup.mbox
"""

SIEVE = r"""# The rc file's 30 recipes in Sieve (mbox folders become Maildir folders of that name).
require ["fileinto", "copy", "body", "regex", "variables"];

if header :is "x-spam-flag" "YES" { fileinto "spam"; stop; }

# 40 subject, 30 sender, 20 mailer, 15 body, 10 html: 50 points or more
if anyof (allof (header :contains "subject" ["viagra", "lottery", "winner", "free money",
                                             "cheap meds", "act now"],
                 anyof (header :regex "from" "@(promo|deals|offers)\\.",
                        header :contains "x-mailer" ["MassMailer", "BulkPro"],
                        body :contains ["click here", "limited time offer"],
                        header :matches "content-type" "text/html*")),
          allof (header :regex "from" "@(promo|deals|offers)\\.",
                 header :contains "x-mailer" ["MassMailer", "BulkPro"]),
          allof (header :regex "from" "@(promo|deals|offers)\\.",
                 body :contains ["click here", "limited time offer"],
                 header :matches "content-type" "text/html*")) {
  fileinto "spam"; stop;
}

if header :contains "x-spam-level" "*****" { fileinto "maybe-spam"; stop; }

if header :contains "list-id" "<debian-devel.lists.debian.org>" {
  fileinto "debian-devel.mbox"; stop;
}
if header :contains "list-id" "<linux-kernel.vger.kernel.org>" { fileinto "lkml"; stop; }
if header :contains "list-id" "<postfix-users.postfix.org>" {
  fileinto "postfix-users.mbox"; stop;
}
if header :contains "list-id" "<announce.example.com>" {
  fileinto :copy "announce-archive.mbox";
  fileinto "announce"; stop;
}
if header :regex "list-id" "<([a-z0-9-]+)[.]example[.]org>" {
  fileinto "list-${1}"; stop;
}
if exists "list-id" { fileinto "lists-other"; stop; }

if header :regex "from" "(MAILER-DAEMON|postmaster)@" { fileinto "bounces"; stop; }

if header :contains "from" "boss@example.com" {
  fileinto :copy "boss-archive";
  if header :contains "subject" ["urgent", "asap"] { fileinto "urgent"; stop; }
}

if header :contains "subject" "[SECURITY]" { fileinto "security"; stop; }

if header :contains "from" "notifications@github.com" {
  if header :regex "x-github-reason" "^(mention|review_requested)" {
    fileinto "github-mentions";
  } else {
    fileinto "github";
  }
  stop;
}

if allof (header :contains "from" "jira@", header :contains "subject" "[JIRA]") {
  fileinto "jira.mbox"; stop;
}
if header :matches "subject" "Cron <*" { fileinto "cron"; stop; }
if header :regex "subject" "build (failed|broken)" { fileinto "ci"; stop; }
if header :regex "from" "@(facebookmail|linkedin|twitter)[.]com" { fileinto "social"; stop; }
if header :contains "subject" ["receipt", "order confirmation", "your order"] {
  fileinto "receipts"; stop;
}
if header :matches "x-priority" "1*" { fileinto "priority"; stop; }
if header :contains "to" "sales@example.test" { fileinto "sales"; stop; }
if header :contains "cc" "team@example.test" { fileinto "team.mbox"; stop; }
if header :contains "subject" ["out of office", "automatic reply"] { discard; stop; }
if allof (exists "list-unsubscribe", not exists "list-id") {
  fileinto "newsletters"; stop;
}
if body :contains "-----BEGIN PGP SIGNED MESSAGE-----" { fileinto "signed"; stop; }
if allof (header :contains "subject" "invoice",
          body :contains ["amount due", "total due"]) {
  fileinto "invoices"; stop;
}
if allof (header :matches "content-type" "multipart/mixed*", size :over 40000) {
  fileinto "attachments"; stop;
}
if header :regex "content-type" "charset=\"?(big5|gb2312|koi8-r)" { fileinto "foreign"; stop; }
if header :contains "from" "@family.example.net" { fileinto :copy "family-backup.mbox"; }
"""

# Sieve folder names with '.' would be hierarchy separators in Maildir++: the Sieve side
# uses these names for the rc file's mbox folders.
SIEVE_NAMES = {"debian-devel.mbox": "debian-devel_mbox", "postfix-users.mbox":
               "postfix-users_mbox", "announce-archive.mbox": "announce-archive_mbox",
               "jira.mbox": "jira_mbox", "team.mbox": "team_mbox",
               "family-backup.mbox": "family-backup_mbox"}
for _old, _new in SIEVE_NAMES.items():
    SIEVE = SIEVE.replace('"%s"' % _old, '"%s"' % _new)

# ---------------------------------------------------------------- the messages

WORDS = ("the of and to in is that for it as with was on be by at this have from or an "
         "they which one you were all we when there can more if out so what about would "
         "their time up other into than them only some could these two may first then do "
         "any like my now over such our man me even most made after also did many before "
         "must through back years where much your way well down should because each just "
         "those people how too little state good very make world still own see men work "
         "long get here between both life being under never day same another know while "
         "server patch kernel release build deploy review meeting budget quarter draft").split()
PEOPLE = [("Alice Martin", "alice.martin@example.org"), ("Bob Stone", "bob@example.com"),
          ("Carol Diaz", "carol@example.net"), ("Dan Kowalski", "dan.k@example.org"),
          ("Erin Walsh", "erin@corp.example.com"), ("Frank Ito", "frank.ito@example.net"),
          ("Grace Hall", "grace@example.test"), ("Hank Moore", "hank@example.test"),
          ("Ivy Chen", "ivy.chen@example.org"), ("Jon Berg", "jon@uni.example.edu")]
SUBJECTS = ["lunch on thursday?", "Re: the draft for Q3", "notes from today", "quick question",
            "Re: Re: travel plans", "slides for the talk", "Fwd: contract review",
            "weekly sync", "Re: server move", "budget numbers", "holiday photos",
            "Re: patch for the parser", "status", "can you review this?", "meeting notes",
            "Re: invoice from last month", "tickets for saturday", "new office layout"]
LISTS = [("debian-devel", "debian-devel.lists.debian.org", "Debian Development"),
         ("linux-kernel", "linux-kernel.vger.kernel.org", "Linux Kernel"),
         ("postfix-users", "postfix-users.postfix.org", "Postfix users"),
         ("announce", "announce.example.com", "Example announcements"),
         ("python-dev", "python-dev.example.org", "Python development"),
         ("rust-users", "rust-users.example.org", "Rust users"),
         ("ops", "ops.example.org", "Operations"),
         ("golang-nuts", "golang-nuts.googlegroups.example", "golang-nuts")]
SPAM_SUBJECTS = ["You are a WINNER!!!", "lottery results: claim now", "cheap meds online",
                 "free money waiting", "act now: offer ends", "Viagra 80% off",
                 "your account statement", "important notice", "hello dear"]
SPAM_FROMS = ["promo@promo.example.biz", "sales@deals.example.info", "news@offers.example.cc",
              "admin@randomhost.example.ru", "winner@lucky.example.top"]


def text_lines(rng, size, extra=()):
    lines = list(extra)
    n = sum(len(x) + 1 for x in lines)
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 14))).capitalize() + "."
        lines.append(line)
        n += len(line) + 1
        if rng.random() < 0.12:
            lines.append("")
            n += 1
    return lines


def b64_block(rng, size):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out, n = [], 0
    while n < size:
        out.append("".join(rng.choice(alphabet) for _ in range(76)))
        n += 77
    return out


def pick_size(rng):
    return rng.choice([2, 2, 3, 3, 4, 4, 5, 6, 6, 8, 10, 12, 16, 20, 24, 32, 50]) * 1024


def make_message(rng, i):
    """(envelope sender, bytes) of message i."""
    t = 1780000000 + i * 37
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    received = []
    for hop in range(rng.randrange(1, 4)):
        received.append("Received: from mx%d.example.net (mx%d.example.net [198.51.100.%d])\n"
                        "\tby mx.example.test with ESMTPS id %08X%04X\n"
                        "\tfor <alice@example.test>; %s"
                        % (hop, hop, rng.randrange(1, 255), rng.randrange(1 << 32), i, date))
    h = {"From": None, "To": "Alice <alice@example.test>", "Subject": rng.choice(SUBJECTS)}
    extra = []  # further header lines
    ctype = "text/plain; charset=utf-8"
    body_extra = []
    size = pick_size(rng)
    attach = False
    kind = rng.random()
    name, addr = rng.choice(PEOPLE)
    h["From"] = "%s <%s>" % (name, addr)
    sender = addr
    if kind < 0.64:  # personal and work mail: most of it reaches the INBOX
        r = rng.random()
        if r < 0.04:
            h["From"], sender = "The Boss <boss@example.com>", "boss@example.com"
            if rng.random() < 0.4:
                h["Subject"] = "urgent: " + rng.choice(SUBJECTS)
        elif r < 0.07:
            h["From"] = "Aunt May <may@family.example.net>"
            sender = "may@family.example.net"
        elif r < 0.10:
            extra.append("Cc: Team <team@example.test>")
        elif r < 0.115:
            h["To"] = "sales@example.test"
        elif r < 0.13:
            extra.append("X-Priority: 1 (Highest)")
        elif r < 0.15:
            body_extra = ["-----BEGIN PGP SIGNED MESSAGE-----", "Hash: SHA256", ""]
        elif r < 0.165:
            h["Subject"] = "invoice 2026-%04d" % i
            body_extra = ["Total due: EUR %d.00" % rng.randrange(10, 900), ""]
        elif r < 0.18:
            h["Subject"] = "Automatic reply: " + rng.choice(SUBJECTS)
        elif r < 0.19:
            ctype = 'text/plain; charset="koi8-r"'
        if rng.random() < 0.12:
            attach = True
            size = rng.choice([20, 30, 45, 50]) * 1024
    elif kind < 0.79:  # mailing lists
        lid, host, desc = rng.choice(LISTS)
        h["To"] = "%s@%s" % (lid, host.split(".", 1)[1] if lid != "linux-kernel" else "vger.kernel.org")
        extra += ["List-Id: %s <%s>" % (desc, host),
                  "List-Unsubscribe: <mailto:%s-unsubscribe@%s>" % (lid, host),
                  "Precedence: list", "Sender: %s-bounces@%s" % (lid, host)]
        h["Subject"] = "[%s] %s" % (lid, rng.choice(SUBJECTS))
        sender = "%s-bounces@%s" % (lid, host)
        if rng.random() < 0.05:
            h["Subject"] = "[SECURITY] [DSA-%d] update" % i
    elif kind < 0.86:  # spam and spam-like mail, not all of it over the threshold
        h["From"] = "Offers <%s>" % rng.choice(SPAM_FROMS)
        sender = h["From"][8:-1]
        h["Subject"] = rng.choice(SPAM_SUBJECTS)
        if rng.random() < 0.5:
            extra.append("X-Mailer: %s" % rng.choice(["MassMailer 4.1", "BulkPro", "Outlook"]))
        if rng.random() < 0.5:
            ctype = "text/html; charset=us-ascii"
        if rng.random() < 0.5:
            body_extra = [rng.choice(["Click here to claim.", "A limited time offer for you."])]
        r = rng.random()
        if r < 0.25:
            extra.append("X-Spam-Flag: YES")
        if r < 0.5:
            extra.append("X-Spam-Level: " + "*" * rng.randrange(3, 9))
        if rng.random() < 0.2:
            ctype = 'text/plain; charset="gb2312"'
        size = rng.choice([2, 3, 4, 6]) * 1024
    else:  # machines: notifications, cron, CI, bounces, receipts, newsletters, social
        r = rng.random()
        if r < 0.25:
            h["From"] = "Someone <notifications@github.com>"
            sender = "noreply@github.com"
            h["Subject"] = "Re: [tern/tern] issue #%d" % rng.randrange(1, 999)
            extra.append("X-GitHub-Reason: %s" % rng.choice(
                ["mention", "review_requested", "subscribed", "author", "comment"]))
        elif r < 0.35:
            h["From"] = "Cron Daemon <root@host.example.test>"
            sender = "root@host.example.test"
            h["Subject"] = "Cron <root@host> /usr/local/bin/backup"
        elif r < 0.45:
            h["From"] = "CI <ci@build.example.com>"
            sender = "ci@build.example.com"
            h["Subject"] = "build %s: main #%d" % (rng.choice(["failed", "passed", "broken"]), i)
        elif r < 0.55:
            h["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.net>"
            sender = ""
            h["Subject"] = "Undelivered Mail Returned to Sender"
        elif r < 0.65:
            h["From"] = "Shop <orders@shop.example.com>"
            sender = "bounce@shop.example.com"
            h["Subject"] = rng.choice(["Your order has shipped", "Receipt for your payment",
                                       "Order confirmation 12345"])
        elif r < 0.78:
            h["From"] = "Weekly News <news@news.example.com>"
            sender = "bounce@news.example.com"
            h["Subject"] = "This week in tech"
            extra.append("List-Unsubscribe: <https://news.example.com/u/%d>" % i)
            ctype = "text/html; charset=utf-8"
        elif r < 0.86:
            dom = rng.choice(["facebookmail", "linkedin", "twitter"])
            h["From"] = "Network <notify@%s.com>" % dom
            sender = "bounce@%s.com" % dom
            h["Subject"] = "You have new notifications"
        elif r < 0.93:
            h["From"] = "JIRA <jira@issues.example.com>"
            sender = "jira@issues.example.com"
            h["Subject"] = "[JIRA] (PROJ-%d) something changed" % i
        else:
            h["From"] = "Monitoring <alerts@mon.example.com>"
            sender = "alerts@mon.example.com"
            h["Subject"] = "disk usage at %d%%" % rng.randrange(70, 99)
        size = rng.choice([2, 3, 4, 5, 8]) * 1024
    head = received[:]
    if rng.random() < 0.3:
        head.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\n"
                    "\ts=sel1; h=from:to:subject:date:message-id;\n"
                    "\tbh=%s=;\n\tb=%s" % ("".join(b64_block(rng, 40))[:43],
                                            "\n\t".join(b64_block(rng, 300))))
    head += ["From: " + h["From"], "To: " + h["To"], "Subject: " + h["Subject"],
             "Date: " + date, "Message-ID: <%d.%x@example.org>" % (i, rng.randrange(1 << 40))]
    if rng.random() < 0.3:
        head.append("In-Reply-To: <%d.%x@example.org>" % (i - 1, rng.randrange(1 << 40)))
    head += extra
    head.append("MIME-Version: 1.0")
    if attach:
        boundary = "=_b%08x" % rng.randrange(1 << 32)
        head.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
        text = text_lines(rng, 1500, body_extra)
        body = (["This is a multi-part message in MIME format.", "", "--" + boundary,
                 "Content-Type: " + ctype, ""] + text +
                ["", "--" + boundary, "Content-Type: application/pdf; name=\"doc%d.pdf\"" % i,
                 "Content-Transfer-Encoding: base64",
                 "Content-Disposition: attachment; filename=\"doc%d.pdf\"" % i, ""] +
                b64_block(rng, size - 2000) + ["", "--" + boundary + "--"])
    else:
        head.append("Content-Type: " + ctype)
        text = text_lines(rng, size - sum(len(x) + 1 for x in head), body_extra)
        if ctype.startswith("text/html"):
            text = ["<html><body>"] + ["<p>%s</p>" % t if t else "" for t in text] + \
                   ["</body></html>"]
        body = text
    return sender, ("\n".join(head) + "\n\n" + "\n".join(body) + "\n").encode()


def make_corpus(path, count, seed):
    os.makedirs(path)
    rng = random.Random(seed)
    senders = []
    total = 0
    for i in range(count):
        sender, data = make_message(rng, i)
        with open(os.path.join(path, "%06d" % i), "wb") as f:
            f.write(data)
        senders.append(sender)
        total += len(data)
    return senders, total


# ---------------------------------------------------------------- the sides

DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols =
mail_location = maildir:{d}/home/Maildir
postmaster_address = postmaster@example.test
hostname = mx.example.test
lda_mailbox_autocreate = yes
mail_plugins = sieve
plugin {{
  sieve = file:{d}/home/sieve;active={d}/home/.dovecot.sieve
}}
"""


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(d, n), uid, gid)


def setup(base, tern, uid, gid, tern_bin, deliver_bin):
    """Folders and configs of every side: {side: (argv prefix, env, mail folder)}."""
    env0 = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C"}
    tenv = dict(env0, TERN_CONF=tern.conf)
    sides = {}
    for side in SIDES:
        if not side.startswith("tern"):
            continue
        user = TERN_USERS[side]
        tern.add_user(user, "pw-" + user)
        os.makedirs(os.path.join(tern.maildir(user), "tmp"), exist_ok=True)
        if "-rc" in side:
            with open(os.path.join(tern.maildir(user), ".procmailrc"), "w") as f:
                f.write(RC)
        else:
            sdir = os.path.join(tern.dir, "inst", "data", "sieve", DOMAIN, user.split("@")[0])
            os.makedirs(sdir, exist_ok=True)
            with open(os.path.join(sdir, "active.sieve"), "w") as f:
                f.write(SIEVE)
        cmd = [deliver_bin] if side.startswith("tern-deliver") else [tern_bin, "deliver"]
        if side in MBOX_SIDES:  # the senders are in the From_ lines
            sides[side] = (cmd + ["-s", "-a", user], tenv, tern.maildir(user))
        else:
            sides[side] = (cmd + ["-a", user, "-f"], tenv, tern.maildir(user))
    chown_tree(os.path.join(tern.dir, "inst", "data"), uid, gid)

    p = os.path.join(base, "procmail")
    os.makedirs(os.path.join(p, "home"))
    os.makedirs(os.path.join(p, "mail"))
    rcfile = os.path.join(p, "home", ".procmailrc")
    with open(rcfile, "w") as f:
        f.write(RC)
    chown_tree(p, uid, gid)
    pmail = os.path.join(p, "mail")
    penv = dict(env0, HOME=os.path.join(p, "home"), LOGNAME="tern", USER="tern")
    sides["procmail"] = ([PROCMAIL, "-m", "MAILDIR=" + pmail, "DEFAULT=%s/" % pmail,
                          "ORGMAIL=%s/" % pmail, rcfile, "-f"], penv, pmail)
    # formail -s procmail: the same rc file, a MAILDIR of its own
    p2 = os.path.join(base, "procmail-mbox")
    os.makedirs(os.path.join(p2, "mail"))
    chown_tree(p2, uid, gid)
    pmail2 = os.path.join(p2, "mail")
    sides["procmail-mbox"] = ([FORMAIL, "-s", PROCMAIL, "-m", "MAILDIR=" + pmail2,
                               "DEFAULT=%s/" % pmail2, "ORGMAIL=%s/" % pmail2, rcfile], penv,
                              pmail2)

    d = os.path.join(base, "dovecot")
    os.makedirs(os.path.join(d, "home"))
    with open(os.path.join(d, "dovecot.conf"), "w") as f:
        f.write(DOVECOT_CONF.format(d=d))
    with open(os.path.join(d, "home", ".dovecot.sieve"), "w") as f:
        f.write(SIEVE)
    chown_tree(d, uid, gid)
    denv = dict(env0, HOME=os.path.join(d, "home"), USER="tern", LOGNAME="tern")
    sides["dovecot-lda"] = ([DOVECOT_LDA, "-c", os.path.join(d, "dovecot.conf"), "-a",
                             "sv@" + DOMAIN, "-f"], denv, os.path.join(d, "home", "Maildir"))
    return sides


def argv_for(side, prefix, sender):
    if side in MBOX_SIDES:
        return prefix
    if side == "procmail":
        # procmail wants -f before -m; the rest are -m's arguments
        return [prefix[0], "-f", sender or "<>"] + prefix[1:-1]
    return prefix + [sender or "<>"]


# ---------------------------------------------------------------- the timed loop

def mbox_of(msgs, senders):
    """The messages as one mbox (From_ lines with their senders, mboxrd quoting, an empty
    line after each), as `formail -s` and `tern deliver -s` read it."""
    out = []
    for data, sender in zip(msgs, senders):
        out.append(b"From %s  Thu Nov 26 07:00:00 2026\n" % (sender or "MAILER-DAEMON").encode())
        out.append(re.sub(rb"(?m)^(>*From )", rb">\1", data))
        out.append(b"\n" if data.endswith(b"\n") else b"\n\n")
    return b"".join(out)


def spawn_wait(argv, env, data, logfd, devnull):
    """Runs argv with data on a pipe as its standard input (as an MTA hands a message to
    its delivery agent); its exit code."""
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, r, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, logfd, 2), (os.POSIX_SPAWN_CLOSE, w)])
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(w, view):]
    except BrokenPipeError:
        pass  # the agent stopped reading: its exit code says why
    finally:
        os.close(w)
    _, status, ru = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime


def timed_loop(sides, corpus, senders, batch, warmup, logs, order):
    """Runs in a child as the unprivileged account. Returns the per-batch figures."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    logfds = {s: os.open(logs[s], os.O_WRONLY | os.O_APPEND) for s in order}
    count = len(senders)
    out = {s: [] for s in order + ["true"]}
    cpu = {s: 0.0 for s in order + ["true"]}
    fails = {s: 0 for s in order}
    slow = {s: [] for s in order}

    def load(i):
        with open(os.path.join(corpus, "%06d" % i), "rb") as f:
            return f.read()

    def deliver(side, i, data):
        prefix, env, _ = sides[side]
        t = time.perf_counter()
        code, c = spawn_wait(argv_for(side, prefix, senders[i]), env, data, logfds[side],
                             devnull)
        t = time.perf_counter() - t
        cpu[side] += c
        if code != 0:
            fails[side] += 1
            os.write(logfds[side], b"bench: message %06d: exit %d\n" % (i, code))
        if t > SLOW:
            slow[side].append((i, round(t, 3)))

    def deliver_mbox(side, idx, data):
        """A batch as one mbox, to one process."""
        prefix, env, _ = sides[side]
        code, c = spawn_wait(prefix, env, data, logfds[side], devnull)
        cpu[side] += c
        if code != 0:
            fails[side] += 1
            os.write(logfds[side], b"bench: batch from %06d: exit %d\n" % (idx[0], code))

    single = [s for s in order if s not in MBOX_SIDES]
    # Untimed: the folders are made (procmail sleeps a second after creating an mbox
    # file), the caches warm.
    first = range(min(warmup, count))
    for i in first:
        data = load(i)
        for side in single:
            deliver(side, i, data)
    if len(single) < len(order):
        warm = mbox_of([load(i) for i in first], [senders[i] for i in first])
        for side in order:
            if side in MBOX_SIDES:
                deliver_mbox(side, first, warm)
    for s in order:
        slow[s] = []
        cpu[s] = 0.0
    for b, start in enumerate(range(0, count, batch)):
        idx = range(start, min(count, start + batch))
        msgs = [load(i) for i in idx]
        box = mbox_of(msgs, [senders[i] for i in idx]) if len(single) < len(order) else b""
        k = b % len(order)
        for side in order[k:] + order[:k]:
            t0 = time.perf_counter()
            if side in MBOX_SIDES:
                deliver_mbox(side, idx, box)
            else:
                for i, data in zip(idx, msgs):
                    deliver(side, i, data)
            out[side].append((len(idx), time.perf_counter() - t0))
        # the driver's floor: the same loop running /bin/true (a tenth of the batch)
        t0 = time.perf_counter()
        n = max(1, len(idx) // 10)
        for data in msgs[:n]:
            cpu["true"] += spawn_wait(["/bin/true"], {}, b"", devnull, devnull)[1]
        out["true"].append((n, time.perf_counter() - t0))
    return {"batches": out, "fails": fails, "slow": slow, "cpu": cpu}


def run_as(uid, gid, fn, *args):
    """fn(*args) in a child process with uid/gid; its JSON result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            data = json.dumps(fn(*args)).encode()
            while data:
                data = data[os.write(w, data):]
        except BaseException as e:  # report and leave
            sys.stderr.write("bench child: %r\n" % (e,))
            code = 1
        os._exit(code)
    os.close(w)
    chunks = []
    while True:
        c = os.read(r, 65536)
        if not c:
            break
        chunks.append(c)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the timed loop failed")
    return json.loads(b"".join(chunks))


# ---------------------------------------------------------------- the outcome check

def mbox_count(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if line.startswith(b"From "))


def folders(top, maildirpp):
    """{folder name: messages}: INBOX is top's own new/+cur/; Maildir++ (.NAME) folders when
    maildirpp, else NAME/ Maildirs and mbox files under top."""
    out = {}
    for name in sorted(os.listdir(top)):
        p = os.path.join(top, name)
        if name in ("new", "cur"):
            out["INBOX"] = out.get("INBOX", 0) + len(os.listdir(p))
        elif name in ("tmp",) or name.startswith("dovecot") or name.startswith(".tern"):
            continue
        elif os.path.isdir(p) and os.path.isdir(os.path.join(p, "new")):
            if maildirpp != name.startswith("."):
                continue
            n = len(os.listdir(os.path.join(p, "new"))) + len(os.listdir(os.path.join(p, "cur")))
            out[name[1:] if maildirpp else name] = n
        elif not maildirpp and os.path.isfile(p) and not name.startswith("."):
            out[name] = mbox_count(p)
    return {k: v for k, v in out.items() if v}


def compare(a_name, a, b_name, b):
    if a == b:
        return True
    print("MISMATCH: %s vs %s" % (a_name, b_name))
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("   %-24s %8s %8s" % (k, a.get(k), b.get(k)))
    return False


# ---------------------------------------------------------------- report

def spread(values):
    values = sorted(values)
    return values[0], statistics.median(values), values[-1]


def report(res, order, count, batch):
    bt = res["batches"]
    rate = {s: sum(n for n, _ in bt[s]) / sum(t for _, t in bt[s]) for s in bt}
    per = {s: [n / t for n, t in bt[s]] for s in bt}
    print("\n%d messages per side, batches of %d, sides alternating" % (count, batch))
    cpu = {s: res["cpu"][s] * 1000 / sum(n for n, _ in bt[s]) for s in bt}
    print("  %-20s %8s   %-32s %s" % ("side", "msg/s", "per batch: min / median / max",
                                      "CPU ms/msg"))
    for s in order + ["true"]:
        lo, med, hi = spread(per[s])
        print("  %-20s %8.0f   %-32s %.2f" % (LABELS.get(s, s), rate[s],
                                              "%.0f / %.0f / %.0f" % (lo, med, hi), cpu[s]))
    for t in order:
        peer = PEERS.get(t)
        if peer not in order:
            continue
        ratios = [a / b for a, b in zip(per[t], per[peer])]
        lo, med, hi = spread(ratios)
        print("  %s / %s: %.2fx (per batch %.2f / %.2f / %.2f; target %dx); CPU: %.2fx"
              % (LABELS[t], peer, rate[t] / rate[peer], lo, med, hi, TARGETS[peer],
                 cpu[peer] / cpu[t]))
    print(flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tern", default=os.path.join(ROOT, "build", "src", "tern", "tern"))
    ap.add_argument("--tern-deliver", default=None,
                    help="the tern-deliver program (default: beside --tern)")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--warmup", type=int, default=300, help="untimed deliveries first")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--sides", default=",".join(SIDES), help="a subset, for profiling")
    ap.add_argument("--dir", default="/var/tmp", help="where the corpus and folders go")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (every side then runs as the instance's account)")
    for path, pkg in ((PROCMAIL, "procmail"), (FORMAIL, "procmail"),
                      (DOVECOT_LDA, "dovecot-core dovecot-sieve")):
        if not os.access(path, os.X_OK):
            sys.exit("no %s: apt-get install %s" % (path, pkg))
    a.tern = os.path.abspath(a.tern)
    a.tern_deliver = os.path.abspath(a.tern_deliver or os.path.join(
        os.path.dirname(a.tern), "tern-deliver"))
    os.environ["TERN_BIN"] = a.tern
    import conftest  # noqa: E402  (the tests' instance helper; reads TERN_BIN)

    order = [s for s in SIDES if s in a.sides.split(",")]
    if any(s.startswith("tern-deliver") for s in order) and not os.access(a.tern_deliver,
                                                                            os.X_OK):
        sys.exit("no %s (ninja -C build), or leave it out with --sides" % a.tern_deliver)
    base = tempfile.mkdtemp(prefix="deliver-bench-", dir=a.dir)
    os.chmod(base, 0o755)
    # The instance in the same folder as the others' mailboxes: the file system's cost of
    # making a file depends on where it is (ext4 looks for free inodes near the folder).
    tempfile.tempdir = base
    tern = conftest.Instance()
    try:
        pw = pwd.getpwnam("tern")  # tern init's run_user: every side runs as it
        uid, gid = pw.pw_uid, pw.pw_gid
        t0 = time.time()
        corpus = os.path.join(base, "corpus")
        senders, total = make_corpus(corpus, a.count, a.seed)
        chown_tree(corpus, uid, gid)
        print("corpus: %d messages, %.1f MB, in %.0f s" % (a.count, total / 1e6,
                                                           time.time() - t0), flush=True)
        sides = setup(base, tern, uid, gid, a.tern, a.tern_deliver)
        logs = {s: os.path.join(base, "%s.log" % s) for s in order}
        for path in logs.values():
            open(path, "w").close()
            os.chown(path, uid, gid)
        res = run_as(uid, gid, timed_loop, sides, corpus, senders, a.batch, a.warmup, logs,
                     order)
        for s, n in res["fails"].items():
            if n:
                print("%s: %d deliveries failed; the end of %s:" % (s, n, logs[s]))
                print("".join(open(logs[s], errors="replace").readlines()[-10:]))
        for s, lst in res["slow"].items():
            if lst:
                print("%s: %d deliveries took over %.1f s: %s" % (
                    s, len(lst), SLOW, ", ".join("#%d %.2f s" % tuple(x) for x in lst[:10])))
        got = {s: folders(sides[s][2], "sieve" in s or s == "dovecot-lda") for s in order}
        ok = not any(res["fails"].values())
        for s in order:
            print("%-20s %s" % (LABELS.get(s, s),
                                " ".join("%s=%d" % kv for kv in sorted(got[s].items()))))
        for s in order:
            if PEERS.get(s) in got:
                ok = compare(LABELS[s], got[s], PEERS[s], got[PEERS[s]]) and ok
        report(res, order, a.count, a.batch)
        if not ok:
            raise SystemExit("the sides did not deliver alike: no fair comparison")
    finally:
        if a.keep:
            print("kept", base, tern.dir)
        else:
            tern.cleanup()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

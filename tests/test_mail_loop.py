"""A mail loop between two Tern instances is ended with a bounce (RFC 5321 6.3).

Instance A routes loop.test to B and B routes it back to A (per-domain transport routes,
a misconfiguration that happens). Each SMTP hop adds a Received: field; the instance that
receives the message with more than max_hops of them refuses it at the end of DATA with
554 5.4.6, and the one that sent it returns it to the sender: one bounce, Status 5.4.6,
and the message circulates no more. B's local domain is b.test, so the sender's domain
(example.test) is A's alone and B sends A any bounce of its own.
"""
import re
import time

from test_dsn import parse
from test_relay import wait_queue_empty


def hops(inst):
    return len(re.findall(r"to=<x@loop\.test>, relay=\S+, status=sent", inst.log()))


def test_loop_between_two_instances_bounces_once(tern_factory):
    a = tern_factory(start=False)
    b = tern_factory(start=False)
    a.set_option("transport_map", "loop.test relay:[127.0.0.1]:%d" % b.ports["smtp"])
    b.set_option("domains", "b.test")
    b.set_option("transport_map", "loop.test relay:[127.0.0.1]:%d, "
                 "example.test relay:[127.0.0.1]:%d" % (a.ports["smtp"], a.ports["smtp"]))
    for inst in (a, b):
        inst.set_option("queue_retry_min", "1s")
        inst.set_option("queue_retry_max", "2s")
        inst.start()
    r = a.run("sendmail", "-i", "-f", "alice@example.test", "x@loop.test",
              input=b"Subject: round and round\n\nloop body\n")
    assert r.returncode == 0, r.stderr

    files = a.wait_messages("alice@example.test", 1, timeout=60)
    assert len(files) == 1, a.log()[-3000:] + b.log()[-3000:]
    assert wait_queue_empty(a) and wait_queue_empty(b), (a.run("mailq").stdout,
                                                        b.run("mailq").stdout)
    sent = hops(a) + hops(b)
    time.sleep(3)  # still circulating? then more hops would be logged by now
    assert hops(a) + hops(b) == sent
    assert len(a.message_files("alice@example.test")) == 1

    # The hop limit (max_hops, 50): the message enters A with one Received field
    # (sendmail's), each hop adds one, and the instance that would have to add the 51st
    # refuses: 49 hops taken.
    assert sent == 49, (sent, hops(a), hops(b))
    refusal = re.findall(r"554 5\.4\.6", a.log() + b.log())
    assert refusal, a.log()[-3000:] + b.log()[-3000:]

    msg, parts, _, rcpts = parse(open(files[0], "rb").read())
    assert msg["To"].addresses[0].addr_spec == "alice@example.test"
    assert msg["From"].addresses[0].username == "MAILER-DAEMON"
    assert len(rcpts) == 1
    assert rcpts[0]["Final-Recipient"] == "rfc822; x@loop.test"
    assert rcpts[0]["Action"] == "failed"
    assert rcpts[0]["Status"] == "5.4.6"
    assert "too many hops" in rcpts[0]["Diagnostic-Code"]
    original = parts[2].get_payload()[0]
    assert original["Subject"] == "round and round"
    assert len(original.get_all("Received")) == 50
    # The bounce went to the sender's own instance only.
    assert b.message_files("alice@example.test") == []

"""An independent SCRAM-SHA-256 / SCRAM-SHA-1 client (RFC 5802 section 3, RFC 7677) for
protocol tests.

Written from the RFC steps with hashlib, hmac and base64 only, so it shares no code with
src/lib-sasl. scram_exchange(send, recv, user, password) runs one exchange over two
callables that carry DECODED SASL messages (bytes) to and from the server; the protocol
test does the base64 and the SMTP/IMAP/POP3 framing. No channel binding (gs2 header "n,,").
hash_name is hashlib's name: "sha256" (SCRAM-SHA-256) or "sha1" (SCRAM-SHA-1).
Run this file to check the RFC 7677 section 3 and RFC 5802 section 5 test vectors.
"""
import base64
import hashlib
import hmac
import os


def _h(hash_name, data):
    return hashlib.new(hash_name, data).digest()


def _hmac(hash_name, key, data):
    return hmac.new(key, data, hash_name).digest()


def _saslname(name):
    return name.replace("=", "=3D").replace(",", "=2C")


def _attrs(msg):
    out = {}
    for part in msg.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ValueError("bad SCRAM attribute: %r" % part)
        out[part[0]] = part[2:]
    return out


class ScramError(Exception):
    pass


class ScramClient:
    """The client side, one step at a time (for tests that want to tamper with messages)."""

    def __init__(self, user, password, nonce=None, authzid="", hash_name="sha256"):
        self.hash_name = hash_name
        self.user = user
        self.password = password.encode("utf-8")
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode("ascii")
        self.gs2 = "n,%s," % (("a=" + _saslname(authzid)) if authzid else "")
        self.first_bare = "n=%s,r=%s" % (_saslname(user), self.nonce)
        self.server_signature = None

    def client_first(self):
        return (self.gs2 + self.first_bare).encode("utf-8")

    def client_final(self, server_first):
        server_first = server_first.decode("utf-8")
        a = _attrs(server_first)
        nonce, salt, iterations = a["r"], base64.b64decode(a["s"], validate=True), int(a["i"])
        if not nonce.startswith(self.nonce) or len(nonce) == len(self.nonce):
            raise ScramError("server nonce does not extend ours")
        if iterations < 4096:
            raise ScramError("iteration count too low: %d" % iterations)
        h = self.hash_name
        salted = hashlib.pbkdf2_hmac(h, self.password, salt, iterations)
        client_key = _hmac(h, salted, b"Client Key")
        stored_key = _h(h, client_key)
        server_key = _hmac(h, salted, b"Server Key")
        cbind = base64.b64encode(self.gs2.encode("utf-8")).decode("ascii")
        without_proof = "c=%s,r=%s" % (cbind, nonce)
        auth_message = ",".join([self.first_bare, server_first, without_proof]).encode("utf-8")
        client_signature = _hmac(h, stored_key, auth_message)
        proof = bytes(x ^ y for x, y in zip(client_key, client_signature))
        self.server_signature = _hmac(h, server_key, auth_message)
        final = without_proof + ",p=" + base64.b64encode(proof).decode("ascii")
        return final.encode("utf-8")

    def verify_server_final(self, server_final):
        a = _attrs(server_final.decode("utf-8"))
        if "e" in a:
            raise ScramError("server error: " + a["e"])
        got = base64.b64decode(a["v"], validate=True)
        if not hmac.compare_digest(got, self.server_signature):
            raise ScramError("server signature mismatch")
        return True


def scram_exchange(send, recv, user, password, nonce=None, hash_name="sha256"):
    """Runs client-first, client-final and checks server-final.

    send(bytes) sends one decoded client message; recv() returns the next decoded server
    challenge as bytes (the protocol test maps an SMTP 334 / IMAP "+" line to it). After
    this returns True the caller sends the empty response when the protocol needs one
    (SMTP and POP3: the server-final arrives as a challenge) and reads the success reply.
    Raises ScramError when the server cannot prove it knows the password.
    """
    c = ScramClient(user, password, nonce, hash_name=hash_name)
    send(c.client_first())
    send(c.client_final(recv()))
    return c.verify_server_final(recv())


def _self_test():
    # RFC 7677 section 3
    c = ScramClient("user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert c.client_first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    final = c.client_final(server_first)
    assert final == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), final
    assert c.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    try:
        c.verify_server_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        raise AssertionError("a wrong server signature was accepted")
    except ScramError:
        pass
    # scram_exchange over a scripted server
    script = [server_first, b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="]
    sent = []
    assert scram_exchange(sent.append, lambda: script.pop(0), "user", "pencil",
                          nonce="rOprNGfwEbeRWgbNEkqO")
    assert sent[0] == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    # RFC 5802 section 5 (SCRAM-SHA-1)
    c = ScramClient("user", "pencil", nonce="fyko+d2lbbFgONRv9qkxdawL", hash_name="sha1")
    final = c.client_final(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                           b"s=QSXCR+Q6sek8bf92,i=4096")
    assert final == (b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                     b"p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="), final
    assert c.verify_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    print("scram_client: RFC 7677 and RFC 5802 test vectors ok")


if __name__ == "__main__":
    _self_test()

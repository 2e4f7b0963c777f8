"""A user's session with Python's imaplib against cpm-store.

Usage: imaplib_session.py HOST PORT IMAPS_PORT USER PASSWORD
Exits non-zero (AssertionError) at the first thing a user would see wrong.
"""
import base64
import hashlib
import hmac
import imaplib
import os
import socket
import ssl
import sys
import time

host, port, imaps_port, user, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


# STARTTLS on the plain port, then LOGIN.
m = imaplib.IMAP4(host, port)
assert "STARTTLS" in m.capabilities, m.capabilities
ok(m.starttls(ssl_context=insecure))
assert "STARTTLS" not in m.capabilities
ok(m.login(user, password))

# CREATE, LIST with special-use folders.
ok(m.create("Projects/2026"))
listing = b"\n".join(ok(m.list()))
for name in [b'"INBOX"', b'"Sent"', b'"Drafts"', b'"Trash"', b'"Archive"', b'"Projects/2026"']:
    assert name in listing, listing
assert b"\\Sent" in listing and b"\\Trash" in listing

# APPEND three messages.
for i in range(3):
    msg = (
        f"From: Bob <bob@example.com>\r\nTo: {user}@example.com\r\n"
        f"Subject: Report {i}\r\nDate: Tue, 3 Nov 2026 10:0{i}:00 +0100\r\n"
        f"Message-ID: <r{i}@example.com>\r\n\r\nQuarterly numbers, part {i}.\r\n"
    ).encode()
    data = ok(m.append("INBOX", "(\\Flagged)" if i == 0 else None, imaplib.Time2Internaldate(time.time()), msg))
    assert b"APPENDUID" in data[0], data

# SELECT, FETCH.
assert ok(m.select("INBOX")) == [b"3"]
typ, data = m.fetch("1", "(FLAGS ENVELOPE BODY.PEEK[])")
assert typ == "OK"
assert b"Report 0" in data[0][0] and b"\\Flagged" in data[0][0], data
assert data[0][1].startswith(b"From: Bob"), data
assert data[0][1].endswith(b"part 0.\r\n")

# SEARCH and UID SEARCH.
assert ok(m.search(None, "SUBJECT", '"Report 2"')) == [b"3"]
assert ok(m.search(None, "FLAGGED")) == [b"1"]
assert ok(m.uid("SEARCH", "FROM", "bob")) == [b"1 2 3"]
assert ok(m.search(None, "UNSEEN")) == [b"1 2 3"]

# STORE.
data = ok(m.store("2", "+FLAGS", "(\\Seen $Work)"))
assert b"\\Seen" in data[0] and b"$Work" in data[0], data
assert ok(m.search(None, "KEYWORD", "$Work")) == [b"2"]

# COPY and MOVE.
data = ok(m.copy("1", "Projects/2026"))
assert data[0].startswith(b"[COPYUID"), data
typ, data = m._simple_command("MOVE", "3", "Archive")
assert typ == "OK", data
assert ok(m.status("Archive", "(MESSAGES)")) == [b'"Archive" (MESSAGES 1)']
assert ok(m.status("Projects/2026", "(MESSAGES)")) == [b'"Projects/2026" (MESSAGES 1)']

# EXPUNGE.
ok(m.store("1", "+FLAGS", "(\\Deleted)"))
data = ok(m.expunge())
assert data[0] is not None and b"1" in data, data
assert ok(m.search(None, "ALL")) == [b"1"]

# IDLE (imaplib 3.11 has no idle(): speak it directly), woken by a
# second client's APPEND.
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
assert m.readline().startswith(b"+"), "IDLE continuation"
other = imaplib.IMAP4_SSL(host, imaps_port, ssl_context=insecure)
ok(other.login(user, password))
ok(other.append("INBOX", None, None, b"Subject: wake up\r\n\r\nidle test\r\n"))
other.logout()
line = m.readline()
assert line.strip() == b"* 2 EXISTS", line
m.send(b"DONE\r\n")
while True:
    line = m.readline()
    if line.startswith(tag):
        assert b" OK " in line, line
        break

assert m.logout()[0] == "BYE"

# AUTHENTICATE SCRAM-SHA-256 (RFC 7677) over implicit TLS.
def scram():
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    state = {}

    def step(challenge):
        if "server_first" not in state:
            if challenge == b"" and "sent_first" not in state:
                state["sent_first"] = True
                return ("n,," + first_bare).encode()
            state["server_first"] = challenge.decode()
            attrs = dict(kv.split("=", 1) for kv in state["server_first"].split(","))
            assert attrs["r"].startswith(nonce)
            salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
            client_key = hmac.new(salted, b"Client Key", "sha256").digest()
            stored = hashlib.sha256(client_key).digest()
            final = f"c=biws,r={attrs['r']}"
            auth = f"{first_bare},{state['server_first']},{final}".encode()
            sig = hmac.new(stored, auth, "sha256").digest()
            proof = bytes(a ^ b for a, b in zip(client_key, sig))
            server_key = hmac.new(salted, b"Server Key", "sha256").digest()
            state["expect"] = base64.b64encode(hmac.new(server_key, auth, "sha256").digest()).decode()
            return (final + ",p=" + base64.b64encode(proof).decode()).encode()
        assert challenge.decode() == "v=" + state["expect"], challenge
        state["verified"] = True
        return b""

    s = imaplib.IMAP4_SSL(host, imaps_port, ssl_context=insecure)
    s._mode_utf8 = False
    ok(s.authenticate("SCRAM-SHA-256", step))
    assert state.get("verified"), "server signature checked"
    ok(s.select("INBOX"))
    assert s.logout()[0] == "BYE"


scram()
print("imaplib session: ok")

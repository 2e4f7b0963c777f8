#!/usr/bin/env python3
"""Writes the 200 messages of the MIME differential test (tests/imap_mime_reference.rs)
into messages/NNN.eml, deterministically (seeded): nested message/rfc822, multipart/digest,
multipart/alternative inside multipart/related, 8-bit and RFC 2047 headers, long lines,
address groups, missing and odd boundaries, attachments with extension data.
Run once; the files and reference.txt (reference.py against Dovecot) are checked in."""
import base64, os, quopri, random

R = random.Random(14)
HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
NAMES = ['Alice Example', '"Bob, the Builder"', '=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=',
         '=?ISO-8859-1?B?SvZyZw==?=', 'Carol', '"Dan \\"D\\" Smith"', 'Zoë Ünicode']
HOSTS = ['example.com', 'example.org', 'mail.test']


def text(lines=None):
    n = lines if lines is not None else R.randint(0, 6)
    out = [" ".join(R.choice(WORDS) for _ in range(R.randint(1, 12))) for _ in range(n)]
    if R.random() < 0.15:
        out.append("x" * R.randint(200, 1200))  # a long line
    if R.random() < 0.2:
        out.append("caf\u00e9 na\u00efve \u00fcber")  # 8-bit
    return "\r\n".join(out) + ("\r\n" if out and R.random() < 0.8 else "")


def addr():
    local = R.choice(["a", "bob", "c.d", "e+tag"])
    host = R.choice(HOSTS)
    form = R.randint(0, 4)
    if form == 0:
        return f"{local}@{host}"
    if form == 1:
        return f"{local}@{host} ({R.choice(['Real Name', 'x'])})"
    return f"{R.choice(NAMES)} <{local}@{host}>"


def addr_list():
    kind = R.randint(0, 5)
    if kind == 0:
        return "undisclosed-recipients:;"
    if kind == 1:
        return f"group: {addr()}, {addr()};, {addr()}"
    if kind == 2:
        return "grp:;, g2: (comment) ;"
    return ", ".join(addr() for _ in range(R.randint(1, 3)))


def headers(extra=""):
    h = []
    h.append(f"From: {addr()}")
    if R.random() < 0.8:
        h.append(f"To: {addr_list()}")
    if R.random() < 0.3:
        h.append(f"Cc: {addr_list()}")
    if R.random() < 0.2:
        h.append(f"Reply-To: {addr()}")
    if R.random() < 0.1:
        h.append(f"Sender: {addr()}")
    subj = R.choice(["plain subject", "=?UTF-8?B?R3LDvMOfZQ==?=", "=?UTF-8?Q?caf=C3=A9?= and more",
                     "long " + " ".join(WORDS) + "\r\n folded " + " ".join(WORDS), "", None])
    if subj is not None:
        h.append(f"Subject: {subj}")
    h.append(f"Date: {R.randint(1, 28)} Mar 2024 {R.randint(0, 23):02d}:{R.randint(0, 59):02d}:00 +0{R.randint(0, 9)}00")
    if R.random() < 0.8:
        h.append(f"Message-ID: <{R.randint(1, 10**9)}@{R.choice(HOSTS)}>")
    if R.random() < 0.3:
        h.append(f"In-Reply-To: <{R.randint(1, 10**9)}@{R.choice(HOSTS)}>")
    return "\r\n".join(h) + "\r\n" + extra


def ext_headers():
    h = ""
    if R.random() < 0.3:
        h += f"Content-ID: <{R.randint(1, 999)}@cid>\r\n"
    if R.random() < 0.2:
        h += "Content-Description: some part\r\n"
    if R.random() < 0.2:
        h += "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
    if R.random() < 0.3:
        h += R.choice(["Content-Disposition: attachment; filename=\"f.bin\"\r\n",
                       "Content-Disposition: inline\r\n",
                       "Content-Disposition: attachment; filename*=UTF-8''%C3%A9t%C3%A9.txt; size=10\r\n"])
    if R.random() < 0.2:
        h += R.choice(["Content-Language: en\r\n", "Content-Language: en, de-CH\r\n"])
    if R.random() < 0.15:
        h += "Content-Location: http://example.com/x\r\n"
    return h


def leaf(depth):
    k = R.randint(0, 5)
    if k == 0:
        body = text()
        return f"Content-Type: text/plain; charset=utf-8\r\n{ext_headers()}\r\n{body}"
    if k == 1:
        raw = bytes(R.randrange(256) for _ in range(R.randint(0, 300)))
        b64 = base64.encodebytes(raw).decode().replace("\n", "\r\n")
        return f"Content-Type: application/octet-stream; name=\"f.bin\"\r\nContent-Transfer-Encoding: base64\r\n{ext_headers()}\r\n{b64}"
    if k == 2:
        qp = quopri.encodestring(text(3).encode()).decode().replace("\r\n", "\n").replace("\n", "\r\n")
        return f"Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n{ext_headers()}\r\n{qp}"
    if k == 3 and depth < 3:
        return f"Content-Type: message/rfc822\r\n{ext_headers()}\r\n{message(depth + 1)}"
    if k == 4:
        return f"{ext_headers()}\r\n{text()}"  # no Content-Type: text/plain
    return f"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"


def multipart(depth, sub=None):
    sub = sub or R.choice(["mixed", "alternative", "related", "digest", "mixed"])
    b = R.choice([f"b{depth}_{R.randint(0, 999)}", f"=_odd {depth} bound'ary", f"x{depth}"])
    n = R.randint(1, 4)
    parts = []
    for _ in range(n):
        if sub == "digest" and R.random() < 0.7:
            inner = message(depth + 1) if depth < 3 else "Subject: d\r\n\r\nx\r\n"
            parts.append("\r\n" + inner)
        elif depth < 3 and R.random() < 0.25:
            parts.append(multipart(depth + 1))
        else:
            parts.append(leaf(depth))
    prologue = R.choice(["", "This is a MIME prologue.\r\n"])
    out = f"Content-Type: multipart/{sub}; boundary=\"{b}\"\r\n{ext_headers()}\r\n{prologue}"
    for p in parts:
        out += f"--{b}{R.choice(['', '', ' ', '  '])}\r\n{p}\r\n"
    end = R.random()
    if end < 0.1:
        pass  # missing final boundary
    else:
        out += f"--{b}--\r\n" + R.choice(["", "epilogue text\r\n"])
    return out


def message(depth=0):
    k = R.randint(0, 3)
    mime = "MIME-Version: 1.0\r\n"
    if k == 0:
        return headers(mime) + leaf(depth)
    return headers(mime) + multipart(depth)


def main():
    out = os.path.join(HERE, "messages")
    os.makedirs(out, exist_ok=True)
    for i in range(1, 201):
        with open(os.path.join(out, f"{i:03d}.eml"), "wb") as f:
            f.write(message().encode("utf-8"))


if __name__ == "__main__":
    main()

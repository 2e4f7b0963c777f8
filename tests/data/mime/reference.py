#!/usr/bin/env python3
"""Produces reference.txt for tests/imap_mime_reference.rs from a reference IMAP server
(Dovecot 2.3 on a throwaway maildir): APPENDs messages/NNN.eml into a new mailbox and
records, per message, BODYSTRUCTURE, ENVELOPE, RFC822.SIZE and every section the structure
has (n, n.MIME, n.HEADER and n.TEXT of message/rfc822 parts, HEADER and TEXT of the message).
Usage: reference.py HOST PORT USER PASS > reference.txt

Line format (one item per line, `canon` as in the Rust test):
  NNN BODYSTRUCTURE <canonical form>     strings lower-cased (RFC 2045 5.1: case-insensitive)
  NNN ENVELOPE <canonical form>
  NNN RFC822.SIZE <n>
  NNN BODY[<section>] <length> <fnv1a-64 hex> | NIL"""
import os, re, socket, sys

HERE = os.path.dirname(os.path.abspath(__file__))


class Imap:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0

    def response(self):
        """One response line with literals inlined as bytes (as the Rust client does)."""
        out = b""
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError
            line = line.rstrip(b"\r\n")
            out += line
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            out += b"\r\n" + self.f.read(int(m.group(1)))

    def run(self, cmd, literal=None):
        self.n += 1
        tag = b"T%d" % self.n
        if literal is None:
            self.s.sendall(tag + b" " + cmd + b"\r\n")
        else:
            self.s.sendall(tag + b" " + cmd + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        lines = []
        while True:
            l = self.response()
            lines.append(l)
            if l.startswith(tag + b" "):
                if not l.startswith(tag + b" OK"):
                    raise RuntimeError(l)
                return lines


def tokens(data):
    """IMAP tokens: ( ) atoms and strings (quoted or literal, unescaped)."""
    i, out = 0, []
    while i < len(data):
        c = data[i:i + 1]
        if c in b" ":
            i += 1
        elif c in b"()":
            out.append(c.decode())
            i += 1
        elif c == b'"':
            j, s = i + 1, b""
            while data[j:j + 1] != b'"':
                if data[j:j + 1] == b"\\":
                    j += 1
                s += data[j:j + 1]
                j += 1
            out.append(("s", s))
            i = j + 1
        elif c in b"{~":
            m = re.match(rb"~?\{(\d+)\}\r\n", data[i:])
            n = int(m.group(1))
            start = i + m.end()
            out.append(("s", data[start:start + n]))
            i = start + n
        else:
            m = re.match(rb"[^ ()]+", data[i:])
            out.append(m.group(0).decode().upper())
            i += m.end()
    return out


def canon(toks, lower):
    parts = []
    for t in toks:
        if isinstance(t, tuple):
            s = t[1].lower() if lower else t[1]
            parts.append('"' + s.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            parts.append(t)
    return " ".join(parts).replace("( ", "(").replace(" )", ")")


def item(line, name):
    """The tokens of item `name` of a FETCH response line."""
    toks = tokens(line[line.index(b"(") + 1:])
    i = toks.index(name.upper())
    if toks[i + 1] != "(":
        return [toks[i + 1]]
    depth, j = 0, i + 1
    while True:
        depth += {"(": 1, ")": -1}.get(toks[j] if isinstance(toks[j], str) else "", 0)
        j += 1
        if depth == 0:
            return toks[i + 1:j]


def parse(toks):
    """Nested lists from tokens."""
    stack = [[]]
    for t in toks:
        if t == "(":
            stack.append([])
        elif t == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(t)
    return stack[0][0]


def sval(t):
    return t[1].decode().lower() if isinstance(t, tuple) else None


def sections(body, prefix):
    """Sections of a body structure: numbers relative to `prefix`."""
    out = []
    if isinstance(body[0], list):  # multipart
        kids = [b for b in body if isinstance(b, list)]
        # the leading lists are the children (the params list follows the subtype)
        kids = []
        for b in body:
            if isinstance(b, list):
                kids.append(b)
            else:
                break
        for n, k in enumerate(kids, 1):
            out += part_sections(k, prefix + [n])
    else:
        out += part_sections(body, prefix + [1], top_single=True)
    return out


def part_sections(part, numbers, top_single=False):
    sec = ".".join(map(str, numbers))
    out = [sec, sec + ".MIME"]
    if isinstance(part[0], list):
        return out + [s for s in sections(part, numbers) if True]
    if sval(part[0]) == "message" and sval(part[1]) == "rfc822":
        out += [sec + ".HEADER", sec + ".TEXT"]
        out += sections(part[8], numbers)
    return out


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = Imap(host, port)
    c.run(b"LOGIN " + user.encode() + b" " + password.encode())
    box = b"mimeref%d" % os.getpid()
    c.run(b"CREATE " + box)
    c.run(b"SELECT " + box)
    names = sorted(os.listdir(os.path.join(HERE, "messages")))
    for name in names:
        with open(os.path.join(HERE, "messages", name), "rb") as f:
            c.run(b"APPEND " + box, f.read())
    for seq, name in enumerate(names, 1):
        msg = name[:3]
        line = c.run(b"FETCH %d (BODYSTRUCTURE)" % seq)[0]
        bs = item(line, "BODYSTRUCTURE")
        print(msg, "BODYSTRUCTURE", canon(bs, True))
        line = c.run(b"FETCH %d (ENVELOPE)" % seq)[0]
        print(msg, "ENVELOPE", canon(item(line, "ENVELOPE"), False))
        line = c.run(b"FETCH %d (RFC822.SIZE)" % seq)[0]
        print(msg, "RFC822.SIZE", item(line, "RFC822.SIZE")[0])
        for sec in ["", "HEADER", "TEXT"] + sections(parse(bs), []):
            line = c.run(b"FETCH %d (BODY.PEEK[%s])" % (seq, sec.encode()))[0]
            toks = item(line, "BODY[%s]" % sec)
            value = "NIL" if toks == ["NIL"] else "%d %s" % (len(toks[0][1]), fnv(toks[0][1]))
            print(msg, "BODY[%s]" % sec, value)
    c.run(b"CLOSE")
    c.run(b"DELETE " + box)


if __name__ == "__main__":
    main()

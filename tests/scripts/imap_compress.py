#!/usr/bin/env python3
"""COMPRESS=DEFLATE (RFC 4978) client with Python's zlib, over a raw socket.

Usage: imap_compress.py HOST PORT USER PASSWORD
Logs in, sends COMPRESS DEFLATE, then pipelines commands compressed right
behind it and prints every response line (decompressed) as it arrives;
the e2e test asserts on them. Exits 1 on a timeout (a response held back).
"""
import socket
import sys
import zlib

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=10)
f = s.makefile("rb")


def until(tag, read):
    while True:
        line = read()
        print(line.decode("utf-8", "replace").rstrip("\r\n"), flush=True)
        if line.startswith(tag + b" "):
            return


def plain_line():
    return f.readline()


s.sendall(b"a LOGIN %s %s\r\n" % (user.encode(), password.encode()))
f.readline()  # greeting
until(b"a", plain_line)
deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
inflater = zlib.decompressobj(-15)
# Pipelined: the first compressed command goes out with COMPRESS itself.
first = deflater.compress(b"c1 NOOP\r\n") + deflater.flush(zlib.Z_SYNC_FLUSH)
s.sendall(b"z COMPRESS DEFLATE\r\n" + first)
until(b"z", plain_line)
pending = f.read1(65536) if hasattr(f, "read1") else b""
buf = inflater.decompress(pending)


def compressed_line():
    global buf
    while b"\n" not in buf:
        data = s.recv(65536)
        if not data:
            raise SystemExit("connection closed")
        buf += inflater.decompress(data)
    line, _, buf = buf.partition(b"\n")
    return line + b"\n"


until(b"c1", compressed_line)
for tag, command in [
    (b"c2", b"COMPRESS DEFLATE"),
    (b"c3", b"LIST \"\" INBOX"),
    (b"c4", b"APPEND INBOX {21+}\r\nSubject: zz\r\n\r\nbody\r\n"),
    (b"c5", b"SELECT INBOX"),
    (b"c6", b"FETCH 1 BODY[]"),
    # A bomb: 8 MiB of one line deflate to a few KiB; the reader's line
    # limit bounds what the server keeps of it, and the connection goes on.
    (b"c8", b"NOOP " + b"a" * (8 << 20)),
    (b"c9", b"NOOP"),
    (b"c7", b"LOGOUT"),
]:
    s.sendall(deflater.compress(tag + b" " + command + b"\r\n") + deflater.flush(zlib.Z_SYNC_FLUSH))
    until(tag, compressed_line)

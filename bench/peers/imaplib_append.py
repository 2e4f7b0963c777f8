#!/usr/bin/env python3
"""APPEND latency as Python's imaplib sees it (issue 16): a synchronizing
literal, then the literal and its CRLF in two writes, Nagle on (imaplib's
default). Usage: imaplib_append.py HOST PORT USER PASSWORD [COUNT [WARMUP]]
Prints one JSON object: {"median_ms": ..., "p90_ms": ..., "n": ...}."""
import imaplib
import json
import math
import sys
import time


def main():
    host, port, user, password = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 200
    warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 20
    m = imaplib.IMAP4(host, int(port))
    m.login(user, password)
    message = (
        b"From: Bench <bench@example.com>\r\n"
        b"To: Bench <bench@example.com>\r\n"
        b"Subject: imaplib append\r\n"
        b"Message-ID: <imaplib-%d@example.com>\r\n"
        b"\r\n" + b"A line of text for the benchmark.\r\n" * 16
    )
    samples = []
    budget = time.perf_counter() + 30.0
    for i in range(warmup + count):
        t = time.perf_counter()
        typ, data = m.append("INBOX", None, None, message % i)
        elapsed = (time.perf_counter() - t) * 1e3
        if typ != "OK":
            sys.exit("APPEND failed: %r" % (data,))
        if i >= warmup:
            samples.append(elapsed)
            if len(samples) >= 10 and time.perf_counter() > budget:
                break
    m.logout()
    samples.sort()
    n = len(samples)
    median = samples[n // 2] if n % 2 else (samples[n // 2 - 1] + samples[n // 2]) / 2
    p90 = samples[max(1, math.ceil(n * 0.9)) - 1]
    print(json.dumps({"median_ms": median, "p90_ms": p90, "n": n}))


if __name__ == "__main__":
    main()

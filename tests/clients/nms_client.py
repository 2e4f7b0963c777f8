#!/usr/bin/env python3
"""An OMA RESTful Network Message Storage (NMS) client for the end-to-end
tests (tests/nms_python.rs): a real HTTP client library (requests) drives
the server's NMS binding, with imaplib for bulk fixtures over IMAP.

Subcommands, each printing one summary line and exiting 0 on success, or
printing what failed and exiting 1:

  appendix-d      replays the TS's Appendix D examples request by request on
                  fixtures made through the API, checking each answer's
                  status and shape against the example's response
  search-paging   10,000 objects (IMAP MULTIAPPEND), then D.20's search paged
                  by cursor while 500 more arrive: each original seen once
  bulk            bulkCreation of 100, bulkUpdate by selection, bulkDelete,
                  copy and move of a folder tree, pathToId both ways
  hostile         malformed and oversized bodies, too many criteria, unknown
                  fields and values, wrong content types; the server stays up

Usage: nms_client.py SUBCOMMAND --base URL --user U --password P
       --imap HOST:PORT --examples DIR
"""

import argparse
import imaplib
import json
import re
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import requests

# The box prefixes of the examples, longest first.
EXAMPLE_PREFIXES = (
    "http://example.com/exampleAPI/nms/v1/myStore/tel%3A%2B19585550100",
    "http://exampleAPI/nms/v1/myStore/tel%3A%2B19585550100",
    "/exampleAPI/nms/v1/myStore/tel%3A%2B19585550100",
    "/nms/v1/myStore/tel%3A%2B19585550100",
)

# Appendix D examples of subscriptions and notifications.
NOTIFICATION_EXAMPLES = ["D.%d" % n for n in range(58, 66)]

# The conversation folder of the examples (D.20, D.35, D.50, ...).
CONV = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"


class Failure(Exception):
    """A check that did not hold."""


def check(condition, message):
    """Raises Failure(message) unless condition holds."""
    if not condition:
        raise Failure(message)


class Nms:
    """The HTTP side: one requests.Session with Basic credentials, the
    box's base URL (`http://host:port/nms/v1/cpm/tel%3A%2B…`)."""

    def __init__(self, base, user, password):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.previous = None

    def url(self, where):
        """An absolute URL: `where` itself, or below the box."""
        return where if where.startswith("http") else self.base + where

    def call(self, method, where, *, body=None, expect=None, **kw):
        """One request; `body` is sent as JSON. With `expect`, any other
        status is a Failure showing the answer."""
        if body is not None:
            kw["data"] = json.dumps(body)
            kw.setdefault("headers", {})["Content-Type"] = "application/json"
        kw.setdefault("timeout", 300)
        try:
            r = self.session.request(method, self.url(where), **kw)
        except requests.exceptions.ConnectionError as e:
            # A server that answers before reading a request body must
            # close the connection and say so (`Connection: close`, RFC
            # 9112 9.6), so that the session does not reuse it.
            raise Failure("%s %s: the connection failed after %s: %s"
                          % (method, where, self.previous, type(e.__context__ or e).__name__))
        self.previous = (method, where if not where.startswith(self.base) else where[len(self.base):],
                         r.status_code)
        if expect is not None and r.status_code != expect:
            raise Failure(
                "%s %s: %d, expected %d: %s"
                % (method, where, r.status_code, expect, r.text[:600])
            )
        return r

    def create_object(self, root, attachments=(), where="/objects", expect=201):
        """POST a multipart/form-data creation (TS 6.1.5): the
        `root-fields` JSON part, then one `attachments` part per
        (content type, bytes)."""
        files = [("root-fields", (None, json.dumps(root), "application/json"))]
        for i, (ctype, data) in enumerate(attachments):
            files.append(("attachments", ("part%d" % i, data, ctype)))
        return self.call("POST", where, files=files, expect=expect)

    def folder_id(self, path):
        """The id (last URL segment) of the folder at `path`."""
        r = self.call(
            "GET",
            "/folders/operations/pathToId",
            params={"path": path},
            expect=200,
        )
        return last_segment(r.json()["reference"]["resourceURL"])

    def make_folder(self, path):
        """Creates the folder `path` (each missing level) and returns its id."""
        parent = "/"
        for name in path.strip("/").split("/"):
            here = parent.rstrip("/") + "/" + name
            r = self.call(
                "GET", "/folders/operations/pathToId", params={"path": here}
            )
            if r.status_code != 200:
                self.call(
                    "POST",
                    "/folders",
                    body={"folder": {"parentFolderPath": parent, "name": name}},
                    expect=201,
                )
            parent = here
        return self.folder_id(path)

    def search(self, criteria, where="/objects/operations/search"):
        """A search (TS 6.7.5 / 6.13.5); the decoded 200 answer."""
        return self.call("POST", where, body=criteria, expect=200).json()


def last_segment(url):
    """The id a resource URL ends with."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def attribute(item, name):
    """The values of attribute `name` of an object or folder."""
    for a in item.get("attributes", {}).get("attribute", []):
        if a.get("name", "").lower() == name.lower():
            return a.get("value", [])
    return []


def message(headers, body):
    """An RFC 5322 message (CRLF line ends) of `headers` (name, value) and
    `body`."""
    head = "".join("%s: %s\r\n" % h for h in headers)
    return (head + "\r\n" + body + "\r\n").encode()


class Imap:
    """An IMAP session (imaplib) that appends many messages per command:
    MULTIAPPEND (RFC 3502) with non-synchronizing literals (RFC 7888),
    both of which the server announces."""

    def __init__(self, addr, user, password):
        host, port = addr.rsplit(":", 1)
        self.imap = imaplib.IMAP4(host, int(port))
        self.imap.login(user, password)
        caps = self.imap.capabilities
        check("MULTIAPPEND" in caps and "LITERAL+" in caps, "no MULTIAPPEND/LITERAL+")
        self.tag = 0

    def append_many(self, mailbox, messages, flags="(\\Seen)"):
        """APPENDs `messages` to `mailbox` in one MULTIAPPEND command."""
        self.tag += 1
        tag = b"M%d" % self.tag
        out = [tag + b" APPEND " + mailbox.encode()]
        for m in messages:
            out.append(b" %s {%d+}\r\n" % (flags.encode(), len(m)))
            out.append(m)
        out.append(b"\r\n")
        self.imap.send(b"".join(out))
        while True:
            line = self.imap.readline()
            check(line, "IMAP connection closed during APPEND")
            if line.startswith(tag + b" "):
                check(line.startswith(tag + b" OK"), "APPEND: %r" % line)
                return

    def close(self):
        """Logs out."""
        try:
            self.imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


# ---------------------------------------------------------------------------
# Shape comparison of an answer with an example response


def common_shape(items):
    """The shape all of a list's example items share: for objects, the
    members every item has (recursively); otherwise the first item."""
    if not items:
        return None
    if all(isinstance(i, dict) for i in items):
        keys = set(items[0])
        for i in items[1:]:
            keys &= set(i)
        return {k: common_shape([i[k] for i in items]) for k in items[0] if k in keys}
    if all(isinstance(i, list) for i in items):
        return [common_shape([x for i in items for x in i])]
    return items[0]


def kind(value):
    """A JSON value's kind for the shape check."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def shape_mismatches(expected, actual, path=""):
    """Where `actual` lacks what the example `expected` has: each member
    name (recursively), of the same JSON kind. A null in the example
    accepts anything. Lists of the same length are compared item by item
    (bulk responses answer in request order), other lists item by item
    against the shape the example's items share."""
    if expected is None:
        return []
    if kind(expected) != kind(actual):
        return ["%s: %s, expected %s" % (path or "(root)", kind(actual), kind(expected))]
    out = []
    if isinstance(expected, dict):
        for name, value in expected.items():
            if name not in actual:
                out.append("%s.%s missing" % (path, name) if path else name + " missing")
            else:
                out += shape_mismatches(value, actual[name], "%s.%s" % (path, name) if path else name)
    elif isinstance(expected, list):
        if len(expected) == len(actual):
            for e, a in zip(expected, actual):
                out += shape_mismatches(e, a, path + "[]")
        else:
            template = common_shape(expected)
            for a in actual:
                out += shape_mismatches(template, a, path + "[]")
    return sorted(set(out))


# ---------------------------------------------------------------------------
# appendix-d


class Replay:
    """The Appendix D replay: the examples (their bodies and the INDEX.md
    table of methods and statuses), how the examples' ids map to the
    fixtures', and what was checked, skipped or tolerated."""

    def __init__(self, nms, examples):
        self.nms = nms
        self.dir = Path(examples)
        self.status = load_index(self.dir / "INDEX.md")
        self.ids = {}
        self.checked = []
        self.skipped = {}
        self.notes = []

    def example(self, name):
        """An example body, or None when the example has no such file."""
        path = self.dir / name
        return json.loads(path.read_text()) if path.exists() else None

    def localize(self, value, **extra):
        """The example `value` with its box prefix replaced by this
        server's and its ids (in URLs and paths) by the fixtures' ids
        (self.ids, then `extra`)."""
        ids = dict(self.ids, **extra)
        if isinstance(value, dict):
            return {k: self.localize(v, **extra) for k, v in value.items()}
        if isinstance(value, list):
            return [self.localize(v, **extra) for v in value]
        if not isinstance(value, str):
            return value
        for prefix in EXAMPLE_PREFIXES:
            if value.startswith(prefix):
                rest = re.sub(
                    r"/(folders|objects)/([^/?#]+)",
                    lambda m: "/%s/%s" % (m.group(1), ids.get(m.group(2), m.group(2))),
                    value[len(prefix):],
                )
                return self.nms.base + rest
        if value.startswith("/"):
            return "/".join(ids.get(s, s) for s in value.split("/"))
        return value

    def skip(self, d, reason):
        """Records example `d` as not replayed, with why."""
        self.skipped[d] = reason
        print("%s: skipped: %s" % (d, reason))

    def note(self, d, text):
        """Records a deliberate difference or tolerated gap."""
        self.notes.append("%s: %s" % (d, text))
        print("%s: note: %s" % (d, text))

    def verify(self, d, r, *, status=None, why=None, tolerate=(), response=None):
        """Checks answer `r` of example `d`: its status (the example's, or
        `status` where this server deliberately differs, `why` saying
        so), and its shape against the example's response (or
        `response`), members under a path in `tolerate` (path: reason)
        only noted."""
        printed = self.status[d]
        want = printed if status is None else status
        check(
            r.status_code == want,
            "%s: status %d, expected %d: %s" % (d, r.status_code, want, r.text[:600]),
        )
        if want != printed and why:
            self.note(d, "answers %d where the example prints %d: %s" % (want, printed, why))
        expected = response
        if expected is None and want == printed:
            expected = self.example("%s-response.json" % d)
        if expected is not None:
            check(r.text, "%s: no body, expected %s" % (d, list(expected)))
            try:
                got = r.json()
            except ValueError:
                raise Failure("%s: not JSON: %s" % (d, r.text[:300]))
            check(
                list(got) == list(expected),
                "%s: top-level %s, expected %s" % (d, list(got), list(expected)),
            )
            missing = []
            for m in shape_mismatches(expected, got):
                reason = next((v for k, v in tolerate.items() if m.startswith(k)), None) if tolerate else None
                if reason:
                    self.note(d, "tolerated: %s (%s)" % (m, reason))
                else:
                    missing.append(m)
            check(not missing, "%s: shape differs from the example: %s\n%s" % (d, missing, json.dumps(got)[:1500]))
        self.checked.append(d)
        print("%s: %d ok" % (d, r.status_code))
        return r


def load_index(path):
    """Each example's printed response status, from INDEX.md's tables."""
    status = {}
    for line in path.read_text().splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `D.") and len(cols) >= 6:
            d = cols[1]
            status[d] = int(cols[5].split()[0])
        elif re.match(r"\| D\.\d+ \|", line) and len(cols) >= 5:
            status[cols[0]] = int(cols[4].split()[0])
    return status


GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def mixed(boundary, parts):
    """A multipart body of (headers, bytes) parts."""
    out = b""
    for headers, data in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        out += "".join("%s: %s\r\n" % h for h in headers).encode() + b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


def attrs(**values):
    """An `attributes` member: name=value or name=[values] (underscores in
    names become dashes)."""
    out = []
    for name, value in values.items():
        out.append({"name": name.replace("_", "-"), "value": value if isinstance(value, list) else [value]})
    return {"attribute": out}


def fixtures(rp):
    """The state the examples assume, made through the API: the folders
    they name and the objects they read, with the examples' ids mapped
    to the ids this server gave."""
    nms = rp.nms
    for path, eid in [
        ("/main", "fld554"),
        ("/main/conversation5", "fld123"),
        ("/main/" + CONV, "fld608"),
        ("/main/%s/notes" % CONV, "fld901"),
        ("/main/%s/photos" % CONV, "fld227"),
        ("/main/SorrentoMeeting", "fId12"),
        ("/main/projects/APIs", "fld24"),
        ("/main/projects/APIs/QoS/TS-Related", None),
        ("/main/projects/APIs/QoS/meetingInfo", None),
        ("/main/projects/APIs/WebRTCSignaling/meetingInfo", None),
        ("/main/ARC/BangkokMeeting/projects", None),
        ("/main/tmp/QoS-related", None),
        ("/main/SummerHolidayPlan", "fld456"),
        ("/main/archive2013", "fld111"),
        ("/tmp", None),
        ("/Pictures", None),
        ("/RCSMessageStore/footballGame", None),
        ("/main/obsolete", "fId567"),
    ]:
        fid = nms.make_folder(path)
        if eid:
            rp.ids[eid] = fid
    rp.ids["fId8"] = rp.ids["fld608"]
    rp.ids["fId9"] = rp.ids["fld123"]

    def obj(eid, folder, attributes, parts=(), flags=("\\Seen", "\\Flagged")):
        root = {"object": {"parentFolderPath": folder, "attributes": attributes, "flags": {"flag": list(flags)}}}
        r = nms.create_object(root, parts)
        rp.ids[eid] = last_segment(r.headers["Location"])

    weekend = mixed(
        "b1",
        [
            ([("Content-Type", "text/plain")], b"Shall we go to Seattle this weekend?"),
            ([("Content-Type", "image/gif")], GIF),
        ],
    )
    obj(
        "oId999",
        "/main/conversation5",
        attrs(
            Message_Context="multimedia-message",
            Direction="In",
            From="tel:+19585550100",
            To=["tel:+19585550210", "tel:+19585550320"],
            Subject="Weekend Trip to Seattle",
        ),
        [("multipart/mixed; boundary=b1", weekend)],
    )
    for eid in ["obj12345", "oId221", "oId222", "objId001", "objId002", "objNotMoved"]:
        obj(eid, "/main/conversation5", attrs(Subject="fixture " + eid), [("text/plain", b"text of " + eid.encode())])
    # D.20, D.21: five pager messages from tel:+19585550100 (pages of 3).
    for i in range(5):
        obj(
            "oIdPager%d" % i,
            "/main/" + CONV,
            attrs(Message_Context="pager-message", Direction="In", From="tel:+19585550100"),
            [("text/plain", b"pager %d" % i)],
        )
    obj("oId111", "/main/" + CONV, attrs(Subject="fixture oId111"), [("text/plain", b"x")])
    # D.22: the football message.
    obj(
        "oId123",
        "/main/" + CONV,
        attrs(Message_Context="text-message", From="tel:+19587236564", Direction="In",
              Subject="R U coming to football game today"),
        [("multipart/mixed; boundary=b1", weekend)],
    )
    rp.ids["fId889"] = rp.ids["fId567"]


def replay_creation(rp):
    """D.1–D.6 (objects) and D.28–D.34 (bulk creation, folders)."""
    nms = rp.nms
    gif_part = ("image/gif", GIF)
    # D.31 first: D.2 creates the parent D.31 needs to be missing.
    rp.verify("D.31", nms.call("POST", "/folders", body=rp.localize(rp.example("D.31-request.json"))))
    r = nms.create_object(rp.localize(rp.example("D.1-request.json")), [gif_part], expect=None)
    rp.verify("D.1", r)
    check(r.headers.get("Location") == r.json()["reference"]["resourceURL"], "D.1: Location")
    check(r.json()["reference"]["path"].startswith("/main/conversation5/"), "D.1: path %s" % r.text)
    r = nms.create_object(rp.localize(rp.example("D.2-request.json")), [gif_part], expect=None)
    rp.verify("D.2", r)
    nms.folder_id("/main/myBackups/Football/SavedPictures")
    # D.3: this server's one place where creation is refused is the root.
    d3 = rp.localize(rp.example("D.3-request.json"))
    d3["object"]["parentFolderPath"] = "/"
    r = rp.verify("D.3", nms.create_object(d3, [gif_part], expect=None))
    check(r.json()["requestError"]["policyException"]["messageId"] == "POL1031", "D.3: %s" % r.text)
    rp.note("D.3", "/Default mapped to / (POL1031 is this server's policy for the root only)")
    r = rp.verify("D.4", nms.create_object(rp.localize(rp.example("D.4-request.json")), [gif_part], expect=None))
    check(r.json()["reference"]["path"].startswith("/INBOX/"), "D.4: %s" % r.text)
    # D.5: multipart/related with a SMIL presentation part.
    related = mixed(
        "rel5",
        [
            ([("Content-Type", "text/plain"), ("Content-ID", "<28184720>")], b"The quick brown fox"),
            ([("Content-Type", "application/smil"), ("Content-ID", "<28186490>")], b"<smil><body/></smil>"),
            ([("Content-Type", "image/jpeg"), ("Content-ID", "<28186480>"),
              ("Content-Transfer-Encoding", "base64")], b"/9j/4AAQSkZJRg=="),
        ],
    )
    r = nms.create_object(
        rp.localize(rp.example("D.5-request.json")),
        [('multipart/related; start="28186490"; boundary=rel5', related)],
        expect=None,
    )
    rp.ids["obj542"] = last_segment(rp.verify("D.5", r).headers["Location"])
    r = nms.create_object(
        rp.localize(rp.example("D.6-request.json")),
        [("text/plain", b"The quick brown fox rushed to Montreal.")],
        expect=None,
    )
    rp.ids["obj543"] = last_segment(rp.verify("D.6", r).headers["Location"])
    # D.28: bulk creation, three objects, three attachments.
    root = rp.localize(rp.example("D.28-request.json"))
    files = [("root-fields", (None, json.dumps(root), "application/json"))]
    files += [("attachments", ("a%d" % i, b"bulk %d" % i, "text/plain")) for i in range(3)]
    r = nms.call("POST", "/objects/operations/bulkCreation", files=files)
    expected = rp.example("D.28-response.json")
    expected["bulkResponseList"]["response"][1] = expected["bulkResponseList"]["response"][2]
    rp.verify("D.28", r, response=expected)
    codes = [i["code"] for i in r.json()["bulkResponseList"]["response"]]
    check(codes == [201, 201, 201], "D.28: codes %s" % codes)
    rp.note("D.28", "item 2 is 201 where the example's server refuses it by its own policy E42 (POL0001)")
    # D.29–D.34: folders.
    r = rp.verify("D.29", nms.call("POST", "/folders", body=rp.localize(rp.example("D.29-request.json"))))
    rp.ids["fld456.board"] = last_segment(r.headers["Location"])
    variant = "the server answers 201 with a reference (TS 6.10.5 allows a reference or a copy); " \
              "the copy's shape is checked on GET Location?path=Yes"
    for d in ["D.30", "D.32"]:
        r = nms.call("POST", "/folders", body=rp.localize(rp.example("%s-request.json" % d)))
        check(r.status_code == 201 and "reference" in r.json(), "%s: %d %s" % (d, r.status_code, r.text))
        location = r.headers["Location"]
        rp.note(d, variant)
        rp.verify(d, nms.call("GET", location + "?path=Yes"), status=200,
                  response=rp.example("%s-response.json" % d))
        if d == "D.30":
            rp.ids["fld559"] = last_segment(location)
    check(nms.folder_id("/main/NMSdiscussion/SorrentoMeeting"), "D.32 folder")
    rp.verify("D.33", nms.call("POST", "/folders", body=rp.localize(rp.example("D.33-request.json"))))
    rp.skip("D.34", "POL1031 for /Default is not a policy of this server (folders may be created anywhere)")


def replay_objects(rp):
    """D.7–D.19: reading objects, flags and payloads; D.10 last."""
    nms = rp.nms
    rp.verify("D.7", nms.call("GET", "/objects/" + rp.ids["oId999"]))
    r = rp.verify("D.8", nms.call("GET", "/objects/" + rp.ids["obj542"]))
    parts = r.json()["object"]["payloadPart"]
    check([p.get("contentId") for p in parts] == ["28184720", "28186490", "28186480"], "D.8: %s" % parts)
    r = rp.verify("D.9", nms.call("GET", "/objects/" + rp.ids["obj543"]))
    check(attribute(r.json()["object"], "TextContent") == ["The quick brown fox rushed to Montreal."], "D.9")
    flags = "/objects/%s/flags" % rp.ids["oId999"]
    rp.verify("D.11", nms.call("GET", flags))
    r = rp.verify("D.12", nms.call("GET", "/objects/987654321/flags"))
    check(r.json()["requestError"]["serviceException"]["messageId"] == "SVC0004", "D.12")
    rp.verify("D.14", nms.call("GET", flags + "/%5CSeen"))
    acr = nms.base.rsplit("/", 1)[0] + "/acr%3Aauth"
    rp.verify("D.15", nms.call("GET", "%s/objects/%s/flags/%%5CAnswered" % (acr, rp.ids["oId999"])))
    r = rp.verify("D.16", nms.call("PUT", flags + "/%5CAnswered", body=rp.example("D.16-request.json")))
    r = rp.verify("D.13", nms.call("PUT", flags, body=rp.localize(rp.example("D.13-request.json"))))
    check(sorted(r.json()["flagList"]["flag"]) == ["\\Answered", "\\Flagged", "\\Seen"], "D.13: %s" % r.text)
    rp.verify("D.17", nms.call("DELETE", flags + "/%5CSeen"))
    check(nms.call("GET", flags + "/%5CSeen").status_code == 404, "D.17: \\Seen still set")
    # D.18: the payload (here by the payloadURL; this server keeps no
    # external storage); D.19: one part of it.
    o = nms.call("GET", "/objects/" + rp.ids["oId999"], expect=200).json()["object"]
    r = rp.verify("D.18", nms.call("GET", o["payloadURL"]))
    check(r.headers["Content-Type"].startswith("multipart/mixed"), "D.18: %s" % r.headers)
    check(GIF in r.content.replace(b"\r\n", b"") or b"R0lG" in r.content, "D.18: no GIF part")
    gif = next(p for p in o["payloadPart"] if p["contentType"] == "image/gif")
    r = rp.verify("D.19", nms.call("GET", gif["href"]))
    check(r.content == GIF and r.headers["Content-Type"] == "image/gif", "D.19: %r" % r.content[:20])
    r = rp.verify("D.10", nms.call("DELETE", "/objects/" + rp.ids["oId999"]))
    check(nms.call("GET", "/objects/" + rp.ids["oId999"]).status_code == 404, "D.10: still there")


def replay_searches(rp):
    """D.20–D.27 (object search, pathToId) and D.43–D.51 (folders)."""
    nms = rp.nms
    r = rp.verify("D.20", nms.call("POST", "/objects/operations/search", body=rp.example("D.20-request.json")))
    first = r.json()["objectList"]
    check(len(first["object"]) == 3 and first.get("cursor"), "D.20: %s" % json.dumps(first)[:300])
    d21 = rp.example("D.21-request.json")
    d21["selectionCriteria"]["fromCursor"] = first["cursor"]
    r = rp.verify("D.21", nms.call("POST", "/objects/operations/search", body=d21))
    rest = r.json()["objectList"]
    check(len(rest["object"]) == 2 and "cursor" not in rest, "D.21: %s" % json.dumps(rest)[:300])
    urls = [o["resourceURL"] for o in first["object"] + rest["object"]]
    pagers = sorted(nms.url("/objects/" + rp.ids["oIdPager%d" % i]) for i in range(5))
    check(sorted(urls) == pagers, "D.20/D.21: %s" % urls)
    r = rp.verify("D.22", nms.call("POST", "/objects/operations/search", body=rp.example("D.22-request.json")))
    check([last_segment(o["resourceURL"]) for o in r.json()["objectList"]["object"]] == [rp.ids["oId123"]],
          "D.22: %s" % r.text[:300])
    path = "/main/conversation5/" + rp.ids["obj12345"]
    r = rp.verify("D.23", nms.call("GET", "/objects/operations/pathToId", params={"path": path}))
    check(r.json()["reference"]["path"] == path, "D.23")
    rp.verify("D.24", nms.call("GET", "/objects/operations/pathToId",
                               params={"path": "/main//conversation5/" + rp.ids["obj12345"]}),
              status=400, why="a malformed path is SVC0002 as D.26, D.27 and D.51 answer it")
    for d, codes in [("D.25", [200, 200, 200]), ("D.26", [200, 404]), ("D.27", [200, 400])]:
        r = rp.verify(d, nms.call("POST", "/objects/operations/pathToId",
                                  body=rp.localize(rp.example("%s-request.json" % d))))
        got = [i["code"] for i in r.json()["bulkResponseList"]["response"]]
        if d == "D.26":
            rp.note(d, "item 2 (a path of no folder) is 404 SVC2008 as D.51 answers it; D.26 prints 400 SVC0002")
        check(got == codes, "%s: codes %s, expected %s" % (d, got, codes))
    # By GET too: an empty segment just before the id is a malformed path.
    path = "/main/conversation5//" + rp.ids["obj12345"]
    r = nms.call("GET", "/objects/operations/pathToId", params={"path": path})
    check(r.status_code == 400, "GET pathToId?path=%s: %d, not 400" % (path, r.status_code))
    # Folders.
    r = rp.verify("D.43", nms.call("POST", "/folders/operations/search", body=rp.example("D.43-request.json")))
    check([f["path"] for f in r.json()["folderList"]["folder"]] == ["/"], "D.43: %s" % r.text[:300])
    d44 = rp.localize(rp.example("D.44-request.json"))
    rp.verify("D.44", nms.call("POST", "/folders/operations/search", body=d44), status=400,
              why="maxDate=2014-01-01T12:00Z has no seconds (TS 6.7: xsd:dateTimeStamp): SVC0002")
    now = time.time()
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    d44["selectionCriteria"]["searchCriteria"]["criterion"][0]["value"] = \
        "minDate=%s&maxDate=%s" % (stamp(now - 3600), stamp(now + 3600))
    d44["selectionCriteria"]["maxEntries"] = 100
    r = nms.call("POST", "/folders/operations/search", body=d44)
    rp.verify("D.44", r, tolerate={"folderList.folder[].subFolders": "subFolders is a MAY in a search (TS 5.3.2.8)"})
    rp.note("D.44", "replayed again with a window of the last hour, seconds included, maxEntries 100: 200")
    paths = [f["path"] for f in r.json()["folderList"]["folder"]]
    scope = "/main/projects/APIs/"
    inside = [p for p in paths if p.startswith(scope)]
    check(sorted(inside) == sorted("/main/projects/APIs/" + p for p in [
        "QoS", "QoS/TS-Related", "QoS/meetingInfo", "WebRTCSignaling", "WebRTCSignaling/meetingInfo"]),
        "D.44 in scope: %s" % inside)
    check(len(inside) == len(paths),
          "D.44: %d of %d folders outside the scope %s" % (len(paths) - len(inside), len(paths), scope))

    r = rp.verify("D.45", nms.call("POST", "/folders/operations/search", body=rp.example("D.45-request.json")))
    paths = sorted(f["path"] for f in r.json()["folderList"]["folder"])
    check(paths == ["/main/ARC/BangkokMeeting/projects", "/main/projects"], "D.45: %s" % paths)
    r = rp.verify("D.46", nms.call("POST", "/folders/operations/search", body=rp.example("D.46-request.json")))
    paths = sorted(f["path"] for f in r.json()["folderList"]["folder"])
    check(paths == ["/main/projects/APIs/QoS", "/main/tmp/QoS-related"], "D.46: %s" % paths)
    r = rp.verify("D.47", nms.call("GET", "/folders/operations/pathToId",
                                   params={"path": "/RCSMessageStore/footballGame"}))
    check(r.json()["reference"]["path"] == "/RCSMessageStore/footballGame", "D.47")
    r = rp.verify("D.48", nms.call("GET", "/folders/operations/pathToId"))
    check(last_segment(r.json()["reference"]["resourceURL"]) == "root", "D.48: %s" % r.text)
    rp.skip("D.49", "this server has a single root folder, so a missing path cannot be ambiguous (SVC1009)")
    for d, codes in [("D.50", [200, 200, 200]), ("D.51", [200, 200, 400, 404])]:
        r = rp.verify(d, nms.call("POST", "/folders/operations/pathToId",
                                  body=rp.localize(rp.example("%s-request.json" % d))))
        got = [i["code"] for i in r.json()["bulkResponseList"]["response"]]
        check(got == codes, "%s: codes %s, expected %s" % (d, got, codes))


def replay_folders(rp):
    """D.35–D.42 (folder reads, deletion, names) and D.52–D.57 (copy, move)."""
    nms = rp.nms
    fld608 = "/folders/" + rp.ids["fld608"]
    r = rp.verify("D.35", nms.call("GET", fld608 + "?path=Yes&attrFilter=SubtreeMsgCount&attrFilter=SubtreeSize"))
    f = r.json()["folder"]
    check(attribute(f, "SubtreeMsgCount") == ["7"] and attribute(f, "SubtreeSize"), "D.35: %s" % r.text[:400])
    rp.verify("D.36", nms.call("GET", "/folders/987654"),
              tolerate={"requestError.link": "link is an optional element of a requestError (REST NetAPI Common)"})
    r = rp.verify("D.37", nms.call("GET", fld608 + "?listFilter=All&maxEntries=3"))
    page = r.json()["folder"]
    check(len(page["subFolders"]["folderReference"]) == 2 and len(page["objects"]["objectReference"]) == 1,
          "D.37: %s" % json.dumps(page)[:400])
    cursor = urllib.parse.quote(page["cursor"], safe="")
    r = rp.verify("D.38", nms.call("GET", fld608 + "?fromCursor=%s&listFilter=All&maxEntries=3" % cursor))
    check(len(r.json()["folder"]["objects"]["objectReference"]) == 3, "D.38: %s" % r.text[:400])
    rp.verify("D.39", nms.call("DELETE", "/folders/" + rp.ids["fId567"]))
    check(nms.call("GET", "/folders/" + rp.ids["fId567"]).status_code == 404, "D.39: still there")
    board = "/folders/%s/folderName" % rp.ids["fld456.board"]
    rp.verify("D.40", nms.call("GET", board))
    r = rp.verify("D.41", nms.call("PUT", board, body=rp.example("D.41-request.json")))
    check(nms.folder_id("/main/BoardSession1") == rp.ids["fld456.board"], "D.41: the id changed")
    rp.verify("D.42", nms.call("PUT", "/folders/root/folderName", body=rp.example("D.42-request.json")))
    rp.note("D.42", "fld456 mapped to the root folder, the one folder this server does not rename (POL1030)")
    # Copy and move into /main/SummerHolidayPlan (fld456 there).
    tsr = lambda d, **extra: rp.localize(rp.example("%s-request.json" % d), fld456=rp.ids["fld456"], **extra)
    r = rp.verify("D.52", nms.call("POST", "/folders/operations/copyToFolder", body=tsr("D.52")))
    for item in r.json()["bulkResponseList"]["response"]:
        check(item["success"]["path"].startswith("/main/SummerHolidayPlan/"), "D.52: %s" % item)
        check(last_segment(item["success"]["resourceURL"]) not in (rp.ids["objId001"], rp.ids["objId002"]),
              "D.52: a copy kept the id")
    r = rp.verify("D.53", nms.call("POST", "/folders/operations/copyToFolder", body=tsr("D.53", fld111=rp.ids["fld608"])))
    check(r.json()["bulkResponseList"]["response"][0]["success"]["path"] == "/main/SummerHolidayPlan/" + CONV, "D.53")
    r = rp.verify("D.54", nms.call("POST", "/folders/operations/copyToFolder", body=tsr("D.54")))
    check([i["code"] for i in r.json()["bulkResponseList"]["response"]] == [200, 400], "D.54: %s" % r.text[:400])
    r = rp.verify("D.55", nms.call("POST", "/folders/operations/moveToFolder", body=tsr("D.55")))
    moved = [last_segment(i["success"]["resourceURL"]) for i in r.json()["bulkResponseList"]["response"]]
    check(moved == [rp.ids["objId001"], rp.ids["objId002"]], "D.55: move changed ids: %s" % moved)
    r = rp.verify("D.56", nms.call("POST", "/folders/operations/moveToFolder", body=tsr("D.56")))
    item = r.json()["bulkResponseList"]["response"][0]["success"]
    check(last_segment(item["resourceURL"]) == rp.ids["fld111"] and item["path"] == "/main/SummerHolidayPlan/archive2013",
          "D.56: %s" % item)
    # D.57: a target where nothing may be created: here the root.
    body = tsr("D.57", fldSys5556677="root", objId001=rp.ids["objNotMoved"])
    r = rp.verify("D.57", nms.call("POST", "/folders/operations/moveToFolder", body=body))
    check(r.json()["requestError"]["policyException"]["messageId"] == "POL1031", "D.57: %s" % r.text[:300])


def appendix_d(args):
    """Replays Appendix D; prints what was checked, skipped and noted."""
    nms = Nms(args.base, args.user, args.password)
    rp = Replay(nms, args.examples)
    fixtures(rp)
    replay_creation(rp)
    replay_objects(rp)
    replay_searches(rp)
    replay_folders(rp)
    for d in NOTIFICATION_EXAMPLES:
        rp.skip(d, "subscriptions and notifications are a later issue")
    every = set(rp.status)
    done = set(rp.checked) | set(rp.skipped)
    check(every <= done, "examples neither replayed nor skipped: %s" % sorted(every - done, key=dnum))
    for n in rp.notes:
        print("note " + n)
    by_reason = {}
    for d in sorted(rp.skipped, key=dnum):
        by_reason.setdefault(rp.skipped[d], []).append(d)
    skips = "; ".join(
        "%s: %s" % (ds[0] if len(ds) == 1 else "%s-%s" % (ds[0], ds[-1]), reason)
        for reason, ds in by_reason.items()
    )
    print(
        "appendix-d: %d examples replayed, %d skipped (%s), %d notes"
        % (len(set(rp.checked)), len(rp.skipped), skips, len(rp.notes))
    )


def dnum(d):
    """The number of `D.n`, for sorting."""
    return int(d.split(".")[1])


# ---------------------------------------------------------------------------
# search-paging

ORIGINALS = 10_000
LATE = 500


def pager_message(subject):
    """A pager message the D.20 criteria select."""
    return message(
        [
            ("From", "<tel:+19585550100>"),
            ("To", "<tel:+15551234567>"),
            ("Subject", subject),
            ("Message-Context", "pager-message"),
            ("Message-Direction", "received"),
            ("Content-Type", "text/plain"),
        ],
        "message " + subject,
    )


def populate(args):
    """10,000 originals in INBOX, MULTIAPPEND batches of 100."""
    imap = Imap(args.imap, args.user, args.password)
    for start in range(0, ORIGINALS, 100):
        imap.append_many("INBOX", [pager_message("orig-%d" % n) for n in range(start, start + 100)])
    imap.close()


def add_late(args, pages, done, added):
    """The second thread: 50 more messages each time a page has arrived
    (`pages` released once per page), concurrently with the next page's
    request; the rest once paging is over. `added` records per batch
    whether paging was still going on."""
    imap = Imap(args.imap, args.user, args.password)
    for batch in range(LATE // 50):
        pages.acquire()
        during = not done.is_set()
        imap.append_many("INBOX", [pager_message("late-%d" % (batch * 50 + i)) for i in range(50)])
        added.append(during)
    imap.close()


def search_paging(args):
    """Pages D.20's search (maxEntries 1000, Date ascending) through
    10,000 objects while 500 more arrive; each original once."""
    nms = Nms(args.base, args.user, args.password)
    started = time.monotonic()
    populate(args)
    filled = time.monotonic()
    criteria = json.loads((Path(args.examples) / "D.20-request.json").read_text())
    criteria["selectionCriteria"]["maxEntries"] = 1000
    pages, done, added = threading.Semaphore(0), threading.Event(), []
    adder = threading.Thread(target=add_late, args=(args, pages, done, added))
    adder.start()
    seen, originals, late, n_pages = set(), {}, 0, 0
    try:
        while True:
            answer = nms.search(criteria)["objectList"]
            n_pages += 1
            check(n_pages <= 30, "no end to the pages")
            for o in answer["object"]:
                url = o["resourceURL"]
                check(url not in seen, "%s seen twice (page %d)" % (url, n_pages))
                seen.add(url)
                subject = attribute(o, "Subject")
                check(subject, "no Subject attribute: %s" % o)
                if subject[0].startswith("orig-"):
                    originals[url] = subject[0]
                else:
                    late += 1
            if "cursor" not in answer:
                break
            criteria["selectionCriteria"]["fromCursor"] = answer["cursor"]
            pages.release()
    finally:
        done.set()
        for _ in range(LATE // 50):
            pages.release()
        adder.join()
    paged = time.monotonic()
    names = set(originals.values())
    check(len(originals) == ORIGINALS and len(names) == ORIGINALS,
          "%d originals seen (%d distinct subjects), expected %d: missing e.g. %s"
          % (len(originals), len(names), ORIGINALS,
             sorted({"orig-%d" % n for n in range(ORIGINALS)} - names)[:5]))
    during = sum(50 for d in added if d)
    check(during > 0, "no object arrived during the paging")
    print(
        "search-paging: %d originals each seen once in %d pages (%d of %d late objects seen, %d added during "
        "paging); populate %.1fs, paging %.1fs"
        % (ORIGINALS, n_pages, late, LATE, during, filled - started, paged - filled)
    )


# ---------------------------------------------------------------------------
# bulk


def bulk_create(nms):
    """bulkCreation of 100 objects in /bulk: 100 items of 201."""
    objects = [
        {"parentFolderPath": "/bulk", "attributes": attrs(Subject="bulk-%d" % i, Direction="Out"),
         "flags": {"flag": ["\\Seen"]}}
        for i in range(100)
    ]
    files = [("root-fields", (None, json.dumps({"objectList": {"object": objects}}), "application/json"))]
    files += [("attachments", ("b%d.txt" % i, b"bulk body %d" % i, "text/plain")) for i in range(100)]
    r = nms.call("POST", "/objects/operations/bulkCreation", files=files, expect=200)
    items = r.json()["bulkResponseList"]["response"]
    check(len(items) == 100 and all(i["code"] == 201 for i in items),
          "bulkCreation: %s" % [i["code"] for i in items])
    urls = [i["success"]["resourceURL"] for i in items]
    check(len(set(urls)) == 100, "bulkCreation: duplicate URLs")
    for n in (0, 57, 99):
        o = nms.call("GET", urls[n], expect=200).json()["object"]
        check(attribute(o, "Subject") == ["bulk-%d" % n], "bulk object %d: %s" % (n, o))
        check(nms.call("GET", o["payloadURL"], expect=200).content == b"bulk body %d" % n, "payload %d" % n)
    return urls


def bulk_update(nms, urls):
    """bulkUpdate AddFlag \\Flagged by selectionCriteria (subjects bulk-0
    to bulk-9); only those are flagged."""
    criteria = [{"type": "Attribute", "name": "Subject", "value": "bulk-%d" % i} for i in range(10)]
    body = {"bulkUpdate": {
        "selectionCriteria": {"searchCriteria": {"criterion": criteria, "operator": "Or"}},
        "operation": "AddFlag",
        "flags": {"flag": ["\\Flagged"]},
    }}
    r = nms.call("POST", "/objects/operations/bulkUpdate", body=body, expect=200)
    items = r.json()["bulkResponseList"]["response"]
    check(len(items) == 10 and all(i["code"] == 200 for i in items), "bulkUpdate: %s" % r.text[:400])
    for n, url in enumerate(urls):
        flags = nms.call("GET", url + "/flags", expect=200).json()["flagList"]["flag"]
        check(("\\Flagged" in flags) == (n < 10), "object %d flags %s" % (n, flags))


def bulk_delete(nms, urls):
    """bulkDelete of 20 objects: each item 200, each object 404 after,
    the others still there."""
    gone = urls[80:]
    body = {"bulkDelete": {"objects": {"objectReference": [{"resourceURL": u} for u in gone]}}}
    r = nms.call("DELETE", "/objects/operations/bulkDelete", body=body, expect=200)
    items = r.json()["bulkResponseList"]["response"]
    check(len(items) == 20 and all(i["code"] == 200 for i in items), "bulkDelete: %s" % r.text[:400])
    for u in gone:
        r = nms.call("GET", u, expect=404)
        check(r.json()["requestError"]["serviceException"]["messageId"] == "SVC0004", "after bulkDelete: %s" % r.text)
    nms.call("GET", urls[79], expect=200)


def walk(nms, folder_url):
    """The tree below a folder, by GET listFilter=All pages: {relative
    path: object count}, and the objects' URLs."""
    tree, objects = {}, []

    def visit(url, rel):
        count, query = 0, "listFilter=All&maxEntries=2"
        while True:
            f = nms.call("GET", "%s?%s" % (url, query), expect=200).json()["folder"]
            for ref in f.get("subFolders", {}).get("folderReference", []):
                visit(ref["resourceURL"], rel + "/" + ref["path"].rsplit("/", 1)[-1])
            refs = f.get("objects", {}).get("objectReference", [])
            count += len(refs)
            objects.extend(r["resourceURL"] for r in refs)
            if "cursor" not in f:
                break
            query = "listFilter=All&maxEntries=2&fromCursor=" + urllib.parse.quote(f["cursor"], safe="")
        tree[rel or "."] = count

    visit(folder_url, "")
    return tree, objects


def copy_and_move(nms):
    """copyToFolder of a tree (new folders, new object ids, same shape)
    and moveToFolder (same folder and object ids, new paths)."""
    layout = {"/tree": 3, "/tree/a": 2, "/tree/a/deep": 1, "/tree/b": 0}
    for path, count in layout.items():
        nms.make_folder(path)
        for i in range(count):
            root = {"object": {"parentFolderPath": path, "attributes": attrs(Subject="%s %d" % (path, i)),
                               "flags": {"flag": []}}}
            nms.create_object(root, [("text/plain", b"tree object")])
    dest = nms.url("/folders/" + nms.make_folder("/dest"))
    tree = nms.url("/folders/" + nms.folder_id("/tree"))
    before, tree_objects = walk(nms, tree)
    check(before == {".": 3, "/a": 2, "/a/deep": 1, "/b": 0}, "tree %s" % before)
    ref = {"targetSourceRef": {"targetRef": {"resourceURL": dest},
                               "sourceRefs": {"folders": {"folderReference": [{"resourceURL": tree}]}}}}
    r = nms.call("POST", "/folders/operations/copyToFolder", body=ref, expect=200)
    item = r.json()["bulkResponseList"]["response"][0]
    check(item["code"] == 200 and item["success"]["path"] == "/dest/tree", "copy: %s" % item)
    copy_url = item["success"]["resourceURL"]
    check(copy_url != tree, "the copy kept the folder id")
    copied, copy_objects = walk(nms, copy_url)
    check(copied == before, "copied tree %s, source %s" % (copied, before))
    check(not set(copy_objects) & set(tree_objects), "copied objects kept their ids")
    check(walk(nms, tree) == (before, tree_objects), "the source changed")
    # Move: the folder ids and object ids stay.
    ids = {p: nms.folder_id(p) for p in layout}
    moved_to = nms.url("/folders/" + nms.make_folder("/moved"))
    ref["targetSourceRef"]["targetRef"]["resourceURL"] = moved_to
    r = nms.call("POST", "/folders/operations/moveToFolder", body=ref, expect=200)
    item = r.json()["bulkResponseList"]["response"][0]
    check(item["code"] == 200 and item["success"]["resourceURL"] == tree, "move: %s" % item)
    for path, fid in ids.items():
        check(nms.folder_id("/moved" + path) == fid, "move changed the id of %s" % path)
        nms.call("GET", "/folders/operations/pathToId", params={"path": path}, expect=404)
    after, moved_objects = walk(nms, tree)
    check(after == before and sorted(moved_objects) == sorted(tree_objects), "moved tree %s" % after)
    return moved_objects


def path_to_id(nms, objects):
    """pathToId for objects and folders, GET ?path= and POST pathList;
    GET on each returned resourceURL shows the path asked for."""
    paths = []
    for url in objects[:3]:
        paths.append(nms.call("GET", url, expect=200).json()["object"]["path"])
    for p in paths:
        r = nms.call("GET", "/objects/operations/pathToId", params={"path": p}, expect=200).json()
        check(r["reference"]["path"] == p, "object pathToId %s: %s" % (p, r))
        o = nms.call("GET", r["reference"]["resourceURL"], expect=200).json()["object"]
        check(o["path"] == p, "object at %s has path %s" % (r["reference"]["resourceURL"], o["path"]))
    r = nms.call("POST", "/objects/operations/pathToId", body={"pathList": {"path": paths + ["/moved/tree/999999"]}},
                 expect=200).json()
    items = r["bulkResponseList"]["response"]
    check([i["code"] for i in items] == [200, 200, 200, 404], "object pathList: %s" % items)
    for p, i in zip(paths, items):
        check(nms.call("GET", i["success"]["resourceURL"], expect=200).json()["object"]["path"] == p, "pathList " + p)
    folders = ["/moved/tree", "/moved/tree/a", "/moved/tree/a/deep", "/dest/tree/b"]
    for p in folders:
        r = nms.call("GET", "/folders/operations/pathToId", params={"path": p}, expect=200).json()
        f = nms.call("GET", r["reference"]["resourceURL"] + "?path=Yes", expect=200).json()["folder"]
        check(f["path"] == p, "folder at %s has path %s" % (r["reference"]["resourceURL"], f["path"]))
    r = nms.call("POST", "/folders/operations/pathToId", body={"pathList": {"path": folders + ["/tree"]}},
                 expect=200).json()
    items = r["bulkResponseList"]["response"]
    check([i["code"] for i in items] == [200, 200, 200, 200, 404], "folder pathList: %s" % items)
    for p, i in zip(folders, items):
        f = nms.call("GET", i["success"]["resourceURL"] + "?path=Yes", expect=200).json()["folder"]
        check(f["path"] == p, "folder pathList %s: %s" % (p, f["path"]))
    return len(paths) + len(folders)


def bulk(args):
    """The bulk operations, one step after another."""
    nms = Nms(args.base, args.user, args.password)
    started = time.monotonic()
    urls = bulk_create(nms)
    bulk_update(nms, urls)
    bulk_delete(nms, urls)
    moved = copy_and_move(nms)
    n = path_to_id(nms, moved)
    print(
        "bulk: bulkCreation 100x201, bulkUpdate by selection 10 flagged, bulkDelete 20 gone, "
        "tree of 4 folders/6 objects copied (new ids) and moved (ids kept), pathToId %d paths both ways; %.1fs%s"
        % (n, time.monotonic() - started,
           "")
    )


# ---------------------------------------------------------------------------
# hostile


def error_id(r, status):
    """Checks that `r` is an error of `status` with a requestError body;
    its messageId."""
    check(r.status_code == status, "status %d, expected %d: %s" % (r.status_code, status, r.text[:300]))
    try:
        err = r.json()["requestError"]
    except (ValueError, KeyError):
        raise Failure("%d without a requestError body: %r" % (status, r.text[:300]))
    exc = err.get("serviceException") or err.get("policyException")
    check(exc and exc.get("messageId"), "requestError without a messageId: %s" % err)
    return exc["messageId"]


class BigRootFields:
    """A multipart/form-data body whose `root-fields` part is `size`
    bytes of JSON, produced as it is read (never held whole)."""

    BOUNDARY = "nmshostile0123456789"

    def __init__(self, size):
        head = ('--%s\r\nContent-Disposition: form-data; name="root-fields"\r\n'
                'Content-Type: application/json\r\n\r\n{"object": {"parentFolderPath": "/x", "pad": "'
                % self.BOUNDARY).encode()
        tail = ('"}}\r\n--%s--\r\n' % self.BOUNDARY).encode()
        self.head, self.tail, self.pad = head, tail, size - len(head) - len(tail)
        self.size = size
        self.sent = 0

    def __len__(self):
        return self.size

    def __iter__(self):
        yield self.head
        self.sent += len(self.head)
        chunk = b"a" * (1 << 20)
        left = self.pad
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            left -= len(piece)
            self.sent += len(piece)
            yield piece
        yield self.tail
        self.sent += len(self.tail)


def alive(nms, after, notes):
    """A normal request after the hostile request `after`: the box's root
    answers, on the same session (a connection the server closed after
    an early answer says so with `Connection: close`)."""
    nms.call("GET", "/folders/operations/pathToId", expect=200)


def hostile(args):
    """Hostile requests, each answered with the TS's error and none
    stopping the server."""
    nms = Nms(args.base, args.user, args.password)
    results, notes = [], []
    search = "/objects/operations/search"
    # 1. Malformed JSON.
    r = nms.call("POST", search, data=b'{"selectionCriteria": {', headers={"Content-Type": "application/json"})
    results.append("malformed JSON 400 " + error_id(r, 400))
    alive(nms, "malformed JSON", notes)
    # 2. A 100 MB root-fields part, streamed (Content-Length, read lazily).
    body = BigRootFields(100 * 1024 * 1024)
    headers = {"Content-Type": "multipart/form-data; boundary=" + BigRootFields.BOUNDARY}
    started = time.monotonic()
    try:
        r = requests.post(nms.url("/objects"), data=body, headers=headers,
                          auth=nms.session.auth, timeout=120)
        mid = error_id(r, 413)
        outcome = "413 %s after %d MB sent" % (mid, body.sent >> 20)
    except requests.exceptions.ConnectionError as e:
        outcome = "connection closed after %d MB sent (%s)" % (body.sent >> 20, type(e).__name__)
    check(body.sent < len(body) or outcome.startswith("413"), "the whole 100 MB was read: %s" % outcome)
    alive(nms, "the 100 MB upload", notes)
    results.append("100MB root-fields: %s in %.1fs, server alive" % (outcome, time.monotonic() - started))
    # 3. 10,000 criteria (the server takes 64).
    many = {"selectionCriteria": {"searchCriteria": {"criterion": [
        {"type": "Attribute", "name": "Subject", "value": "s%d" % i} for i in range(10_000)]}}}
    results.append("10000 criteria 400 " + error_id(nms.call("POST", search, body=many), 400))
    alive(nms, "10,000 criteria", notes)
    # 4. Unknown fields in an otherwise valid search: ignored.
    unknown = {"selectionCriteria": {"maxEntries": 5, "futureField": {"x": [1, 2]},
                                     "searchCriteria": {"criterion": [
                                         {"type": "Flag", "name": "\\Seen", "value": "true", "weight": 3}],
                                         "extra": True}},
               "alsoUnknown": 1}
    r = nms.call("POST", search, body=unknown)
    check(r.status_code == 200 and "objectList" in r.json(), "unknown fields: %d %s" % (r.status_code, r.text[:300]))
    results.append("unknown fields ignored 200")
    alive(nms, "unknown fields", notes)
    # 5. An unknown enum value.
    bogus = {"selectionCriteria": {"searchCriteria": {"criterion": [{"type": "Bogus", "value": "x"}]}}}
    results.append("search type Bogus 400 " + error_id(nms.call("POST", search, body=bogus), 400))
    bogus_op = {"bulkUpdate": {"objects": {"objectReference": [{"resourceURL": nms.url("/objects/1")}]},
                               "operation": "Paint", "flags": {"flag": ["\\Seen"]}}}
    r = nms.call("POST", "/objects/operations/bulkUpdate", body=bogus_op)
    results.append("bulkUpdate operation Paint 400 " + error_id(r, 400))
    alive(nms, "unknown enum values", notes)
    # 6. Wrong content types.
    r = nms.call("POST", search, data=b'{"selectionCriteria": {}}', headers={"Content-Type": "text/plain"})
    results.append("text/plain search 415 " + error_id(r, 415))
    alive(nms, "a text/plain search", notes)
    r = nms.call("POST", "/objects", body={"object": {"parentFolderPath": "/x"}})
    results.append("application/json object creation 400 " + error_id(r, 400))
    alive(nms, "a JSON object creation", notes)
    for line in results:
        print("  " + line)
    for line in notes:
        print("  note: " + line)
    print("hostile: %d hostile requests answered with requestError bodies, server alive after each; %s%s"
          % (len(results), "; ".join(results), "; %d note(s): %s" % (len(notes), "; ".join(notes)) if notes else ""))


# ---------------------------------------------------------------------------


def main():
    """Parses the arguments and runs the subcommand."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("subcommand", choices=["appendix-d", "search-paging", "bulk", "hostile"])
    parser.add_argument("--base", required=True, help="the box URL, http://host:port/nms/v1/cpm/BOX")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--imap", required=True, help="the IMAP listener, host:port")
    parser.add_argument("--examples", required=True, help="crates/nms-server/tests/examples")
    args = parser.parse_args()
    run = {"appendix-d": appendix_d, "search-paging": search_paging, "bulk": bulk, "hostile": hostile}
    try:
        run[args.subcommand](args)
    except Failure as e:
        print("%s FAILED: %s" % (args.subcommand, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

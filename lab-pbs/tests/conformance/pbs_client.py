#!/usr/bin/env python3
"""A Proxmox Backup Server API client the project did not write, against pbs-sim.

Python's standard library only (http.client, ssl, urllib.parse, json,
hashlib): nothing of lab's client, no third-party package. It talks to a
running simulator the way a script written for a real PBS does:

- TLS without a CA: the certificate pinned by its SHA-256 fingerprint;
- `Authorization: PBSAPIToken=<user>@<realm>!<name>:<secret>` (a colon);
- `{"data": ...}` envelopes on success, the plain error text as the body
  on failure (400, 401, 403, 404);
- a datastore create answered with a 9-field UPID (worker
  `create-datastore`), the task polled until it stops;
- a backup written through the simulator's `/sim/backup`, listed by the
  real snapshots endpoint; a token created, granted a role, used.

Usage: PBS_URL=https://127.0.0.1:8007 PBS_TOKEN='PBSAPIToken=...'
PBS_FINGERPRINT=AA:BB:... python3 pbs_client.py

Exits 0 and prints `ok: N checks` when every check passes; otherwise
prints the first failed check and exits 1.
"""

import hashlib
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.parse

# proxmox-schema's PROXMOX_UPID_REGEX.
UPID_RE = re.compile(
    r"^UPID:(?P<node>[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?P<pid>[0-9A-Fa-f]{8}):"
    r"(?P<pstart>[0-9A-Fa-f]{8,9}):(?P<task_id>[0-9A-Fa-f]{8,16}):(?P<starttime>[0-9A-Fa-f]{8}):"
    r"(?P<wtype>[^:\s]+):(?P<wid>[^:\s]*):(?P<authid>[^:\s]+):$"
)

CHECKS = 0


class CheckFailed(Exception):
    pass


def check(condition, what):
    global CHECKS
    if not condition:
        raise CheckFailed(what)
    CHECKS += 1


class Answer:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def text(self):
        return self.body.decode("utf-8")

    def data(self):
        check(self.status == 200, f"expected 200, got {self}")
        return json.loads(self.text())["data"]

    def __repr__(self):
        return f"{self.status} {self.reason} {self.body!r}"


class Pbs:
    def __init__(self, url, token, fingerprint):
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname
        self.port = parsed.port or 8007
        self.token = token
        self.fingerprint = fingerprint.replace(":", "").lower()
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def connect(self):
        conn = http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=30
        )
        conn.connect()
        der = conn.sock.getpeercert(binary_form=True)
        seen = hashlib.sha256(der).hexdigest()
        if seen != self.fingerprint:
            conn.close()
            raise CheckFailed(
                f"certificate fingerprint {seen} is not the pinned {self.fingerprint}"
            )
        return conn

    def request(self, method, path, params=None, token=None, json_body=None, prefix="/api2/json"):
        target = prefix + path
        headers = {}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = token
        params = params or {}
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif method in ("GET", "DELETE"):
            if params:
                target += "?" + urllib.parse.urlencode(params, doseq=True)
        else:
            body = urllib.parse.urlencode(params, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = self.connect()
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            return Answer(resp.status, resp.reason, resp.headers, resp.read())
        finally:
            conn.close()

    def wait(self, upid):
        m = UPID_RE.match(upid)
        check(m is not None, f"not a PBS UPID: {upid!r}")
        node = m.group("node")
        quoted = urllib.parse.quote(upid, safe="")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = self.request("GET", f"/nodes/{node}/tasks/{quoted}/status").data()
            if st["status"] == "stopped":
                return st
            check(st["status"] == "running", f"task status {st}")
            time.sleep(0.05)
        raise CheckFailed(f"task {upid} did not stop")


def main():
    pbs = Pbs(os.environ["PBS_URL"], os.environ["PBS_TOKEN"], os.environ["PBS_FINGERPRINT"])

    check(pbs.token.startswith("PBSAPIToken="), "the banner's token header")
    v = pbs.request("GET", "/version").data()
    check(v["version"].startswith("4."), f"version {v}")
    check("release" in v and "repoid" in v, f"version fields {v}")
    certs = pbs.request("GET", "/nodes/localhost/certificates/info").data()
    check(
        certs[0]["fingerprint"].replace(":", "").lower() == pbs.fingerprint,
        f"certificate info names the served certificate: {certs}",
    )

    # Auth: no header, a PVE-style header, a wrong secret.
    a = pbs.request("GET", "/version", token="")
    check(a.status == 401, f"no credentials: {a}")
    check(a.text().startswith("authentication failed - "), f"401 text: {a}")
    tokenid, _, secret = pbs.token[len("PBSAPIToken="):].partition(":")
    a = pbs.request("GET", "/version", token=f"PVEAPIToken={tokenid}={secret}")
    check(a.status == 401, f"a PVE token header is not PBS's: {a}")
    a = pbs.request("GET", "/version", token=f"PBSAPIToken={tokenid}:wrong")
    check(a.status == 401 and a.text() == "authentication failed - invalid credentials", f"{a}")
    a = pbs.request("GET", "/version", token=f"PBSAPIToken {tokenid}:{secret}")
    check(a.status == 200, f"a space may follow the prefix: {a}")

    # Errors are plain text.
    a = pbs.request("GET", "/nothing")
    check(a.status == 404, f"unknown path: {a}")
    check(a.text() == "Path '/api2/json/nothing' not found.", f"404 text: {a}")
    a = pbs.request("DELETE", "/version")
    check(a.status == 404, f"unknown method: {a}")
    a = pbs.request("POST", "/config/datastore", {"name": "x y", "path": "/mnt/x"})
    check(a.status == 400, f"bad name: {a}")
    check(a.text().startswith("parameter verification errors\n\nparameter 'name': "), f"{a}")
    check("application/json" in a.headers.get("Content-Type", ""), "errors keep the JSON type")

    # A datastore: the create answers a UPID although the schema says null.
    upid = pbs.request("POST", "/config/datastore", {"name": "daily", "path": "/mnt/daily"}).data()
    check(isinstance(upid, str), f"create-datastore answers a UPID: {upid!r}")
    m = UPID_RE.match(upid)
    check(m is not None and m.group("wtype") == "create-datastore", f"worker type: {upid}")
    check(m.group("wid") == "daily", f"worker id: {upid}")
    st = pbs.wait(upid)
    check(st["exitstatus"] == "OK", f"task ended {st}")
    check(st["type"] == "create-datastore", f"status type {st}")
    quoted = urllib.parse.quote(upid, safe="")
    log = pbs.request("GET", f"/nodes/localhost/tasks/{quoted}/log", {"start": 0, "limit": 50})
    lines = json.loads(log.text())
    check(lines["data"][-1]["t"] == "TASK OK", f"task log {lines}")
    check(lines["total"] == len(lines["data"]), f"log total {lines}")
    a = pbs.request("POST", "/config/datastore", {"name": "daily", "path": "/mnt/again"})
    check(a.status == 400 and "datastore 'daily' already exists." in a.text(), f"duplicate: {a}")
    a = pbs.request("GET", "/config/datastore/nope")
    check(a.status == 400 and a.text() == "no such datastore 'nope'", f"missing: {a}")
    # PUT with `delete` as an array (repeated keys).
    pbs.request("PUT", "/config/datastore/daily", {"comment": "c", "gc-schedule": "daily"}).data()
    pbs.request("PUT", "/config/datastore/daily", {"delete": ["comment", "gc-schedule"]}).data()
    cfg = pbs.request("GET", "/config/datastore/daily").data()
    check("comment" not in cfg and "gc-schedule" not in cfg and "digest" in cfg, f"{cfg}")
    status = pbs.request("GET", "/admin/datastore/daily/status").data()
    check(status["total"] == status["used"] + status["avail"], f"status {status}")

    # A namespace and a backup through /sim/backup (JSON body).
    ns = pbs.request("POST", "/admin/datastore/daily/namespace", {"name": "pve1"}).data()
    check(ns == "pve1", f"namespace {ns!r}")
    backup = {
        "store": "daily", "ns": "pve1", "backup-type": "vm", "backup-id": "101",
        "backup-time": 1764720000,
        "files": [{"filename": "qemu-server.conf.blob", "size": 512},
                  {"filename": "drive-scsi0.img.fidx", "size": 1048576}],
        "guest-config": "memory: 2048\n",
    }
    a = pbs.request("POST", "/sim/backup", json_body=backup, prefix="")
    check(a.status == 200 and json.loads(a.text()) == {"data": None}, f"backup: {a}")
    a = pbs.request("POST", "/sim/backup", json_body=backup, prefix="")
    check(a.status == 400 and a.text() == "backup timestamp is older than last backup.", f"{a}")
    snaps = pbs.request("GET", "/admin/datastore/daily/snapshots", {"ns": "pve1"}).data()
    check(len(snaps) == 1 and snaps[0]["size"] == 1049088, f"snapshots {snaps}")
    check(snaps[0]["owner"] == tokenid, f"owner {snaps}")
    got = pbs.request("GET", "/sim/backup", {
        "store": "daily", "ns": "pve1", "backup-type": "vm", "backup-id": "101",
        "backup-time": 1764720000}, prefix="").data()
    check(got["guest-config"] == "memory: 2048\n", f"read back {got}")

    # A token with no privileges, then one role.
    pbs.request("POST", "/access/users", {"userid": "pve@pbs"}).data()
    tok = pbs.request("POST", "/access/users/pve@pbs/token/backup").data()
    check(tok["tokenid"] == "pve@pbs!backup" and len(tok["value"]) >= 32, f"token {tok}")
    header = f"PBSAPIToken={tok['tokenid']}:{tok['value']}"
    seen = pbs.request("GET", "/admin/datastore", token=header).data()
    check(seen == [], f"a new token sees nothing: {seen}")
    a = pbs.request("GET", "/admin/datastore/daily/status", token=header)
    check(a.status == 403 and a.text() == "permission check failed", f"403: {a}")
    for who in ("pve@pbs", "pve@pbs!backup"):
        pbs.request("PUT", "/access/acl", {"path": "/datastore/daily", "role": "DatastoreBackup",
                                           "auth-id": who, "propagate": 1}).data()
    seen = pbs.request("GET", "/admin/datastore", token=header).data()
    check([d["store"] for d in seen] == ["daily"], f"granted: {seen}")
    mine = pbs.request("GET", "/admin/datastore/daily/snapshots", {"ns": "pve1"}, token=header).data()
    check(mine == [], f"a backup-only token sees only its own groups: {mine}")

    # GC and a prune job.
    upid = pbs.request("POST", "/admin/datastore/daily/gc").data()
    check(UPID_RE.match(upid).group("wtype") == "garbage_collection", upid)
    check(pbs.wait(upid)["exitstatus"] == "OK", "gc ok")
    gc = pbs.request("GET", "/admin/datastore/daily/gc").data()
    check(gc["upid"] == upid and "removed-bytes" in gc, f"gc status {gc}")
    pbs.request("POST", "/config/prune", {"id": "keep", "store": "daily", "ns": "pve1",
                                          "schedule": "daily", "keep-last": 1}).data()
    upid = pbs.request("POST", "/admin/prune/keep/run").data()
    check(pbs.wait(upid)["exitstatus"] == "OK", "prune ok")
    a = pbs.request("POST", "/config/prune", {"id": "nosched", "store": "daily"})
    check(a.status == 400 and "parameter 'schedule'" in a.text(), f"schedule required: {a}")

    # The delete answers a UPID too.
    upid = pbs.request("DELETE", "/config/datastore/daily").data()
    check(UPID_RE.match(upid).group("wtype") == "delete-datastore", upid)
    check(pbs.wait(upid)["exitstatus"] == "OK", "delete ok")
    a = pbs.request("DELETE", "/config/datastore/daily")
    check(a.status == 404 and a.text() == "datastore 'daily' does not exist.", f"{a}")

    print(f"ok: {CHECKS} checks")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"check {CHECKS + 1} failed: {e}")
        sys.exit(1)

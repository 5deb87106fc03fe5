#!/usr/bin/env python3
"""A Proxmox VE API client the project did not write, against pve-sim.

Python's standard library only (http.client, ssl, urllib.parse, json,
hashlib): nothing of lab's client, no third-party package. It talks to a
running simulator the way a script written for a real PVE node does:

- TLS without a CA: the certificate is pinned by its SHA-256 fingerprint
  (what `pvesh`/proxmoxer users do with a fresh node's self-signed
  certificate);
- `Authorization: PVEAPIToken=<user>@<realm>!<name>=<secret>`;
- `{"data": ...}` envelopes, errors in the HTTP status and reason phrase;
- a VM create answered with a UPID, the task polled until it stops, the
  config read back;
- volume ids in paths, percent-encoded and not;
- 501 for unknown paths, 401 without credentials.

Usage: PVE_URL=https://127.0.0.1:8006 PVE_TOKEN='PVEAPIToken=...'
PVE_FINGERPRINT=AA:BB:... python3 pve_client.py

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

# The UPID shape of pve-common `src/PVE/UPID.pm` decode.
UPID_RE = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):"
    r"([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
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

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def data(self):
        check(
            self.status == 200,
            f"expected 200, got {self.status} {self.reason}: {self.body!r}",
        )
        return self.json()["data"]

    def __repr__(self):
        return f"{self.status} {self.reason} {self.body!r}"


class Pve:
    def __init__(self, url, token, fingerprint):
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname
        self.port = parsed.port or 8006
        self.token = token
        self.fingerprint = fingerprint.replace(":", "").lower()
        # No CA knows a fresh node's certificate: verify it by fingerprint.
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

    def request(self, method, path, params=None, auth=True, body=None,
                content_type=None, raw_path=False):
        """`path` is below /api2/json; `params` go into the query for GET
        and DELETE and into a form body otherwise, as PVE expects."""
        target = "/api2/json" + path
        headers = {}
        if auth:
            headers["Authorization"] = self.token
        params = params or {}
        if method in ("GET", "DELETE"):
            if params:
                target += "?" + urllib.parse.urlencode(params)
        elif body is None:
            body = urllib.parse.urlencode(params).encode()
            content_type = "application/x-www-form-urlencoded"
        if body is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
        conn = self.connect()
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return Answer(resp.status, resp.reason, resp.headers, data)
        finally:
            conn.close()

    def wait(self, upid):
        check(UPID_RE.match(upid) is not None, f"not a UPID: {upid!r}")
        node = upid.split(":")[1]
        quoted = urllib.parse.quote(upid, safe="")
        deadline = time.monotonic() + 60
        while True:
            a = self.request("GET", f"/nodes/{node}/tasks/{quoted}/status")
            if a.status == 200:
                status = a.data()
                if status["status"] == "stopped":
                    return status
                check(status["status"] == "running", f"task status {status}")
            else:
                # A poll right after the fork may see no task file yet.
                check(a.status == 400, f"task poll: {a!r}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"task {upid} did not stop")
            time.sleep(0.05)


def main():
    pve = Pve(
        os.environ["PVE_URL"], os.environ["PVE_TOKEN"], os.environ["PVE_FINGERPRINT"]
    )

    # 401 without credentials: the reason carries the message, no body.
    a = pve.request("GET", "/version", auth=False)
    check((a.status, a.reason, a.body) == (401, "No ticket", b""), f"no auth: {a!r}")

    # The envelope, its content type and the version.
    a = pve.request("GET", "/version")
    check(a.status == 200 and a.reason == "OK", f"version: {a!r}")
    check(
        a.headers.get("Content-Type") == "application/json;charset=UTF-8",
        f"content type {a.headers.get('Content-Type')}",
    )
    version = a.json()
    check(list(version.keys()) == ["data"], f"envelope {version}")
    check(version["data"]["release"] == "9.1", f"release {version}")

    nodes = pve.request("GET", "/nodes").data()
    check([n["node"] for n in nodes] == ["pve1", "pve2"], f"nodes {nodes}")
    fingerprint = pve.fingerprint.upper()
    pairs = ":".join(fingerprint[i:i + 2] for i in range(0, len(fingerprint), 2))
    check(nodes[0]["ssl_fingerprint"] == pairs, f"ssl_fingerprint {nodes[0]}")

    # Unknown paths and methods: 501 with the concrete path.
    a = pve.request("GET", "/nodes/pve1/bogus")
    check(
        (a.status, a.reason) == (501, "Method 'GET /nodes/pve1/bogus' not implemented"),
        f"unknown path: {a!r}",
    )
    check(a.json() == {"data": None}, f"501 body {a.body!r}")
    a = pve.request("PATCH", "/version")
    check(a.status == 501, f"PATCH: {a!r}")
    # A body on GET is refused.
    a = pve.request("GET", "/version", body=b"x=1",
                    content_type="application/x-www-form-urlencoded")
    check(
        (a.status, a.reason) == (501, "Unexpected content for method 'GET'"),
        f"GET with a body: {a!r}",
    )

    # Parameter errors: 400 with an errors map.
    a = pve.request("POST", "/nodes/pve1/qemu", {"vmid": "abc"})
    check(
        (a.status, a.reason) == (400, "Parameter verification failed."),
        f"bad vmid: {a!r}",
    )
    check("vmid" in a.json()["errors"], f"errors {a.body!r}")

    # A missing VM is a 500, not a 404.
    a = pve.request("GET", "/nodes/pve1/qemu/999/config")
    check(
        (a.status, a.reason)
        == (500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"),
        f"missing VM: {a!r}",
    )

    # Create -> UPID -> poll -> config.
    upid = pve.request(
        "POST",
        "/nodes/pve1/qemu",
        {
            "vmid": "100",
            "name": "py-client",
            "memory": "1024",
            "scsi0": "local-lvm:1",
            "net0": "virtio,bridge=vmbr0",
        },
    ).data()
    check(isinstance(upid, str), f"create answered {upid!r}")
    fields = upid.split(":")
    check(fields[5] == "qmcreate" and fields[6] == "100", f"UPID {upid}")
    status = pve.wait(upid)
    check(status["exitstatus"] == "OK", f"create task {status}")
    check(status["upid"] == upid and status["type"] == "qmcreate", f"{status}")
    quoted = urllib.parse.quote(upid, safe="")
    a = pve.request("GET", f"/nodes/pve1/tasks/{quoted}/log", {"start": 0, "limit": 50})
    log = a.json()
    check(log["total"] == len(log["data"]), f"log total {log}")
    check(log["data"][-1]["t"] == "TASK OK", f"log end {log}")
    check([line["n"] for line in log["data"]] == list(range(1, len(log["data"]) + 1)),
          f"log numbering {log}")
    config = pve.request("GET", "/nodes/pve1/qemu/100/config").data()
    check(config["name"] == "py-client", f"config {config}")
    check(config["scsi0"] == "local-lvm:vm-100-disk-0,size=1G", f"scsi0 {config}")
    check(config["net0"].startswith("virtio=BC:24:11:"), f"net0 {config}")
    check(re.fullmatch(r"[0-9a-f]{40}", config["digest"]) is not None, f"digest {config}")

    # A JSON body works like a form (pveproxy parses both).
    a = pve.request("PUT", "/nodes/pve1/qemu/100/config",
                    body=json.dumps({"cores": 2, "digest": config["digest"]}).encode(),
                    content_type="application/json")
    check(a.data() is None, f"PUT config {a!r}")
    config = pve.request("GET", "/nodes/pve1/qemu/100/config").data()
    check(config["cores"] == 2, f"cores {config}")

    # Reboot of a stopped VM is refused before any task.
    a = pve.request("POST", "/nodes/pve1/qemu/100/status/reboot")
    check((a.status, a.reason) == (500, "VM 100 not running"), f"reboot: {a!r}")

    # Volume ids in paths: percent-encoded and not.
    template = "debian-13-standard_13.1-2_amd64.tar.zst"
    upid = pve.request(
        "POST",
        "/nodes/pve1/storage/local/download-url",
        {
            "content": "vztmpl",
            "filename": template,
            "url": "http://download.proxmox.com/images/system/" + template,
        },
    ).data()
    check(pve.wait(upid)["exitstatus"] == "OK", "download")
    volid = f"local:vztmpl/{template}"
    encoded = urllib.parse.quote(volid, safe="")
    for path in (f"/nodes/pve1/storage/local/content/{encoded}",
                 f"/nodes/pve1/storage/local/content/{volid}"):
        v = pve.request("GET", path).data()
        check(v["volid"] == volid, f"{path}: {v}")
    upid = pve.request("DELETE", f"/nodes/pve1/storage/local/content/{volid}").data()
    check(upid.split(":")[5] == "imgdel", f"delete answered {upid!r}")
    check(pve.wait(upid)["exitstatus"] == "OK", "imgdel task")
    content = pve.request("GET", "/nodes/pve1/storage/local/content").data()
    check(all(v["volid"] != volid for v in content), f"still listed: {content}")

    # Destroy -> UPID -> gone.
    upid = pve.request("DELETE", "/nodes/pve1/qemu/100", {"purge": 1}).data()
    check(pve.wait(upid)["exitstatus"] == "OK", "destroy")
    a = pve.request("GET", "/nodes/pve1/qemu/100/config")
    check(a.status == 500, f"destroyed VM: {a!r}")

    print(f"ok: {CHECKS} checks")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"check {CHECKS + 1} failed: {e}", file=sys.stderr)
        sys.exit(1)

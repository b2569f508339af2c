"""GCP Secret Manager v1 test peer: gcplocal, completed where it falls short.

gcplocal (PyPI) serves the HTTP server (its Secret Manager blueprint is registered here: 0.1.0 does not
load it by itself), its OAuth token endpoint (`/token`, used by keep's real
service-account flow through gcp_auth), and `secrets.get` / `secrets.patch` over its state store. Its
Secret Manager module is generated from the discovery document and stubs the rest: `addVersion`,
`versions.access`, `disable` and `destroy` answer `{"status": "ok"}`, `secrets.create` ignores the
`secretId` parameter, `secrets.list` answers `items` instead of `secrets`, and `versions.*` are not
per secret. This file replaces exactly those routes with small implementations written from Google's
published REST reference (secretmanager.googleapis.com/v1, projects.secrets and
projects.secrets.versions): secretId creation with ALREADY_EXISTS, labels, quoted etags that change on
every update and are checked by delete/disable/destroy (ABORTED on mismatch), pageSize/pageToken
pagination, version numbers, the `latest` alias, base64 payloads with int64 `dataCrc32c` checked on
add and returned on access, and version states ENABLED/DISABLED/DESTROYED.

Usage: python3 gcp_secretmanager.py CREDENTIALS_PATH -> writes a service-account key file whose
token_uri is this server's `/token` (a fresh RSA key, so gcp_auth signs a real JWT), prints the port
on stdout, and serves on 127.0.0.1 until killed.
Test hooks (not part of Google's API): POST /_test/corrupt/<project>/<secret> flips the stored
checksum of the latest version, so a client's CRC32C check can be exercised.
"""

import base64
import sys
import threading
import time

from flask import jsonify, request
from gcplocal.server import create_app
from gcplocal.services.secretmanager import SecretmanagerService
from gcplocal.state import StateStore
from gcplocal.utils import error_response
from werkzeug.serving import make_server

SVC = "secretmanager"
KIND = "projects_secrets"

state = StateStore()
app = create_app(state)
# gcplocal 0.1.0 ships its Secret Manager module without the registry entry that would load it.
app.register_blueprint(SecretmanagerService(state).create_blueprint())
lock = threading.RLock()
versions = {}  # (project, secret) -> list of version dicts (index = number - 1)
etag_counter = [0]


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def new_etag() -> str:
    etag_counter[0] += 1
    return '"%d"' % etag_counter[0]


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def err(code, status, message):
    return error_response(code, message, status)


def secret_or_404(p, s):
    item = state.get(SVC, p, KIND, s)
    if item is None:
        return None, err(404, "NOT_FOUND", f"Secret [projects/{p}/secrets/{s}] not found.")
    return item, None


def valid_id(s):
    return 0 < len(s) <= 255 and all(c.isalnum() and c.isascii() or c in "-_" for c in s)


def create(projectsId):
    sid = request.args.get("secretId", "")
    if not valid_id(sid):
        return err(400, "INVALID_ARGUMENT", "secretId must match [a-zA-Z0-9_-]{1,255}")
    body = request.get_json(silent=True) or {}
    if "replication" not in body:
        return err(400, "INVALID_ARGUMENT", "Secret.replication is required")
    with lock:
        if state.exists(SVC, projectsId, KIND, sid):
            return err(409, "ALREADY_EXISTS", f"Secret [projects/{projectsId}/secrets/{sid}] already exists.")
        res = {
            "name": f"projects/{projectsId}/secrets/{sid}",
            "replication": body["replication"],
            "createTime": now(),
            "labels": body.get("labels", {}),
            "etag": new_etag(),
        }
        state.put(SVC, projectsId, KIND, sid, res)
        versions[(projectsId, sid)] = []
    return jsonify(res)


def page(items, key):
    size = request.args.get("pageSize", type=int, default=25000)
    size = max(1, min(size, 25000))
    start = int(request.args.get("pageToken") or 0)
    out = {key: items[start:start + size], "totalSize": len(items)}
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    return jsonify(out)


def list_secrets(projectsId):
    items = sorted(state.list(SVC, projectsId, KIND), key=lambda s: s["name"])
    return page(items, "secrets")


def delete(projectsId, secretsId):
    with lock:
        item, e = secret_or_404(projectsId, secretsId)
        if e:
            return e
        etag = request.args.get("etag")
        if etag and etag != item["etag"]:
            return err(409, "ABORTED", "The etag provided does not match the current etag of the secret.")
        state.delete(SVC, projectsId, KIND, secretsId)
        versions.pop((projectsId, secretsId), None)
    return jsonify({})


def touch(p, s):
    item = state.get(SVC, p, KIND, s)
    item["etag"] = new_etag()
    state.put(SVC, p, KIND, s, item)


def add_version(projectsId, secretsId):
    body = request.get_json(silent=True) or {}
    payload = body.get("payload") or {}
    try:
        data = base64.b64decode(payload.get("data", ""), validate=True)
    except Exception:
        return err(400, "INVALID_ARGUMENT", "payload.data is not valid base64")
    if "dataCrc32c" in payload and int(payload["dataCrc32c"]) != crc32c(data):
        return err(400, "INVALID_ARGUMENT", "Checksum mismatch: payload.data_crc32c does not match the data.")
    if len(data) > 64 * 1024:
        return err(400, "INVALID_ARGUMENT", "Secret payload data exceeds the 64 KiB limit.")
    with lock:
        _, e = secret_or_404(projectsId, secretsId)
        if e:
            return e
        vs = versions.setdefault((projectsId, secretsId), [])
        v = {
            "name": f"projects/{projectsId}/secrets/{secretsId}/versions/{len(vs) + 1}",
            "createTime": now(),
            "state": "ENABLED",
            "etag": new_etag(),
            "clientSpecifiedPayloadChecksum": "dataCrc32c" in payload,
            "_data": data,
            "_crc": crc32c(data),
        }
        vs.append(v)
    return jsonify(public(v))


def public(v):
    return {k: val for k, val in v.items() if not k.startswith("_")}


def find_version(p, s, vid):
    """The version dict, or an error response. `latest` is the most recently created version."""
    item, e = secret_or_404(p, s)
    if e:
        return None, e
    vs = versions.get((p, s), [])
    if vid == "latest":
        if not vs:
            return None, err(404, "NOT_FOUND", f"Secret Version [projects/{p}/secrets/{s}/versions/latest] not found.")
        return vs[-1], None
    if not vid.isdigit() or not (1 <= int(vid) <= len(vs)):
        return None, err(404, "NOT_FOUND", f"Secret Version [projects/{p}/secrets/{s}/versions/{vid}] not found.")
    return vs[int(vid) - 1], None


def get_version(projectsId, secretsId, versionsId):
    with lock:
        v, e = find_version(projectsId, secretsId, versionsId)
    return e if e else jsonify(public(v))


def access(projectsId, secretsId, versionsId):
    with lock:
        v, e = find_version(projectsId, secretsId, versionsId)
        if e:
            return e
        if v["state"] != "ENABLED":
            return err(400, "FAILED_PRECONDITION", f"{v['name']} is in {v['state']} state.")
        return jsonify({
            "name": v["name"],
            "payload": {"data": base64.b64encode(v["_data"]).decode(), "dataCrc32c": str(v["_crc"])},
        })


def list_versions(projectsId, secretsId):
    with lock:
        _, e = secret_or_404(projectsId, secretsId)
        if e:
            return e
        items = [public(v) for v in reversed(versions.get((projectsId, secretsId), []))]
    f = request.args.get("filter", "")
    if f.startswith("state:"):
        items = [v for v in items if v["state"] == f[len("state:"):]]
    return page(items, "versions")


def transition(new_state):
    def handler(projectsId, secretsId, versionsId):
        body = request.get_json(silent=True) or {}
        with lock:
            v, e = find_version(projectsId, secretsId, versionsId)
            if e:
                return e
            if body.get("etag") and body["etag"] != v["etag"]:
                return err(409, "ABORTED", "The etag provided does not match the current etag of the version.")
            if v["state"] == "DESTROYED":
                return err(400, "FAILED_PRECONDITION", f"{v['name']} is in DESTROYED state.")
            v["state"] = new_state
            v["etag"] = new_etag()
            if new_state == "DESTROYED":
                v["_data"] = b""
                v["destroyTime"] = now()
        return jsonify(public(v))
    return handler


def corrupt(project, secret):
    with lock:
        v = versions[(project, secret)][-1]
        v["_crc"] ^= 1
    return jsonify({})


ROUTES = {
    "secretmanager_create_projects_secrets": create,
    "secretmanager_list_projects_secrets": list_secrets,
    "secretmanager_delete_projects_secrets": delete,
    "secretmanager_addVersion_projects_secrets": add_version,
    "secretmanager_get_projects_secrets_versions": get_version,
    "secretmanager_access_projects_secrets_versions": access,
    "secretmanager_list_projects_secrets_versions": list_versions,
    "secretmanager_disable_projects_secrets_versions": transition("DISABLED"),
    "secretmanager_destroy_projects_secrets_versions": transition("DESTROYED"),
}
for endpoint, fn in ROUTES.items():
    key = next(k for k in app.view_functions if k.endswith(endpoint))
    app.view_functions[key] = fn
app.add_url_rule("/_test/corrupt/<project>/<secret>", "test_corrupt", corrupt, methods=["POST"])

def write_credentials(path, port):
    import json
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    doc = {
        "type": "service_account",
        "project_id": "keep-test",
        "private_key_id": "test",
        "private_key": pem,
        "client_email": "keep-test@keep-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"http://127.0.0.1:{port}/token",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, threaded=True)
    write_credentials(sys.argv[1], server.server_port)
    print(server.server_port, flush=True)
    sys.stdout.close()
    server.serve_forever()

#!/usr/bin/env python3
"""An independent reader of keep's vault format, written from SECURITY.md ("On-disk format") alone.

It shares no code with keep: SQLite from the standard library, XChaCha20-Poly1305 and Argon2id from
libsodium (PyNaCl), HKDF and HMAC from hashlib/hmac. If keep's files and its written spec ever disagree,
this reader fails. Usage: read_vault.py VAULT PASSPHRASE_FILE  -> prints {"P/E/NAME": value, ...} as JSON
for every secret whose newest version holds a value.
"""
import base64
import hashlib
import hmac
import json
import sqlite3
import struct
import sys

import nacl.bindings
import nacl.pwhash.argon2id


def lp(x: bytes) -> bytes:
    return struct.pack(">I", len(x)) + x


def u64(n: int) -> bytes:
    return lp(struct.pack(">Q", n))


def aad(purpose: str, *fields: bytes) -> bytes:
    return lp(purpose.encode()) + b"".join(fields)


def hmac_parts(key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(lp(p) for p in parts), hashlib.sha256).digest()


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()  # 32 bytes = one block


def open_sealed(key: bytes, ad: bytes, blob: bytes) -> bytes:
    nonce, ct = blob[:24], blob[24:]
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key)


def main(vault_path: str, pass_path: str) -> None:
    passphrase = open(pass_path, "rb").read()
    if passphrase.endswith(b"\n"):
        passphrase = passphrase[:-1]
    db = sqlite3.connect(f"file:{vault_path}?mode=ro", uri=True)
    assert db.execute("PRAGMA application_id").fetchone()[0] == 0x6B656570, "not a keep vault"
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    meta = dict(db.execute("SELECT key, value FROM meta"))
    vault_id, kdf, check = meta["vault_id"], meta["kdf"], meta["check"]

    master = None
    slot_rows = list(db.execute("SELECT id, kind, params, wrapped, created, mac FROM slots"))
    opened_by = None
    for slot_id, kind, params, wrapped, _created, _mac in slot_rows:
        if kind != "passphrase":
            continue
        p = json.loads(params)
        assert p["kdf"] == "argon2id" and p["p"] == 1, "libsodium's Argon2id is p = 1"
        kek = nacl.pwhash.argon2id.kdf(
            32, passphrase, base64.b64decode(p["salt"]), opslimit=p["t"], memlimit=p["m_kib"] * 1024
        )
        try:
            master = open_sealed(kek, aad("keep/v1/slot", lp(vault_id), u64(slot_id), lp(kind.encode()), lp(params.encode())), wrapped)
            opened_by = slot_id
            break
        except Exception:
            continue
    assert master is not None, "no passphrase slot opened"

    labels = ("values", "names", "blind-index", "check", "records")
    keys = {label: hkdf(master, vault_id, f"keep/v1/{label}".encode()) for label in labels}
    assert hmac.compare_digest(hmac_parts(keys["check"], b"keep/v2/header", vault_id, bytes(kdf)), check), "header check failed"

    # Format 4: the slot that opened is authenticated as a whole row.
    for slot_id, kind, params, wrapped, created, mac in slot_rows:
        if slot_id == opened_by:
            body = hmac_parts(keys["records"], b"keep/v2/slot", vault_id, struct.pack(">I", slot_id), kind.encode(),
                              params.encode(), wrapped, struct.pack(">q", created))
            assert hmac.compare_digest(body, mac), "slot MAC failed"

    # The manifest (format 5): count || 256 bucket XORs || generation || HMAC; each head's keyed
    # element goes into its bucket.
    manifest = meta["manifest"]
    body, tag = manifest[:-32], manifest[-32:]
    assert len(body) == 8 + 256 * 32 + 8, "manifest length"
    assert hmac.compare_digest(hmac_parts(keys["records"], b"keep/v3/manifest", vault_id, body), tag), "manifest MAC failed"
    count = struct.unpack(">Q", body[:8])[0]
    generation = struct.unpack(">Q", body[-8:])[0]
    assert generation >= 1, "a written manifest has a generation"
    buckets = [bytearray(32) for _ in range(256)]
    rows = list(db.execute(
        "SELECT s.id, s.lookup, s.name, h.bucket, h.version, h.digest, v.sealed FROM secrets s "
        "JOIN heads h ON h.secret_id = s.id JOIN versions v ON v.secret_id = s.id AND v.version = h.version"
    ))
    assert count == len(rows) == db.execute("SELECT COUNT(*) FROM secrets").fetchone()[0], "secret count"
    for secret_id, lookup, _n, bucket, version, digest, sealed in rows:
        assert bucket == secret_id % 256 and sealed[:24] + sealed[-16:] == digest, "head"
        assert db.execute("SELECT MAX(version) FROM versions WHERE secret_id = ?", (secret_id,)).fetchone()[0] == version
        e = hmac_parts(keys["records"], b"keep/v2/head", vault_id, struct.pack(">q", secret_id), lookup,
                       struct.pack(">I", version), digest)
        buckets[bucket] = bytearray(a ^ b for a, b in zip(buckets[bucket], e))
    assert b"".join(bytes(b) for b in buckets) == body[8:-8], "manifest buckets"

    out = {}
    for secret_id, lookup, sealed_name, _bucket, version, _digest, sealed in rows:
        name = open_sealed(keys["names"], aad("keep/v1/name", lp(vault_id), lp(lookup)), sealed_name).decode()
        project, env, short = name.split("/", 2)
        assert hmac_parts(keys["blind-index"], b"secret", project.encode(), env.encode(), short.encode()) == lookup
        plain = open_sealed(keys["values"], aad("keep/v1/value", lp(vault_id), lp(lookup), u64(secret_id), u64(version)), sealed)
        kind, _created_ms = plain[0], struct.unpack(">Q", plain[1:9])[0]
        if kind == 0:
            out[name] = plain[9:].decode()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ (deterministic; re-run after changing a harness's
input layout). Seeds are real-looking inputs: README and test examples, secret formats from
src/scan/rules.toml, and edit lists over a real vault's header, slots and audit chain."""
import hashlib, json, os, random, struct, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
rng = random.Random(9)

def urand(n):
    return bytes(rng.randrange(256) for _ in range(n))

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def tok(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))

B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# ---- import: [origin selector][file bytes]; selectors 0 .env, 1 .json, 2 .yaml, 3 .yml, 4 .JSON, 5 none
dotenv = [
    "DATABASE_URL=postgres://app:hunter2@db:5432/app\nSTRIPE_KEY=sk_test_abc123\n",
    "# comment\nexport API_TOKEN='tok_$NOT_EXPANDED'\nPASSWORD=\"p@ss\\\"word\\n\"\n",
    "MULTI=\"line one\nline two\"\nEMPTY=\nSPACED = value with spaces # trailing\n",
    "HOME_DIR=$HOME/x\nREF=${DATABASE_URL}\nESC=\"\\$literal\"\n",
    "A=1\nA=2\nB=3\n",
    "\ufeffBOM_KEY=value\r\nCRLF=yes\r\n",
    "not a valid line\n",
    "1BAD=x\n",
    "KEY='unterminated\n",
    "KEY=\"unterminated\n",
]
for t in dotenv:
    put("import", b"\x00" + t.encode())
    put("import", b"\x05" + t.encode())
jsons = [
    '{"DATABASE_URL": "postgres://u:p@h/db", "PORT": 5432, "DEBUG": true}',
    '{"A": "1", "A": "2"}',
    '{"NESTED": {"x": 1}}',
    '{"NULL": null}',
    '["not", "an", "object"]',
    '{"bad name": "v"}',
    '{"UNICODE": "caf\\u00e9 \\ud83d\\ude00"}',
    '{',
]
for t in jsons:
    put("import", b"\x01" + t.encode())
    put("import", b"\x04" + t.encode())
    put("import", b"\x05" + t.encode())
yamls = [
    "DATABASE_URL: postgres://u:p@h/db\nPORT: 5432\nDEBUG: true\n",
    "A: '1'\nB: \"two\"\nC: |\n  multi\n  line\n",
    "- a\n- b\n",
    "NESTED:\n  x: 1\n",
    "? complex\n: key\n",
    "1: numeric key\n",
    "anchor: &a v\nREF: *a\n",
    "",
    "KEY: [unclosed\n",
]
for t in yamls:
    put("import", b"\x02" + t.encode())
    put("import", b"\x03" + t.encode())

# ---- config: keep.toml text
configs = [
    'project = "billing"\ndefault_env = "dev"\n\n[env.dev]\nrequired = ["DATABASE_URL", "STRIPE_KEY"]\n\n[secrets.DATABASE_URL]\ndescription = "Postgres connection string"\n',
    '[secrets.API_TOKEN]\nmax_age = "30d"\ngenerator = "token:32"\non_rotate = ["./scripts/push-token.sh"]\n\n[env.prod]\nsensitive = true\non_rotate = ["systemctl reload app"]\n',
    '[audit]\nburst_reads = 20\nburst_window = "1m"\nfailed_unlocks = 3\nfailed_unlock_window = "10m"\nnew_user_host = true\n',
    '[secrets.DB_PASSWORD]\nmax_age = "90d"\ngenerator = "password:32"\non_rotate = "./scripts/update-db-user.sh"\n',
    '[sync.prod-aws]\nprovider = "aws"\nenv = "prod"\nprefix = "billing/prod/"\nlayout = "per-key"\nregion = "eu-west-1"\n',
    '[sync.team-vault]\nprovider = "vault"\nenv = "dev"\nmount = "secret"\npath = "billing/dev"\nconcurrency = 8\ntimeout = "30s"\n',
    '[sync.gcp-prod]\nprovider = "gcp"\nenv = "prod"\nproject = "my-project"\nprefix = "billing/prod/"\nold_versions = "keep"\n',
    '[sync.cluster]\nprovider = "kubernetes"\nenv = "prod"\nnamespace = "billing"\nsecret = "billing-env"\ncontext = "prod-cluster"\n',
    # Values a user may paste by mistake, in places that fail validation.
    '[secrets.API_TOKEN]\nmax_age = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"\n',
    '[secrets.API_TOKEN]\ngenerator = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"\n',
    '[env.dev]\nrequired = ["xoxb-263594206564-2343594206564-FGqddMF8t08v8N7Oq4i57vs1"]\n',
    '[env.prod]\nsensitive = "AKIAIOSFODNN7EXAMPLE1234"\n',
    'project = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"\n',
    'default_env = "glpat-xxxxxxxxxxxxxxxxxxxx1234"\n',
    '[audit]\nburst_window = "tok_9f8e7d6c5b4a39281706"\n',
    '[sync.x]\nprovider = "vault"\ntimeout = "hvs.CAESIJ1234567890abcdefghijkl"\n',
    'tpyo = 1\n',
    '[env.dev]\nrequried = ["A"]\n',
    'project = \n',
    '[secrets."bad name"]\n',
]
for t in configs:
    put("config", t)

# ---- template: inject templates
templates = [
    "DATABASE_URL={{ keep://billing/prod/DATABASE_URL }}\n",
    "url: {{keep://app/dev/API_TOKEN}}\nother: {{ .Values.x }}\n",
    "{{ keep://a/b/C }}{{ keep://a/b/D }}",
    "{{ keep://not/a/valid/ref }}\n",
    "{{ keep://bad name }}\n",
    "{{{{ keep://a/b/C }}}}\n",
    "{{ keep://a/b/C ",
    "line1\nline2 {{ keep://p/e/N }} tail\n{{ not keep }}\n",
    "{{}}{{ }}{{keep://}}",
    "export TOKEN=\"{{ keep://billing/prod/STRIPE_KEY }}\"\n",
]
for t in templates:
    put("template", t)

# ---- scan_lines: [plant offset byte][text]
aws = "AKIA" + tok(UP, 16)
secrets_lines = [
    f"AWS_ACCESS_KEY_ID={aws}\nAWS_SECRET_ACCESS_KEY={tok(B62 + '/+', 40)}\n",
    f"const token = \"ghp_{tok(B62, 36)}\";\n",
    f"stripe.api_key = 'sk_live_{tok(B62, 24)}'\n",
    f"SLACK_BOT_TOKEN=xoxb-{tok('0123456789', 12)}-{tok('0123456789', 12)}-{tok(B62, 24)}\n",
    f"GOOGLE_KEY=AIza{tok(B62 + '_-', 35)}\n",
    "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(tok(B62 + "+/", 64) for _ in range(5)) + "\n-----END RSA PRIVATE KEY-----\n",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk\n",
    "password = \"q8Zr2LmX0pT7vK4nW9\"  # keep:allow\n",
    "api_key: ${API_KEY}\nsecret: changeme\n",
    f"var a=1;var t=\"npm_{tok(B62, 36)}\";" * 20 + "\n",
    "token = q8Zr2LmX0pT7vK4n\n",
    "Zq8wN3xpLk7Vb2Rm in the middle of a line\nhunter2-correct-horse\n",
    "KEY_LENGTH = 32\nfor key, value in items():\n    pass\n",
    "\x00\x01\x02binary\xff\xfe token=abcdef0123456789\n",
    "",
    "\n\n\n",
]
for i, t in enumerate(secrets_lines):
    data = t.encode("latin-1") if "\xff" in t else t.encode()
    put("scan_lines", bytes([rng.randrange(256)]) + data)
    put("scan_lines", bytes([0]) + data)

# ---- vault_header: edit list [field][len][bytes]; fields: 0-2 overwrite meta vault_id/kdf/check,
# 3-5 delete them, 6-9 overwrite slot 1 id/kind/params/wrapped, 10-13 slot 2, 14-21 bit-flips
# ([offset][mask...]) of the same slot columns.
def rec(field, b):
    if isinstance(b, str):
        b = b.encode()
    return bytes([field, len(b)]) + b[:255]

params = '{"kdf":"argon2id","m_kib":8,"t":1,"p":1,"salt":"Y2eBwVBw/9Wz2+YP7Y+C5Q=="}'
vh = [
    b"",
    rec(0, urand(16)),
    rec(1, '{"m_kib":8,"t":1,"p":1}'),
    rec(1, '{"m_kib":65536,"t":3,"p":1}'),
    rec(2, urand(32)),
    rec(3, b""), rec(4, b""), rec(5, b""),
    rec(6, "2"), rec(6, "3"), rec(7, "recovery"), rec(7, "hsm"), rec(7, "age"), rec(7, "passphrase"),
    rec(8, params), rec(8, params.replace('"m_kib":8', '"m_kib":16')),
    rec(8, params.replace('"t":1', '"t":2')), rec(8, params.replace("argon2id", "scrypt")),
    rec(8, params.replace('"salt":"Y2eBwVBw/9Wz2+YP7Y+C5Q=="', '"salt":"AA=="')),
    rec(8, '{"kdf":"argon2id","m_kib":4194304,"t":64,"p":16,"salt":"Y2eBwVBw/9Wz2+YP7Y+C5Q=="}'),
    rec(8, "{}"), rec(8, "not json"),
    rec(9, urand(72)), rec(9, b""),
    rec(11, "passphrase"), rec(12, '{"salt":"AAAAAAAAAAAAAAAAAAAAAA=="}'), rec(13, urand(72)),
    rec(10, "1"),
    rec(14, b"\x00\x01"), rec(15, b"\x00\x20"), rec(16, b"\x20\x01"), rec(17, b"\x05\x80"),
    rec(17, b"\x47\x01"), rec(21, b"\x10\x01"), rec(20, b"\x02\x01"),
    rec(7, "recovery") + rec(11, "passphrase"),
    rec(6, "5") + rec(10, "1"),
]
for v in vh:
    put("vault_header", v)

# ---- vault_rows: 4-byte operations [op][a][b][c]; op % 8 is the operation (0 delete, 1 duplicate,
# 2 renumber, 3 copy onto, 4 replay a row, 5 replay a table, 6 xor a byte, 7 roll a secret back),
# (op // 8) % 5 the table (0 meta, 1 slots, 2 secrets, 3 versions, 4 heads), op // 40 the column.
# Rows are in primary-key order: meta check, kdf, manifest, vault_id; secrets A, B, C, D; versions
# A1-3, B1-2, C1-3, D1-2 (D2 the deletion); heads A, B, C, D. Points 0 (empty) to 10 (final).
def op(kind, table, col=0, a=0, b=0, c=0):
    return bytes([kind + 8 * table + 40 * col, a, b, c])

vr = [
    b"",
    op(0, 3, a=2),                      # delete A's newest version
    op(0, 3, a=9),                      # delete D's tombstone
    op(0, 4, a=0),                      # delete A's head
    op(0, 2, a=1) + op(0, 3, a=3) + op(0, 3, a=3) + op(0, 4, a=1),  # delete B entirely
    op(0, 0, a=2),                      # delete the manifest
    op(0, 1, a=0),                      # delete the passphrase slot
    op(1, 3, a=2, b=0),                 # duplicate A3 as A4
    op(1, 4, col=2, a=0, b=5),          # duplicate A's head into bucket + 256
    op(1, 0, a=2, b=1),                 # the manifest's value under "check"
    op(2, 2, a=0, b=5),                 # renumber A's secret id by 256 (same head group)
    op(2, 3, col=1, a=8, b=1),          # D's rows moved to secret id 3
    op(3, 4, a=1, b=0),                 # B's head onto A's
    op(3, 3, col=1, a=2, b=1),          # A3 copied onto secret B
    op(3, 1, a=0, b=1),                 # slot 1 copied onto slot 2
    op(4, 4, a=3, b=0),                 # A's head from point 3
    op(4, 0, a=7, b=2),                 # the manifest from point 7
    op(5, 4, a=7),                      # the heads table from point 7
    op(5, 4, a=9) + op(5, 0, a=9),      # heads and meta from point 9 (C3 still present)
    op(6, 3, a=2, b=30, c=1),           # flip a byte of A3
    op(6, 0, a=2, b=100, c=0x80),       # flip a byte of the manifest
    op(6, 2, col=1, a=1, b=3, c=4),     # flip a byte of B's sealed name
    op(7, 0, a=0, b=7, c=0),            # roll A back to point 7, manifest kept
    op(7, 0, a=0, b=7, c=1),            # ... with point 7's manifest (the known get gap)
    op(7, 2, a=2, b=9, c=1),            # roll C back to point 9 with its manifest: the whole file
    op(7, 3, a=3, b=6, c=1),            # bring D back as before its deletion
    # Found by the first long run (an oracle false positive, fixed in the target): every secret row
    # gone, the empty vault's manifest back, heads left behind; `list` is the empty vault's.
    bytes.fromhex("177a002607fff273656372657473ff00"),
]
for v in vr:
    put("vault_rows", v)

# ---- audit_verify: edit list [op][target][len][bytes]; ops (mod 10): 0 delete row, 1 overwrite
# body/mac (target bit 7 picks mac), 2 bit-flip, 3 renumber, 4 insert, 5 copy another row's column,
# 6 retype, 7 overwrite head, 8 bit-flip head, 9 delete head.
def ed(op, target, b=b""):
    return bytes([op, target, len(b)]) + b

av = [
    b"",
    ed(0, 0), ed(0, 4), ed(0, 2) + ed(0, 2),
    ed(1, 1, b'{"action":"read","outcome":"ok"}'), ed(1, 0x81, urand(32)),
    ed(2, 0, b"\x03\x01"), ed(2, 0x83, b"\x1f\x80"),
    ed(3, 0, struct.pack("<q", 9)), ed(3, 4, struct.pack("<q", 6)), ed(3, 1, struct.pack("<q", -1)),
    ed(4, 0, b"\x06" + urand(40)), ed(4, 0, b"\x00abc"),
    ed(5, 1, b"\x00"), ed(5, 0x82, b"\x01"),
    ed(6, 0, b"\x00"), ed(6, 0x80, b"\x01"),
    ed(7, 0, urand(72)), ed(7, 0, b""), ed(8, 0, b"\x00\x01"), ed(8, 0, b"\x07\x01"), ed(8, 0, b"\x30\x01"),
    ed(9, 0),
    ed(0, 0) + ed(0, 0) + ed(0, 0) + ed(0, 0) + ed(0, 0) + ed(0, 0) + ed(0, 0) + ed(9, 0),
    ed(0, 4) + ed(0, 4) + ed(9, 0),
]
for v in av:
    put("audit_verify", v)

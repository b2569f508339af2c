#!/usr/bin/env python3
"""Generate a labeled corpus for secret scanners: real-world secret formats (correct shapes and
checksums) planted among ordinary code, plus hard negatives (placeholders, EXAMPLE keys, UUIDs, git
SHAs, lockfile hashes, base64 blobs, tokens with bad checksums), across source files, .env, YAML, JSON,
Dockerfiles and notebooks; and (issue 18) the formats and contexts other corpora found keep missing,
in the file types where they occur (Go, PHP, Makefiles, XML/nuget.config, .netrc, shell scripts with
curl and psexec, C# with ODBC strings), with hard negatives for each false-positive category. Every
secret is made at run time from a seeded RNG: nothing here is real. The rules were written against
test strings from other generators and seeds (tests/it/scan_cli.rs's LCG, a scratch script), never
against this file's output.

usage: scan_corpus.py OUT_DIR [--files N] [--seed S]
writes OUT_DIR/tree/... and OUT_DIR/truth.json: [{"path", "line", "end_line", "kind"}]
"""
import argparse
import base64
import binascii
import json
import os
import random
import string

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


class Gen:
    def __init__(self, rng):
        self.r = rng

    def s(self, alphabet, n):
        # Random strings that mix classes, like real tokens (ensure a digit and a letter when possible).
        while True:
            v = "".join(self.r.choice(alphabet) for _ in range(n))
            if n < 8 or not (set(alphabet) & set(string.digits)) or any(c.isdigit() for c in v):
                return v

    def b62(self, n, width=6):
        out = ""
        while n:
            out = B62[n % 62] + out
            n //= 62
        return out.rjust(width, "0")

    def crc_token(self, prefix, n):
        body = self.s(ALNUM, n)
        return prefix + body + self.b62(binascii.crc32(body.encode()) & 0xFFFFFFFF)

    def pick(self, xs):
        return self.r.choice(xs)

    def password(self):
        """An ordinary, human-made password: syllables, a capital, digits, maybe a symbol."""
        syl = ["ka", "lo", "mi", "nu", "te", "ra", "vo", "si", "pe", "du", "zan", "mor", "tel", "quin"]
        word = "".join(self.r.choice(syl) for _ in range(self.r.randrange(2, 4))).capitalize()
        return word + str(self.r.randrange(10, 9999)) + self.r.choice(["", "!", "#", "$", "?", "@"])

    def uuid(self):
        return "%s-%s-%s-%s-%s" % (self.s(HEX, 8), self.s(HEX, 4), self.s(HEX, 4), self.s(HEX, 4), self.s(HEX, 12))

    def b64url(self, raw):
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    # ------------------------------------------------------------------ secret formats
    def formats(self):
        g = self
        return {
            "aws-access-key-id": lambda: "AKIA" + g.s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
            "aws-secret-access-key": lambda: g.s(ALNUM + "/+", 40),
            "github-pat": lambda: g.crc_token("ghp_", 30),
            "github-oauth": lambda: g.crc_token("gho_", 30),
            "github-fine-grained": lambda: "github_pat_11" + g.s(B32 + "0123456789", 20) + "_" + g.crc_token("", 53),
            "gitlab-pat": lambda: "glpat-" + g.s(ALNUM + "_-", 20),
            "slack-bot-token": lambda: "xoxb-%d-%d-%s" % (g.r.randrange(10**11, 10**12), g.r.randrange(10**12, 10**13), g.s(ALNUM, 24)),
            "slack-webhook": lambda: "https://hooks.slack.com/services/T%s/B%s/%s" % (g.s(B32[:26] + "0123456789", 8), g.s(B32[:26] + "0123456789", 10), g.s(ALNUM, 24)),
            "discord-webhook": lambda: "https://discord.com/api/webhooks/%d/%s" % (g.r.randrange(10**17, 10**18), g.s(ALNUM + "_-", 68)),
            "telegram-bot": lambda: "%d:AA%s" % (g.r.randrange(10**8, 10**9), g.s(ALNUM + "_-", 33)),
            "stripe-live": lambda: "sk_live_" + g.s(ALNUM, 99),
            "stripe-restricted": lambda: "rk_live_" + g.s(ALNUM, 24),
            "sendgrid": lambda: "SG." + g.s(ALNUM + "_-", 22) + "." + g.s(ALNUM + "_-", 43),
            "mailgun": lambda: "key-" + g.s(HEX, 32),
            "google-api-key": lambda: "AIza" + g.s(ALNUM + "_-", 35),
            "npm-token": lambda: g.crc_token("npm_", 30),
            "pypi-token": lambda: "pypi-AgEIcHlwaS5vcmc" + g.s(ALNUM + "_-", 120),
            "openai-key": lambda: "sk-proj-" + g.s(ALNUM + "_-", 74) + "T3BlbkFJ" + g.s(ALNUM + "_-", 74),
            "anthropic-key": lambda: "sk-ant-api03-" + g.s(ALNUM + "_-", 93) + "AA",
            "huggingface": lambda: "hf_" + g.s(string.ascii_letters, 34),
            "shopify": lambda: "shpat_" + g.s(HEX, 32),
            "digitalocean": lambda: "dop_v1_" + g.s(HEX, 64),
            "age-secret-key": lambda: "AGE-SECRET-KEY-1" + g.s(BECH32, 58).upper(),
            "dockerhub": lambda: "dckr_pat_" + g.s(ALNUM + "_-", 27),
            "azure-storage": lambda: g.s(ALNUM + "+/", 86) + "==",
            "databricks": lambda: "dapi" + g.s(HEX, 32),
            "linear": lambda: "lin_api_" + g.s(ALNUM, 40),
            "gcp-oauth-secret": lambda: "GOCSPX-" + g.s(ALNUM + "_-", 28),
            "square": lambda: "sq0atp-" + g.s(ALNUM + "_-", 22),
            "rubygems": lambda: "rubygems_" + g.s(HEX, 48),
            "vault-token": lambda: "hvs." + g.s(ALNUM + "_-", 91),
            "newrelic": lambda: "NRAK-" + g.s(string.ascii_uppercase + string.digits, 27),
            "grafana-sa": lambda: "glsa_" + g.s(ALNUM, 32) + "_" + g.s(HEX, 8),
            "twilio": lambda: "SK" + g.s(HEX, 32),
            "jwt": lambda: g.jwt(),
            "generic-password": lambda: g.s(ALNUM + "!#%^*-_", 22),
            "generic-api-secret": lambda: g.s(ALNUM, 32),
            # Issue 18: missed formats.
            "github-fine-grained-nocrc": lambda: "github_pat_11" + g.s(B32 + "0123456789", 20) + "_" + g.s(ALNUM, 59),
            "github-pat-bad-checksum": lambda: g.bad_crc("ghp_"),
            "npm-bad-checksum": lambda: g.bad_crc("npm_"),
            "vault-legacy": lambda: "s." + g.s(ALNUM, 24),
            "vault-short": lambda: "hvs." + g.s(ALNUM, 24),
            "teams-webhook": lambda: "https://%s.webhook.office.com/webhookb2/%s@%s/IncomingWebhook/%s/%s" % (g.s(string.ascii_lowercase, 7), g.uuid(), g.uuid(), g.s(HEX, 32), g.uuid()),
            "sidekiq": lambda: "%s:%s" % (g.s(HEX, 8), g.s(HEX, 8)),
            "twilio-auth": lambda: g.s(HEX, 32),
            "discord-bot": lambda: g.discord(),
            "jwt-urlsafe": lambda: g.jwt(payload={"sub": "svc-%s_%s" % (g.s(ALNUM, 5), g.s(ALNUM, 5)), "scope": "read>write?x", "aud": "a/b"}),
            "jwt-base64": lambda: base64.b64encode(g.jwt().encode()).decode(),
            "heroku-uuid": lambda: g.uuid(),
            "hubspot-uuid": lambda: g.uuid(),
            "aws-secret-bare": lambda: g.s(ALNUM, 20) + "/" + g.s(ALNUM + "+", 19),
        }

    def bad_crc(self, prefix):
        t = self.crc_token(prefix, 30)
        return t[:-1] + ("A" if t[-1] != "A" else "B")

    def discord(self):
        uid = str(self.r.randrange(10**17, 10**19))
        return base64.b64encode(uid.encode()).decode().rstrip("=") + "." + self.s(ALNUM + "_-", 6) + "." + self.s(ALNUM + "_-", 38)

    def jwt(self, payload=None):
        h = self.b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = payload or {"sub": str(self.r.randrange(10**9)), "name": "svc", "iat": self.r.randrange(1600000000, 1800000000)}
        p = self.b64url(json.dumps(payload).encode())
        return "%s.%s.%s" % (h, p, self.b64url(self.r.randbytes(32)))

    def pem(self):
        body = base64.b64encode(self.r.randbytes(1190)).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return ["-----BEGIN RSA PRIVATE KEY-----"] + lines + ["-----END RSA PRIVATE KEY-----"]


# How a secret of each kind appears in a file: (variable name, needs context var).
VAR = {
    "aws-access-key-id": "AWS_ACCESS_KEY_ID", "aws-secret-access-key": "AWS_SECRET_ACCESS_KEY",
    "github-pat": "GITHUB_TOKEN", "github-oauth": "GH_OAUTH_TOKEN", "github-fine-grained": "GH_PAT",
    "gitlab-pat": "GITLAB_TOKEN", "slack-bot-token": "SLACK_BOT_TOKEN", "slack-webhook": "SLACK_WEBHOOK_URL",
    "discord-webhook": "DISCORD_WEBHOOK", "telegram-bot": "TELEGRAM_BOT_TOKEN", "stripe-live": "STRIPE_SECRET_KEY",
    "stripe-restricted": "STRIPE_RESTRICTED_KEY", "sendgrid": "SENDGRID_API_KEY", "mailgun": "MAILGUN_API_KEY",
    "google-api-key": "GOOGLE_MAPS_KEY", "npm-token": "NPM_TOKEN", "pypi-token": "PYPI_TOKEN",
    "openai-key": "OPENAI_API_KEY", "anthropic-key": "ANTHROPIC_API_KEY", "huggingface": "HF_TOKEN",
    "shopify": "SHOPIFY_ACCESS_TOKEN", "digitalocean": "DO_TOKEN", "age-secret-key": "AGE_IDENTITY",
    "dockerhub": "DOCKERHUB_TOKEN", "azure-storage": None, "databricks": "DATABRICKS_TOKEN",
    "linear": "LINEAR_API_KEY", "gcp-oauth-secret": "GOOGLE_CLIENT_SECRET", "square": "SQUARE_ACCESS_TOKEN",
    "rubygems": "GEM_HOST_API_KEY", "vault-token": "VAULT_TOKEN", "newrelic": "NEW_RELIC_API_KEY",
    "grafana-sa": "GRAFANA_SA_TOKEN", "twilio": "TWILIO_API_KEY", "jwt": "SESSION_JWT",
    "generic-password": "DB_PASSWORD", "generic-api-secret": "PAYMENTS_API_SECRET",
    "github-fine-grained-nocrc": "GH_FINE_PAT", "github-pat-bad-checksum": "GITHUB_TOKEN_OLD",
    "npm-bad-checksum": "NPM_TOKEN_OLD", "vault-legacy": "VAULT_TOKEN", "vault-short": "VAULT_TOKEN",
    "teams-webhook": "TEAMS_WEBHOOK_URL", "sidekiq": "BUNDLE_ENTERPRISE__CONTRIBSYS__COM",
    "twilio-auth": "TWILIO_AUTH_TOKEN", "discord-bot": "DISCORD_BOT_TOKEN", "jwt-urlsafe": "ID_TOKEN",
    "jwt-base64": "SESSION_TOKEN_B64", "heroku-uuid": "HEROKU_API_KEY", "hubspot-uuid": "HUBSPOT_API_KEY",
    "aws-secret-bare": "aws_secret_key",
}

# Issue 18: missed contexts, each in the file type it occurs in: style -> [(kind, line maker)].
CONTEXTS = {
    "go": [
        ("go-typed-var", lambda g: '\tvar apiSecret string = "%s"' % g.s(ALNUM, 32)),
        ("go-typed-const", lambda g: 'const authToken string = "%s"' % g.s(ALNUM, 32)),
    ],
    "php": [
        ("php-append", lambda g: '$password .= "%s";' % g.password()),
        ("php-assign", lambda g: "$db_password = '%s';" % g.password()),
    ],
    "make": [
        ("make-triple-colon", lambda g: "DEPLOY_TOKEN :::= %s" % g.s(ALNUM, 32)),
        ("make-conditional", lambda g: "API_SECRET ?= %s" % g.s(ALNUM, 32)),
        ("make-append", lambda g: "REGISTRY_TOKEN += %s" % g.s(ALNUM, 32)),
    ],
    "xml": [
        ("xml-element", lambda g: "  <apiToken>%s</apiToken>" % g.s(ALNUM, 32)),
        ("xml-password-element", lambda g: "  <password>%s</password>" % g.password()),
        ("nuget-cleartext", lambda g: '      <add key="ClearTextPassword" value="%s" />' % g.password()),
    ],
    "netrc": [
        ("netrc", lambda g: "machine %s.example.net login %s password %s" % (g.s(string.ascii_lowercase, 6), g.s(string.ascii_lowercase, 5), g.password())),
    ],
    "sh": [
        ("curl-user", lambda g: "curl -fsS -u deploy:%s https://ci.example.net/api/builds" % g.password()),
        ("curl-bearer", lambda g: "curl -H 'Authorization: Bearer %s' https://api.example.net/v1/me" % g.s(ALNUM, 40)),
        ("psexec", lambda g: "psexec \\\\build%d -u CORP\\svc_build -p %s cmd /c deploy.bat" % (g.r.randrange(10, 99), g.password())),
        ("netrc-echo", lambda g: "echo \"machine git.example.net login ci password %s\" > ~/.netrc" % g.password()),
        ("localhost-url", lambda g: "export CACHE_URL=http://admin:%s@localhost:6379/0" % g.password().replace("@", "%40")),
    ],
    "cs": [
        ("odbc", lambda g: 'var cs = "Driver={ODBC Driver 18 for SQL Server};Server=sql%d;Database=app;Uid=app;Pwd=%s;";' % (g.r.randrange(10), g.password())),
        ("ado", lambda g: 'var cs = "Data Source=db%d;Initial Catalog=shop;User ID=shop;Password=%s;";' % (g.r.randrange(10), g.password())),
    ],
    "py": [
        ("password-ordinary", lambda g: 'password = "%s"' % g.password()),
        ("secret-ordinary", lambda g: 'secret = "%s"' % g.password()),
    ],
    "yaml": [
        ("yaml-password", lambda g: "  password: %s" % g.password()),
    ],
}

CONTEXT_LAYOUTS = [("php", "web/site%d/config.php"), ("make", "build/mod%d/Makefile"), ("xml", "dotnet/proj%d/nuget.config"),
                   ("netrc", "home/user%d/.netrc"), ("sh", "scripts/deploy%d.sh"), ("cs", "dotnet/svc%d/Db.cs"),
                   ("go", "cmd/typed%d/config.go"), ("py", "src/cfg%d/local_settings.py"), ("yaml", "deploy/compose%d/values.yaml")]

FILLER = {
    "py": [
        "import os", "import json", "from typing import Dict", "", "def load(path):",
        "    with open(path) as fh:", "        return json.load(fh)", "for key, value in settings.items():",
        "    print(key, value)", "token_count = len(tokens)", "if password_field.is_valid():",
        "    user.set_password(form.cleaned_data['password'])", "secret_name = 'db-password'",
        "KEY_LENGTH = 32", "class TokenBucket:", "    def __init__(self, rate):", "        self.rate = rate",
        "auth_url = 'https://login.example.com/oauth/authorize'", "# rotate keys every 90 days",
    ],
    "js": [
        "const express = require('express');", "const app = express();", "app.use(express.json());",
        "function getToken(req) {", "  return req.headers['authorization'];", "}",
        "const keyMap = new Map();", "export const tokenizer = new Tokenizer({ lower: true });",
        "if (!secretsManager) throw new Error('no secrets manager');", "module.exports = { app };",
        "const apiKeyHeader = 'X-Api-Key';", "for (const [key, val] of Object.entries(obj)) {}",
    ],
    "go": [
        "package main", "", "import (", "\t\"fmt\"", "\t\"os\"", ")", "func main() {",
        "\ttoken := os.Getenv(\"API_TOKEN\")", "\tfmt.Println(len(token))", "}",
        "type Credentials struct {", "\tKeyID  string", "\tSecret string", "}",
    ],
    "yaml": [
        "apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: app-config", "data:",
        "  LOG_LEVEL: info", "  FEATURE_FLAGS: \"search,billing\"", "  TOKEN_TTL: 3600s",
        "  AUTH_MODE: oidc", "  KEY_ROTATION_DAYS: \"90\"",
    ],
    "env": ["NODE_ENV=production", "PORT=8080", "LOG_LEVEL=debug", "TOKEN_TTL=3600", "ENABLE_AUTH=true"],
    "php": ["<?php", "require __DIR__ . '/vendor/autoload.php';", "$config = [];", "function token_ok($t) { return strlen($t) > 0; }", "$passwordHash = password_hash($input, PASSWORD_DEFAULT);"],
    "make": [".PHONY: all test", "all: build", "build:", "\tgo build ./...", "TOKEN_FILE ?= .token", "KEYS := $(wildcard keys/*.pub)"],
    "xml": ["<?xml version=\"1.0\" encoding=\"utf-8\"?>", "<configuration>", "  <packageSources>", "    <add key=\"nuget.org\" value=\"https://api.nuget.org/v3/index.json\" />", "  </packageSources>", "</configuration>"],
    "netrc": ["default login anonymous password user@example.net", "macdef init", ""],
    "sh": ["#!/bin/sh", "set -eu", "echo \"deploying $APP\"", "TOKEN=$(cat /run/secrets/token)", "curl -fsS https://example.net/health"],
    "cs": ["using System.Data.Odbc;", "namespace Shop;", "public class Db {", "    public string Password { get; set; }", "}"],
    "docker": [
        "FROM python:3.12-slim", "WORKDIR /app", "COPY requirements.txt .",
        "RUN pip install --no-cache-dir -r requirements.txt", "COPY . .", "EXPOSE 8080",
        "CMD [\"gunicorn\", \"app:app\"]",
    ],
}


def negatives(g):
    """Hard negatives: (kind, line) pairs in dotenv/assignment form; none is a real secret."""
    sha = g.s(HEX, 40)
    uuid = "%s-%s-%s-%s-%s" % (g.s(HEX, 8), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 12))
    return [
        ("aws-example", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"),
        ("aws-example", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("placeholder", "API_KEY=your-api-key-here"),
        ("placeholder", "GITHUB_TOKEN=${GITHUB_TOKEN}"),
        ("placeholder", "DB_PASSWORD=<password>"),
        ("placeholder", "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
        ("placeholder", "SECRET_KEY={{ secret_key }}"),
        ("placeholder", "password: changeme"),
        ("uuid", "REQUEST_KEY=%s" % uuid),
        ("git-sha", "GIT_COMMIT_SHA=%s" % sha),
        ("git-sha", "commit_hash = \"%s\"" % g.s(HEX, 40)),
        ("lockfile", "\"integrity\": \"sha512-%s==\"" % base64.b64encode(g.r.randbytes(62)).decode()[:86]),
        ("base64-blob", "ICON = \"data:image/png;base64,%s\"" % base64.b64encode(g.r.randbytes(120)).decode()),
        ("code", "password = os.environ[\"DB_PASSWORD\"]"),
        ("code", "token = get_token(user_id2)"),
        ("code", "api_key = settings.PAYMENTS_API_KEY"),
        ("placeholder", "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app"),
        ("placeholder", "DATABASE_URL=postgres://user:password@localhost:5432/dev"),
        ("docker-digest", "image: python@sha256:%s" % g.s(HEX, 64)),
        ("hex-color", "primaryKeyColor: \"#%s\"" % g.s(HEX, 6)),
        ("version", "TOKEN_LIB_VERSION=4.12.3"),
        # Issue 18 false-positive categories.
        ("code-identifier", "keyPrefix = %s" % g.pick(["X25519PublicKey", "Ed25519Signature", "Curve448KeyPair"])),
        ("code-identifier", "key = kVK_%s" % g.pick(["ANSI_Keypad7", "RightCommand", "JIS_Eisu", "F19"])),
        ("sdk-sample", "FIREBASE_API_KEY=AIzaSy%sAbC123dEf456GhI789jKl012-MnO" % g.pick(["D", "E", "F"])),
        ("keyword-in-word", "rookTable = \"%s\"" % g.s(ALNUM, 40)),
        ("keyword-in-word", "sumOfExposures = \"%s\"" % g.s(ALNUM, 64)),
        ("vendor-placeholder", "SLACK_BOT_TOKEN=xoxb-%d-%d-my-bot-token" % (g.r.randrange(10**11, 10**12), g.r.randrange(10**12, 10**13))),
        ("vendor-placeholder", "STRIPE_KEY=sk_live_RANDOMSTRING"),
        ("vendor-placeholder", "NEW_RELIC_LICENSE_KEY=a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6NRAL"),
        ("public-id", "STRIPE_PUBLISHABLE_KEY=pk_live_%s" % g.s(ALNUM, 24)),
        ("public-id", "KMS_KEY_ID=%s" % g.s(ALNUM, 28)),
        ("public-id", "googleClientId = \"%s\"" % g.s(ALNUM, 30)),
        ("password-ref", "password = getpass.getpass()"),
        ("password-ref", "password = os.environ.get('APP_PASSWORD')"),
        ("password-ref", "password: ${APP_PASSWORD}"),
        ("password-ref", "password: !vault |"),
        ("password-ref", "secret: %s-tls" % g.pick(["web", "api", "ingress"])),
        ("password-ref", "password = current_user_password"),
        ("password-prose", "Enter the password shown on the device."),
        ("password-prose", "if password == confirm_password:"),
        ("password-ref", "curl -u $DEPLOY_USER:$DEPLOY_TOKEN https://ci.example.com/api"),
        ("password-ref", "Server=db;User Id=sa;Password=<YourStrong@Passw0rd>;"),
    ]


def positive_line(kind, value, style):
    var = VAR[kind]
    if kind == "azure-storage":
        return "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acct%d;AccountKey=%s;EndpointSuffix=core.windows.net" % (len(value), value)
    if style == "py":
        return '%s = "%s"' % (var, value)
    if style == "js":
        return "const %s = '%s';" % (var, value)
    if style == "go":
        return '\t%s := "%s"' % (var.title().replace("_", ""), value)
    if style == "yaml":
        return "  %s: %s" % (var, value)
    if style == "docker":
        return "ENV %s=%s" % (var, value)
    if style == "json":
        return '  "%s": "%s",' % (var.lower(), value)
    return "%s=%s" % (var, value)


def write_file(tree, rel, lines, planted, truth):
    """Write one corpus file and record its planted secrets (0-based line spans) in `truth`."""
    path = os.path.join(tree, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    for s, e, k in planted:
        truth.append({"path": rel, "line": s + 1, "end_line": e + 1, "kind": k})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--context-files", type=int, default=180)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    g = Gen(rng)
    fmts = g.formats()
    kinds = sorted(fmts) + ["private-key", "database-url"]
    tree = os.path.join(a.out, "tree")
    truth = []
    layouts = [("py", "src/svc%d/settings.py"), ("js", "web/app%d/config.js"), ("go", "cmd/tool%d/main.go"),
               ("yaml", "deploy/k8s%d/values.yaml"), ("env", "env%d/.env"), ("docker", "images/img%d/Dockerfile"),
               ("json", "config/app%d.json"), ("ipynb", "notebooks/analysis%d.ipynb")]
    kind_i = 0
    for fi in range(a.files):
        style, pattern = layouts[fi % len(layouts)]
        rel = pattern % fi
        lines, planted = [], []
        filler = FILLER.get(style if style in FILLER else "py")
        for _ in range(rng.randrange(2, 5)):
            for _ in range(rng.randrange(5, 25)):
                lines.append(rng.choice(filler))
            if rng.random() < 0.5:
                kind, neg = rng.choice(negatives(g))
                lines.append(neg if style not in ("json", "ipynb") else '  "note": "%s",' % neg.replace('"', "'"))
            kind = kinds[kind_i % len(kinds)]
            kind_i += 1
            if kind == "private-key":
                block = g.pem()
                if style in ("json", "ipynb"):
                    planted.append((len(lines), len(lines), kind))
                    lines.append('  "private_key": "%s\\n",' % "\\n".join(block))
                else:
                    planted.append((len(lines), len(lines) + len(block) - 1, kind))
                    lines.extend(block)
            elif kind == "database-url":
                pw = g.s(ALNUM, 18)
                planted.append((len(lines), len(lines), kind))
                url = "postgresql://billing:%s@db-%d.internal:5432/billing" % (pw, fi)
                lines.append(positive_line("generic-password", url, style).replace("DB_PASSWORD", "DATABASE_URL").replace("db_password", "database_url"))
            else:
                planted.append((len(lines), len(lines), kind))
                lines.append(positive_line(kind, fmts[kind](), style))
        if style == "json":
            lines = ["{"] + lines + ['  "end": true', "}"]
            planted = [(s + 1, e + 1, k) for s, e, k in planted]
        if style == "ipynb":
            # One code cell whose source lines are the generated lines, one JSON string per line.
            head = ['{', ' "cells": [', '  {', '   "cell_type": "code",', '   "metadata": {},', '   "source": [']
            body = ['    %s,' % json.dumps(l + "\n") for l in lines]
            tail = ['    "print(1)"', '   ]', '  }', ' ],', ' "nbformat": 4,', ' "nbformat_minor": 5', '}']
            # Private keys in a notebook are on one JSON string line already (json style above is
            # not applied), so the planted spans shift by the header only.
            lines = head + body + tail
            planted = [(s + len(head), e + len(head), k) for s, e, k in planted]
        write_file(tree, rel, lines, planted, truth)
    for fi in range(a.context_files):
        style, pattern = CONTEXT_LAYOUTS[fi % len(CONTEXT_LAYOUTS)]
        rel = pattern % fi
        lines, planted = [], []
        filler = FILLER.get(style, FILLER["py"])
        for _ in range(rng.randrange(2, 4)):
            for _ in range(rng.randrange(3, 12)):
                lines.append(rng.choice(filler))
            if rng.random() < 0.6:
                lines.append(rng.choice(negatives(g))[1])
            kind, make = CONTEXTS[style][fi // len(CONTEXT_LAYOUTS) % len(CONTEXTS[style])]
            planted.append((len(lines), len(lines), kind))
            lines.append(make(g))
        write_file(tree, rel, lines, planted, truth)
    with open(os.path.join(a.out, "truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1)
    print("%d files, %d planted secrets of %d kinds" % (a.files + a.context_files, len(truth), len({t["kind"] for t in truth})))


if __name__ == "__main__":
    main()

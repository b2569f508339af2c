#!/usr/bin/env python3
"""Side-by-side benchmark of keep's AWS sync against a serial boto3 loop, both against one moto_server.

    cargo build --release && python3 benches/sync_moto.py [N]

One run, same machine, same server, same data (N secrets, default 1,000):
  create  keep push (CreateSecret x N)        vs boto3 create_secret loop
  update  keep push (PutSecretValue x N)      vs boto3 put_secret_value loop
  pull    keep pull into a fresh vault        vs boto3 get_secret_value loop
  diff    keep diff over N in-sync names      (goal: <= 2 s)
  awscli  a serial loop of `aws secretsmanager put-secret-value` (PyPI awscli) over the first
          AWSCLI_N names (default 100; one process per call takes ~1 s, so all N would take many
          minutes), reported per secret next to keep's per-secret update time.
Prints seconds and ratios. Values are random; nothing leaves 127.0.0.1.
"""
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time

import boto3

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
KEEP = os.path.join(TARGET, "release", "keep")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if not os.path.exists(KEEP):
        sys.exit(f"build first: cargo build --release ({KEEP} missing)")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        run(endpoint)
    finally:
        server.kill()
        server.wait()


def run(endpoint):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    names = [f"SECRET_{i:04d}" for i in range(N)]
    values = {n: secrets.token_urlsafe(24) for n in names}

    def timed(f):
        t = time.perf_counter()
        f()
        return time.perf_counter() - t

    b_create = timed(lambda: [sm.create_secret(Name=f"boto/{n}", SecretString=values[n]) for n in names])
    b_put = timed(lambda: [sm.put_secret_value(SecretId=f"boto/{n}", SecretString=values[n] + "x") for n in names])
    b_get = timed(lambda: [sm.get_secret_value(SecretId=f"boto/{n}")["SecretString"] for n in names])
    cli_n = min(N, int(os.environ.get("AWSCLI_N", "100")))
    cli_env = dict(env, AWS_DEFAULT_REGION="us-east-1")
    a_put = timed(lambda: [subprocess.run(
        ["aws", "secretsmanager", "put-secret-value", "--secret-id", f"boto/{n}",
         f"--secret-string={values[n]}z"], env=cli_env, check=True, stdout=subprocess.DEVNULL)
        for n in names[:cli_n]])

    with tempfile.TemporaryDirectory(prefix="keep-bench-") as d:
        with open(os.path.join(d, "pass"), "w") as f:
            f.write("bench passphrase\n")
        with open(os.path.join(d, "keep.toml"), "w") as f:
            f.write('project = "bench"\n'
                    '[sync.src]\nprovider = "aws"\nprefix = "boto/"\n'
                    '[sync.dst]\nprovider = "aws"\nprefix = "keep/"\n')
        kenv = dict(env, KEEP_VAULT=os.path.join(d, "vault.db"), KEEP_PASSPHRASE_FILE=os.path.join(d, "pass"))

        def keep(*args, stdin=None):
            subprocess.run([KEEP, *args], cwd=d, env=kenv, input=stdin, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        keep("init", "--kdf-memory", "8MiB", "--kdf-iterations", "1")
        k_pull = timed(lambda: keep("pull", "src"))
        k_create = timed(lambda: keep("push", "dst"))
        for n in names:  # untimed: change every value locally
            keep("set", n, stdin=(values[n] + "y").encode())
        k_put = timed(lambda: keep("push", "dst"))
        k_diff = timed(lambda: keep("diff", "dst"))

    print(f"keep sync vs serial boto3, {N} secrets, moto_server on 127.0.0.1 (one run)")
    print(f"{'operation':<10}{'keep (s)':>10}{'boto3 (s)':>11}{'ratio':>9}")
    for label, k, b in [("create", k_create, b_create), ("update", k_put, b_put), ("pull", k_pull, b_get)]:
        print(f"{label:<10}{k:>10.2f}{b:>11.2f}{b / k:>8.1f}x")
    print(f"{'diff':<10}{k_diff:>10.2f}{'-':>11}{'goal <= 2 s':>14}")
    per_keep, per_cli = k_put / N, a_put / cli_n
    print(f"aws CLI put-secret-value loop: {per_cli * 1000:.0f} ms/secret over {cli_n} secrets; "
          f"keep push update: {per_keep * 1000:.1f} ms/secret; ratio {per_cli / per_keep:.0f}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Score scanner reports against the corpus ground truth (see scan_corpus.py).

A finding is a true positive when its (path, line) falls inside a planted secret's lines. Findings
are counted once per (path, line), so a tool that reports one secret under two rules is not rewarded
or punished twice. recall = planted secrets found / planted; precision = true findings / findings.
"""
import json
import os
import sys


def norm(p):
    p = p.replace("\\", "/")
    for pre in ("./", "tree/"):
        if p.startswith(pre):
            p = p[len(pre):]
    return p


def keep(doc):
    return [(norm(f["path"]), f["line"]) for f in doc["findings"]]


def gitleaks(doc):
    return [(norm(f["File"]), f["StartLine"]) for f in doc]


def kingfisher(text):
    out = []
    # The JSON output is one document per line; the first holds the findings.
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        for f in doc.get("findings", []) if isinstance(doc.get("findings"), list) else []:
            fin = f.get("finding", f)
            path = fin.get("path") or fin.get("file") or ""
            ln = fin.get("line") or fin.get("start_line") or 0
            out.append((norm(os.path.relpath(path, ".")) if path.startswith("/") else norm(path), int(ln)))
    return out


def score(found, truth):
    found = set(found)
    spans = {}
    for t in truth:
        spans.setdefault(t["path"], []).append((t["line"], t["end_line"]))
    hit = set()
    tp = 0
    for path, line in found:
        ok = False
        for i, (s, e) in enumerate(spans.get(path, [])):
            if s <= line <= e:
                hit.add((path, i))
                ok = True
        tp += ok
    recall = len(hit) / len(truth)
    precision = tp / len(found) if found else 1.0
    return recall, precision, len(found), tp


def main():
    work = sys.argv[1]
    truth = json.load(open(os.path.join(work, "truth.json")))
    tree = os.path.join(work, "tree")
    os.chdir(tree)
    rows = []
    for name, parse, fname, as_text in (
        ("keep", keep, "keep.json", False),
        ("gitleaks", gitleaks, "gitleaks.json", False),
        ("kingfisher", kingfisher, "kingfisher.json", True),
    ):
        path = os.path.join(work, fname)
        try:
            raw = open(path).read()
            found = parse(raw if as_text else json.loads(raw))
        except (OSError, ValueError) as e:
            print("%s: no usable report (%s)" % (name, e), file=sys.stderr)
            continue
        r, p, n, tp = score(found, truth)
        rows.append((name, r, p, n, tp))
    print("%d planted secrets of %d kinds" % (len(truth), len({t["kind"] for t in truth})))
    print("| scanner | recall | precision | findings | true |")
    print("|---|---|---|---|---|")
    for name, r, p, n, tp in rows:
        print("| %s | %.1f%% | %.1f%% | %d | %d |" % (name, 100 * r, 100 * p, n, tp))
    if os.environ.get("SCAN_SCORE_MISSES"):
        found = set(keep(json.load(open(os.path.join(work, "keep.json")))))
        for t in truth:
            if not any((t["path"], l) in found for l in range(t["line"], t["end_line"] + 1)):
                print("keep missed", t["kind"], t["path"], t["line"])
        spans = {(t["path"], l) for t in truth for l in range(t["line"], t["end_line"] + 1)}
        for f in sorted(found - spans):
            print("keep false positive", f)


if __name__ == "__main__":
    main()

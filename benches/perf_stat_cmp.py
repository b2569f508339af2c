#!/usr/bin/env python3
# Interleaved `perf stat` of several commands: ROUNDS times, each command REPS runs in turn; prints the
# median over rounds of the mean task-clock (ms) and page faults, and the load average. Used for the
# before/after table of BENCHMARKS.md "keep exec overhead" (run it with an unlocked vault, e.g. the one
# benches/exec_overhead.sh sets up):
#   benches/perf_stat_cmp.py 9 30 "old/keep exec -- true" "new/keep exec -- true"
import subprocess, sys, statistics, os, re, shlex
rounds, reps = int(sys.argv[1]), int(sys.argv[2])
cmds = sys.argv[3:]
res = {c: ([], []) for c in cmds}
l0 = os.getloadavg()
for r in range(rounds):
    for c in cmds:
        p = subprocess.run(["perf", "stat", "-x,", "-r", str(reps), "-e", "task-clock,page-faults"] + shlex.split(c),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        tc = pf = None
        for line in p.stderr.splitlines():
            f = line.split(",")
            if len(f) > 3 and f[2].startswith("task-clock"): tc = float(f[0])
            if len(f) > 3 and f[2].startswith("page-faults"): pf = float(f[0])
        res[c][0].append(tc); res[c][1].append(pf)
l1 = os.getloadavg()
print(f"load average before {l0[0]:.2f} after {l1[0]:.2f}; {rounds} rounds x {reps} runs")
for c in cmds:
    tc, pf = res[c]
    print(f"{statistics.median(tc):7.3f} ms  {statistics.median(pf):6.0f} faults  (min {min(tc):.3f})  {c}")

"""Generated mutants (docs/testing.md, "Generated mutants"): a sample drawn with a fixed seed from
every mutation site of the security-critical code, each planted, built and tested.

  python3 scripts/mutagen sites                  how many mutants each operator and file gives
  python3 scripts/mutagen sample [--seed S] [--count N]   the sample, one line each
  python3 scripts/mutagen show ID...             a mutant as a diff
  python3 scripts/mutagen try ID REGEX [--build DIR]   plants the mutant in this tree, builds DIR
                                                 (build/debug), runs the ctest tests REGEX names,
                                                 puts the file back: does a new test kill it?
  python3 scripts/mutagen run [--seed S] [--count N] [--ids ID...] [--lanes N]

`run` is what scripts/mutants-sample.sh runs (it starts the PostgreSQL cluster the tests need
first). It writes build/mutagen/report.md and results.json.
"""
import argparse
import difflib
import fnmatch
import hashlib
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mutagen import coverage, sites  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(ROOT, "build", "mutagen")
EQUIVALENTS = os.path.join(ROOT, "tests", "mutants", "equivalent.txt")
EXPECTED_SKIPS = os.path.join(ROOT, "tests", "mutants", "expected-skips.txt")

# The security-critical code (issue 27): core's login, store (with the SQL in its string
# literals), crypto and http; server's workers and net. Headers included (inline code).
SCOPE = [
    "core/src/login/*.cpp", "core/src/store/*.cpp", "core/src/store/*/*.cpp",
    "core/src/store/*.hpp", "core/src/store/*/*.hpp", "core/src/login/*.hpp",
    "core/src/crypto/*.cpp", "core/src/crypto/*.hpp", "core/src/http/*.cpp",
    "core/include/authd/login/*.hpp", "core/include/authd/store/*.hpp",
    "core/include/authd/crypto/*.hpp", "core/include/authd/http/*.hpp",
    "server/workers/*.cpp", "server/workers/*.hpp", "server/net/*.cpp", "server/net/*.hpp",
]
SQL_SCOPE = "core/src/store/"
DEFAULT_SEED = 27
DEFAULT_COUNT = 240
TARGETS = ["authd", "authctl", "authd_unit_tests", "authd_integration_tests",
           "authd_argon2_memory_tests", "authd_argon2_memory_off_tests"]


def log(msg):
    print(f"mutagen: {msg}", file=sys.stderr, flush=True)


class Tree:
    """The files mutated: the working tree as it is (rev None), or a commit's."""

    def __init__(self, rev=None):
        self.rev = rev
        if rev is None:
            out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                                 cwd=ROOT, check=True, capture_output=True, text=True).stdout
            self.files = [f for f in out.split("\n")
                          if f and os.path.isfile(os.path.join(ROOT, f))]
        else:
            out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev], cwd=ROOT,
                                 check=True, capture_output=True, text=True).stdout
            self.files = [f for f in out.split("\n") if f]

    def read(self, path):
        if self.rev is None:
            with open(os.path.join(ROOT, path), "rb") as f:
                return f.read()
        return subprocess.run(["git", "show", f"{self.rev}:{path}"], cwd=ROOT, check=True,
                              capture_output=True).stdout

    def text(self, path):
        return self.read(path).decode("utf-8")

    def mode(self, path):
        if self.rev is None:
            return os.stat(os.path.join(ROOT, path)).st_mode
        out = subprocess.run(["git", "ls-tree", self.rev, "--", path], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        return int(out.split()[0], 8) if out else 0o100644


def tracked_files():
    return Tree().files


def scope_files(files):
    return sorted(f for f in files if any(fnmatch.fnmatch(f, p) for p in SCOPE))


def all_mutants(tree=None):
    tree = tree or Tree()
    mutants = []
    for f in scope_files(tree.files):
        mutants += sites.file_mutants(f, tree.text(f), f.startswith(SQL_SCOPE))
    return mutants


def stratified_sample(mutants, count, seed):
    """count mutants, spread over the operators in proportion to the square root of how many each
    gives (so that a rare operator, such as SQL's AND/OR, is not left out, and constants, the most
    numerous, do not fill the sample), each operator's share drawn with the seed."""
    by_op = {}
    for m in sorted(mutants, key=lambda m: m.id):
        by_op.setdefault(m.operator, []).append(m)
    weights = {op: math.sqrt(len(ms)) for op, ms in by_op.items()}
    total = sum(weights.values())
    shares = {op: min(len(by_op[op]), int(round(count * w / total))) for op, w in weights.items()}
    # Round to exactly count: the largest remainders first, within what each operator has.
    ops = sorted(by_op, key=lambda op: -(count * weights[op] / total - shares[op]))
    k = 0
    while sum(shares.values()) < min(count, len(mutants)) and k < 10 * len(ops):
        op = ops[k % len(ops)]
        if shares[op] < len(by_op[op]):
            shares[op] += 1
        k += 1
    while sum(shares.values()) > count:
        op = max(shares, key=lambda o: shares[o])
        shares[op] -= 1
    # Within its share, an operator's mutants are those that rank first by a digest of the seed
    # and their id: the same mutant is drawn again while its line is unchanged, whatever changes
    # elsewhere (a test written for a survivor meets that survivor in the next run; a new site
    # enters the sample with the same chance as any other).
    sample = []
    for op in sorted(by_op):
        ranked = sorted(by_op[op], key=lambda m: hashlib.sha1(f"{seed}:{m.id}".encode()).digest())
        sample += ranked[:shares[op]]
    return sorted(sample, key=lambda m: (m.path, m.start, m.id))


def load_table(path):
    """First word of each line -> the rest, for equivalent.txt and expected-skips.txt."""
    table = {}
    if not os.path.exists(path):
        return table
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, _, rest = line.strip().partition(" ")
            table[key] = rest.strip()
    return table


def diff_of(m, root=ROOT):
    with open(os.path.join(root, m.path), encoding="utf-8") as f:
        text = f.read()
    new = sites.apply(text, m)
    return "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                        f"a/{m.path}", f"b/{m.path}", n=1))


def end_line(m, text):
    ends = [m.end] + [b for _, b in getattr(m, "extra", [])]
    return text.count("\n", 0, max(ends) - 1) + 1 if max(ends) > 0 else m.line


# --- trees and builds -----------------------------------------------------------------------------

def snapshot(dest, tree):
    """dest holds exactly the tree's files (copied only where they differ, so that an incremental
    build stays incremental)."""
    os.makedirs(dest, exist_ok=True)
    files = tree.files
    wanted = set(files)
    for f in files:
        dst = os.path.join(dest, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        data = tree.read(f)
        try:
            with open(dst, "rb") as b:
                if b.read() == data:
                    continue
        except OSError:
            pass
        with open(dst, "wb") as b:
            b.write(data)
        os.chmod(dst, tree.mode(f) & 0o777)
    for dirpath, _, names in os.walk(dest):
        for n in names:
            rel = os.path.relpath(os.path.join(dirpath, n), dest)
            if rel not in wanted:
                os.unlink(os.path.join(dirpath, n))


def ccache_env():
    env = dict(os.environ)
    env.update({"CCACHE_BASEDIR": WORK, "CCACHE_NOHASHDIR": "1",
                "CCACHE_DIR": os.path.join(WORK, "ccache"), "CCACHE_MAXSIZE": "4G"})
    return env


def configure(src, build, extra):
    """A Debug build of src in build. Warnings are not errors here: a mutant such as `a && b || c`
    draws -Wparentheses and is still the program it says (the tree itself is built with
    warnings as errors by scripts/test.sh)."""
    settings = ["-DCMAKE_BUILD_TYPE=Debug", "-DAUTHD_WERROR=OFF", "-DAUTHD_BUILD_BENCH=OFF"] + extra
    stamp = os.path.join(build, "mutagen-settings")
    if os.path.exists(os.path.join(build, "CMakeCache.txt")):
        try:
            with open(stamp) as f:
                if f.read() == " ".join(settings):
                    return
        except OSError:
            pass
        shutil.rmtree(build)
    cmd = ["cmake", "-S", src, "-B", build] + settings
    if shutil.which("ccache"):
        cmd.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ccache_env())
    with open(stamp, "w") as f:
        f.write(" ".join(settings))


def build(build_dir, jobs, log_path=None):
    with open(log_path or os.devnull, "w") as out:
        r = subprocess.run(["cmake", "--build", build_dir, "-j", str(jobs), "--target"] + TARGETS,
                           stdout=out, stderr=subprocess.STDOUT, env=ccache_env())
    return r.returncode == 0


# --- tests ----------------------------------------------------------------------------------------

class Test:
    def __init__(self, index, name, command, cwd, timeout, build_dir):
        self.index = index
        self.name = name
        self.command = command
        self.cwd = cwd
        self.timeout = timeout
        self.build_dir = build_dir
        self.seconds = 0.0

    def in_build(self, build_dir):
        """The command and directory of this test in another build of the same tree."""
        swap = lambda s: build_dir + s[len(self.build_dir):] if s.startswith(self.build_dir) else s
        return [swap(c) for c in self.command], swap(self.cwd)


def list_tests(build_dir):
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir, check=True,
                         capture_output=True, text=True).stdout
    tests = []
    for t in json.loads(out)["tests"]:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if "bench" in (props.get("LABELS") or []):
            continue
        tests.append(Test(len(tests), t["name"], t["command"],
                          props.get("WORKING_DIRECTORY", build_dir),
                          float(props.get("TIMEOUT", 300)), build_dir))
    return tests


SKIPPED = re.compile(r"\[  SKIPPED \]")


def run_test(test, build_dir, timeout, extra_env=None):
    """('passed' | 'failed' | 'skipped' | 'timeout', seconds, output's tail). The test runs in a
    process group of its own, killed whole (authd and its helpers too) when it overruns."""
    command, cwd = test.in_build(build_dir)
    env = dict(os.environ)
    env.update(extra_env or {})
    t0 = time.monotonic()
    p = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        raw, _ = p.communicate(timeout=timeout)
        out = raw.decode(errors="replace")
        status = "skipped" if SKIPPED.search(out) else ("passed" if p.returncode == 0 else "failed")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raw, _ = p.communicate()
        out = raw.decode(errors="replace")
        status = "timeout"
    return status, time.monotonic() - t0, out[-3000:]


def mutant_timeout(test):
    return min(test.timeout, max(30.0, 5 * test.seconds + 10))


# --- the run ----------------------------------------------------------------------------------------

class Lane:
    def __init__(self, name):
        self.name = name
        self.src = os.path.join(WORK, name, "src")
        self.build = os.path.join(WORK, name, "build")
        self.log = os.path.join(WORK, name, "build.log")


def classify(m, text, lines_of, global_lines):
    """('covered', tests) | ('unknown', None) | ('not-covered', None) for a mutant's lines."""
    first, last = m.line, end_line(m, text)
    tests = set()
    instrumented = False
    executed_somewhere = False
    for ln in range(first, last + 1):
        entry = lines_of.get((m.path, ln))
        g = global_lines.get((m.path, ln))
        if entry is not None or g is not None:
            instrumented = True
        if entry:
            tests |= entry
        if g:
            executed_somewhere = True
    if tests:
        return "covered", tests
    if not instrumented or executed_somewhere or m.path.endswith(".hpp"):
        # No code on these lines (a constant, SQL in a string), run by the hash helper only, or
        # a header's (its inline code may run from objects the coverage does not read).
        return "unknown", None
    return "not-covered", None


def tree_digest(src_dir, files):
    h = hashlib.sha1()
    for f in sorted(files):
        with open(os.path.join(src_dir, f), "rb") as fh:
            h.update(f.encode() + b"\0" + hashlib.sha1(fh.read()).digest())
    return h.hexdigest()


def in_scope_source(src_dir):
    def check(path):
        if path is None:
            return False
        rel = os.path.relpath(path, src_dir)
        return any(fnmatch.fnmatch(rel, p) for p in SCOPE)
    return check


def baseline_and_coverage(cov, tests, files, expected_skips, args):
    """Runs every test alone on the coverage build; None (said why) when one does not pass."""
    prefix_root = os.path.join(WORK, "coverage-by-test")
    shutil.rmtree(prefix_root, ignore_errors=True)
    for g in coverage.gcda_files(cov.build):
        os.unlink(g)
    t0 = time.monotonic()
    results = [None] * len(tests)
    work = queue.Queue()
    for t in tests:
        work.put(t)

    def baseline_worker():
        while True:
            try:
                t = work.get_nowait()
            except queue.Empty:
                return
            results[t.index] = run_test(t, cov.build, t.timeout,
                                        {"GCOV_PREFIX": os.path.join(prefix_root, f"t{t.index}")})

    threads = [threading.Thread(target=baseline_worker) for _ in range(args.test_jobs)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    log(f"baseline: {len(tests)} tests in {time.monotonic() - t0:.0f} s")
    # A test that failed beside another is run again alone: passing then, it is flaky (reported),
    # not a broken tree.
    flaky = []
    for t, r in zip(tests, results):
        if r[0] in ("failed", "timeout"):
            with open(os.path.join(WORK, f"baseline-{t.name.replace('/', '_')}.log"), "w") as f:
                f.write(r[2])
            again = run_test(t, cov.build, t.timeout,
                             {"GCOV_PREFIX": os.path.join(prefix_root, f"t{t.index}")})
            if again[0] == "passed":
                flaky.append(t.name)
                results[t.index] = again
                log(f"baseline: {t.name} failed beside another test, passed alone (flaky)")
    bad = [(t.name, r[0]) for t, r in zip(tests, results)
           if r[0] != "passed" and not (r[0] == "skipped" and t.name in expected_skips)]
    if bad:
        for name, status in bad:
            log(f"baseline: {name}: {status} (its output: build/mutagen/baseline-NAME.log)")
        log("refusing to report a score: the tests above do not pass on the unmutated tree "
            "(a skipped test is allowed only when tests/mutants/expected-skips.txt says why)")
        return None
    t0 = time.monotonic()
    scope = scope_files(files)
    wanted = {os.path.join(cov.src, f) for f in scope}
    in_scope = in_scope_source(cov.src)
    by_test = coverage.per_test(prefix_root, len(tests), wanted, cov.build, cov.src, in_scope,
                                args.jobs)
    global_raw = coverage.executed_lines(
        [g for g in coverage.gcda_files(cov.build) if in_scope(
            coverage.source_of(g, cov.build, cov.src))], wanted,
        os.path.join(WORK, "gcov-global"), cov.src)
    lines = {}
    for i, per_file in by_test.items():
        for src, counts in per_file.items():
            rel = os.path.relpath(src, cov.src)
            for ln, count in counts.items():
                entry = lines.setdefault(f"{rel}:{ln}", [])
                if count > 0:
                    entry.append(i)
    global_lines = {}
    for src, counts in global_raw.items():
        rel = os.path.relpath(src, cov.src)
        for ln, count in counts.items():
            global_lines[f"{rel}:{ln}"] = count > 0
    log(f"coverage of {len(scope)} files read in {time.monotonic() - t0:.0f} s")
    return {"tests": [t.name for t in tests], "seconds": [r[1] for r in results],
            "baseline_flaky": flaky,
            "skipped": [t.name for t, r in zip(tests, results) if r[0] == "skipped"],
            "lines": lines, "global": global_lines}


def main_run(args):
    os.makedirs(WORK, exist_ok=True)
    if not os.environ.get("AUTHD_TEST_PG_URI"):
        log("AUTHD_TEST_PG_URI is not set: run scripts/mutants-sample.sh, which starts the "
            "PostgreSQL cluster the tests need")
        return 2
    tree = Tree(args.rev)
    files = tree.files
    mutants = all_mutants(tree)
    if args.ids:
        wanted = set(args.ids)
        sample = [m for m in mutants if m.id in wanted]
        missing = wanted - {m.id for m in sample}
        if missing:
            log(f"no such mutant: {' '.join(sorted(missing))}")
            return 2
    else:
        sample = stratified_sample(mutants, args.count, args.seed)
    equivalents = load_table(EQUIVALENTS)
    expected_skips = load_table(EXPECTED_SKIPS)
    started = time.monotonic()
    log(f"{len(mutants)} mutants in {len(scope_files(files))} files; sample of {len(sample)} "
        f"(seed {args.seed})")

    # Trees: the coverage build and the lanes, each a copy of the working tree as it is now.
    cov = Lane("coverage")
    lanes = [Lane(f"lane-{i}") for i in range(args.lanes)]
    for lane in [cov] + lanes:
        snapshot(lane.src, tree)
    configure(cov.src, cov.build, ["-DCMAKE_CXX_FLAGS=--coverage",
                                   "-DCMAKE_EXE_LINKER_FLAGS=--coverage"])
    for lane in lanes:
        configure(lane.src, lane.build, [])
    t0 = time.monotonic()
    for lane in [cov] + lanes:
        if not build(lane.build, args.jobs, lane.log):
            log(f"the unmutated tree does not build in {lane.build} (see {lane.log})")
            return 2
    log(f"built the coverage tree and {len(lanes)} lanes in {time.monotonic() - t0:.0f} s")

    # Baseline: every test alone, its lines recorded; all must pass (or skip as expected). Kept
    # in build/mutagen/coverage.json for the same tree (a run of --ids after a run of the sample).
    tests = list_tests(cov.build)
    digest = tree_digest(cov.src, files)
    cache_path = os.path.join(WORK, "coverage.json")
    cache = None
    if os.path.exists(cache_path):
        with open(cache_path) as f:
            cache = json.load(f)
        if cache.get("tree") != digest or cache.get("tests") != [t.name for t in tests]:
            cache = None
    if cache is None:
        cache = baseline_and_coverage(cov, tests, files, expected_skips, args)
        if cache is None:
            return 2
        cache["tree"] = digest
        with open(cache_path, "w") as f:
            json.dump(cache, f)
    else:
        log("baseline and coverage of this tree from build/mutagen/coverage.json")
    for t in tests:
        t.seconds = cache["seconds"][t.index]
    skipped = set(cache["skipped"])
    flaky = {}
    for name in cache.get("baseline_flaky", []):
        flaky[name] = flaky.get(name, 0) + 1
    lines_of = {}
    for key, idx in cache["lines"].items():
        path, ln = key.rsplit(":", 1)
        lines_of[(path, int(ln))] = set(idx)
    global_lines = {}
    for key, ran in cache["global"].items():
        path, ln = key.rsplit(":", 1)
        global_lines[(path, int(ln))] = ran
    wanted_rel = sorted({m.path for m in sample})
    # The tests that run any line of a file: where a mutant of unknown coverage (SQL in a string,
    # a constant) is looked for first.
    file_tests = {}
    # And per file, each line's tests: for the distance from a mutant to the code each test runs.
    lines_by_file = {}
    for (path, ln), idx in lines_of.items():
        file_tests.setdefault(path, set()).update(idx)
        if idx:
            lines_by_file.setdefault(path, []).append((ln, idx))
    # The tests that killed a file's mutants so far, the latest first (a lane takes a file's
    # mutants in a row, and a file's mutants tend to fall to the same few tests).
    killers_of = {}

    def first_order(m, near):
        """near's tests in the order a mutant's hunt tries them: the file's killers so far, then
        by the distance from the mutant's line to the nearest line each test runs in its file (in
        steps of 25 lines: the code that runs an SQL string sits near it), then fastest first."""
        distance = {}
        for ln, idx in lines_by_file.get(m.path, []):
            d = abs(ln - m.line) // 25
            for i in idx:
                if i in near and d < distance.get(i, 1 << 30):
                    distance[i] = d
        with lock:
            killers = [i for i in killers_of.get(m.path, []) if i in near]
        rank = {i: k for k, i in enumerate(killers)}
        return sorted((t for t in tests if t.index in near),
                      key=lambda t: (rank.get(t.index, len(rank)), distance.get(t.index, 1 << 30),
                                     t.seconds, t.index))

    texts = {f: tree.text(f) for f in wanted_rel}
    records = {}
    todo = []
    for m in sample:
        rec = {"id": m.id, "file": m.path, "line": m.line, "operator": m.operator,
               "description": m.description, "code": m.original_line.strip()}
        records[m.id] = rec
        if m.id in equivalents:
            rec.update(status="equivalent", reason=equivalents[m.id])
            continue
        kind, covering = classify(m, texts[m.path], lines_of, global_lines)
        if kind == "not-covered":
            rec.update(status="not-covered")
            continue
        rec["covering"] = len(covering) if covering else None
        todo.append((m, covering))
    todo.sort(key=lambda mc: (mc[0].path, mc[0].start))
    log(f"{len(todo)} mutants to run on {len(lanes)} lanes "
        f"({sum(1 for r in records.values() if r.get('status') == 'not-covered')} on lines no "
        f"test executes, {sum(1 for r in records.values() if r.get('status') == 'equivalent')} "
        "recorded equivalent)")

    by_speed = sorted(tests, key=lambda t: (t.seconds, t.index))
    jobs = queue.Queue()
    # Consecutive mutants of one file share a lane, so that a lane rebuilds one file per mutant.
    groups = {}
    for m, covering in todo:
        groups.setdefault(m.path, []).append((m, covering))
    for path in sorted(groups, key=lambda p: -len(groups[p])):
        jobs.put(groups[path])
    lock = threading.Lock()
    skipped_under = []
    done = [0]

    def confirm(lane, test):
        """A failure counts only if the test fails again on the mutant, run alone, and passes on
        the unmutated tree (else it is flaky, or broken here: reported, never credited)."""
        again, _, _ = run_test(test, lane.build, mutant_timeout(test))
        if again not in ("failed", "timeout"):
            return False
        status, _, _ = run_test(test, cov.build, test.timeout,
                                {"GCOV_PREFIX": os.path.join(WORK, "confirm-coverage")})
        return status == "passed"

    def hunt(lane, m, order, parallel):
        """The first test of order that kills the mutant, running up to parallel at once."""
        pending = [t for t in order if t.name not in skipped]
        found = []
        pos = [0]
        plock = threading.Lock()

        def runner():
            while True:
                with plock:
                    if found or pos[0] >= len(pending):
                        return
                    t = pending[pos[0]]
                    pos[0] += 1
                status, _, _ = run_test(t, lane.build, mutant_timeout(t))
                if status == "skipped":
                    with lock:
                        skipped_under.append((m.id, t.name))
                elif status in ("failed", "timeout"):
                    if confirm(lane, t):
                        with plock:
                            found.append((t.name, status))
                    else:
                        with lock:
                            flaky[t.name] = flaky.get(t.name, 0) + 1

        workers = [threading.Thread(target=runner) for _ in range(parallel)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return found[0] if found else (None, None)

    def lane_worker(lane):
        while True:
            try:
                group = jobs.get_nowait()
            except queue.Empty:
                return
            for m, covering in group:
                t0 = time.monotonic()
                path = os.path.join(lane.src, m.path)
                with open(path, encoding="utf-8") as f:
                    original = f.read()
                rec = records[m.id]
                try:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(sites.apply(original, m))
                    if not build(lane.build, args.jobs, lane.log):
                        rec.update(status="stillborn")
                    else:
                        # Unknown coverage (no code on the lines: a constant, SQL in a string):
                        # the tests that run its file come first, then every other one.
                        near = covering if covering is not None else file_tests.get(m.path)
                        if near:
                            first = first_order(m, near)
                            rest = [t for t in by_speed if t.index not in near]
                        else:
                            first, rest = by_speed, []
                        killer, how = hunt(lane, m, first, args.near_jobs)
                        via = "covering" if covering is not None else "file"
                        if killer is None and not args.covering_only and rest:
                            killer, how = hunt(lane, m, rest, args.suite_jobs)
                            via = "suite"
                        if killer:
                            rec.update(status="killed", killer=killer, via=via, how=how)
                            with lock:
                                index = next(t.index for t in tests if t.name == killer)
                                ks = [i for i in killers_of.get(m.path, []) if i != index]
                                killers_of[m.path] = [index] + ks
                        else:
                            rec.update(status="survived")
                finally:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(original)
                rec["seconds"] = round(time.monotonic() - t0, 1)
                with lock:
                    done[0] += 1
                    log(f"[{done[0]}/{len(todo)}] {rec['status'].upper():10} {m.id} "
                        f"{m.path}:{m.line} {m.operator}: {m.description}"
                        + (f" by {rec['killer']} ({rec['via']})" if rec.get("killer") else "")
                        + f" {rec['seconds']} s")
            # The lane's tree back to the unmutated one, built.
            build(lane.build, args.jobs, lane.log)

    threads = [threading.Thread(target=lane_worker, args=(lane,)) for lane in lanes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    elapsed = time.monotonic() - started
    write_report(sample, records, flaky, skipped_under, args, elapsed, len(tests))
    return 0


def score(records):
    counts = {}
    for r in records.values():
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    viable = sum(counts.values()) - counts.get("equivalent", 0) - counts.get("stillborn", 0)
    killed = counts.get("killed", 0)
    return counts, viable, killed


def write_report(sample, records, flaky, skipped_under, args, elapsed, test_count):
    counts, viable, killed = score(records)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump({"seed": args.seed, "count": len(sample), "seconds": round(elapsed),
                   "counts": counts, "flaky": flaky, "skipped_under": skipped_under,
                   "mutants": [records[m.id] for m in sample]}, f, indent=1)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    where = args.rev or (head + (" (with uncommitted changes)" if dirty else ""))
    lines = [f"# Generated mutants at {where}"
             + (" (covering tests only: a triage, no score)" if args.covering_only else ""), "",
             f"Seed {args.seed}, {len(sample)} mutants, {test_count} tests, "
             f"{elapsed / 60:.1f} min on {args.lanes} lanes.", ""]
    pct = 100.0 * killed / viable if viable else 0.0
    lines.append(f"**Score: {killed} of {viable} non-equivalent mutants killed ({pct:.1f} %)**; "
                 + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".")
    lines.append("")
    if flaky:
        lines.append("Tests that failed on the unmutated tree too (flaky, never credited): "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(flaky.items())))
        lines.append("")
    if skipped_under:
        lines.append("Tests that skipped under a mutant (the mutant's doing: the same tests pass "
                     "on the unmutated tree; a skip is no kill): "
                     + ", ".join(f"{a} {b}" for a, b in skipped_under))
        lines.append("")
    for status in ("survived", "not-covered", "stillborn", "equivalent", "killed"):
        rows = [records[m.id] for m in sample if records[m.id]["status"] == status]
        if not rows:
            continue
        lines += [f"## {status} ({len(rows)})", "", "| id | where | operator | change | "
                  + ("killed by |" if status == "killed" else "reason |" if status == "equivalent"
                     else "code |"), "|---|---|---|---|---|"]
        for r in rows:
            last = (f"{r.get('killer')} ({r.get('via')})" if status == "killed" else
                    r.get("reason", "") if status == "equivalent" else
                    "`" + r["code"][:80].replace("|", "\\|") + "`")
            lines.append(f"| {r['id']} | {r['file']}:{r['line']} | {r['operator']} | "
                         f"{r['description'].replace('|', '/')} | {last} |")
        lines.append("")
    with open(os.path.join(WORK, "report.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:6]))
    print(f"report: {os.path.join(WORK, 'report.md')}")


def main():
    parser = argparse.ArgumentParser(prog="mutagen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sites")
    p.add_argument("--at", help="list the mutants of FILE or FILE:LINE instead of counting them")
    p = sub.add_parser("sample")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--count", type=int, default=DEFAULT_COUNT)
    p = sub.add_parser("show")
    p.add_argument("ids", nargs="+")
    p = sub.add_parser("try")
    p.add_argument("id")
    p.add_argument("regex")
    p.add_argument("--build", default=os.path.join(ROOT, "build", "debug"))
    p = sub.add_parser("run")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--count", type=int, default=DEFAULT_COUNT)
    p.add_argument("--ids", nargs="*")
    p.add_argument("--lanes", type=int, default=2)
    p.add_argument("--jobs", type=int, default=2, help="compile jobs of a build")
    # The suite mostly waits (timeouts, sleeps, sockets): on two cores, ctest -j6 runs it in a
    # third of the time -j2 takes, at well under full CPU.
    p.add_argument("--test-jobs", type=int, default=6,
                   help="tests the baseline runs at once")
    p.add_argument("--near-jobs", type=int, default=2,
                   help="tests a lane runs at once among those near the mutant")
    p.add_argument("--suite-jobs", type=int, default=6,
                   help="tests a lane runs at once beyond the near ones")
    p.add_argument("--rev", help="mutate this commit, not the working tree")
    p.add_argument("--covering-only", action="store_true",
                   help="triage: run only the tests that cover each mutant (no score)")
    args = parser.parse_args()
    if args.command == "sites":
        ms = all_mutants()
        if args.at:
            path, _, line = args.at.partition(":")
            for m in ms:
                if m.path == path and (not line or m.line == int(line)):
                    print(f"{m.id} {m.path}:{m.line} {m.operator}: {m.description}")
            return 0
        by = {}
        for m in ms:
            by.setdefault(m.operator, 0)
            by[m.operator] += 1
        print(f"{len(ms)} mutants")
        for op, n in sorted(by.items(), key=lambda x: -x[1]):
            print(f"  {op:10} {n:6}  {sites.OPERATORS[op]}")
        return 0
    if args.command == "sample":
        for m in stratified_sample(all_mutants(), args.count, args.seed):
            print(f"{m.id} {m.path}:{m.line} {m.operator}: {m.description}")
        return 0
    if args.command == "show":
        ms = {m.id: m for m in all_mutants()}
        for i in args.ids:
            if i not in ms:
                log(f"no such mutant: {i}")
                return 2
            print(f"{i} {ms[i].operator}: {ms[i].description}")
            print(diff_of(ms[i]))
        return 0
    if args.command == "try":
        return main_try(args)
    return main_run(args)


def main_try(args):
    ms = {m.id: m for m in all_mutants()}
    if args.id not in ms:
        log(f"no such mutant: {args.id}")
        return 2
    m = ms[args.id]
    path = os.path.join(ROOT, m.path)
    with open(path, encoding="utf-8") as f:
        original = f.read()
    print(diff_of(m))
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(sites.apply(original, m))
        if subprocess.run(["cmake", "--build", args.build, "-j", "2", "--target"] + TARGETS,
                          stdout=subprocess.DEVNULL).returncode != 0:
            log("the mutant does not build")
            return 2
        r = subprocess.run(["ctest", "--test-dir", args.build, "-R", args.regex, "-j", "2"],
                           capture_output=True, text=True)
        tail = r.stdout[r.stdout.find("tests passed"):] if "tests passed" in r.stdout else r.stdout
        print(tail[-2000:])
        print("KILLED" if r.returncode != 0 else "SURVIVED")
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
        subprocess.run(["cmake", "--build", args.build, "-j", "2", "--target"] + TARGETS,
                       stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which tests execute which lines: a build with gcov instrumentation, each test run on its own
with GCOV_PREFIX pointing at a folder of its own (the authd and authctl processes a test starts
inherit it, so their lines count for the test too), then gcov's JSON over each folder.

The hash helper is started with an empty environment on purpose (server/workers/hash_helper.cpp),
so its lines land in the build tree itself, for no test in particular: a mutant there is run
against the whole suite.
"""
import gzip
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor


def gcda_files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n.endswith(".gcda"):
                out.append(os.path.join(dirpath, n))
    return out


def link_notes(prefix_dir, gcdas):
    """gcov wants the .gcno beside the .gcda: links each one's from the build tree."""
    for g in gcdas:
        original = g[len(prefix_dir):] if prefix_dir else g
        note = original[:-5] + ".gcno"
        link = g[:-5] + ".gcno"
        if os.path.exists(note) and not os.path.lexists(link):
            os.symlink(note, link)


def source_of(gcda, build_dir, src_dir):
    """The source an object's .gcda counts: BUILD/X/CMakeFiles/T.dir/Y.gcda is SRC/X/Y (CMake
    writes a '..' of Y as '__')."""
    marker = "/CMakeFiles/"
    at = gcda.find(build_dir + "/")
    if at == -1:
        return None
    rel = gcda[at + len(build_dir) + 1:]
    k = rel.find(marker)
    if k == -1:
        return None
    x = rel[:k]
    rest = rel[k + len(marker):]
    slash = rest.find(".dir/")
    if slash == -1:
        return None
    y = rest[slash + len(".dir/"):-len(".gcda")]
    y = "/".join(".." if part == "__" else part for part in y.split("/"))
    return os.path.normpath(os.path.join(src_dir, x, y))


def executed_lines(gcdas, wanted, work_dir, src_dir):
    """{source path: {line: count}} for the sources in wanted (absolute paths), from gcov's JSON
    of the given .gcda files (a line absent from the map has no code). Only the tree's own files
    are read (gcov -r: the system's and Boost's headers are most of an object's lines)."""
    result = {}
    if not gcdas:
        return result
    os.makedirs(work_dir, exist_ok=True)
    # gcov writes NAME.gcov.json.gz into its working directory, one per object.
    for i in range(0, len(gcdas), 64):
        batch = gcdas[i:i + 64]
        proc = subprocess.run(["gcov", "--json-format", "--preserve-paths", "--relative-only",
                               "--source-prefix", src_dir] + batch,
                              cwd=work_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        del proc
        for name in os.listdir(work_dir):
            if not name.endswith(".gcov.json.gz"):
                continue
            path = os.path.join(work_dir, name)
            with gzip.open(path, "rt") as f:
                data = json.load(f)
            os.unlink(path)
            cwd = data.get("current_working_directory", "")
            for entry in data.get("files", []):
                src = entry["file"]
                if not os.path.isabs(src):
                    # relative to the source prefix (gcov -s), or else to the object's directory
                    candidate = os.path.normpath(os.path.join(src_dir, src))
                    src = candidate if candidate in wanted else os.path.normpath(
                        os.path.join(cwd, src))
                if src not in wanted:
                    continue
                lines = result.setdefault(src, {})
                for ln in entry.get("lines", []):
                    n = ln["line_number"]
                    lines[n] = lines.get(n, 0) + ln["count"]
    return result


def per_test(prefix_root, count, wanted, build_dir, src_dir, in_scope, jobs=2):
    """{test index: {source: {line: count}}} for the folders t0 .. t<count-1> under prefix_root,
    read from the objects of the sources in_scope(path) accepts (their inline header code comes
    with them)."""
    out = {}

    def worker(w):
        res = []
        work = os.path.join(prefix_root, f"gcov-{w}")  # gcov's own output, one per worker
        for i in range(w, count, jobs):
            d = os.path.join(prefix_root, f"t{i}")
            gcdas = [g for g in gcda_files(d) if in_scope(source_of(g, build_dir, src_dir))]
            link_notes(d, gcdas)
            res.append((i, executed_lines(gcdas, wanted, work, src_dir)))
        return res

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for res in pool.map(worker, range(jobs)):
            for i, lines in res:
                out[i] = lines
    return out

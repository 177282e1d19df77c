#!/usr/bin/env python3
"""One mutant of tests/mutants/ (format: tests/mutants/README.md), for scripts/mutants.sh.

mutant.py check FILE.mutant   -- the snippet occurs exactly once in its source file
mutant.py apply FILE.mutant   -- replaces it (after the same check)
mutant.py field FILE.mutant KEY
"""
import sys

FIELDS = ("file", "tests", "property", "why")


def parse(path):
    fields, blocks, current = {}, {}, None
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if line in ("--- original", "--- mutant"):
                current = line[4:]
                blocks[current] = []
            elif current is not None:
                blocks[current].append(line)
            elif line.strip() and not line.startswith("#"):
                key, sep, value = line.partition(":")
                if not sep:
                    raise ValueError(f"{path}: not 'key: value': {line!r}")
                key = key.strip()
                if key in fields:
                    fields[key] += " " + value.strip()
                else:
                    fields[key] = value.strip()
    for key in ("file", "tests"):
        if key not in fields:
            raise ValueError(f"{path}: no '{key}:' line")
    if "original" not in blocks or "mutant" not in blocks:
        raise ValueError(f"{path}: needs '--- original' and '--- mutant' blocks")
    # Blank lines around a block are not part of it.
    original = "\n".join(blocks["original"]).strip("\n")
    mutant = "\n".join(blocks["mutant"]).strip("\n")
    if not original:
        raise ValueError(f"{path}: the original snippet is empty")
    return fields, original, mutant


def load(path):
    fields, original, mutant = parse(path)
    with open(fields["file"], encoding="utf-8") as f:
        text = f.read()
    n = text.count(original)
    if n != 1:
        where = "not found" if n == 0 else f"found {n} times"
        raise ValueError(f"{path}: its snippet is {where} in {fields['file']} "
                         "(moved or edited? update the mutant)")
    return fields, original, mutant, text


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    try:
        if cmd == "field":
            print(parse(path)[0].get(sys.argv[3], ""))
        elif cmd == "check":
            load(path)
        elif cmd == "apply":
            fields, original, mutant, text = load(path)
            with open(fields["file"], "w", encoding="utf-8") as f:
                f.write(text.replace(original, mutant, 1))
        else:
            raise ValueError(f"unknown command {cmd}")
    except (OSError, ValueError) as e:
        print(f"mutants: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

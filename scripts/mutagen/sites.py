"""Mutation sites of C++ sources: where each operator of docs/testing.md applies, and what it
writes instead. Pure text work, no compiler: the tree is formatted by clang-format, which writes
binary operators with a space on each side (`a < b`, `x && y`) and template brackets without
(`std::vector<int>`), so a spaced operator is an expression's. A mutant that does not build
anyway is reported as such (stillborn) and not counted.

A mutant is a replacement of a span of one file's text. Its id is a digest of what it changes and
where, by content (the file, the line's text, the operator, the replacement, the occurrence on the
line), not by line number: an id stays the same while the code around it moves, and a recorded
equivalent mutant stays recorded until its line changes.
"""
import hashlib
import re
from dataclasses import dataclass, field

# What each operator does (docs/testing.md repeats it for readers).
OPERATORS = {
    "ror": "a relational or equality operator swapped (negated) or moved by one (< and <=)",
    "lcr": "&& and || swapped",
    "neg": "a negation (!) dropped",
    "const": "an integer constant plus one, minus one, or 0",
    "call": "a call statement deleted (a wipe, an madvise, a check, a write)",
    "ret": "a bool function's returned value forced to true or false",
    "minmax": "std::min/max/clamp (SQL least/greatest) replaced by one of its arguments",
    "sql-ror": "an SQL comparison swapped or moved by one",
    "sql-lcr": "SQL AND and OR swapped",
    "sql-pred": "an SQL predicate removed (a WHERE clause's conjunct, or the whole clause)",
    "sql-const": "an integer constant in SQL plus one, minus one, or 0",
}

ROR_REPLACEMENTS = {
    "<": ["<=", ">="],
    "<=": ["<", ">"],
    ">": [">=", "<="],
    ">=": [">", "<"],
    "==": ["!="],
    "!=": ["=="],
}
SQL_ROR_REPLACEMENTS = {
    "<": ["<=", ">="],
    "<=": ["<", ">"],
    ">": [">=", "<="],
    ">=": [">", "<"],
    "=": ["<>"],
    "<>": ["="],
}

STATEMENT_KEYWORDS = {
    "if", "for", "while", "switch", "return", "co_return", "co_await", "co_yield", "throw",
    "case", "default", "delete", "new", "else", "do", "using", "typedef", "template",
    "static_assert", "goto", "break", "continue", "assert", "namespace", "class", "struct",
    "enum", "public", "private", "protected", "friend", "operator", "sizeof", "decltype",
}


@dataclass
class Mutant:
    path: str  # from the top of the tree
    start: int  # offset in the file's text
    end: int
    replacement: str
    operator: str
    line: int  # 1-based, of start
    description: str
    original_line: str = ""
    occurrence: int = 0
    id: str = field(default="")

    def key(self):
        return "\0".join([self.path, self.original_line.strip(), self.operator, self.description,
                          str(self.occurrence)])


def finish_ids(mutants):
    seen = {}
    for m in mutants:
        base = m.key()
        n = seen.get(base, 0)
        seen[base] = n + 1
        digest = hashlib.sha1((base + "\0" + str(n)).encode()).hexdigest()[:10]
        m.id = digest
    return mutants


# --- lexing -------------------------------------------------------------------------------------

@dataclass
class Region:
    kind: str  # "code", "string", "comment", "preprocessor", "char"
    start: int
    end: int  # exclusive
    content_start: int = 0  # for strings: where the characters inside the quotes begin
    content_end: int = 0


RAW_STRING = re.compile(r'(?:u8|u|U|L)?R"([^()\\ ]{0,16})\(')


def lex(text):
    """Splits text into regions of code, string literals, character literals, comments and
    preprocessor lines."""
    regions = []
    i, n = 0, len(text)
    code_start = 0

    def flush(upto):
        if upto > code_start:
            regions.append(Region("code", code_start, upto))

    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c in " \t":
            i += 1
            continue
        if at_line_start and c == "#":
            flush(i)
            j = i
            while j < n:
                k = text.find("\n", j)
                if k == -1:
                    k = n
                if k > 0 and text[k - 1] == "\\":
                    j = k + 1
                    continue
                break
            regions.append(Region("preprocessor", i, k))
            i = k
            code_start = i
            continue
        at_line_start = c == "\n"
        if text.startswith("//", i):
            flush(i)
            k = text.find("\n", i)
            k = n if k == -1 else k
            regions.append(Region("comment", i, k))
            i = k
            code_start = i
            continue
        if text.startswith("/*", i):
            flush(i)
            k = text.find("*/", i + 2)
            k = n if k == -1 else k + 2
            regions.append(Region("comment", i, k))
            i = k
            code_start = i
            continue
        m = RAW_STRING.match(text, i)
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            flush(i)
            delim = m.group(1)
            close = ")" + delim + '"'
            k = text.find(close, m.end())
            k = n if k == -1 else k
            regions.append(Region("string", i, k + len(close), m.end(), k))
            i = k + len(close)
            code_start = i
            continue
        if c == '"':
            flush(i)
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            regions.append(Region("string", i, j + 1, i + 1, j))
            i = j + 1
            code_start = i
            continue
        if c == "'" and not (i > 0 and text[i - 1].isalnum()):  # not a digit separator
            flush(i)
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            regions.append(Region("char", i, j + 1))
            i = j + 1
            code_start = i
            continue
        i += 1
    flush(n)
    return regions


def code_mask(text, regions):
    """text with everything but code blanked (same length; newlines kept)."""
    out = []
    for r in regions:
        chunk = text[r.start:r.end]
        if r.kind == "code":
            out.append(chunk)
        else:
            out.append("".join("\n" if ch == "\n" else " " for ch in chunk))
    return "".join(out)


class Lines:
    def __init__(self, text):
        self.text = text
        self.starts = [0]
        for m in re.finditer("\n", text):
            self.starts.append(m.end())

    def number(self, offset):
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def line(self, number):
        s = self.starts[number - 1]
        e = self.text.find("\n", s)
        return self.text[s:] if e == -1 else self.text[s:e]


# --- code operators -----------------------------------------------------------------------------

SPACED_OP = re.compile(r"(?<=[^\s<>=!&|+\-*/%^~])( )(<=|>=|==|!=|&&|\|\||<|>)( )(?=[^\s<>=])")
NEGATION = re.compile(r"(?<=[(\s!,])!(?=[A-Za-z_(])")
INT_LITERAL = re.compile(r"(?<![\w.'])(\d[\d']*)([uUlLzZ]*)(?![\w.'])")
MINMAX = re.compile(r"\bstd::(min|max|clamp)\s*(<[^<>()]*>)?\s*\(")


def matching_paren(mask, open_at):
    depth = 0
    for j in range(open_at, len(mask)):
        ch = mask[j]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def split_args(mask, open_at, close_at):
    """Offsets (start, end) of each top-level argument between the parentheses."""
    args = []
    depth = 0
    start = open_at + 1
    for j in range(open_at + 1, close_at):
        ch = mask[j]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "<" and depth == 0:
            pass
        elif ch == "," and depth == 0:
            args.append((start, j))
            start = j + 1
    args.append((start, close_at))
    return args


def strip_span(text, s, e):
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def bool_function_ranges(mask):
    """Offsets of the bodies of functions declared to return bool (a definition whose return type
    is bool: `bool name(...) ... {`), as (body_start, body_end)."""
    ranges = []
    for m in re.finditer(r"(?:^|\n)[ \t]*(?:(?:static|inline|constexpr|virtual|friend|"
                         r"\[\[nodiscard\]\])\s+)*bool\s+[\w:~]+\s*\(", mask):
        open_at = m.end() - 1
        close_at = matching_paren(mask, open_at)
        if close_at == -1:
            continue
        j = close_at + 1
        # qualifiers up to the body or a ';' (a declaration only)
        while j < len(mask) and mask[j] not in "{;":
            j += 1
        if j >= len(mask) or mask[j] == ";":
            continue
        end = matching_paren(mask, j)
        if end != -1:
            ranges.append((j, end))
    return ranges


def statement_starts(mask):
    """Offsets where a statement may begin: after ';', '{', '}' or a ':' of a label, at the
    first non-space character."""
    starts = []
    prev = ";"
    i = 0
    n = len(mask)
    while i < n:
        ch = mask[i]
        if ch.isspace():
            i += 1
            continue
        if prev in ";{}":
            starts.append(i)
        prev = ch
        i += 1
    return starts


CALLEE = re.compile(r"(\(void\)\s*)?((?:::)?[A-Za-z_]\w*(?:\s*(?:::|\.|->)\s*~?[A-Za-z_]\w*)*)"
                    r"\s*(<[^;{}()]*?>)?\s*\(")


def call_statements(mask):
    """(start, end) of statements that are a call (or a chain of calls) and nothing else:
    `wipe(x);`, `query(s).bind(1, x).run();`, `(void)f();`."""
    out = []
    for s in statement_starts(mask):
        m = CALLEE.match(mask, s)
        if not m:
            continue
        first = m.group(2).split("::")[-1].split(".")[0].split("->")[0].strip()
        if first in STATEMENT_KEYWORDS or m.group(2).strip() in STATEMENT_KEYWORDS:
            continue
        j = m.end() - 1
        while True:
            close = matching_paren(mask, j)
            if close == -1:
                break
            k = close + 1
            while k < len(mask) and mask[k].isspace():
                k += 1
            if k < len(mask) and mask[k] == ";":
                out.append((s, k + 1))
                break
            chain = re.compile(r"(?:\.|->)\s*[A-Za-z_]\w*\s*\(").match(mask, k)
            if not chain:
                break
            j = chain.end() - 1
    return out


def code_mutants(path, text, mask, lines):
    mutants = []

    def add(start, end, replacement, operator, description):
        ln = lines.number(start)
        mutants.append(Mutant(path, start, end, replacement, operator, ln, description,
                              lines.line(ln)))

    for m in SPACED_OP.finditer(mask):
        op = m.group(2)
        s, e = m.start(2), m.end(2)
        # Not a template's closing bracket written with spaces, nor 'template <'.
        before = mask[max(0, s - 9):s]
        if op == "<" and before.rstrip().endswith("template"):
            continue
        if op in ("&&", "||"):
            add(s, e, "||" if op == "&&" else "&&", "lcr", f"{op} -> {'||' if op == '&&' else '&&'}")
        else:
            for r in ROR_REPLACEMENTS[op]:
                add(s, e, r, "ror", f"{op} -> {r}")
    for m in NEGATION.finditer(mask):
        if mask[m.start():m.start() + 2] == "!=":
            continue
        add(m.start(), m.end(), "", "neg", "! dropped")
    for m in INT_LITERAL.finditer(mask):
        digits = m.group(1).replace("'", "")
        if not digits.isdigit() or (len(digits) > 1 and digits.startswith("0")):
            continue  # octal or odd: left alone
        v = int(digits)
        # Not an array dimension nor a template argument (changing them rarely builds), nor a
        # capacity reserved (no behaviour: reserve() only spares reallocations).
        before = mask[max(0, m.start() - 200):m.start()].rstrip()
        if before.endswith("[") or before.endswith("<") or re.search(
                r"\.reserve\([^()]*$", before) or re.search(r"static_assert\([^;]*$", before):
            continue
        suffix = m.group(2)
        for nv in sorted({v + 1, v - 1, 0} - {v}):
            if nv < 0:
                continue
            add(m.start(1), m.end(1), str(nv), "const", f"{digits}{suffix} -> {nv}{suffix}")
    for m in MINMAX.finditer(mask):
        open_at = m.end() - 1
        close_at = matching_paren(mask, open_at)
        if close_at == -1:
            continue
        args = split_args(mask, open_at, close_at)
        keep = args[:1] if m.group(1) == "clamp" else args
        for idx, (a, b) in enumerate(keep):
            a, b = strip_span(text, a, b)
            add(m.start(), close_at + 1, "(" + text[a:b] + ")", "minmax",
                f"std::{m.group(1)}(...) -> argument {idx + 1}")
    for s, e in call_statements(mask):
        add(s, e, ";", "call", "call statement deleted")
    for body_start, body_end in bool_function_ranges(mask):
        for m in re.finditer(r"\breturn\s+([^;]+);", mask[body_start:body_end]):
            expr = m.group(1).strip()
            if expr in ("true", "false"):
                continue
            s = body_start + m.start(1)
            e = body_start + m.end(1)
            for forced in ("true", "false"):
                add(s, e, forced, "ret", f"return forced to {forced}")
    return mutants


# --- SQL inside string literals -------------------------------------------------------------------

SQL_HINT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|CREATE|BEGIN|DECLARE)\b")
SQL_END = re.compile(r"\b(ORDER\s+BY|GROUP\s+BY|LIMIT|OFFSET|RETURNING|UNION|FOR\s+UPDATE|"
                     r"ON\s+CONFLICT|INTO|LOOP|THEN|DO\s+UPDATE)\b|;|\bEND\b")
SQL_OP = re.compile(r"(?<=\s)(<=|>=|<>|=|<|>)(?=\s)")


def sql_assignment(s, at):
    """Whether the '=' at s[at] assigns (a column of UPDATE ... SET, a PRAGMA) rather than
    compares: the word before it follows SET, PRAGMA, or a comma of a SET list."""
    m = re.search(r"(\S+)\s+[\w.\"]+\s*$", s[:at])
    if not m:
        return False
    before = m.group(1).upper()
    if before in ("SET", "PRAGMA"):
        return True
    if before.endswith(","):
        # within an UPDATE's SET list: SET after the last UPDATE, no WHERE or FROM since
        head = s[:at].upper()
        k = head.rfind(" SET ")
        return k != -1 and head.rfind("WHERE", k) == -1 and head.rfind("FROM", k) == -1
    return False


def string_groups(text, regions):
    """Adjacent string literals (separated only by white space), as lists of regions."""
    groups = []
    current = []
    for r in regions:
        if r.kind == "string":
            if current and text[current[-1].end:r.start].strip() == "":
                current.append(r)
            else:
                if current:
                    groups.append(current)
                current = [r]
        elif r.kind in ("code",) and text[r.start:r.end].strip() == "":
            continue
        else:
            if current:
                groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


class Concat:
    """The characters of adjacent literals joined, with a map back to file offsets."""

    def __init__(self, text, group):
        self.parts = []
        self.chars = []
        self.offsets = []
        for r in group:
            for k in range(r.content_start, r.content_end):
                self.chars.append(text[k])
                self.offsets.append(k)
        self.s = "".join(self.chars)

    def file_span(self, a, b):
        """File spans covering concat range [a, b): possibly several (one per literal)."""
        spans = []
        for k in range(a, b):
            off = self.offsets[k]
            if spans and spans[-1][1] == off:
                spans[-1][1] = off + 1
            else:
                spans.append([off, off + 1])
        return spans


def sql_mutants(path, text, regions, lines):
    mutants = []

    def add_spans(spans, replacement, operator, description):
        # Several spans (a predicate across literals): the first gets the replacement, the others
        # are emptied. Encoded as one mutant with extra spans.
        ln = lines.number(spans[0][0])
        m = Mutant(path, spans[0][0], spans[0][1], replacement, operator, ln, description,
                   lines.line(ln))
        m.extra = [tuple(x) for x in spans[1:]]
        mutants.append(m)

    for group in string_groups(text, regions):
        c = Concat(text, group)
        s = c.s
        if not SQL_HINT.search(s):
            continue
        # comparisons
        for m in SQL_OP.finditer(s):
            op = m.group(1)
            if op == "=" and sql_assignment(s, m.start(1)):
                continue  # UPDATE ... SET a = x, PRAGMA a = x: not a comparison
            for r in SQL_ROR_REPLACEMENTS[op]:
                add_spans(c.file_span(m.start(1), m.end(1)), r, "sql-ror", f"SQL {op} -> {r}")
        for m in re.finditer(r"(?<=\s)(AND|OR)(?=\s)", s):
            r = "OR" if m.group(1) == "AND" else "AND"
            add_spans(c.file_span(m.start(), m.end()), r, "sql-lcr", f"SQL {m.group(1)} -> {r}")
        for m in re.finditer(r"\b(least|greatest)\s*\(", s):
            open_at = m.end() - 1
            close_at = matching_paren(s, open_at)
            if close_at == -1:
                continue
            for idx, (a, b) in enumerate(split_args(s, open_at, close_at)):
                a, b = strip_span(s, a, b)
                spans = c.file_span(m.start(), close_at + 1)
                add_spans(spans, "(" + s[a:b] + ")", "minmax",
                          f"SQL {m.group(1)}(...) -> argument {idx + 1}")
        for m in re.finditer(r"(?<![\w.$'])(\d+)(?![\w.'])", s):
            v = int(m.group(1))
            if s[max(0, m.start() - 1):m.start()] == "$":
                continue
            for nv in sorted({v + 1, v - 1, 0} - {v}):
                if nv >= 0:
                    add_spans(c.file_span(m.start(), m.end()), str(nv), "sql-const",
                              f"SQL {v} -> {nv}")
        for m in re.finditer(r"\bWHERE\b", s):
            start = m.end()
            # The clause ends at a keyword that ends it, or a ')' closing a level it did not open.
            # CASE ... END nests like parentheses.
            depth = 0
            end = len(s)
            k = start
            while k < len(s):
                ch = s[k]
                word_start = ch.isalpha() and (k == 0 or not (s[k - 1].isalnum() or
                                                             s[k - 1] == "_"))
                if ch == "(" or (word_start and re.match(r"CASE\b", s[k:])):
                    depth += 1
                elif ch == ")":
                    if depth == 0:
                        end = k
                        break
                    depth -= 1
                elif word_start and depth > 0 and re.match(r"END\b", s[k:]):
                    depth -= 1
                elif depth == 0 and (ch == ";" or word_start) and SQL_END.match(s, k):
                    end = k
                    break
                k += 1
            clause = s[start:end]
            # top-level AND conjuncts
            conj = []
            depth = 0
            last = 0
            for mm in re.finditer(r"\(|\)|\bCASE\b|\bEND\b|(?<=\s)AND(?=\s)", clause):
                t = mm.group(0)
                if t in ("(", "CASE"):
                    depth += 1
                elif t in (")", "END"):
                    depth -= 1
                elif depth == 0:
                    conj.append((last, mm.start()))
                    last = mm.end()
            conj.append((last, len(clause)))
            if len(conj) == 1:
                a, b = strip_span(clause, 0, len(clause))
                add_spans(c.file_span(m.start(), start + b), "", "sql-pred",
                          "SQL WHERE clause removed")
            else:
                for idx, (a, b) in enumerate(conj):
                    # remove "cond AND" (or "AND cond" for the last one)
                    if idx < len(conj) - 1:
                        ra = start + a
                        rb = start + conj[idx + 1][0]
                    else:
                        ra = start + conj[idx - 1][1]
                        rb = start + b
                    ra2, rb2 = ra, rb
                    while ra2 < rb2 and s[ra2].isspace():
                        ra2 += 1
                    if idx == len(conj) - 1:
                        # keep the trailing space before a following keyword
                        while rb2 > ra2 and s[rb2 - 1].isspace():
                            rb2 -= 1
                    add_spans(c.file_span(ra2, rb2), "", "sql-pred",
                              f"SQL WHERE conjunct {idx + 1} of {len(conj)} removed")
    return mutants


def superseded_sql(text, regions):
    """File spans of SQL functions that a later migration of the same file drops or makes again
    (CREATE FUNCTION f ... $$; then DROP FUNCTION f, or CREATE OR REPLACE FUNCTION f): a schema
    step that databases out there have run is never edited, so its old bodies stay in the source,
    but no database authd makes or upgrades ever runs them."""
    defs = []  # (name, file start, file end)
    later = []  # (name, file offset): a drop or a new definition
    for group in string_groups(text, regions):
        c = Concat(text, group)
        sql = c.s
        for m in re.finditer(r"CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\s+(\w+)", sql):
            body = sql.find("$$", m.end())
            end = sql.find("$$;", body + 2) if body != -1 else -1
            if end == -1:
                continue
            defs.append((m.group(2), c.offsets[m.start()], c.offsets[end + 2] + 1))
            later.append((m.group(2), c.offsets[m.start()]))
        for m in re.finditer(r"DROP\s+FUNCTION\s+(IF\s+EXISTS\s+)?([^;]+);", sql):
            for name in m.group(2).split(","):
                later.append((re.sub(r"\(.*", "", name).strip(), c.offsets[m.start()]))
    return [(a, b) for name, a, b in defs if any(n == name and at > a for n, at in later)]


def file_mutants(path, text, with_sql):
    regions = lex(text)
    mask = code_mask(text, regions)
    lines = Lines(text)
    mutants = code_mutants(path, text, mask, lines)
    if with_sql:
        dead = superseded_sql(text, regions)
        mutants += [m for m in sql_mutants(path, text, regions, lines)
                    if not any(a <= m.start < b for a, b in dead)]
    for m in mutants:
        if not hasattr(m, "extra"):
            m.extra = []
    mutants.sort(key=lambda m: (m.start, m.end, m.operator, m.replacement))
    return finish_ids(mutants)


def apply(text, mutant):
    """text with the mutant applied."""
    spans = [(mutant.start, mutant.end, mutant.replacement)] + [
        (a, b, "") for a, b in getattr(mutant, "extra", [])]
    for a, b, r in sorted(spans, reverse=True):
        text = text[:a] + r + text[b:]
    return text

#!/usr/bin/env python3
"""Checks answers recorded from the real authd against docs/openapi.yaml (python3-yaml and
python3-jsonschema, from Debian). Run by tests/integration/openapi_test.cpp.

Usage: openapi_check.py OPENAPI_YAML MANIFEST

MANIFEST has one line per answer: the request's method, its target and the name of a file (beside
the manifest) holding the raw bytes of the answer, separated by tabs. For each answer:
- the method and the target's path are an operation of the document (a concrete path before a
  templated one, as OpenAPI says; a template variable stands for one path segment);
- the status is documented for that operation (exactly, else as 4XX or 5XX, else default);
- the documented required headers are present, and every documented header that is present has
  a value its schema allows;
- with documented content, the Content-Type is one of its media types (type and parameters) and
  the body validates against that media type's schema (JSON Schema draft 2020-12; a JSON media
  type is parsed first, any other is validated as a string); without, the body is empty.

Prints one line per problem, then which documented answers the recording covered. Exit status: 0
when every answer matches, 1 when one does not, 2 when the check cannot run (no PyYAML or
jsonschema, unreadable input).
"""

import json
import os
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - reported to the test as a cannot-run
    print(f"openapi_check: {e} (install python3-yaml and python3-jsonschema)", file=sys.stderr)
    sys.exit(2)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def resolve(document, node):
    """Follows local $refs ("#/a/b") until node is not a reference."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported or circular $ref {ref!r}")
        seen.add(ref)
        node = document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validate(document, schema, instance):
    """Returns the validation errors of instance against schema, whose $refs point into the
    document: the document's components ride along in the root schema, where "#/components/..."
    finds them."""
    root = {"$schema": DRAFT_2020_12, "allOf": [schema], "components": document.get("components")}
    validator = jsonschema.Draft202012Validator(root)
    return [
        "/".join(str(p) for p in e.absolute_path) + (": " if e.absolute_path else "") + e.message
        for e in validator.iter_errors(instance)
    ]


def find_operation(document, method, target):
    path = target.split("?", 1)[0]
    paths = document["paths"]
    # Concrete paths first, then templated ones (OpenAPI 3.1, "Path Templating Matching"), the
    # longest first. A template's last parameter may span segments: the document says so of both
    # that end in one (/{path}: any path authd does not serve; /forward-auth/{path}: any below).
    candidates = sorted(paths, key=lambda p: ("{" in p, -len(p)))
    for template in candidates:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[^/]+?\\\}$", ".+", pattern)
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", pattern) + "$"
        if re.match(pattern, path):
            item = resolve(document, paths[template])
            operation = item.get(method.lower()) if method.lower() in METHODS else None
            return template, operation
    return None, None


def parse_media_type(text):
    parts = [p.strip() for p in text.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            name, value = p.split("=", 1)
            params[name.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), params


def parse_response(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no end of the header section")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"^HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
    if not match:
        raise ValueError(f"bad status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"bad header line {line!r}")
        headers.append((name.strip().lower(), value.strip()))
    return int(match.group(1)), headers, body


def header_value_problems(document, name, header, values):
    schema = resolve(document, header.get("schema", {}))
    problems = []
    for value in values:
        instance = value
        if schema.get("type") == "integer":
            if not re.fullmatch(r"[0-9]+", value):
                problems.append(f"header {name}: {value!r} is not an integer")
                continue
            instance = int(value)
        problems += [f"header {name}: {e}" for e in validate(document, schema, instance)]
    return problems


def check_answer(document, method, target, raw):
    """Returns (documented answer key, problems)."""
    template, operation = find_operation(document, method, target)
    if operation is None:
        return None, [f"{method} {target}: no such operation in the document"]
    status, headers, body = parse_response(raw)
    responses = operation.get("responses", {})
    key = next(
        (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
    )
    label = f"{method} {target} -> {status}"
    if key is None:
        return None, [f"{label}: status {status} is not documented for {method} {template}"]
    response = resolve(document, responses[key])
    problems = []
    for name, header in (response.get("headers") or {}).items():
        if name.lower() == "content-type":
            continue  # described by content (OpenAPI ignores such a header)
        header = resolve(document, header)
        values = [v for n, v in headers if n == name.lower()]
        if not values and header.get("required"):
            problems.append(f"required header {name} is missing")
        problems += header_value_problems(document, name, header, values)
    content = response.get("content")
    if not content:
        if body:
            problems.append(f"the document says no content, got {len(body)} bytes: {body[:80]!r}")
    else:
        content_type = next((v for n, v in headers if n == "content-type"), None)
        if content_type is None:
            problems.append("no Content-Type")
        else:
            wanted = parse_media_type(content_type)
            media = next(
                (m for k, m in content.items() if parse_media_type(k) == wanted), None
            )
            if media is None:
                problems.append(
                    f"Content-Type {content_type!r} is not one of {', '.join(content)}"
                )
            else:
                problems += body_problems(document, wanted[0], resolve(document, media), body)
    return (template, method.lower(), key), [f"{label}: {p}" for p in problems]


def body_problems(document, media_type, media, body):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return ["the body is not UTF-8"]
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            instance = json.loads(text)
        except ValueError as e:
            return [f"the body is not JSON ({e}): {text[:80]!r}"]
    else:
        instance = text
    problems = validate(document, media.get("schema", {}), instance)
    return [f"{p}; body {text[:200]!r}" for p in problems]


def documented_answers(document):
    """The (path, method, status) of every documented answer: of the served operations, and of
    those tagged "refused" (methods and paths authd does not serve)."""
    served, refused = set(), set()
    for template, item in document["paths"].items():
        item = resolve(document, item)
        for method in METHODS:
            operation = item.get(method) or {}
            into = refused if "refused" in operation.get("tags", []) else served
            into.update((template, method, key) for key in operation.get("responses", {}))
    return served, refused


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            document = yaml.safe_load(f)
        base = os.path.dirname(os.path.abspath(argv[2]))
        with open(argv[2], encoding="utf-8") as f:
            records = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    except (OSError, yaml.YAMLError) as e:
        print(f"openapi_check: {e}", file=sys.stderr)
        return 2
    if not records:
        print("openapi_check: no answers recorded", file=sys.stderr)
        return 2
    failures = 0
    covered = set()
    for record in records:
        if len(record) != 3:
            print(f"openapi_check: bad manifest line {record!r}", file=sys.stderr)
            return 2
        method, target, name = record
        with open(os.path.join(base, name), "rb") as f:
            raw = f.read()
        try:
            key, problems = check_answer(document, method, target, raw)
        except ValueError as e:
            key, problems = None, [f"{method} {target}: {e}"]
        if key is not None:
            covered.add(key)
        for p in problems:
            print(f"FAIL {p}")
        failures += 1 if problems else 0
    documented, refused = documented_answers(document)
    print(
        f"openapi_check: {len(records)} answers, {failures} not as documented; they cover "
        f"{len(covered & documented)} of the {len(documented)} documented answers of the "
        f"served operations, {len(covered & refused)} of the {len(refused)} of the refused ones"
    )
    for template, method, key in sorted(documented - covered):
        print(f"  not covered: {method.upper()} {template} {key}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

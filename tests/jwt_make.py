#!/usr/bin/env python3
"""Makes an HS256 token with PyJWT (Debian's python3-jwt), for tests of what authd accepts.

The integration tests run it as:

    JWT_KEY_FILE=PATH python3 tests/jwt_make.py < claims.json

The key file's raw bytes are the HMAC key (what `authctl key generate` writes); the claims, a JSON
object, come on standard input. Standard output has two lines: the token, with the seed's header
{"typ":"JWT","alg":"HS256"} (PyJWT's own encoder sorts the header's keys, which authd refuses, so
the token is assembled here and signed by PyJWT's HS256 algorithm), then PyJWT's verdict on it:
"accepted", or "rejected <exception name>" (jwt.decode with the key, HS256 and no leeway).
Exit status 0; 2 when it cannot run (no PyJWT, no key file, bad claims).
"""

import base64
import json
import os
import sys


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def main() -> int:
    try:
        import jwt  # PyJWT
        from jwt.algorithms import HMACAlgorithm
    except ImportError as e:
        print(f"jwt_make: PyJWT is missing (apt-get install python3-jwt): {e}", file=sys.stderr)
        return 2
    key_path = os.environ.get("JWT_KEY_FILE")
    if not key_path:
        print("jwt_make: set JWT_KEY_FILE", file=sys.stderr)
        return 2
    try:
        with open(key_path, "rb") as f:
            key = f.read()
        claims = json.loads(sys.stdin.read())
    except (OSError, ValueError) as e:
        print(f"jwt_make: {e}", file=sys.stderr)
        return 2

    header = b64(b'{"typ":"JWT","alg":"HS256"}')
    payload = b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{header}.{payload}".encode("ascii")
    hs256 = HMACAlgorithm(HMACAlgorithm.SHA256)
    token = f"{header}.{payload}.{b64(hs256.sign(signing_input, hs256.prepare_key(key)))}"
    try:
        jwt.decode(token, key, algorithms=["HS256"])
        verdict = "accepted"
    except jwt.PyJWTError as e:
        verdict = f"rejected {type(e).__name__}"
    print(token)
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks an authd token with an independent JWT implementation (PyJWT, Debian's python3-jwt).

The integration tests run it as:

    JWT_KEY_FILE=PATH JWT_EXPECTED_USER=NAME python3 tests/jwt_check.py < token

The key file's raw bytes are the HMAC key (what `authctl key generate` writes). The token comes on
standard input, never on the command line. Exit status: 0 when the token is a valid HS256 JWT for
that key, with the seed's header {"typ":"JWT","alg":"HS256"}, exactly the claims "user", "exp", "jti"
and "iat", "user" equal to JWT_EXPECTED_USER, "exp" in the future and "iat" an integer not in the
future (PyJWT checks it); 1 when it is not (the reason on standard
error); 2 when the check itself cannot run (no PyJWT, no key file, bad environment).
"""

import os
import sys


def main() -> int:
    try:
        import jwt  # PyJWT
    except ImportError as e:
        print(f"jwt_check: PyJWT is missing (apt-get install python3-jwt): {e}", file=sys.stderr)
        return 2

    key_path = os.environ.get("JWT_KEY_FILE")
    expected_user = os.environ.get("JWT_EXPECTED_USER")
    if not key_path or expected_user is None:
        print("jwt_check: set JWT_KEY_FILE and JWT_EXPECTED_USER", file=sys.stderr)
        return 2
    try:
        with open(key_path, "rb") as f:
            key = f.read()
    except OSError as e:
        print(f"jwt_check: cannot read the key file: {e}", file=sys.stderr)
        return 2

    token = sys.stdin.read().strip()
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            options={
                "require": ["exp", "iat"],
                "verify_signature": True,
                "verify_exp": True,
                "verify_iat": True,
            },
        )
    except jwt.PyJWTError as e:
        print(f"jwt_check: rejected: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    if header != {"typ": "JWT", "alg": "HS256"}:
        print(f"jwt_check: unexpected header {header!r}", file=sys.stderr)
        return 1
    if set(claims) != {"user", "exp", "jti", "iat"} or not isinstance(claims["jti"], str):
        print(f"jwt_check: unexpected claims {sorted(claims)!r}", file=sys.stderr)
        return 1
    if claims["user"] != expected_user:
        print(f"jwt_check: user is {claims['user']!r}, expected {expected_user!r}", file=sys.stderr)
        return 1
    for name in ("exp", "iat"):
        if not isinstance(claims[name], int) or isinstance(claims[name], bool):
            print(f"jwt_check: {name} is not an integer: {claims[name]!r}", file=sys.stderr)
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

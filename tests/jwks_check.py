#!/usr/bin/env python3
"""Checks an authd EdDSA token against a JWK Set with an independent implementation (PyJWT with
python3-cryptography, from Debian).

Input on standard input, one JSON object: {"jwks": <the JWK Set authd serves>, "token": "<jwt>"},
optionally with "user": "<expected user claim>". Nothing secret is involved: a JWK Set holds only
public keys.

The key is picked by the token header's "kid" from the set (as a service verifying tokens offline
would do) and the token decoded with jwt.decode(token, key, algorithms=["EdDSA"]), which checks the
Ed25519 signature and that "exp" is in the future.

Exit status: 0 when the token is valid; 1 when it is not (the reason on standard error); 2 when the
check itself cannot run (no PyJWT or cryptography, input that is not the JSON above).
"""

import json
import sys


def fail(message: str, status: int = 1) -> int:
    print(f"jwks_check: {message}", file=sys.stderr)
    return status


def read_input():
    try:
        document = json.load(sys.stdin)
        return document["jwks"], document["token"], document.get("user")
    except (ValueError, KeyError, TypeError) as e:
        return None, None, f"expected {{\"jwks\": ..., \"token\": ...}} on standard input: {e}"


def main() -> int:
    try:
        import jwt  # PyJWT
        from jwt.algorithms import has_crypto
    except ImportError as e:
        return fail(f"PyJWT is missing (apt-get install python3-jwt): {e}", 2)
    if not has_crypto:
        return fail("python3-cryptography is missing (apt-get install python3-cryptography)", 2)

    jwks, token, user = read_input()
    if jwks is None:
        return fail(user, 2)
    try:
        header = jwt.get_unverified_header(token)
        matching = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
        if len(matching) != 1:
            return fail(f"no single key in the set has kid {header.get('kid')!r}")
        key = jwt.PyJWK(matching[0])
        if key.key_type != "OKP" or matching[0].get("crv") != "Ed25519":
            return fail(f"the key is not an Ed25519 key: {matching[0]!r}")
        claims = jwt.decode(token, key.key, algorithms=["EdDSA"], options={"require": ["exp"]})
    except jwt.PyJWTError as e:
        return fail(f"rejected: {type(e).__name__}: {e}")

    if header.get("alg") != "EdDSA":
        return fail(f"unexpected header {header!r}")
    if user is not None and claims.get("user") != user:
        return fail(f"user is {claims.get('user')!r}, expected {user!r}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Hashes made by other systems' own code, for tests/integration/legacy_hash_test.cpp.

  legacy_hashes.py passlib    NAME<TAB>HASH lines made by passlib (Debian's python3-passlib)
  legacy_hashes.py django     ... by Django's make_password (python3-django, -argon2, -bcrypt)
  legacy_hashes.py keycloak   a Keycloak realm export: PBKDF2 and argon2 credentials computed
                              from known parameters, in Keycloak's secretData/credentialData form
  legacy_hashes.py dump DB    NAME<TAB>HASH of every user in the SQLite store file DB
  legacy_hashes.py argon2id   exit 0 when the argon2id hash (first line of stdin) verifies the
                              password (second line), with python3-argon2

The password comes on standard input (first line). Costs are low, to keep the suite cheap; the
formats are the tools' own.
"""
import base64
import hashlib
import json
import os
import sqlite3
import sys


def passlib_hashes(password):
    from passlib import hash as h
    return [
        ("passlib_pbkdf2_sha256", h.pbkdf2_sha256.using(rounds=1000).hash(password)),
        ("passlib_pbkdf2_sha512", h.pbkdf2_sha512.using(rounds=1000).hash(password)),
        ("passlib_pbkdf2_sha1", h.pbkdf2_sha1.using(rounds=1000).hash(password)),
        ("passlib_scrypt", h.scrypt.using(rounds=6).hash(password)),
        ("passlib_argon2id", h.argon2.using(type="ID", memory_cost=256, rounds=1,
                                            parallelism=4).hash(password)),
        ("passlib_sha512_crypt", h.sha512_crypt.using(rounds=1000).hash(password)),
        ("passlib_bcrypt", h.bcrypt.using(rounds=4).hash(password)),
    ]


def django_hashes(password):
    import django
    from django.conf import settings
    settings.configure(PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ])
    django.setup()
    from django.contrib.auth import hashers
    from django.contrib.auth.hashers import make_password
    # Django's own hashers at low costs (its defaults: tests/unit/foreign_hash_test.cpp).
    hashers.PBKDF2PasswordHasher.iterations = 1000
    hashers.PBKDF2SHA1PasswordHasher.iterations = 1000
    hashers.Argon2PasswordHasher.memory_cost = 256
    hashers.Argon2PasswordHasher.time_cost = 1
    hashers.BCryptSHA256PasswordHasher.rounds = 4
    hashers.BCryptPasswordHasher.rounds = 4
    return [("django_" + name, make_password(password, hasher=name))
            for name in ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt"]]


def keycloak_export(password):
    def credential(algorithm, iterations, salt, value, extra=None):
        return {
            "type": "password",
            "createdDate": 1700000000000,
            "secretData": json.dumps({"value": base64.b64encode(value).decode(),
                                      "salt": base64.b64encode(salt).decode(),
                                      "additionalParameters": {}}),
            "credentialData": json.dumps({"hashIterations": iterations, "algorithm": algorithm,
                                          "additionalParameters": extra or {}}),
        }

    secret = password.encode()
    salt = os.urandom(16)
    users = [
        ("kc_pbkdf2_sha512", credential("pbkdf2-sha512", 1000, salt,
                                        hashlib.pbkdf2_hmac("sha512", secret, salt, 1000, 64))),
        ("kc_pbkdf2_sha256", credential("pbkdf2-sha256", 1000, salt,
                                        hashlib.pbkdf2_hmac("sha256", secret, salt, 1000, 64))),
        ("kc_pbkdf2", credential("pbkdf2", 1000, salt,
                                 hashlib.pbkdf2_hmac("sha1", secret, salt, 1000, 64))),
    ]
    from argon2.low_level import Type, hash_secret_raw
    raw = hash_secret_raw(secret, salt, time_cost=1, memory_cost=256, parallelism=1, hash_len=32,
                          type=Type.ID)
    users.append(("kc_argon2", credential("argon2", 1, salt, raw, {
        "hashLength": ["32"], "memory": ["256"], "type": ["id"], "version": ["1.3"],
        "parallelism": ["1"]})))
    export = {"realm": "test", "enabled": True, "users": [
        {"id": str(i), "username": name, "enabled": True, "credentials": [cred],
         "requiredActions": [], "realmRoles": ["default-roles-test"]}
        for i, (name, cred) in enumerate(users)]}
    # A password policy's history: old passwords, no second factor. Imported.
    old = dict(users[1][1], type="password-history")
    export["users"].append({"username": "kc_history", "credentials": [users[1][1], old]})
    # A second factor, or a required action, authd cannot ask for: refused by name by default
    # (authd would let them in with the password alone), imported with --allow-password-only.
    otp = {"type": "otp", "userLabel": "phone", "createdDate": 1700000000000,
           "secretData": json.dumps({"value": "JBSWY3DPEHPK3PXP"}),
           "credentialData": json.dumps({"subType": "totp", "digits": 6, "period": 30,
                                         "algorithm": "HmacSHA1", "counter": 0})}
    webauthn = {"type": "webauthn", "userLabel": "key", "secretData": "{}",
                "credentialData": json.dumps({"aaguid": "00000000-0000-0000-0000-000000000000",
                                              "credentialId": "AAAA", "counter": 0})}
    export["users"].append({"username": "kc_otp", "credentials": [otp, users[0][1]]})
    export["users"].append({"username": "kc_webauthn", "credentials": [users[0][1], webauthn]})
    export["users"].append({"username": "kc_update_password", "credentials": [users[0][1]],
                            "requiredActions": ["UPDATE_PASSWORD"]})
    export["users"].append({"username": "kc_no_password", "credentials": []})
    # Disabled in Keycloak: not imported (it would log in to authd).
    export["users"].append({"username": "kc_disabled", "enabled": False,
                            "credentials": [users[0][1]]})
    # Keycloak before 11 kept the hash's fields in the credential itself.
    export["users"].append({"username": "kc_before_11", "credentials": [{
        "type": "password", "hashIterations": 1000, "algorithm": "pbkdf2-sha256",
        "hashedSaltedValue": base64.b64encode(
            hashlib.pbkdf2_hmac("sha256", secret, salt, 1000, 64)).decode(),
        "salt": base64.b64encode(salt).decode(), "digits": 0, "period": 0, "config": {}}]})
    return json.dumps(export, indent=2)


def main():
    mode = sys.argv[1]
    if mode == "dump":
        with sqlite3.connect(sys.argv[2]) as db:
            for name, phc in db.execute("SELECT name, phc FROM users ORDER BY name"):
                print(name + "\t" + phc)
        return 0
    lines = sys.stdin.read().split("\n")
    if mode == "argon2id":
        import argon2
        try:
            return 0 if argon2.PasswordHasher().verify(lines[0], lines[1]) else 1
        except argon2.exceptions.VerificationError:
            return 1
    password = lines[0]
    if mode == "keycloak":
        print(keycloak_export(password))
        return 0
    for name, value in (passlib_hashes if mode == "passlib" else django_hashes)(password):
        print(name + "\t" + value)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mint HS256 access tokens, one per session id on stdin, for bench/many_sessions.lua.

usage: mint_tokens.py SECRET USER_ID < session_ids > tokens
"""
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


secret, user_id = sys.argv[1].encode(), sys.argv[2]
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
now = int(time.time())
for sid in sys.stdin:
    sid = sid.strip()
    if not sid:
        continue
    claims = {"iss": "gatehouse", "aud": "gatehouse", "sub": user_id, "sid": sid,
              "typ": "access", "iat": now, "exp": now + 3600, "jti": str(uuid.uuid4())}
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    signature = b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    print(f"{signing_input}.{signature}")

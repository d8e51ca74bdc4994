#!/usr/bin/env python3
"""Writes the payloads of tests/fixtures/golden-*.json into fuzz/corpus/<target>/
as the starting corpus of every fuzz target (the parser_payload target gets the
JSON payloads, which are its input format with no attachments)."""
import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["msgpack_decode", "json_decode", "classic_broadcast", "classic_request",
           "classic_response", "sharded_message", "parser_payload"]
EXTRA_PARSER = [
    b'["chat",{"_placeholder":true,"num":0}]\xff\x01\x02\x03',
    b'[{"a":[{"_placeholder":true,"num":1}],"b":{"_placeholder":true,"num":0}}]\xffab\xffcd',
]

payloads = []
for path in sorted(glob.glob(os.path.join(HERE, "..", "tests", "fixtures", "*.json"))):
    with open(path) as f:
        doc = json.load(f)
    vectors = doc.get("vectors", []) if isinstance(doc, dict) else []
    for vector in vectors:
        if isinstance(vector, dict) and isinstance(vector.get("payload_hex"), str):
            payloads.append(bytes.fromhex(vector["payload_hex"]))

for target in TARGETS:
    out = os.path.join(HERE, "corpus", target)
    os.makedirs(out, exist_ok=True)
    chosen = payloads
    if target == "parser_payload":
        chosen = [p for p in payloads if p[:1] in (b"{", b"[")] + EXTRA_PARSER
    for payload in chosen:
        name = hashlib.sha1(payload).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(payload)
    print(target, len(chosen))

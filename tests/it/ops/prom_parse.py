#!/usr/bin/env python3
"""Parses a Prometheus text exposition on stdin with the official client's parser
(prometheus_client.parser) and prints it as JSON: [{name, type, samples: [{name, labels,
value}]}]. Exits 3 when the package is missing, 1 when the text does not parse or a
sample belongs to no declared family (an `unknown` family)."""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit(3)

text = sys.stdin.read()
out = []
try:
    for fam in text_string_to_metric_families(text):
        if fam.type == "unknown":
            print(f"sample without a # TYPE: {fam.name}", file=sys.stderr)
            sys.exit(1)
        samples = []
        for s in fam.samples:
            v = s.value
            samples.append({"name": s.name, "labels": s.labels,
                            "value": "+Inf" if math.isinf(v) else v})
        out.append({"name": fam.name, "type": fam.type, "samples": samples})
except Exception as e:  # the parser raises ValueError and friends on bad input
    print(f"parse error: {e}", file=sys.stderr)
    sys.exit(1)
json.dump(out, sys.stdout)

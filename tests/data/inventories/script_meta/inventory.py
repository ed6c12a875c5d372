#!/usr/bin/env python3
"""Inventory script with _meta.hostvars (the modern protocol)."""
import json
import sys

DATA = {
    "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 8080, "tags": ["a", "b"]}},
    "db": ["d1"],
    "edge": {"children": ["web", "extra"], "vars": {"tier": "edge"}},
    "extra": {"hosts": ["x1"]},
    "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1", "nested": {"k": [1, 2]}},
                           "d1": {"ansible_user": "dba", "port_str": "5432"}}},
}
if sys.argv[1:] == ["--list"]:
    print(json.dumps(DATA))
elif sys.argv[1:2] == ["--host"]:
    print("{}")
else:
    sys.exit("usage: --list | --host NAME")

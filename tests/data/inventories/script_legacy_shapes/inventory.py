#!/usr/bin/env python3
import json
import sys

if sys.argv[1:] == ["--list"]:
    print(json.dumps({
        "listgroup": ["l1", "l2"],
        "barehost": {"bare_var": 1},
        "vaulted": {"hosts": ["v1"], "vars": {"unsafe": {"__ansible_unsafe": "{{ raw }}"}}},
        "_meta": {"hostvars": {}},
    }))
else:
    print("{}")

#!/usr/bin/env python3
import json, sys
print(json.dumps({"dynamic": {"hosts": ["dyn1", "st2"]}, "_meta": {"hostvars": {"dyn1": {"dyn": 1}}}}) if sys.argv[1:] == ["--list"] else "{}")

#!/bin/sh
# Old-style script: no _meta, so ansible asks --host for each host.
case "$1" in
  --list) echo '{"app": {"hosts": ["a1", "a2"], "vars": {"from": "group"}}, "solo": {"hosts": ["s1"]}}' ;;
  --host)
    case "$2" in
      a1) echo '{"from": "host", "n": 1}' ;;
      s1) echo '' ;;
      *) echo '{}' ;;
    esac ;;
  *) exit 2 ;;
esac

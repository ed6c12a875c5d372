import sys

from auditor.cli import main

if __name__ == "__main__":  # guarded: worker processes (spawn) import the parent's __main__
    sys.exit(main())

"""The mirrored-mode domain's remediation modules (.wslconfig edits, WSL policy, WSL/Docker Desktop restarts).

They register with the generic module registry (``auditor.remediate.modules``) when ``auditor.mirrored`` is
imported, as every plugin does.
"""

from auditor.mirrored.remediation import restarts, wsl_policy, wslconfig  # noqa: F401  (registration side effects)

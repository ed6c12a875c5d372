"""Reading the scan history: drift between two stored runs (``diff_runs``) and the history commands."""

from auditor.history.diff import (
    ChangeClass,
    CheckChange,
    HostDrift,
    ListingDiff,
    RunDiff,
    RunRef,
    classify,
    diff_runs,
    drift_schema,
)

__all__ = ["ChangeClass", "CheckChange", "HostDrift", "ListingDiff", "RunDiff", "RunRef", "classify", "diff_runs",
           "drift_schema"]

"""Performance harness: auditor vs the bare transports vs ansible-core on the same simulated fleet."""

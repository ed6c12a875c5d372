"""`auditor doctor HOST -i INVENTORY`: a preflight of one host over the transport an audit would use.

WinRM: DNS, TCP, TLS (chain, name), the auth methods the listener offers (its 401's
``WWW-Authenticate``), clock skew (its ``Date``), Kerberos tickets, a credential test, and the shell
quotas an administrator can read over WS-Management. SSH: DNS, TCP, host key against known_hosts,
a login. Each step prints its result and, when it fails, what to change (docs/winrm.md).
"""

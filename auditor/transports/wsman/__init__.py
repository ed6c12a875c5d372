"""A small asyncio WS-Management (WinRS) client: the engine behind the ``winrm`` transport.

pywinrm is synchronous (requests), so a fleet audit ran it in a thread pool, and its per-host
cost (a requests session, xmltodict envelopes, an extra authentication round trip, thread hand-offs
under the GIL) was most of auditor's CPU. This package speaks the same protocol on the event loop:

- ``http``: one keep-alive HTTP/1.1 connection per host (h11 over asyncio streams); NTLM
  authenticates the connection, not each request, so the connection is ours to hold;
- ``auth``: Basic, NTLM (pyspnego, with channel binding over HTTPS), client certificates;
- ``sealing``: the MS-WSMV ``multipart/encrypted`` framing of NTLM-sealed bodies (also used by
  the lab's WinRS server);
- ``messages``: the WinRS envelopes (Create, Command, Send, Receive, Signal, Delete) and their
  replies and faults;
- ``client``: ``WinrsClient``, one shell on one connection.
"""

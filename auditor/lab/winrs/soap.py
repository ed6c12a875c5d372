"""The WS-Management SOAP subset WinRS clients speak: read a request, write replies and faults."""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from auditor.transports.wsman.messages import (  # noqa: F401 - the names both sides share
    ACTION_COMMAND,
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GET,
    ACTION_RECEIVE,
    ACTION_SEND,
    ACTION_SIGNAL,
    INVALID_REQUEST,
    NS,
    OPERATION_TIMEOUT,
    QUOTA_MAX_OPERATIONS,
    RESOURCE_CMD,
    RESOURCE_CONFIG,
    RESOURCE_CONFIG_WINRS,
    SHELL,
    SHELL_NOT_FOUND,
    STATE_DONE,
    STATE_RUNNING,
    TRANSFER,
)

FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"


@dataclass
class Request:
    action: str
    message_id: str
    shell_id: str | None = None
    operation_timeout: float = 60.0
    body: ET.Element | None = None
    options: dict[str, str] = field(default_factory=dict)
    resource: str = RESOURCE_CMD

    def find(self, path: str) -> ET.Element | None:
        return self.body.find(path, NS) if self.body is not None else None


def _duration(text: str | None, default: float) -> float:
    m = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", (text or "").strip())
    return float(m.group(1)) if m else default


def parse_request(xml: bytes) -> Request:
    """Raises ``ValueError`` on anything that is not a WS-Management envelope."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None
    header = root.find("s:Header", NS)
    if header is None:
        raise ValueError("no SOAP header")
    action = (header.findtext("a:Action", "", NS) or "").strip()
    shell_id = None
    for sel in header.iterfind("w:SelectorSet/w:Selector", NS):
        if sel.get("Name") == "ShellId":
            shell_id = (sel.text or "").strip()
    options = {o.get("Name", ""): (o.text or "") for o in header.iterfind("w:OptionSet/w:Option", NS)}
    return Request(
        action=action,
        message_id=(header.findtext("a:MessageID", "", NS) or "").strip(),
        shell_id=shell_id,
        operation_timeout=_duration(header.findtext("w:OperationTimeout", None, NS), 60.0),
        body=root.find("s:Body", NS),
        options=options,
        resource=(header.findtext("w:ResourceURI", "", NS) or "").strip() or RESOURCE_CMD,
    )


def _xmlns() -> str:
    return " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items() if k != "p")


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        f'<s:Envelope xml:lang="en-US" {_xmlns()}><s:Header>'
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(relates_to: str, code: int, subcode: str, reason: str, machine: str) -> bytes:
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode>"
        f"<s:Value>{escape(subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f"Code={quoteattr(str(code))} Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope(FAULT_ACTION, relates_to, body)


def created(relates_to: str, address: str, shell_id: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>"
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</rsp:ResourceUri>"
        "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
        "</rsp:Shell>"
    )
    return envelope(TRANSFER + "CreateResponse", relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return envelope(SHELL + "CommandResponse", relates_to, body)


def receive_response(relates_to: str, command_id: str, stdout: bytes, stderr: bytes,
                     done: bool, exit_code: int) -> bytes:
    parts = []
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}">'
                         f"{base64.b64encode(data).decode()}</rsp:Stream>")
        if done:
            parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>')
    if done:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}">'
                     f"<rsp:ExitCode>{int(exit_code)}</rsp:ExitCode></rsp:CommandState>")
    else:
        parts.append(f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>')
    body = f'<rsp:ReceiveResponse>{"".join(parts)}</rsp:ReceiveResponse>'
    return envelope(SHELL + "ReceiveResponse", relates_to, body)


def empty_response(action: str, relates_to: str, body: str = "") -> bytes:
    return envelope(action, relates_to, body)


CFG_NS = "http://schemas.microsoft.com/wbem/wsman/1/config"
# What `winrm get winrm/config/winrs` and `winrm get winrm/config` show on a default Windows 10/11
# (the lab answers the settings a preflight reads; the rest of the tree is left out).
WINRS_DEFAULTS = {"AllowRemoteShellAccess": "true", "IdleTimeout": "7200000", "MaxConcurrentUsers": "2147483647",
                  "MaxShellRunTime": "2147483647", "MaxProcessesPerShell": "2147483647",
                  "MaxMemoryPerShellMB": "2147483647", "MaxShellsPerUser": "2147483647"}
CONFIG_DEFAULTS = {"MaxEnvelopeSizekb": "500", "MaxTimeoutms": "60000", "MaxBatchItems": "32000",
                   "MaxProviderRequests": "4294967295"}


def config_response(relates_to: str, resource: str, values: dict[str, str]) -> bytes:
    """A WS-Transfer Get reply with the settings of ``resource`` (config or config/winrs)."""
    element = "Winrs" if resource.rstrip("/").endswith("/winrs") else "Config"
    ns = CFG_NS + ("/winrs" if element == "Winrs" else "")
    inner = "".join(f"<cfg:{k}>{escape(v)}</cfg:{k}>" for k, v in values.items())
    return envelope(TRANSFER + "GetResponse", relates_to, f'<cfg:{element} xmlns:cfg="{ns}">{inner}</cfg:{element}>')

"""WinRS over WS-Management: the request envelopes a client sends and the replies it reads.

Text in, text out, no I/O. Requests carry what Windows' WinRM service requires (MS-WSMV 3.1.4):
addressing headers, the cmd shell resource URI, an operation timeout, a shell selector and options.
Replies are parsed with the stdlib's expat (entity expansion is bounded there) from bodies the
HTTP layer has already size-limited; anything unexpected is a ``ProtocolError``.
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
}
F_NS = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
WMI_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTION_CREATE = TRANSFER + "Create"
ACTION_DELETE = TRANSFER + "Delete"
ACTION_GET = TRANSFER + "Get"
ACTION_COMMAND = SHELL + "Command"
ACTION_RECEIVE = SHELL + "Receive"
ACTION_SEND = SHELL + "Send"
ACTION_SIGNAL = SHELL + "Signal"
STATE_RUNNING = SHELL + "CommandState/Running"
STATE_DONE = SHELL + "CommandState/Done"
SIGNAL_TERMINATE = SHELL + "signal/terminate"
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
# the service's own settings (winrm get winrm/config[/winrs]); reading them needs an administrator
RESOURCE_CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"
RESOURCE_CONFIG_WINRS = RESOURCE_CONFIG + "/winrs"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
MAX_ENVELOPE = 153600

# WSManFault codes (wsmerror.h)
OPERATION_TIMEOUT = 2150858793
QUOTA_MAX_OPERATIONS = 2150859174
SHELL_NOT_FOUND = 2150858843
INVALID_REQUEST = 2150858817

_XMLNS = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())


# xml.sax.saxutils has these two, but importing it imports urllib.request and http.client (~15 ms of CPU per run)
def escape(text: str) -> str:
    """``text`` as XML character data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    """``text`` as a double-quoted XML attribute value."""
    text = escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return f'"{text}"'


class ProtocolError(Exception):
    """A reply that is not the WS-Management answer the request calls for."""


@dataclass
class Fault(Exception):
    """A SOAP fault from the service: ``code`` is the WSManFault (or WMI error) code when given."""

    code: int | None
    reason: str
    subcode: str = ""

    def __str__(self) -> str:
        return self.reason


@dataclass
class Output:
    """What one Receive returned."""

    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int | None


def _options(options: dict[str, str]) -> str:
    if not options:
        return ""
    inner = "".join(f"<w:Option Name={quoteattr(k)}>{escape(v)}</w:Option>" for k, v in options.items())
    return f"<w:OptionSet>{inner}</w:OptionSet>"


def envelope(to: str, action: str, body: str, operation_timeout: int, shell_id: str | None = None,
             options: dict[str, str] | None = None, resource: str = RESOURCE_CMD) -> tuple[bytes, str]:
    """(the request's bytes, its MessageID) for one ``action`` on ``resource`` (the cmd shell by default)."""
    message_id = f"uuid:{str(uuid.uuid4()).upper()}"
    selector = (f'<w:SelectorSet><w:Selector Name="ShellId">{escape(shell_id)}</w:Selector></w:SelectorSet>'
                if shell_id else "")
    text = (
        f'<s:Envelope {_XMLNS}><s:Header>'
        f"<a:To>{escape(to)}</a:To>"
        f'<a:ReplyTo><a:Address s:mustUnderstand="true">{ANONYMOUS}</a:Address></a:ReplyTo>'
        f'<w:MaxEnvelopeSize s:mustUnderstand="true">{MAX_ENVELOPE}</w:MaxEnvelopeSize>'
        f"<a:MessageID>{message_id}</a:MessageID>"
        '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>'
        '<p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/>'
        f"<w:OperationTimeout>PT{max(1, int(operation_timeout))}S</w:OperationTimeout>"
        f'<w:ResourceURI s:mustUnderstand="true">{escape(resource)}</w:ResourceURI>'
        f'<a:Action s:mustUnderstand="true">{action}</a:Action>'
        f"{selector}{_options(options or {})}"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode("utf-8"), message_id


def create_shell_body(codepage: int = 65001) -> tuple[str, dict[str, str]]:
    """(body, options) of Create: a cmd shell with stdin in and stdout/stderr out, no user profile."""
    body = ("<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>")
    return body, {"WINRS_NOPROFILE": "TRUE", "WINRS_CODEPAGE": str(codepage)}


def command_body(command: str, arguments: list[str], console_mode_stdin: bool) -> tuple[str, dict[str, str]]:
    """(body, options) of Command: ``command`` with ``arguments`` joined by spaces, as WinRS does."""
    args = f"<rsp:Arguments>{escape(' '.join(arguments))}</rsp:Arguments>" if arguments else ""
    body = f"<rsp:CommandLine><rsp:Command>{escape(command)}</rsp:Command>{args}</rsp:CommandLine>"
    return body, {"WINRS_CONSOLEMODE_STDIN": "TRUE" if console_mode_stdin else "FALSE",
                  "WINRS_SKIP_CMD_SHELL": "FALSE"}


def send_body(command_id: str, data: bytes, end: bool) -> str:
    return (f'<rsp:Send><rsp:Stream Name="stdin" CommandId={quoteattr(command_id)} End="{str(end).lower()}">'
            f"{base64.b64encode(data).decode('ascii')}</rsp:Stream></rsp:Send>")


def receive_body(command_id: str) -> str:
    return f"<rsp:Receive><rsp:DesiredStream CommandId={quoteattr(command_id)}>stdout stderr</rsp:DesiredStream></rsp:Receive>"


def signal_body(command_id: str) -> str:
    return f"<rsp:Signal CommandId={quoteattr(command_id)}><rsp:Code>{SIGNAL_TERMINATE}</rsp:Code></rsp:Signal>"


def _root(xml: bytes) -> ET.Element:
    try:
        return ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ProtocolError(f"the reply is not XML ({exc})") from None


def fault_of(xml: bytes) -> Fault | None:
    """The fault in a reply, or None when it holds none (or is not XML)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    fault = root.find("s:Body/s:Fault", NS)
    if fault is None:
        return None
    code: int | None = None
    detail = fault.find(f"s:Detail/{{{F_NS}}}WSManFault", NS)
    if detail is not None and (detail.get("Code") or "").isdigit():
        code = int(detail.get("Code") or 0)
    wmi = fault.find(f"s:Detail/{{{WMI_NS}}}MSFT_WmiError/{{{WMI_NS}}}error_Code", NS)
    if code is None and wmi is not None and (wmi.text or "").strip().isdigit():
        code = int((wmi.text or "").strip())
    reason = (fault.findtext("s:Reason/s:Text", "", NS) or "").strip() or "(no error message in fault)"
    subcode = (fault.findtext("s:Code/s:Subcode/s:Value", "", NS) or "").strip()
    return Fault(code, reason, subcode)


def shell_id_of(xml: bytes) -> str:
    root = _root(xml)
    for node in root.iter():
        if node.get("Name") == "ShellId" and (node.text or "").strip():
            return (node.text or "").strip()
    found = root.findtext(".//rsp:ShellId", None, NS)
    if not found:
        raise ProtocolError("the Create reply names no ShellId")
    return found.strip()


def command_id_of(xml: bytes) -> str:
    found = _root(xml).findtext(".//rsp:CommandId", None, NS)
    if not found or not found.strip():
        raise ProtocolError("the Command reply names no CommandId")
    return found.strip()


def output_of(xml: bytes) -> Output:
    """The streams and state in a Receive reply (base64 decoded; bad base64 is a ``ProtocolError``)."""
    root = _root(xml)
    out, err = bytearray(), bytearray()
    for stream in root.iterfind(".//rsp:Stream", NS):
        text = stream.text
        if not text:
            continue
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except ValueError:
            raise ProtocolError("a Receive stream is not base64") from None
        (out if stream.get("Name") == "stdout" else err).extend(data)
    state = root.find(".//rsp:CommandState", NS)
    done = state is not None and (state.get("State") or "") == STATE_DONE
    code: int | None = None
    if done and state is not None:
        text = (state.findtext("rsp:ExitCode", "", NS) or "").strip()
        try:
            code = int(text)
        except ValueError:
            code = None
    return Output(bytes(out), bytes(err), done, code)


def config_values(xml: bytes) -> dict[str, str]:
    """The settings in a config Get reply: each leaf element's local name and text (nested blocks
    such as ``Service/Auth`` come as ``Auth.Kerberos``)."""
    body = _root(xml).find("s:Body", NS)
    if body is None or len(body) == 0:
        raise ProtocolError("the config reply has an empty body")
    out: dict[str, str] = {}

    def walk(node: ET.Element, prefix: str) -> None:
        for child in node:
            name = child.tag.rpartition("}")[2]
            if len(child):
                walk(child, f"{name}.")
            else:
                out[prefix + name] = (child.text or "").strip()
    walk(body[0], "")
    return out

"""Pure pieces of the WinRM path: CLIXML to text, the command encoding, the lab's PowerShell model."""

from __future__ import annotations

import base64

from auditor.collectors.batch import BatchItem, build_ps_batch, new_nonce, split_batch_output
from auditor.lab.winrs.clixml import clixml_error
from auditor.lab.winrs.model import CommandOutcome, WindowsHostModel, powershell_script, split_cmdline
from auditor.transports.winrm import CMDLINE_LIMIT, STDIN_BOOTSTRAP, encode_command
from auditor.transports.winrm_clixml import clixml_to_text

REAL = (b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<Obj S="progress" RefId="0"><TN RefId="0"><T>x</T></TN><MS><I64 N="SourceId">1</I64></MS></Obj>'
        b'<S S="Error">foo : The term _x0027_foo_x0027_ is not recognized_x000D__x000A_</S>'
        b'<S S="Warning">careful_x000D__x000A_</S></Objs>')


def test_clixml_becomes_console_text():
    assert clixml_to_text(REAL) == b"foo : The term 'foo' is not recognized\r\nWARNING: careful\r\n"


def test_clixml_mixed_with_raw_text_and_markers_keeps_both():
    data = b"\n@@AUDITOR:ab:BEGIN:x\n" + REAL + b"\n@@AUDITOR:ab:END:x:1\n"
    text = clixml_to_text(data)
    assert text.startswith(b"\n@@AUDITOR:ab:BEGIN:x\nfoo : The term 'foo'") and text.endswith(b"END:x:1\n")


def test_malformed_clixml_is_left_alone():
    bad = b"#< CLIXML\r\n<Objs><S S='Error'>unterminated</Objs"
    assert clixml_to_text(bad) == bad
    assert clixml_to_text(b"plain") == b"plain"


def test_round_trip_with_the_lab_encoder():
    assert clixml_to_text(clixml_error("line one\nline <two>")) == b"line one\r\nline <two>\r\n"


def test_short_script_goes_in_the_command_line():
    args, stdin = encode_command("hostname")
    assert stdin is None and args[-2] == "-EncodedCommand"
    assert base64.b64decode(args[-1]).decode("utf-16-le") == "hostname"


def test_long_script_goes_over_stdin():
    script = "Write-Output 'é'\n" + "#" * CMDLINE_LIMIT
    args, stdin = encode_command(script)
    assert base64.b64decode(args[-1]).decode("utf-16-le") == STDIN_BOOTSTRAP
    assert stdin is not None and base64.b64decode(stdin).decode("utf-8") == script
    model = WindowsHostModel("H1")
    assert model.wants_stdin("powershell", args)
    assert model.run("powershell", args, stdin + b"\r\n").stdout == "é\r\n".encode()


def test_powershell_command_line_parsing():
    enc = base64.b64encode("exit 3".encode("utf-16-le")).decode()
    assert powershell_script(split_cmdline(f"PowerShell -NoProfile -ExecutionPolicy Bypass -enc {enc}")) == "exit 3"
    assert powershell_script(split_cmdline(f"powershell.exe -EncodedCommand {enc}")) == "exit 3"
    assert powershell_script(split_cmdline("powershell -Command Get-Date")) == "Get-Date"
    assert powershell_script(split_cmdline("ipconfig /all")) is None


def test_lab_model_statements_and_exit_codes():
    m = WindowsHostModel("Box1", user="Bob")
    assert m.run_statements("hostname; whoami").stdout == b"BOX1\r\nbox1\\bob\r\n"
    assert m.run_statements("exit 7").rc == 7
    unknown = m.run_statements("Get-Nothing -Force")
    assert unknown.rc == 1 and unknown.stderr.startswith(b"#< CLIXML")
    assert b"The term 'Get-Nothing' is not recognized as the name of a cmdlet" in clixml_to_text(unknown.stderr)
    assert m.run_statements("Get-Nothing; hostname").rc == 0, "like powershell -Command: the last statement decides"
    assert m.run_statements("Start-Sleep -Seconds 3").delay == 3
    assert m.run_cmd("nope").rc == 1 and m.run_cmd("cmd /c exit 5").rc == 5


class _Model(WindowsHostModel):
    def run_collector(self, name: str, script: str) -> CommandOutcome:
        if name == "special":
            return CommandOutcome(b"from hook\r\n", b"warn\r\n", 9)
        return super().run_collector(name, script)


def test_batch_items_go_to_run_collector_and_come_back_framed():
    nonce = new_nonce()
    items = [BatchItem("special", "whatever"), BatchItem("host", "hostname")]
    out = _Model("B").run_powershell(build_ps_batch(items, nonce))
    secs = split_batch_output(out.stdout, out.stderr, nonce, ["special", "host"])
    assert (secs["special"].stdout, secs["special"].stderr, secs["special"].rc) == (b"from hook\r\n", b"warn\r\n", 9)
    assert (secs["host"].stdout, secs["host"].rc, secs["host"].complete) == (b"B\r\n", 0, True)

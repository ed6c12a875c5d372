"""How powershell.exe writes its error stream when stderr is redirected: CLIXML.

Real hosts prefix the stream with ``#< CLIXML`` and serialize each error line as an ``<S S="Error">``
element, with CR/LF escaped as ``_x000D__x000A_``. A progress record usually comes first.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

_NS = "http://schemas.microsoft.com/powershell/2004/04"
_PROGRESS = (
    '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    "<T>System.Object</T></TN><MS><I64 N=\"SourceId\">1</I64><PR N=\"Record\"><AV>Preparing modules for "
    "first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR>"
    "</MS></Obj>"
)


def _esc(line: str) -> str:
    return escape(line).replace("\r", "_x000D_").replace("\n", "_x000A_")


def clixml_error(text: str, progress: bool = True) -> bytes:
    """``text`` (one or more lines) as powershell.exe's CLIXML error stream."""
    lines = text.splitlines() or [""]
    body = "".join(f'<S S="Error">{_esc(line + chr(13) + chr(10))}</S>' for line in lines)
    head = _PROGRESS if progress else ""
    return f'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="{_NS}">{head}{body}</Objs>'.encode()


def not_recognized(name: str, line: str, column: int = 1) -> str:
    """Windows PowerShell 5.1's exact message for an unknown command."""
    under = "~" * max(1, len(name))
    return (
        f"{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, "
        "or operable program. Check the spelling of the name, or if a path was included, verify that "
        "the path is correct and try again.\n"
        f"At line:1 char:{column}\n"
        f"+ {line}\n"
        f"+ {' ' * (column - 1)}{under}\n"
        f"    + CategoryInfo          : ObjectNotFound: ({name}:String) [], CommandNotFoundException\n"
        "    + FullyQualifiedErrorId : CommandNotFoundException\n"
        " "
    )

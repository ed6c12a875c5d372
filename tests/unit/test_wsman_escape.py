"""The WS-Management envelopes' own XML escaping (xml.sax.saxutils costs an import of urllib.request): the same
character data as saxutils, and attribute values that an XML parser reads back unchanged."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax import saxutils

import pytest

from auditor.transports.wsman.messages import escape, quoteattr

SAMPLES = ["plain", "", "a&b<c>d", "&amp;", 'say "hi"', "it's", "both ' and \"", "tab\there", "line\nbreak\r\n",
           "]]>", "ünïcødé ☃", "C:\\Users\\dev\\.wslconfig", "<w:Option Name=\"x\">"]


@pytest.mark.parametrize("text", SAMPLES)
def test_escape_is_saxutils_escape(text):
    assert escape(text) == saxutils.escape(text)


@pytest.mark.parametrize("text", SAMPLES)
def test_quoteattr_reads_back_unchanged(text):
    assert ET.fromstring(f"<a b={quoteattr(text)}>{escape(text)}</a>").get("b") == text
    assert ET.fromstring(f"<a>{escape(text)}</a>").text == (text.replace("\r\n", "\n").replace("\r", "\n") or None)


def test_the_messages_module_imports_no_http_client():
    code = "import sys, auditor.transports.wsman.messages; print('urllib.request' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"

"""The HTML report as a document: self-contained, remote text never becomes markup, CSP matches."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest

from auditor.report.html import page_data, render_html, script_json
from auditor.report.redact import redact_run
from tests.report_factory import BREAKOUT_PAYLOAD, HOSTILE_NAME, IMG_PAYLOAD, SCRIPT_PAYLOAD, make_run


class _Collector(HTMLParser):
    """Collects tags, attributes, and the text of <script> and <style> blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: list[tuple[str, dict[str, str | None], str]] = []
        self._open: tuple[str, dict[str, str | None]] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = (tag, dict(attrs))

    def handle_data(self, data):
        if self._open:
            self.blocks.append((*self._open, data))
        else:
            self.text.append(data)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._open = None


@pytest.fixture(scope="module")
def page() -> tuple[str, _Collector]:
    html = render_html(redact_run(make_run(24)))
    parsed = _Collector()
    parsed.feed(html)
    return html, parsed


@pytest.mark.parametrize("payload", [
    "</script><!--<script>", "a</SCRIPT>b", "<!-- x -->", "\u2028\u2029", "&amp; <b>", '"quoted"', "ünïcödé",
])
def test_script_json_cannot_end_the_block_and_round_trips(payload: str) -> None:
    text = str(script_json({"k": [payload, {"n": payload}]}))
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == {"k": [payload, {"n": payload}]}


def test_hostile_strings_never_appear_as_markup(page) -> None:
    html, parsed = page
    for payload in (SCRIPT_PAYLOAD, IMG_PAYLOAD, BREAKOUT_PAYLOAD, "onerror=\"window"):
        assert payload not in html
    scripts = [a for t, a in parsed.tags if t == "script"]
    details = [a for a in scripts if a.get("type") == "application/octet-stream"]
    assert len(scripts) - len(details) == 2, "only the data block and the page script run or parse as JSON"
    assert [a["id"] for a in details] == [f"auditor-details-{i}" for i in range(len(details))] and details
    for tag, attrs, text in parsed.blocks:
        if attrs.get("type") == "application/octet-stream":
            assert re.fullmatch(r"[A-Za-z0-9+/=]+", text), "details blocks hold base64 only"
    unpacked = json.dumps(page_data(html)["hosts"], ensure_ascii=False)
    assert SCRIPT_PAYLOAD in unpacked, "remote text travels as data, compressed"
    assert not [t for t, a in parsed.tags if t == "img"]
    assert not [(t, k) for t, a in parsed.tags for k in a if k.startswith("on")], "no inline event handlers"
    assert any(HOSTILE_NAME in chunk for chunk in parsed.text), "the hostile name is shown as text"


def test_data_block_holds_every_host(page) -> None:
    _, parsed = page
    (data,) = [text for tag, attrs, text in parsed.blocks if attrs.get("id") == "auditor-data"]
    block = json.loads(data)
    hosts = [dict(zip(block["fields"], row)) for row in block["rows"]]
    assert len(hosts) == 24 and hosts[-1]["name"] == HOSTILE_NAME
    assert "plays" not in block["fields"], "the table's records carry no details: they come on demand"


def test_nothing_is_loaded_from_anywhere(page) -> None:
    html, parsed = page
    for tag, attrs in parsed.tags:
        for key in ("src", "href", "srcset", "action", "data", "poster"):
            # only links to a place in the page itself (the fix a needs-action row points to)
            assert key not in attrs or (tag, key) == ("a", "href") and re.fullmatch(r"#[\w-]+", attrs[key]), (tag, key)
        assert not (tag == "link" or tag == "iframe" or tag == "object" or tag == "embed")
    styles = [text for tag, _, text in parsed.blocks if tag == "style"]
    assert "@import" not in styles[0] and "url(" not in styles[0] and "@font-face" not in styles[0]


def test_csp_allows_only_the_inline_script_and_style(page) -> None:
    _, parsed = page
    (csp,) = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src" not in csp and "unsafe" not in csp
    code = [text for tag, attrs, text in parsed.blocks if tag == "script" and "type" not in attrs]
    style = [text for tag, _, text in parsed.blocks if tag == "style"]
    for source, directive in ((code[0], "script-src"), (style[0], "style-src")):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert re.search(rf"{directive} 'sha256-{re.escape(digest)}'", csp), directive


def test_page_script_never_writes_markup() -> None:
    from auditor.report.html import _static
    script = _static("report.js")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_metadata_and_needs_action_are_rendered(page) -> None:
    html, parsed = page
    text = " ".join(parsed.text)
    for expected in ("playbooks/mirrored-audit.yml", "inventories/corp/hosts.ini", "42.5 s", "0.1.0",
                     "Conflict confirmed", "At risk", "Not audited", "Connection refused"):
        assert expected in text, expected
    assert text.index("Conflict confirmed") < text.index("At risk") < text.index("Not audited")

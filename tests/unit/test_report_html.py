from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from kit.report import html
from kit.spec.model import Evidence, Outcome
from tests.unit.test_results_and_report import grid, manifest, result

HOSTILE = "</script><script>alert(1)</script><!--<script>"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of the data <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.blob = ""
        self._in_blob = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_blob = tag == "script" and dict(attrs).get("id") == "kit-data"

    def handle_endtag(self, tag: str) -> None:
        self._in_blob = False

    def handle_data(self, data: str) -> None:
        if self._in_blob:
            self.blob += data


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_page_fetches_nothing() -> None:
    page = html.render(grid(), manifest("r1"), {})
    assert "http://" not in page and "https://" not in page and "url(" not in page
    for tag, attrs in parse(page).tags:
        assert not {"src", "href", "srcset", "action"} & set(attrs), (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag


def test_hostile_values_are_escaped_everywhere() -> None:
    rows = [*grid(), result("namespace_scope", "int", Outcome.CRASH, cuda=HOSTILE,
                            reason=HOSTILE, evidence=Evidence(cause=HOSTILE, detail="<b>"))]
    bad = rows[-1]
    page = html.render(rows, {**manifest(HOSTILE), "command": HOSTILE},
                       {bad.cell_id: f"log {HOSTILE} <b>x</b>"})
    assert "<script>alert" not in page and "<!--" not in page and "<b>" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2  # blob and code only
    tags = parse(page)
    assert [t for t, _ in tags.tags].count("script") == 2
    data = json.loads(tags.blob)  # the blob is plain JSON; JSON.parse reads back the '<'
    assert data["cells"][bad.cell_id]["reason"] == HOSTILE
    assert data["logs"][bad.cell_id] == f"log {HOSTILE} <b>x</b>"
    options = [a["value"] for t, a in tags.tags if t == "option"]
    assert HOSTILE in options  # an attribute value, escaped, round-trips through a parser


def test_every_cell_is_drawn_and_in_the_data() -> None:
    rows = grid()
    logs = {r.cell_id: f"log of {r.label}" for r in rows}
    tags = parse(html.render(rows, manifest("r1"), logs))
    data = json.loads(tags.blob)
    assert set(data["cells"]) == {r.cell_id for r in rows}
    assert data["logs"] == logs
    drawn = {a["data-id"]: a for t, a in tags.tags if t == "td" and a.get("class") == "cell"}
    assert set(drawn) == {r.cell_id for r in rows}
    colour = {a["style"] for a in drawn.values() if a["data-outcome"] == "ok"}
    assert colour == {f"background:{html.COLOURS[Outcome.OK]}"}  # one colour per outcome
    assert set(html.COLOURS) == set(Outcome) and len(set(html.COLOURS.values())) == len(Outcome)


def test_each_varying_axis_gets_a_filter_defaulting_to_all() -> None:
    rows = [*grid(), result("namespace_scope", "int", Outcome.OK, cuda="cuda13.2")]
    tags = parse(html.render(rows, manifest("r1"), {}))
    selects = [a["data-axis"] for t, a in tags.tags if t == "select"]
    assert selects == ["cuda", "placement", "shape_type"]  # repro, cutlass, arch: one value
    first = next(a for t, a in tags.tags if t == "option")
    assert first["value"] == "*"


def test_title_findings_counts_legend_and_environment() -> None:
    page = html.render(grid(), {**manifest("r7"), "command": "kit matrix run --preset x",
                                "toolchains": {"cuda13.0": "pip:nvcc-13.0.88"}}, {})
    assert "<title>kit matrix r7</title>" in page
    assert ("init_error_internal (unknown) on 2/6 cells: exactly the cells with "
            "placement=function_template.") in page
    assert "6 cells: 4 ok, 2 init_error_internal" in page
    assert "can_implement() passed, initialize() returned Error Internal" in page  # legend
    assert "GPU: none (no driver)" in page and "toolchain cuda13.0: pip:nvcc-13.0.88" in page
    assert "kit matrix run --preset x" in page
    assert re.search(r"<h2>repro <code>sm12x</code> · arch <code>sm_121a</code></h2>", page)


def test_the_page_says_what_report_md_says_and_filters_only_what_varies() -> None:
    flagged = result("function_template", "int", Outcome.SKIPPED_ARCH,
                     binary_facts={"warning": "1 cutlass::device_kernel named two ways on the "
                                              "host (C<128> vs C<128u>)"})
    rows = [*grid(), flagged]
    symbol = "_ZN7cutlass13device_kernel" + "N4cute1CILi128EEE" * 20
    page = html.render(rows, manifest("r1"), {rows[0].cell_id: f"ptxas info: {symbol}\n"})
    assert "Failures, with cause and evidence" in page
    assert "Static checks of the binaries" in page and "C&lt;128&gt; vs C&lt;128u&gt;" in page
    tags = parse(page)
    marked = [a for t, a in tags.tags if t == "td" and "static" in (a.get("class") or "")]
    assert [a["data-id"] for a in marked] == [flagged.cell_id]
    # every row has repro=sm12x, arch=sm_121a, cutlass=4.2: no drop-down for them
    axes = [a["data-axis"] for t, a in tags.tags if t == "select"]
    assert set(axes) <= {"placement", "shape_type", "cuda"} and "repro" not in axes
    log = json.loads(tags.blob)["logs"][rows[0].cell_id]
    assert symbol not in log and "chars]" in log  # a mangled name of 300+ characters, folded

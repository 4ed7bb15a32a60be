from __future__ import annotations

import json
import re

from kit.model import Outcome
from kit.report import html
from tests.unit.test_results_and_report import grid, manifest, result


def test_page_is_self_contained_and_escapes_what_it_shows() -> None:
    rows = [*grid(), result("namespace_scope", "int", Outcome.CRASH, cuda="cuda13.2",
                            reason="</script><script>alert(1)</script>")]
    page = html.render(rows, manifest("r1"), {rows[-1].cell_id: "log </script> <b>x</b>"})
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing fetched
    assert "http://" not in page and "https://" not in page
    assert "<script><script>alert(1)" not in page
    assert page.count("</script>") == 2  # the data blob and the code, nothing injected
    blob = page.split("id='kit-data'>", 1)[1].split("</script>", 1)[0]
    data = json.loads(blob.replace("<\\/", "</"))
    assert set(data["cells"]) == {r.cell_id for r in rows}
    assert data["logs"][rows[-1].cell_id] == "log </script> <b>x</b>"


def test_each_varying_axis_gets_a_filter() -> None:
    page = html.render(grid(), manifest("r1"), {})
    assert "data-axis='placement'" in page and "data-axis='shape_type'" in page
    assert "data-axis='repro'" not in page  # one value: nothing to filter

"""The worked example in docs/protocol.md is real: its snippet prints the hex pasted below it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_worked_example_output_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = text.split("## 7. Worked example", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", example, re.S).group(1)
    pasted = re.search(r"Output:\n\n```\n(.*?)```", example, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, str(DOC), "exec"), {})
    assert printed.getvalue() == pasted

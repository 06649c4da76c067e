"""The README says what the project does: where it quotes a program, the quote is the program's."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from vista.cli import app
from vista.project import ROOT


def test_the_readme_shows_vista_help_as_it_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"<!-- vista --help -->\n```\n(.*?)\n```\n<!-- /vista --help -->", readme, re.S)
    assert quoted, "README.md has no `vista --help` block"
    printed = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}).output
    assert quoted.group(1) == "\n".join(line.rstrip() for line in printed.splitlines()).strip("\n")

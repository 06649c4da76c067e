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


def test_the_readme_is_a_newcomers_page_and_its_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300  # the depth is in docs/
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+\.(?:md|png))(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to {target}, which is not there"

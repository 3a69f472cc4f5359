"""The Spanish catalogue is complete and compiled (STYLE.md rule 32).

`makemessages` runs over a copy of the project, so the check sees every msgid the code and
templates have now, and never rewrites the committed catalogue: a new or changed string
without its Spanish, or one left fuzzy by msgmerge, fails here. The committed django.mo
must hold exactly the committed django.po's translations.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

LANGUAGE = "es"
CATALOGUE = Path(settings.BASE_DIR) / "locale" / LANGUAGE / "LC_MESSAGES"
# What makemessages is told to skip (README, "Languages"): they hold no string a user reads.
IGNORED = {"tests", "bench", "locale", "node_modules", "htmlcov", "test-artifacts"}
MAKEMESSAGES_OPTIONS = {"no_location": True, "ignore_patterns": [".venv", "tests", "bench"]}


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def name(self) -> str:
        return f"{self.msgctxt}|{self.msgid}" if self.msgctxt else self.msgid


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$')


def parse_po(text: str) -> list[Entry]:
    """The entries of a PO file (header included, as the entry with msgid "")."""
    entries: list[Entry] = []
    entry, key, strings = Entry(), None, {}

    def finish() -> None:
        nonlocal entry, key, strings
        if key is not None:
            entry.msgid = strings.get("msgid", "")
            entry.msgctxt = strings.get("msgctxt")
            entry.msgid_plural = strings.get("msgid_plural")
            entry.msgstrs = [v for k, v in sorted(strings.items()) if k.startswith("msgstr")]
            entries.append(entry)
        entry, key, strings = Entry(), None, {}

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
        elif line.startswith("#,"):
            if key is not None:
                finish()
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        elif line.startswith("#") or not line:
            if not line and key is not None:
                finish()
            continue
        match = _KEYWORD.match(line)
        if match:
            if match.group(1) in ("msgctxt", "msgid") and "msgid" in strings:
                finish()
            key = match.group(1)
            strings[key] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and key is not None:
            strings[key] += ast.literal_eval(line)
    finish()
    return entries


def _messages(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if e.msgid and not e.obsolete]


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory) -> list[Entry]:
    """`makemessages -l es` run over a copy of the project and its committed catalogue."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.fail("GNU gettext is needed (apt-get install gettext): xgettext, msgmerge")
    copy = tmp_path_factory.mktemp("project")
    base = Path(settings.BASE_DIR)
    for entry in base.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in IGNORED:
            shutil.copytree(entry, copy / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(base / "locale", copy / "locale")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(copy)
        # Only the copy's locale/ (makemessages also writes into every LOCALE_PATHS entry
        # whose parent holds the files it reads).
        patch.setattr(settings, "LOCALE_PATHS", [])
        call_command("makemessages", locale=[LANGUAGE], verbosity=0, **MAKEMESSAGES_OPTIONS)
    po = copy / "locale" / LANGUAGE / "LC_MESSAGES" / "django.po"
    return parse_po(po.read_text(encoding="utf-8"))


def test_the_po_parser_reads_contexts_plurals_flags_and_obsolete_entries():
    text = (
        'msgid ""\nmsgstr ""\n"Language: es\\n"\n\n'
        '#, python-format\nmsgid "Hello %(name)s,"\nmsgstr "Hola, %(name)s:"\n\n'
        'msgctxt "ctx"\nmsgid ""\n"two "\n"lines"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "one"\nmsgid_plural "many"\nmsgstr[0] "uno"\nmsgstr[1] "muchos"\n\n'
        '#~ msgid "gone"\n#~ msgstr "ido"\n'
    )
    header, hello, context, plural, gone = parse_po(text)

    assert header.msgid == ""
    assert header.msgstrs == ["Language: es\n"]
    assert (hello.msgstrs, hello.flags) == (["Hola, %(name)s:"], {"python-format"})
    assert (context.msgctxt, context.msgid, context.msgstrs) == ("ctx", "two lines", [""])
    assert (plural.msgid_plural, plural.msgstrs, plural.flags) == (
        "many",
        ["uno", "muchos"],
        {"fuzzy"},
    )
    assert gone.obsolete
    assert gone.msgid == "gone"


def test_every_spanish_entry_is_translated(fresh_catalogue):
    untranslated = [e.name for e in _messages(fresh_catalogue) if not all(e.msgstrs)]

    assert _messages(fresh_catalogue), "makemessages found no msgid at all"
    assert untranslated == [], "run makemessages -l es and translate these"


def test_no_spanish_entry_is_fuzzy(fresh_catalogue):
    fuzzy = [e.name for e in fresh_catalogue if "fuzzy" in e.flags and not e.obsolete]

    assert fuzzy == [], "review these translations and drop their fuzzy flag"


def test_the_committed_po_is_what_makemessages_makes(fresh_catalogue):
    """No msgid left behind by code that changed (makemessages would mark it obsolete)."""
    committed = parse_po((CATALOGUE / "django.po").read_text(encoding="utf-8"))
    names = {e.name: e.msgstrs for e in _messages(committed)}

    assert {e.name: e.msgstrs for e in _messages(fresh_catalogue)} == names
    assert [e.name for e in committed if e.obsolete] == []


def test_the_placeholders_of_every_translation_match(tmp_path):
    """msgfmt --check: python-format placeholders ("%(hours)d") and the header."""
    if shutil.which("msgfmt") is None:
        pytest.fail("GNU gettext is needed (apt-get install gettext): msgfmt")
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["msgfmt", "--check", "-o", str(tmp_path / "checked.mo"), str(CATALOGUE / "django.po")],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_committed_mo_is_compiled_from_the_committed_po(tmp_path):
    if shutil.which("msgfmt") is None:
        pytest.fail("GNU gettext is needed (apt-get install gettext): msgfmt")
    compiled = tmp_path / "django.mo"
    subprocess.run(  # noqa: S603 - fixed arguments
        ["msgfmt", "-o", str(compiled), str(CATALOGUE / "django.po")],  # noqa: S607
        check=True,
    )

    with (CATALOGUE / "django.mo").open("rb") as committed, compiled.open("rb") as fresh:
        committed_catalog = gettext.GNUTranslations(committed)._catalog
        fresh_catalog = gettext.GNUTranslations(fresh)._catalog

    assert committed_catalog == fresh_catalog, "run compilemessages and commit django.mo"

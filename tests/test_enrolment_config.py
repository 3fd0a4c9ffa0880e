"""The [enrolment] section: the questions as tables inside the section, checked like every other key (one line
naming the file and the key), and written back by the settings page without losing them."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from posplugin.config import ConfigError, ConsentConfig, load_config, replace_section
from posplugin.config_file import dump_config, write_config

TERMS = """
[[enrolment.consents]]
id = "memberTerms"
kind = "consent"
sv = "Godkänner du medlemsvillkoren?"
en = "Do you accept the membership terms?"
"""


def test_questions_are_tables_in_the_section(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[enrolment]\nstore_external_id = "Malmö C"\ndeadline_seconds = 12\n' + TERMS, encoding="utf-8")
    config = load_config(path)
    assert config.enrolment.store_external_id == "Malmö C" and config.enrolment.deadline_seconds == 12.0
    assert config.enrolment.consents == [
        ConsentConfig(
            "memberTerms", "consent", "", "Godkänner du medlemsvillkoren?", "Do you accept the membership terms?"
        )
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[enrolment.consents]]\nid = "x"\nsv = "Ja?"\n', "[enrolment] consents = "),
        ('[[enrolment.consents]]\nid = "2fast"\nsv = "a"\nen = "b"\n', "[enrolment] consents[0].id = '2fast'"),
        ('[[enrolment.consents]]\nid = "acceptsEmail"\nkind = "maybe"\n', "[enrolment] consents[0].kind"),
        ('[[enrolment.consents]]\nid = "x"\nrequires = "ssn"\n', "[enrolment] consents[0].requires"),
        ('[[enrolment.consents]]\nid = "x"\ncolour = "red"\n', "[enrolment] consents[0].colour: unknown key"),
        ('[[enrolment.consents]]\nid = "x"\nsv = " Ja? "\n', "[enrolment] consents[0].sv"),
        ("[enrolment]\nconsents = ['acceptsEmail']\n", "[enrolment] consents[0]: expected a table"),
        ("[enrolment]\ndeadline_seconds = 3\n", "[enrolment] deadline_seconds = 3: must be 8-60 seconds"),
        ("[enrolment]\nenabled = 'yes'\n", "[enrolment] enabled: expected true or false"),
        ('[enrolment]\nstore_external_id = "a\\nb"\n', "[enrolment] store_external_id"),
    ],
)
def test_a_bad_question_stops_with_one_line_naming_it(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "till.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_two_questions_with_one_id_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "till.toml"
    path.write_text(TERMS + TERMS, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[enrolment\] consents = .*unique id"):
        load_config(path)


def test_questions_survive_the_settings_page_writing_the_file(tmp_path: Path) -> None:
    path = tmp_path / "till.toml"
    path.write_text(TERMS, encoding="utf-8")
    config = replace_section(load_config(path), "agent", store_id="Malmö C")
    write_config(path, config)  # reads the written text back through the loader before it replaces anything
    reread = load_config(path)
    assert dataclasses.replace(reread, source=config.source) == config
    assert reread.enrolment.consents[0].id == "memberTerms"
    assert "consents = [{id = " in dump_config(config)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["enrolment"]["consents"][0]["kind"] == "consent"

"""The main config file and the conf.d drop-ins beside it: order, per-key merge, errors naming the file."""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.config import Config, ConfigError, load_config, replace_section
from posplugin.config_file import write_config
from posplugin.config_layers import DEFAULT_ORIGIN, ConfigLayers, list_dropins, load_layers
from tests.layered_agent import toml_text


def layout(tmp_path: Path, main: str, **dropins: str) -> Path:
    """A main file and drop-ins (name → text), written in reverse name order so order on disk proves nothing."""
    path = tmp_path / "config.toml"
    path.write_text(main, encoding="utf-8")
    folder = tmp_path / "conf.d"
    folder.mkdir()
    for name in sorted(dropins, reverse=True):
        (folder / name).write_text(dropins[name], encoding="utf-8")
    return path


def test_a_dropin_key_replaces_only_that_key_of_its_section(tmp_path: Path) -> None:
    main = layout(
        tmp_path,
        "[offline]\nmax_queued_per_till = 10\ncashier_wait = 3.0\n[agent]\ntill_id = 't1'\n",
        **{"10-chain.toml": "[offline]\nmax_attempts = 12\n"},
    )
    config = load_config(main)
    assert (config.offline.max_attempts, config.offline.max_queued_per_till, config.offline.cashier_wait) == (12, 10, 3)
    assert config.offline.park_after_hours == Config().offline.park_after_hours  # untouched keys keep the default
    assert config.agent.till_id == "t1"
    assert config.source == str(main)  # errors and `config check` still speak of the main file


def test_later_files_win_in_byte_order_of_their_names(tmp_path: Path) -> None:
    # Byte order, not human or locale order: "10" < "9", "Z" < "a".
    main = layout(
        tmp_path,
        "[agent]\nstore_id = 'main'\n",
        **{
            "9-late.toml": "[agent]\nstore_id = 'nine'\ntill_id = 'nine'\n",
            "10-early.toml": "[agent]\nstore_id = 'ten'\n",
            "a-last.toml": "[agent]\nstore_id = 'a'\n",
            "Z-before-a.toml": "[agent]\nstore_id = 'Z'\nlanguage = 'en'\n",
        },
    )
    listing = list_dropins(main.parent / "conf.d")
    assert [p.name for p in listing.files] == ["10-early.toml", "9-late.toml", "Z-before-a.toml", "a-last.toml"]
    layers = load_layers(main)
    assert layers.effective.agent.store_id == "a"
    assert layers.effective.agent.till_id == "nine" and layers.effective.agent.language == "en"
    assert layers.origin("agent", "store_id") == str(main.parent / "conf.d" / "a-last.toml")
    assert layers.origin("agent", "till_id") == str(main.parent / "conf.d" / "9-late.toml")


def test_origin_tells_dropin_main_file_and_default_apart(tmp_path: Path) -> None:
    main = layout(
        tmp_path,
        "[agent]\nport = 8765\ntill_id = 't1'\n[offline]\nmax_attempts = 5\n",
        **{"10-chain.toml": "[offline]\nmax_attempts = 12\n"},
    )
    layers = load_layers(main)
    assert layers.origin("offline", "max_attempts") == str(main.parent / "conf.d" / "10-chain.toml")
    assert layers.origin("agent", "till_id") == str(main)
    assert layers.origin("agent", "port") == str(main)  # set in the file, even if to the default value
    assert layers.origin("agent", "store_id") == DEFAULT_ORIGIN
    assert layers.main.offline.max_attempts == 5  # the main file's own value is kept, only overridden
    assert layers.managed_by("offline", "max_attempts") == main.parent / "conf.d" / "10-chain.toml"
    assert layers.managed_by("agent", "till_id") is None


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"[offline\nmax_attempts = 1\n", "not valid TOML"),
        (b"[offline]\nmax_attempt = 3\n", "[offline] max_attempt: unknown key"),
        (b"[offline]\nmax_attempts = 'many'\n", "[offline] max_attempts: expected a whole number, got str 'many'"),
        (b"[offline]\nmax_attempts = 0\n", "[offline] max_attempts = 0: must be >= 1"),
        (b"[ofline]\nmax_attempts = 3\n", "unknown section [ofline]"),
        (b"offline = 3\n", "[offline] must be a table"),
        (b"\xff\xfe[offline]\n", "cannot read"),  # not UTF-8
    ],
)
def test_a_bad_dropin_stops_loading_with_one_line_naming_that_file_and_key(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    main = layout(
        tmp_path,
        "[offline]\nmax_attempts = 5\n",
        **{"10-chain.toml": "[offline]\nmax_attempts = 12\n", "20-region.toml": "", "90-zz.toml": "[agent]\n"},
    )
    bad = main.parent / "conf.d" / "20-region.toml"
    bad.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(main)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{bad}: ")
    assert needle in message


def test_files_not_ending_in_toml_and_hidden_files_are_left_alone(tmp_path: Path) -> None:
    garbage = "this is [not toml\x00"
    main = layout(
        tmp_path,
        "",
        **{
            "10-chain.toml": "[offline]\nmax_attempts = 12\n",
            "10-chain.toml~": garbage,
            ".10-chain.toml.swp": garbage,
            "10-chain.toml.bak": garbage,
            ".#10-chain.toml": garbage,
            "README": garbage,
            "20-WINDOWS.TOML": "[agent]\nstore_id = 'upper'\n",
        },
    )
    listing = list_dropins(main.parent / "conf.d")
    assert [p.name for p in listing.files] == ["10-chain.toml", "20-WINDOWS.TOML"]
    assert sorted(p.name for p in listing.ignored) == sorted(
        [".#10-chain.toml", ".10-chain.toml.swp", "10-chain.toml.bak", "10-chain.toml~", "README"]
    )
    config = load_config(main)
    assert config.offline.max_attempts == 12 and config.agent.store_id == "upper"


def test_a_dropin_written_by_windows_tools_with_a_bom_and_crlf_reads_the_same(tmp_path: Path) -> None:
    main = layout(tmp_path, "", **{"10-chain.toml": ""})
    (main.parent / "conf.d" / "10-chain.toml").write_bytes('[agent]\r\nstore_id = "Malmö C"\r\n'.encode("utf-8-sig"))
    assert load_config(main).agent.store_id == "Malmö C"


def test_no_dropin_folder_is_the_main_file_alone_and_a_file_named_conf_d_is_an_error(tmp_path: Path) -> None:
    main = tmp_path / "config.toml"
    main.write_text("[offline]\nmax_attempts = 5\n")
    layers = load_layers(main)
    assert layers.dropins == () and layers.effective == layers.main
    (tmp_path / "conf.d").write_text("[offline]\nmax_attempts = 9\n")
    with pytest.raises(ConfigError, match=r"conf\.d: is not a folder"):
        load_config(main)


def test_no_config_file_means_defaults_and_no_dropins() -> None:
    layers = load_layers(None)
    assert layers.effective == Config() and layers.dropins == ()
    assert layers.origin("agent", "port") == DEFAULT_ORIGIN


def test_saving_writes_only_the_main_files_keys_and_the_change_never_a_dropin_value(tmp_path: Path) -> None:
    main = layout(
        tmp_path,
        "[offline]\nmax_attempts = 5\nmax_queued_per_till = 10\n[agent]\ntill_id = 't1'\n[printer]\nbackend = 'file'\n",
        **{"10-chain.toml": "[offline]\nmax_attempts = 12\nmax_offline_hours = 6.0\n[agent]\nstore_id = 'chain'\n"},
    )
    layers = load_layers(main)
    wanted = replace_section(layers.effective, "offline", cashier_wait=2.0, max_queued_per_till=50)
    after = layers.changed_to(wanted)
    write_config(main, after.main, after.main_keys)
    written = tomllib.loads(main.read_text())
    # max_attempts keeps the main file's own 5 (not the drop-in's 12); backend = "file" stays although it is the
    # default (IT wrote it); max_queued_per_till went back to its default 50, so it leaves the file.
    assert written == {
        "offline": {"max_attempts": 5, "cashier_wait": 2.0},
        "agent": {"till_id": "t1"},
        "printer": {"backend": "file"},
    }
    assert after.effective == wanted
    again = load_layers(main)
    assert again.effective == after.effective  # main + drop-ins again, as the next start reads it
    assert again.origin("offline", "cashier_wait") == str(main)
    assert again.origin("offline", "max_queued_per_till") == DEFAULT_ORIGIN


def test_changing_a_key_a_dropin_sets_is_refused_naming_the_dropin(tmp_path: Path) -> None:
    main = layout(tmp_path, "", **{"10-chain.toml": "[offline]\nmax_attempts = 12\n"})
    layers = load_layers(main)
    with pytest.raises(ConfigError) as info:
        layers.changed_to(replace_section(layers.effective, "offline", max_attempts=3))
    assert (
        str(info.value)
        == f"{main.parent / 'conf.d' / '10-chain.toml'}: [offline] max_attempts is managed centrally in this file"
    )


def test_a_config_built_in_memory_is_all_main_file() -> None:
    config = replace_section(Config(), "agent", till_id="t9")
    layers = ConfigLayers.alone(config)
    assert layers.effective == config and layers.managed_by("agent", "till_id") is None
    changed = replace_section(config, "offline", max_attempts=3)
    assert layers.changed_to(changed).main == changed


# ---- any stack of layers: the last file that sets a key wins for that key ------------------------------------

KEYS: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("offline", "max_attempts"): st.integers(1, 10_000),
    ("offline", "cashier_wait"): st.floats(0.1, 1e4),
    ("agent", "store_id"): st.text(st.characters(categories=("L", "N")), max_size=12),
    ("agent", "language"): st.sampled_from(["sv", "en"]),
    ("printer", "paper_mm"): st.sampled_from([58, 80]),
    ("printer", "drawer_kick"): st.booleans(),
    ("api", "allowed_origins"): st.lists(
        st.sampled_from(["http://pos.local:3000", "https://pos.example"]), max_size=2, unique=True
    ),
}
layer = st.fixed_dictionaries({}, optional={key: value for key, value in KEYS.items()})
names = st.lists(st.text("aZ09-_.é", min_size=1, max_size=6).filter(lambda n: not n.startswith(".")), unique=True)


def as_raw(values: dict[tuple[str, str], Any]) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {}
    for (section, key), value in values.items():
        raw.setdefault(section, {})[key] = value
    return raw


@settings(max_examples=60, deadline=None)
@given(
    main=layer,
    dropins=names.flatmap(
        lambda ns: st.lists(layer, min_size=len(ns), max_size=len(ns)).map(lambda ls: dict(zip(ns, ls, strict=True)))
    ),
)
def test_any_stack_of_layers_gives_each_key_from_the_last_file_that_sets_it(
    main: dict[tuple[str, str], Any], dropins: dict[str, dict[tuple[str, str], Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        main_path = layout(
            root, toml_text(as_raw(main)), **{f"{n}.toml": toml_text(as_raw(v)) for n, v in dropins.items()}
        )
        layers = load_layers(main_path)
        in_order = sorted(dropins, key=lambda n: f"{n}.toml".encode())
        defaults = Config()
        for section, key in KEYS:
            expected, origin = getattr(getattr(defaults, section), key), DEFAULT_ORIGIN
            if (section, key) in main:
                expected, origin = main[(section, key)], str(main_path)
            for name in in_order:
                if (section, key) in dropins[name]:
                    expected, origin = dropins[name][(section, key)], str(root / "conf.d" / f"{name}.toml")
            assert getattr(getattr(layers.effective, section), key) == expected
            assert layers.origin(section, key) == origin
        # Keys no layer sets stay at their defaults.
        assert layers.effective.engage == defaults.engage and layers.effective.scanner == defaults.scanner
        assert load_config(main_path) == layers.effective

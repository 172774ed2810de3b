"""Generates deploy/kibana/*.ndjson: `python deploy/kibana/generate.py deploy/kibana`. Edit this, not the NDJSON."""
import json, sys
from pathlib import Path

OUT = Path(sys.argv[1])
CORE = "8.8.0"
ART = "newsflow-articles"      # data view ids
FS = "newsflow-feed-status"


def dumps(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


def obj(type_, id_, tmv, attributes, references):
    return {"attributes": attributes, "coreMigrationVersion": CORE, "id": id_, "managed": False,
            "references": references, "type": type_, "typeMigrationVersion": tmv}


def data_view(id_, title, name, time_field, field_formats=None, source_filters=None):
    a = {"title": title, "name": name, "fields": "[]", "fieldAttrs": "{}",
         "fieldFormatMap": dumps(field_formats or {}), "runtimeFieldMap": "{}",
         "sourceFilters": dumps(source_filters or []), "typeMeta": "{}", "allowNoIndex": True}
    if time_field:
        a["timeFieldName"] = time_field
    return obj("index-pattern", id_, "8.0.0", a, [])


def kql(q=""):
    return {"query": q, "language": "kuery"}


def search(id_, view, title, description, columns, sort, query=""):
    ssj = {"query": kql(query), "filter": [], "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    a = {"title": title, "description": description, "columns": columns, "sort": sort, "grid": {},
         "hideChart": False, "kibanaSavedObjectMeta": {"searchSourceJSON": dumps(ssj)}}
    return obj("search", id_, "8.0.0", a,
               [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": view}])


# -- lens columns
COUNT = {"label": "Articles", "customLabel": True, "dataType": "number", "operationType": "count", "isBucketed": False,
         "scale": "ratio", "sourceField": "___records___", "params": {"emptyAsNull": True}}


def count(label):
    return {**COUNT, "label": label}


def terms(field, size, order_col, label):
    return {"label": label, "customLabel": True, "dataType": "string", "operationType": "terms", "sourceField": field,
            "isBucketed": True, "scale": "ordinal",
            "params": {"size": size, "orderBy": {"type": "column", "columnId": order_col}, "orderDirection": "desc",
                       "otherBucket": False, "missingBucket": False, "parentFormat": {"id": "terms"}}}


def date_hist(field):
    return {"label": "Published", "customLabel": True, "dataType": "date", "operationType": "date_histogram",
            "sourceField": field, "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def metric(op, field, label, dtype="number"):
    return {"label": label, "customLabel": True, "dataType": dtype, "operationType": op, "sourceField": field,
            "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True}}


def last_value(field, label, dtype, sort_field="updated_at"):
    return {"label": label, "customLabel": True, "dataType": dtype, "operationType": "last_value", "sourceField": field,
            "isBucketed": False, "scale": "ordinal" if dtype == "string" else "ratio",
            "params": {"sortField": sort_field, "showArrayValues": False}}


def lens(id_, view, title, description, vis_type, columns, visualization, query=""):
    layer = {"columns": columns, "columnOrder": list(columns), "incompleteColumns": {}, "sampling": 1}
    a = {"title": title, "description": description, "visualizationType": vis_type,
         "state": {"datasourceStates": {"formBased": {"layers": {"layer1": layer}}},
                   "visualization": visualization, "query": kql(query), "filters": [],
                   "internalReferences": [], "adHocDataViews": {}}}
    return obj("lens", id_, "8.9.0", a,
               [{"type": "index-pattern", "id": view, "name": "indexpattern-datasource-layer-layer1"}])


def metric_vis(id_, view, title, col_id, col, description="", query=""):
    return lens(id_, view, title, description, "lnsMetric", {col_id: col},
                {"layerId": "layer1", "layerType": "data", "metricAccessor": col_id}, query)


def bars(id_, view, title, description, field, size, label, horizontal=True, query="", order_metric=None):
    cols = {"bucket": terms(field, size, "value", label), "value": order_metric or count("Articles")}
    vis = {"legend": {"isVisible": False, "position": "right"}, "valueLabels": "show",
           "preferredSeriesType": "bar_horizontal" if horizontal else "bar",
           "layers": [{"layerId": "layer1", "layerType": "data", "seriesType": "bar_horizontal" if horizontal else "bar",
                       "xAccessor": "bucket", "accessors": ["value"]}]}
    return lens(id_, view, title, description, "lnsXY", cols, vis, query)


def donut(id_, view, title, description, field, size, label, value_label):
    cols = {"bucket": terms(field, size, "value", label), "value": count(value_label)}
    vis = {"shape": "donut", "layers": [{"layerId": "layer1", "layerType": "data", "primaryGroups": ["bucket"],
                                          "metrics": ["value"], "numberDisplay": "percent", "categoryDisplay": "default",
                                          "legendDisplay": "default", "nestedLegend": False}]}
    return lens(id_, view, title, description, "lnsPie", cols, vis)


def dashboard(id_, title, description, panels, time_restore=True, time_from="now-7d", refresh=None):
    """panels: (ref_type, ref_id, x, y, w, h, title or None)."""
    pj, refs = [], []
    for n, (rtype, rid, x, y, w, h, ptitle) in enumerate(panels, start=1):
        pid = f"p{n}"
        cfg = {"enhancements": {}}
        if ptitle:
            cfg["title"] = ptitle
        pj.append({"version": "8.7.0", "type": rtype, "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid},
                   "panelIndex": pid, "embeddableConfig": cfg, "panelRefName": f"panel_{pid}"})
        refs.append({"name": f"{pid}:panel_{pid}", "type": rtype, "id": rid})
    a = {"title": title, "description": description, "panelsJSON": dumps(pj),
         "optionsJSON": dumps({"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False,
                               "hidePanelTitles": False}),
         "timeRestore": time_restore, "version": 1,
         "kibanaSavedObjectMeta": {"searchSourceJSON": dumps({"query": kql(), "filter": []})}}
    if time_restore:
        a.update(timeFrom=time_from, timeTo="now", refreshInterval=refresh or {"pause": True, "value": 60000})
    return obj("dashboard", id_, "8.7.0", a, refs)


def table(id_, view, title, description, columns, sort_by):
    """A datatable: one column per entry of ``columns`` (in order), sorted by ``sort_by`` descending."""
    vis = {"layerId": "layer1", "layerType": "data", "columns": [{"columnId": c} for c in columns],
           "sorting": {"columnId": sort_by, "direction": "desc"}}
    return lens(id_, view, title, description, "lnsDatatable", columns, vis)


def places_map():
    layers = [
        {"id": "basemap", "type": "EMS_VECTOR_TILE", "label": None, "alpha": 1, "visible": True, "minZoom": 0,
         "maxZoom": 24, "includeInFitToBounds": True,
         "sourceDescriptor": {"type": "EMS_TMS", "isAutoSelect": True, "lightModeDefault": "road_map_desaturated"},
         "style": {"type": "EMS_VECTOR_TILE", "color": ""}},
        {"id": "places", "type": "GEOJSON_VECTOR", "label": "Articles per place", "alpha": 0.85, "visible": True,
         "minZoom": 0, "maxZoom": 24, "includeInFitToBounds": True, "joins": [],
         "sourceDescriptor": {"type": "ES_GEO_GRID", "id": "newsflow-places-grid", "geoField": "place_locations",
                              "requestType": "point", "resolution": "COARSE",
                              "metrics": [{"type": "count", "label": "articles"}],
                              "applyGlobalQuery": True, "applyGlobalTime": True, "applyForceRefresh": True,
                              "indexPatternRefName": "layer_1_source_index_pattern"},
         "style": {"type": "VECTOR", "isTimeAware": True, "properties": {
             "fillColor": {"type": "DYNAMIC", "options": {"field": {"name": "doc_count", "origin": "source"},
                                                          "color": "Blues", "fieldMetaOptions": {"isEnabled": True, "sigma": 3}}},
             "lineColor": {"type": "STATIC", "options": {"color": "#FFFFFF"}},
             "lineWidth": {"type": "STATIC", "options": {"size": 1}},
             "iconSize": {"type": "DYNAMIC", "options": {"field": {"name": "doc_count", "origin": "source"},
                                                         "minSize": 6, "maxSize": 32,
                                                         "fieldMetaOptions": {"isEnabled": True, "sigma": 3}}},
             "labelText": {"type": "DYNAMIC", "options": {"field": {"name": "doc_count", "origin": "source"}}},
         }}},
    ]
    state = {"zoom": 1.4, "center": {"lon": 15, "lat": 30}, "timeFilters": {"from": "now-7d", "to": "now"},
             "refreshConfig": {"isPaused": True, "interval": 0}, "query": kql(), "filters": [],
             "settings": {"autoFitToDataBounds": False}}
    a = {"title": "newsflow: places mentioned", "description":
         "Where the news happens: the gazetteer places (place_locations) found in articles, counted per grid cell.",
         "mapStateJSON": dumps(state), "layerListJSON": dumps(layers),
         "uiStateJSON": dumps({"isLayerTOCOpen": True, "openTOCDetails": []})}
    return obj("map", "newsflow-map-places", "8.4.0", a,
               [{"name": "layer_1_source_index_pattern", "type": "index-pattern", "id": ART}])


def write(name, objs):
    (OUT / name).write_text("".join(dumps(o) + "\n" for o in objs), encoding="utf-8")


write("data-views.ndjson", [
    data_view(ART, "newsflow-articles*", "newsflow articles", "@timestamp",
              field_formats={"url": {"id": "url"}, "original_url": {"id": "url"}},
              source_filters=[{"value": "minhash"}, {"value": "story_bands"}]),
    data_view(FS, "newsflow-feed-status", "newsflow feed status", None, field_formats={"url": {"id": "url"}}),
])

write("saved-searches.ndjson", [
    search("newsflow-search-latest", ART, "newsflow: latest articles",
           "Every article, newest first (by published time).",
           ["title", "source", "language", "entities.persons", "entities.organisations", "keyphrases"],
           [["@timestamp", "desc"]]),
    search("newsflow-search-nato", ART, "newsflow: articles mentioning NATO",
           "Articles where entity recognition found NATO, or whose title or text names it.",
           ["title", "source", "entities.organisations", "places.name"], [["@timestamp", "desc"]],
           'entities.organisations:"NATO" or title:"NATO" or text:"NATO"'),
    search("newsflow-search-ukraine", ART, "newsflow: articles about places in Ukraine",
           "Articles that mention a place the gazetteer puts in Ukraine (country code UA).",
           ["title", "source", "places.name", "entities.persons"], [["@timestamp", "desc"]],
           "places.country_code:UA"),
    search("newsflow-search-near-duplicates", ART, "newsflow: near-duplicates",
           "Exact and near copies of another article of their story (MinHash); near_duplicate_of is that article's id.",
           ["title", "source", "near_duplicate_of", "story_id", "url"], [["@timestamp", "desc"]], "near_duplicate_of:*"),
    search("newsflow-search-not-enriched", ART, "newsflow: articles without enrichment",
           "Articles indexed without enrichment (no language, entities or places).",
           ["title", "source", "url", "fetched_at"], [["@timestamp", "desc"]], "enriched:false"),
    search("newsflow-search-failing-feeds", FS, "newsflow: failing feeds",
           "Feeds whose last poll failed (status error) or that failed poller.failing_after times in a row (status failing).",
           ["url", "name", "status", "consecutive_failures", "last_error", "last_success", "next_poll"],
           [["consecutive_failures", "desc"]], "status:failing or status:error"),
])

overview = [
    metric_vis("newsflow-lens-articles", ART, "Articles", "value", count("Articles")),
    metric_vis("newsflow-lens-sources", ART, "Sources", "value", metric("unique_count", "source", "Sources")),
    metric_vis("newsflow-lens-languages-count", ART, "Languages seen", "value", metric("unique_count", "language", "Languages seen")),
    metric_vis("newsflow-lens-countries-count", ART, "Countries mentioned", "value",
               metric("unique_count", "country_codes", "Countries mentioned")),
    lens("newsflow-lens-volume-by-source", ART, "Articles over time by source",
         "Published articles per interval, stacked by the top 10 sources (host names).", "lnsXY",
         {"date": date_hist("@timestamp"), "source": terms("source", 10, "value", "Source"), "value": count("Articles")},
         {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide", "preferredSeriesType": "bar_stacked",
          "layers": [{"layerId": "layer1", "layerType": "data", "seriesType": "bar_stacked", "xAccessor": "date",
                      "splitAccessor": "source", "accessors": ["value"]}]}),
    bars("newsflow-lens-top-persons", ART, "Top persons", "People named most often (spaCy entities).",
         "entities.persons", 15, "Person"),
    bars("newsflow-lens-top-organisations", ART, "Top organisations", "Organisations named most often (spaCy entities).",
         "entities.organisations", 15, "Organisation"),
    bars("newsflow-lens-top-places", ART, "Top places", "Places from the gazetteer, by articles that mention them.",
         "places.name", 15, "Place"),
    donut("newsflow-lens-languages", ART, "Languages", "Articles by detected language (ISO 639-1).",
          "language", 10, "Language", "Articles"),
    bars("newsflow-lens-top-keyphrases", ART, "Top keyphrases", "Keyphrases (YAKE) shared by the most articles.",
         "keyphrases", 20, "Keyphrase"),
    bars("newsflow-lens-top-countries", ART, "Top countries", "Countries of the places mentioned (ISO 3166 alpha-2).",
         "country_codes", 15, "Country"),
    places_map(),
    dashboard("newsflow-news-overview", "newsflow: News overview",
              "Volume by source, who and what is in the news, languages, keyphrases and a map of places.",
              [("lens", "newsflow-lens-articles", 0, 0, 12, 6, None),
               ("lens", "newsflow-lens-sources", 12, 0, 12, 6, None),
               ("lens", "newsflow-lens-languages-count", 24, 0, 12, 6, None),
               ("lens", "newsflow-lens-countries-count", 36, 0, 12, 6, None),
               ("lens", "newsflow-lens-volume-by-source", 0, 6, 48, 14, None),
               ("lens", "newsflow-lens-top-persons", 0, 20, 16, 16, None),
               ("lens", "newsflow-lens-top-organisations", 16, 20, 16, 16, None),
               ("lens", "newsflow-lens-top-places", 32, 20, 16, 16, None),
               ("lens", "newsflow-lens-languages", 0, 36, 16, 15, None),
               ("lens", "newsflow-lens-top-keyphrases", 16, 36, 16, 15, None),
               ("lens", "newsflow-lens-top-countries", 32, 36, 16, 15, None),
               ("map", "newsflow-map-places", 0, 51, 48, 22, "Places mentioned"),
               ("search", "newsflow-search-latest", 0, 73, 48, 20, "Latest articles")]),
]
write("news-overview.ndjson", overview)

health = [
    metric_vis("newsflow-lens-feeds", FS, "Feeds", "value", count("Feeds")),
    metric_vis("newsflow-lens-feeds-failing", FS, "Feeds flagged failing", "value", count("Failing feeds"),
               query="status:failing"),
    metric_vis("newsflow-lens-feeds-items-per-day", FS, "Items per day (all feeds)", "value",
               metric("sum", "items_per_day", "Items per day")),
    donut("newsflow-lens-feeds-by-status", FS, "Feeds by status",
          "new: not polled yet; ok: last poll worked; error: last poll failed; failing: failed poller.failing_after times in a row.",
          "status", 5, "Status", "Feeds"),
    bars("newsflow-lens-feeds-most-failures", FS, "Most consecutive failures",
         "Feeds with the longest current error streak.", "url", 15, "Feed",
         order_metric=metric("max", "consecutive_failures", "Consecutive failures"), query="consecutive_failures > 0"),
    table("newsflow-lens-feeds-table", FS, "All feeds", "One row per feed: its status, error streak, last success and next poll.",
          {"feed": terms("url", 500, "failures", "Feed"),
           "status": last_value("status", "Status", "string"),
           "failures": metric("max", "consecutive_failures", "Consecutive failures"),
           "last_success": last_value("last_success", "Last success", "date"),
           "next_poll": last_value("next_poll", "Next poll", "date"),
           "items": metric("sum", "items_per_day", "Items per day")}, "failures"),
    dashboard("newsflow-feed-health", "newsflow: Feed health",
              "Current state of every feed, from the feed-status index the poller keeps (one document per feed; "
              "the time picker does not filter it).",
              [("lens", "newsflow-lens-feeds", 0, 0, 16, 6, None),
               ("lens", "newsflow-lens-feeds-failing", 16, 0, 16, 6, None),
               ("lens", "newsflow-lens-feeds-items-per-day", 32, 0, 16, 6, None),
               ("lens", "newsflow-lens-feeds-by-status", 0, 6, 16, 15, None),
               ("lens", "newsflow-lens-feeds-most-failures", 16, 6, 32, 15, None),
               ("lens", "newsflow-lens-feeds-table", 0, 21, 48, 18, None),
               ("search", "newsflow-search-failing-feeds", 0, 39, 48, 15, "Failing feeds and their last error")],
              time_restore=False),
]
write("feed-health.ndjson", health)

# Stories: the article fields story grouping sets (story_id, story_relation, story_of); every chart
# reads the articles, so the time picker means "members published in this range".
stories = [
    metric_vis("newsflow-lens-stories-count", ART, "Stories", "value", metric("unique_count", "story_id", "Stories")),
    metric_vis("newsflow-lens-stories-copies", ART, "Copies", "value", count("Copies"),
               description="Articles that are an exact or near copy of another member of their story.",
               query="story_relation:exact_copy or story_relation:near_copy"),
    table("newsflow-lens-stories-biggest", ART, "Biggest stories",
          "The stories with most articles in the time range: outlets, first seen, latest headline. "
          "Click a story id to filter the dashboard (and the members list) to it.",
          {"story": terms("story_id", 25, "articles", "Story"),
           "articles": count("Articles"),
           "outlets": metric("unique_count", "site", "Outlets"),
           "first": metric("min", "@timestamp", "First seen", dtype="date"),
           "headline": last_value("title.keyword", "Latest headline", "string", sort_field="@timestamp")}, "articles"),
    bars("newsflow-lens-stories-outlets", ART, "Outlets per story",
         "The stories carried by the most distinct outlets (site names) in the time range.", "story_id", 15, "Story",
         order_metric=metric("unique_count", "site", "Outlets")),
    lens("newsflow-lens-stories-first-seen", ART, "New stories over time (first seen, by outlet)",
         "Each story's first article (story_relation:first) per interval, stacked by the outlet that had it first.",
         "lnsXY",
         {"date": date_hist("@timestamp"), "site": terms("site", 10, "value", "First by"), "value": count("New stories")},
         {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide", "preferredSeriesType": "bar_stacked",
          "layers": [{"layerId": "layer1", "layerType": "data", "seriesType": "bar_stacked", "xAccessor": "date",
                      "splitAccessor": "site", "accessors": ["value"]}]},
         query="story_relation:first"),
    search("newsflow-search-story-members", ART, "newsflow: members of a story",
           'Every article of a story, first published first: filter story_id to one story (story_id:"<id>", or click '
           "a story id in the Stories dashboard); story_of is the member each was matched to.",
           ["title", "site", "story_relation", "story_of", "story_id", "url"], [["@timestamp", "asc"]], "story_id:*"),
    dashboard("newsflow-stories", "newsflow: Stories",
              "Stories: one text's copies and versions across outlets. The biggest stories in the time range, "
              "outlets per story, when stories first appeared and where, and the members of the story you pick.",
              [("lens", "newsflow-lens-stories-count", 0, 0, 24, 6, None),
               ("lens", "newsflow-lens-stories-copies", 24, 0, 24, 6, None),
               ("lens", "newsflow-lens-stories-biggest", 0, 6, 30, 18, None),
               ("lens", "newsflow-lens-stories-outlets", 30, 6, 18, 18, None),
               ("lens", "newsflow-lens-stories-first-seen", 0, 24, 48, 14, None),
               ("search", "newsflow-search-story-members", 0, 38, 48, 18, "Members of a story (filter story_id)")],
              time_from="now-24h"),
]
write("stories.ndjson", stories)

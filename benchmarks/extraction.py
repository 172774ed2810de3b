"""`newsflow bench extraction DATASET_DIR`: newsflow's extractor beside plain trafilatura, same run.

Datasets are folders in the layout of ``shared/bench/extraction/*`` (see its README):
``ground-truth.json`` (scrapinghub: key -> articleBody, url; pages ``html/<key>.html.gz``) or
``evaldata.json`` (trafilatura: url -> file, with, without; pages ``html/<file>``).

Each extractor gets the page bytes and the url only; the truth files are read for scoring alone.
newsflow may learn from the other pages of the set, unsupervised, as the poller learns from
the other posts of a site: a first pass extracts every page and feeds a per-site memory
(``ingest/extract/site_templates.py``), a second strips what that memory knows is chrome. Both passes are
in newsflow's time.

The two extractors run page by page, interleaved, in one process and one thread, and each is
timed in CPU seconds of that process (``time.process_time``), so other work on a shared
machine neither slows one more than the other nor shows up in the speed ratio. Each extractor
first runs once, untimed, on the first page (imports, regex compilation), as a long-running
poller would have done long before.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from newsflow.ingest.extract.options import ExtractOptions
from newsflow.ingest.extract.site_templates import MIN_PAGES

# --- scoring: the metric definitions of shared/tools/score_extraction.py, copied faithfully
# (same tokeniser, shingle size, per-page normalisation, averaging, and snippet matching) so the
# project does not depend on a file outside it. tests/test_bench_extraction.py checks both give
# the same numbers when the shared scorer is present.

TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str | None) -> list[str]:
    return TOKEN.findall(text or "")


def shingles(text: str | None, n: int = 4) -> Counter:
    toks = tokens(text)
    return Counter(tuple(toks[i:i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i:i + n])


def page_counts(true: str, pred: str | None) -> tuple[float, float, float]:
    """(tp, fp, fn) of 4-token shingles, normalised so a page weighs 1."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _ratio(num: float, other: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if num == other == 0:
        return 0.0
    return num / (num + other)


def score_shingles(gt: dict, preds: dict) -> dict:
    """scrapinghub metric: per-page shingle precision/recall averaged over pages; F1 of the
    averages; accuracy = share of pages whose token sequence is exactly the truth's."""
    counts = [page_counts(v.get("articleBody", ""), preds.get(k)) for k, v in gt.items()]
    precisions = [_ratio(tp, fp, fp, fn) for tp, fp, fn in counts if tp + fp > 0]
    recalls = [_ratio(tp, fn, fp, fn) for tp, fp, fn in counts if tp + fn > 0]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = sum(tokens(v.get("articleBody", "")) == tokens(preds.get(k)) for k, v in gt.items())
    return {"pages": len(gt), "f1": f1, "precision": precision, "recall": recall, "accuracy": exact / len(gt)}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def score_snippets(evaldata: dict, preds: dict) -> dict:
    """trafilatura metric: "with" snippets found are true positives, "without" snippets found
    are false positives (whitespace-normalised substring match), summed over the corpus."""
    tp = fp = fn = tn = 0
    for url, item in evaldata.items():
        out = preds.get(url)
        out = norm(out) if isinstance(out, str) else None
        hit_with = sum(1 for s in item["with"] if out is not None and norm(s) in out)
        hit_without = sum(1 for s in item["without"] if out is not None and norm(s) in out)
        tp += hit_with
        fn += len(item["with"]) - hit_with
        fp += hit_without
        tn += len(item["without"]) - hit_without
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {"pages": len(evaldata), "f1": f1, "precision": precision, "recall": recall,
            "boilerplate_leaks": fp, "boilerplate_snippets": fp + tn}


# --- datasets ---------------------------------------------------------------------------


@dataclass
class Page:
    key: str
    path: Path
    url: str


@dataclass
class Dataset:
    root: Path
    kind: str  # "shingles" (ground-truth.json) or "snippets" (evaldata.json)
    truth: dict
    pages: list[Page] = field(default_factory=list)

    def score(self, preds: dict) -> dict:
        truth = {k: self.truth[k] for k in (p.key for p in self.pages)}
        return score_shingles(truth, preds) if self.kind == "shingles" else score_snippets(truth, preds)


class DatasetError(ValueError):
    pass


def load_dataset(root: Path, limit: int | None = None) -> Dataset:
    if (root / "ground-truth.json").exists():
        truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
        pages = [Page(k, root / "html" / f"{k}.html.gz", v.get("url") or "") for k, v in truth.items()]
        kind = "shingles"
    elif (root / "evaldata.json").exists():
        truth = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
        pages = [Page(k, root / "html" / v["file"], k) for k, v in truth.items()]
        kind = "snippets"
    else:
        raise DatasetError(f"{root}: neither ground-truth.json nor evaldata.json")
    if limit is not None:
        pages = pages[:limit]
    missing = [p.path for p in pages if not p.path.exists()]
    if missing:
        raise DatasetError(f"{len(missing)} page files missing, e.g. {missing[0]}")
    return Dataset(root, kind, truth, pages)


# --- extractors -------------------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    from newsflow.ingest.extract.decoding import read_page

    return read_page(path)


def trafilatura_text(html: bytes, url: str) -> str | None:
    """Plain trafilatura, default settings."""
    import trafilatura

    try:
        return trafilatura.extract(html, url=url)
    except Exception:  # noqa: BLE001 - a crash on one page is that page's null, as for newsflow
        return None


def page_url(page: Page) -> str:
    """The page's url, or a stand-in when the dataset gives a label ("hard::site-x.html"):
    newsflow refuses a page without an http(s) url, as an article needs one for its id."""
    from newsflow.ingest.urls import InvalidURL, canonical_url

    try:
        canonical_url(page.url)
        return page.url
    except InvalidURL:
        return f"https://unknown.invalid/{quote(page.key, safe='')}"


def _clock() -> float:
    """CPU seconds of this process: the extractors run one after the other in one thread, so
    this is each one's own work, unaffected by whatever else the (shared) machine is doing."""
    return time.process_time()


@dataclass
class Run:
    name: str
    preds: dict[str, str | None]
    seconds: float
    crashes: list[str] = field(default_factory=list)  # pages where the extractor raised a bug


@dataclass(frozen=True)
class Variant:
    """One configuration of newsflow's extractor, for the ablation."""

    config: dict = field(default_factory=dict)  # ExtractConfig fields
    options: ExtractOptions = ExtractOptions()  # ideas switched off (ingest.extract.article.extract)
    min_pages: int = MIN_PAGES  # site memory: pages a line must recur on


def run_both(
    dataset: Dataset,
    variants: dict[str, Variant],
    progress: Callable[[], None] | None = None,
) -> list[Run]:
    """trafilatura and each newsflow variant on every page, interleaved page by page.

    newsflow's site memory: pass 1 extracts every page and lets the memory observe it (by
    host), pass 2 strips what recurs, so each page profits from all the others of its site,
    as a page polled late does in the pipeline. Both passes count in newsflow's time.
    """
    from newsflow.ingest.extract.article import extract
    from newsflow.ingest.extract.errors import ExtractionError
    from newsflow.ingest.extract.site_templates import SiteTemplates
    from newsflow.ingest.config import ExtractConfig

    configs = {name: ExtractConfig(**v.config) for name, v in variants.items()}
    traf: dict[str, str | None] = {}
    traf_s = 0.0
    results: dict[str, dict[str, str | None]] = {name: {} for name in variants}
    nf_s = dict.fromkeys(variants, 0.0)
    memories = {name: SiteTemplates(min_pages=v.min_pages) for name, v in variants.items()}
    crashes: dict[str, list[str]] = {name: [] for name in variants}
    sites: dict[str, str] = {}
    if dataset.pages:  # warm-up, untimed: imports, regex compilation, first-call caches of both
        first = dataset.pages[0]
        trafilatura_text(read_bytes(first.path), first.url)
        try:
            extract(read_bytes(first.path), page_url(first))
        except Exception:  # noqa: BLE001 - the timed pass will say
            pass
    for page in dataset.pages:
        html = read_bytes(page.path)
        t0 = _clock()
        traf[page.key] = trafilatura_text(html, page.url)
        traf_s += _clock() - t0
        url = page_url(page)
        sites[page.key] = site = _host(url)
        for name, cfg in configs.items():
            t0 = _clock()
            try:
                text: str | None = extract(html, url, settings=cfg, options=variants[name].options).article.text
            except ExtractionError:
                text = None
            except Exception as exc:  # noqa: BLE001 - a bug on one page is that page's null, and said
                text = None
                crashes[name].append(f"{page.key}: {type(exc).__name__}: {exc}")
            if text and cfg.site_templates:
                memories[name].observe(site, text)
            results[name][page.key] = text
            nf_s[name] += _clock() - t0
        if progress:
            progress()
    runs = [Run("trafilatura", traf, traf_s)]
    for name, cfg in configs.items():
        t0 = _clock()
        preds: dict[str, str | None] = {}
        for page in dataset.pages:
            text = results[name][page.key]
            if text and cfg.site_templates:
                text = memories[name].strip(sites[page.key], text).text or None
            preds[page.key] = text
        runs.append(Run(name, preds, nf_s[name] + _clock() - t0, crashes[name]))
    return runs


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    from newsflow.ingest.urls import InvalidURL, canonical_url

    try:
        return urlsplit(canonical_url(url)).hostname or ""
    except InvalidURL:
        return ""


# Ablation: the full extractor, then each idea switched off (or changed) alone.
ABLATION: dict[str, Variant] = {
    "newsflow": Variant(),
    "- site memory": Variant(config={"site_templates": False}),
    "site memory at 2 pages": Variant(min_pages=2),
    "- boilerplate filter": Variant(config={"boilerplate_filter": False}),
    "- page headlines": Variant(options=ExtractOptions(page_headlines=False)),
    "- inner chrome": Variant(options=ExtractOptions(inner_chrome=False)),
    "- calls to action": Variant(options=ExtractOptions(calls_to_action=False)),
    "- second opinion": Variant(options=ExtractOptions(second_opinion=False)),
    "- tail check": Variant(options=ExtractOptions(tail_check=False)),
    "- lead": Variant(options=ExtractOptions(lead=False)),
    "- role boxes": Variant(options=ExtractOptions(role_boxes=False)),
    "- credits and datelines": Variant(options=ExtractOptions(credits=False)),
    "- inner lines (labels, markers, buttons, prompts)": Variant(options=ExtractOptions(inner_lines=False)),
    "- container check": Variant(options=ExtractOptions(container_check=False)),
    "- form boxes": Variant(options=ExtractOptions(form_boxes=False)),
}


def bench_extraction(
    dataset_dir: Path = typer.Argument(..., help="A folder with ground-truth.json or evaldata.json, and html/."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Write newsflow.json and trafilatura.json here."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N pages."),
    ablation: bool = typer.Option(False, "--ablation", help="Also run newsflow with each idea switched off."),
) -> None:
    """Score newsflow's extractor and plain trafilatura on a dataset, side by side."""
    console = Console(width=None if Console().is_terminal else 140)
    try:
        dataset = load_dataset(dataset_dir, limit)
    except (DatasetError, OSError, ValueError, KeyError) as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    variants = ABLATION if ablation else {"newsflow": ABLATION["newsflow"]}
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"{dataset_dir.name}", total=len(dataset.pages))
        runs = run_both(dataset, variants, lambda: bar.advance(task))

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for run in runs[:2]:
            (out_dir / f"{run.name}.json").write_text(json.dumps(run.preds, ensure_ascii=False, indent=1), encoding="utf-8")

    console.print(results_table(dataset, runs))
    for run in runs:
        if run.crashes:
            console.print(f"[red]{run.name} crashed on {len(run.crashes)} pages[/], e.g. {run.crashes[0]}", highlight=False)


def results_table(dataset: Dataset, runs: list[Run]) -> Table:
    scores = [dataset.score(r.preds) for r in runs]
    metrics = ["f1", "precision", "recall"] + (["accuracy"] if dataset.kind == "shingles" else ["boilerplate_leaks"])
    n = len(dataset.pages)
    table = Table(title=f"{dataset.root.name}: {n} pages ({'shingle' if dataset.kind == 'shingles' else 'snippet'} metric)")
    table.add_column("extractor")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("pages/s (CPU)", justify="right")
    table.add_column("speed vs trafilatura", justify="right")
    base_rate = n / runs[0].seconds if runs[0].seconds else 0.0
    for run, sc in zip(runs, scores):
        rate = n / run.seconds if run.seconds else 0.0
        cells = [f"{sc[m]:.4f}" if isinstance(sc[m], float) else str(sc[m]) for m in metrics]
        table.add_row(run.name, *cells, f"{rate:.1f}", f"{rate / base_rate:.2f}x" if base_rate else "-")
    return table


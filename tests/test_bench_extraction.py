"""`newsflow bench extraction`: runs on both dataset layouts, writes both prediction files, and
scores with the same numbers as the shared scorer (shared/tools/score_extraction.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks import extraction as bench
from newsflow.cli.app import app

FIXTURES = Path(__file__).parent / "fixtures" / "bench"
LAYOUTS = [FIXTURES / "scrapinghub-layout", FIXTURES / "trafilatura-layout"]
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_SCORER = SHARED / "tools" / "score_extraction.py"
SHARED_SETS = [SHARED / "bench" / "extraction" / "scrapinghub-dev", SHARED / "bench" / "extraction" / "trafilatura-dev"]


def _keys(root: Path) -> set[str]:
    name = "ground-truth.json" if (root / "ground-truth.json").exists() else "evaldata.json"
    return set(json.loads((root / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("root", LAYOUTS, ids=lambda p: p.name)
def test_bench_writes_both_prediction_files_for_every_key(root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "extraction", str(root), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "trafilatura" in result.output and "newsflow" in result.output and "pages/s" in result.output
    for name in ("newsflow.json", "trafilatura.json"):
        preds = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        assert set(preds) == _keys(root)
        assert all(v is None or isinstance(v, str) for v in preds.values())
    # The seed posts extract clean: newsflow's text is the expected text, so the score is perfect.
    nf = json.loads((tmp_path / "newsflow.json").read_text(encoding="utf-8"))
    assert bench.load_dataset(root).score(nf)["f1"] == 1.0


def test_ablation_and_limit(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "extraction", str(LAYOUTS[0]), "--limit", "2", "--ablation", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in bench.ABLATION:
        assert name in result.output
    assert len(json.loads((tmp_path / "newsflow.json").read_text(encoding="utf-8"))) == 2


def test_a_folder_without_truth_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "extraction", str(tmp_path)])
    assert result.exit_code == 2
    assert "neither ground-truth.json nor evaldata.json" in result.output


def test_a_label_instead_of_a_url_gets_a_stand_in_for_newsflow() -> None:
    page = bench.Page("hard::site.com-story.html", Path("x"), "hard::site.com-story.html")
    assert bench.page_url(page).startswith("https://unknown.invalid/")
    assert bench.page_url(bench.Page("k", Path("x"), "https://example.org/a")) == "https://example.org/a"


# --- the metric: same numbers as the shared scorer -----------------------------------------


def _shared_scorer():
    if not SHARED_SCORER.exists():
        pytest.skip("shared/tools/score_extraction.py not present")
    spec = importlib.util.spec_from_file_location("shared_score_extraction", SHARED_SCORER)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _mixed_predictions(truth: dict, kind: str) -> dict:
    """Perfect, missing, truncated and chrome-padded outputs, so every branch counts."""
    preds = {}
    for i, (key, item) in enumerate(truth.items()):
        text = item["articleBody"] if kind == "shingles" else " ".join(item["with"])
        preds[key] = [text, None, text[: len(text) // 2], "Post a Comment\n" + text + "\nPrevious Post"][i % 4]
    return preds


@pytest.mark.parametrize("root", LAYOUTS + SHARED_SETS, ids=lambda p: p.name)
def test_scores_match_the_shared_scorer(root: Path) -> None:
    shared = _shared_scorer()
    if not root.exists():
        pytest.skip(f"{root} not present")
    dataset = bench.load_dataset(root, limit=40)
    truth = {p.key: dataset.truth[p.key] for p in dataset.pages}
    preds = _mixed_predictions(truth, dataset.kind)
    kind, _ = shared.load_dataset(root)
    assert kind == dataset.kind
    theirs = shared.score_shingles(truth, preds) if kind == "shingles" else shared.score_snippets(truth, preds)
    assert dataset.score(preds) == pytest.approx(theirs)
    assert 0.0 < theirs["f1"] < 1.0  # the mix really exercises partial credit


def test_shingle_metric_on_hand_made_pages() -> None:
    gt = {"a": {"articleBody": "one two three four five"}, "b": {"articleBody": "alpha beta gamma delta"}}
    perfect = bench.score_shingles(gt, {"a": "one two three four five", "b": "alpha beta gamma delta"})
    assert perfect == {"pages": 2, "f1": 1.0, "precision": 1.0, "recall": 1.0, "accuracy": 1.0}
    # Page a: both true shingles plus one extra -> p 2/3, r 1. Page b: no output -> r 0, and no
    # predicted shingles, so it is left out of the precision mean (as the shared scorer does).
    scores = bench.score_shingles(gt, {"a": "one two three four five six", "b": None})
    assert scores["recall"] == pytest.approx((1.0 + 0.0) / 2)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == 0.0


def test_a_page_without_an_article_is_null_for_both(tmp_path: Path) -> None:
    import gzip

    root = tmp_path / "set"
    (root / "html").mkdir(parents=True)
    (root / "html" / "png.html.gz").write_bytes(gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4))
    (root / "ground-truth.json").write_text(json.dumps({"png": {"articleBody": "Some text.", "url": "https://x.example/a"}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["bench", "extraction", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "newsflow.json").read_text()) == {"png": None}
    assert json.loads((out / "trafilatura.json").read_text()) == {"png": None}

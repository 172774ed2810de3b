"""The `newsflow bench` command group: each benchmark's command, registered here."""

from __future__ import annotations

import typer

from benchmarks import archive, enrich, extraction, faults, fuzz, metadata, pipeline, planted, poll, reprocess_bound, stories

bench_app = typer.Typer(help="Benchmarks that print newsflow beside a baseline measured in the same run.", no_args_is_help=True)
bench_app.command("archive")(archive.bench_archive)
bench_app.command("enrich")(enrich.bench_enrich)
bench_app.command("extraction")(extraction.bench_extraction)
bench_app.command("faults")(faults.bench_faults)
bench_app.command("fuzz")(fuzz.bench_fuzz)
bench_app.command("metadata")(metadata.bench_metadata)
bench_app.command("pipeline")(pipeline.bench_pipeline)
bench_app.command("planted")(planted.planted_cli)
bench_app.command("poll")(poll.bench_poll)
bench_app.command("reprocess")(reprocess_bound.bench_reprocess)
bench_app.command("stories")(stories.bench_stories)

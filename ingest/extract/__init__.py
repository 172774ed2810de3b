"""Article extraction on top of trafilatura: page bytes + url (+ feed entry) -> Article.

``article.extract`` runs the steps (its docstring lists them); each lives in a module named for
what it does: ``decoding``, ``trafilatura_adapter`` (every use of trafilatura's internals),
``metadata``, ``body``, ``chrome`` and ``line_filters`` (the rules), ``vocabulary`` (their
words, as data), ``headline``, ``options`` (the benchmark's ablation switches) and
``site_templates`` (per-site template learning, a step of the poller's). Importers name the
module: this package imports nothing, so the fetcher's use of ``decoding`` stays light.
"""

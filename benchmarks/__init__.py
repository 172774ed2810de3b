"""The benchmarks (`newsflow bench ...`) and the generated corpus they share with the tests.

Dev code: not installed with the package. The CLI finds this folder next to ``newsflow/`` in a
checkout (newsflow.cli.bench) and registers ``bench_app`` of benchmarks.cli.
"""

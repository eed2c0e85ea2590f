"""Benchmarks: the receiver side by side with a baseline, every figure a ratio.

    .venv/bin/pip install -e '.[bench]'      # a current pycryptodome, for Trustpilot's reference encryptor
    .venv/bin/pip install --no-deps 'trustpilot-authenticated-encryption==1.1.0'
    apt-get install wrk                      # optional: without it, a Python load generator is used
    .venv/bin/python -m benchmarks [--quick] [--postgres URL] [--only link,intake,batch,delivery,growth,slow,metrics,stages]

Prints a table and writes benchmarks/RESULTS.md. Not part of the test suite: it times things, tests do not.
It installs nothing: what is missing is named, and the part that needs it is skipped (or, for ``wrk``, replaced
by the Python fallback). Everything runs on 127.0.0.1. The PostgreSQL database given (default the local
``bench``) has its ``public`` schema dropped and recreated: never point it at a database you care about.

Modules: ``harness`` (shared helpers, processes, the one place that reaches into the receiver's internals),
``report`` (the table and RESULTS.md), ``load`` (wrk or the Python load generator), one module per part
(``links``, ``intake``, ``batches``, ``delivery``, ``growth``, ``slow``, ``scrape`` for the part ``metrics``,
``stages``) and
``cli`` (the options, the run).
"""

"""Helpers shared by the tests (no fixtures: those are in ``tests/conftest.py`` and each layer's ``conftest.py``).

- ``support.data``: the reference keys, fixture messages, ``base_env`` and ``basic_auth``
- ``support.clock``: ``FakeClock``
- ``support.net``: ``free_port``
- ``support.postgres``: the local PostgreSQL test database and the schema a run's tests share
- ``support.wait``: ``wait_until`` and ``wait_for_server``, the one way a test waits
- ``support.servers``: real SMTP and HTTP callback servers and a throwaway certificate authority
- ``support.hostile_http``: a callback that trickles, sends a gigabyte, stalls or names the customer
- ``support.sink``: an HTTP sink that worker processes deliver to (their sender is in ``tests/plugins/sink``)
- ``support.workers``: a worker built as the CLI builds one, ``ScriptedSender``, ``make_worker``, ``add_invitation``
- ``support.messages``: Hypothesis strategies for Segment-shaped input
- ``support.layers``: what the unit and integration layers refuse (databases, sockets, processes)
- ``support.logs``: ``Captured``, the log records of a test as JSON log lines
- ``support.dkim``: DKIM test keys and a DNS answer for dkimpy's verifier

``tests`` is on ``sys.path`` through pytest's ``pythonpath`` setting, so ``import support`` works from any folder.
"""

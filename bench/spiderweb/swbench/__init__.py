"""Helpers of the spiderweb benchmark suite (P1-P9, spec §16).

``suite.py`` and the slow load tests put ``bench/spiderweb`` on ``sys.path``
and import this package; its ``echo``, ``mockserve`` and ``loadgen`` modules
also run as separate processes (``python -m swbench.<name>``) so the server,
the echo baseline and the load generator never share a CPU-bound loop.
"""

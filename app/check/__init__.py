"""Offline checking: recorded calls through the same engine, without a server (``huashu check``).

- ``calls``: what a recorded call is once read (:class:`RecordedCall`), what checking it found
  (:class:`CallResult`), plain values that cross process boundaries;
- ``readers``: one reader per input layout — PROTOCOL's JSON Lines (a file per call), an ASR
  engine's recorded output (a directory per call, a file per leg, ``--format``), and the
  SereTOD/MobileCS dialogues (turns without times);
- ``runner``: drives a :class:`app.engine.session.CallSession` with the times the input gives
  (no clock), over the cores in a process pool;
- ``output``: the terminal summary, the CSV (a row per call and finding) and the HTML report.
"""

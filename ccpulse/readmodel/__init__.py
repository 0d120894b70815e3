"""The read model: what the API serves, rebuilt from the compacted ``cc.read-model`` topic.

One package, used by every reader of the read model — the API, ``ccpulse recompute`` and the
worker's alert evaluator — so the rows are keyed, built, applied and turned into figures in one
place, and none of them has to import another process's code (``tests/test_import_rules.py``).

- ``keys``: the row keys (``<kind>|<id...>``) and the partition of recomputed generations;
- ``rows``: the rows written (the one interval row) and what a generation's marker covers;
- ``state``: :class:`~ccpulse.readmodel.state.ReadModel`, the rows by kind and the pure ``apply``;
- ``totals``: running sums of the served interval series;
- ``views``: figures and responses derived from a read model (rules live in ``ccpulse.domain``);
- ``consumer``: :class:`~ccpulse.readmodel.consumer.ReadModelConsumer`, a read model fed from Kafka
  (the only module here that talks to Kafka).
"""

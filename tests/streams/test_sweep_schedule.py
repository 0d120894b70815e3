"""The contact sweep's schedule: a sweep visits only the contacts due, and never misses one.

Settling (dead-lettering what a contact's fold cannot apply) and expiry used to walk every stored
contact each minute of event time; now each contact is scheduled for when it is due. The schedule
is a cache over the contacts table, so the property checked is the one that matters: after any
writes and sweeps, every contact due at a sweep's watermark is among the sweep's candidates.
"""

from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.settings import Settings
from streams.processing import ContactProcessor
from streams.schedule import FULL_WALK_EVERY

LATENESS, KEEP, OPEN = 60.0, 600.0, 864.0  # OPEN: a voice contact's open-expiry limit (0.01 days)


def processor(contacts: dict) -> ContactProcessor:
    settings = Settings(auth_enabled=False, lateness_seconds=LATENESS, contact_retention_seconds=KEEP,
                        open_contact_expiry_days={"voice": 0.01})
    return ContactProcessor(settings, contacts, {}, None, None, None, None)  # type: ignore[arg-type]


def due(state: dict, mark: float) -> bool:
    """What the sweep acts on (ContactProcessor.sweep): due to settle, or (the lateness bound after) to expire an
    open contact (OPEN after its last event), or to compact a finished one (KEEP after its last event)."""
    last = state["last_t"]
    limit = OPEN if state.get("open") else KEEP
    return (mark >= last + LATENESS and not state.get("settled")) or mark >= last + limit + LATENESS


write = st.tuples(st.just("write"), st.integers(0, 7), st.integers(0, 1), st.floats(0, 3000), st.booleans(), st.booleans())
sweep = st.tuples(st.just("sweep"), st.integers(0, 1), st.floats(0, 200))


@hsettings(max_examples=200, deadline=None)
@given(st.lists(write | sweep, max_size=60))
def test_a_sweep_finds_every_contact_due(ops) -> None:
    contacts: dict = {}
    p = processor(contacts)
    marks = {0: 0.0, 1: 0.0}
    for op in ops:
        if op[0] == "write":  # a batch wrote this contact's state (its event time only moves on)
            _, n, partition, at, settled, is_open = op
            cid = f"c{n}"
            old = contacts.get(cid)
            if old is not None and old["p"] != partition:
                continue  # a contact lives on one partition
            last = max(at, old["last_t"] if old else 0.0)
            state = {"p": partition, "last_t": last, "events": [{"id": "e", "type": "contact.queued", "t": last}],
                     "settled": settled or bool(old and old.get("settled")), "open": is_open, "channel": "voice"}
            contacts[cid] = state
            p._schedule(cid, state)
        else:
            _, partition, step = op
            marks[partition] += step
            mark = marks[partition]
            candidates = dict(p._sweep_candidates({partition: (mark, None)}))
            wanted = {cid for cid, state in contacts.items() if state["p"] == partition and due(state, mark)}
            assert wanted <= set(candidates)
            # what the sweep does with them: expire, or settle and look again later
            for cid, state in candidates.items():
                if mark >= state["last_t"] + (OPEN if state.get("open") else KEEP) + LATENESS:
                    del contacts[cid]  # (expired or compacted: what matters here is that it was found)
                    continue
                if mark >= state["last_t"] + LATENESS:
                    state = contacts[cid] = {**state, "settled": True}
                p._schedule(cid, state)


def test_between_full_walks_a_sweep_visits_only_the_contacts_due() -> None:
    contacts = {f"c{n}": {"p": 0, "last_t": float(n), "events": []} for n in range(1000)}
    p = processor(contacts)
    assert len(p._sweep_candidates({0: (0.0, None)})) == 1000  # the first sweep walks the partition
    for cid, state in contacts.items():
        p._schedule(cid, state)
    # watermark 100: contacts with last_t <= 40 are due to settle (last_t + 60 <= 100)
    assert sorted(cid for cid, _ in p._sweep_candidates({0: (100.0, None)})) == sorted(f"c{n}" for n in range(41))
    assert p._sweep_candidates({0: (100.0, None)}) == []  # nothing new is due
    for _ in range(FULL_WALK_EVERY - 2):
        p._sweep_candidates({0: (100.0, None)})
    assert len(p._sweep_candidates({0: (100.0, None)})) == 1000  # and every FULL_WALK_EVERY sweeps, all again

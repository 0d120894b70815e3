"""A hand-written Amazon Connect morning (2026-03-02 from 09:00:00 UTC): contact events and agent event stream records.

Shapes follow the Amazon Connect Administrator Guide's "Contact events" data model (EventBridge
``Amazon Connect Contact Event``, detail ``eventType``/``contactId``/``channel``/``queueInfo``/``agentInfo``)
and "Agent event streams data model" (Version 2017-10-01: ``EventType``, ``EventTimestamp``,
``CurrentAgentSnapshot``/``PreviousAgentSnapshot`` with ``AgentStatus``, ``Configuration.RoutingProfile``
and ``Contacts``); the values are ours (ids shortened to readable names).

1. C1 voice, support: queued 60, rings alice 70, alice connected 72 (wait 12), hold 130–160, customer
   hangs up 252 (talk 180 − 30 hold = 150), ACW until 272 (20).
2. C2 voice, support: queued 120, disconnected 160 before any agent (abandoned after 40).
3. C3 chat, webchat: queued 300, bob connected 320 (wait 20), closed 500 (talk 180, no ACW).
4. C4 voice, support: queued 400, hung up 403 (short abandon).
5. C5 voice: hung up in the IVR 430, never queued (nothing counted).
6. C6 voice: queued in support 640, the flow moves it to sales 670 (a re-queue: support counts it flowed out after
   30), hung up 700 (abandoned in sales after 30).
Agents: alice logs in 0; bob logs in 5, goes to "Lunch" 600, logs out 700. Alice's heartbeat at 400 and a
language change at 350 change nothing. Bad records: a line that is not JSON, an unknown contact event type,
a channel that is not one, an agent record whose time is not a time, a JSON number, an unrelated object.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

T0 = 1772442000
ACCOUNT = "111122223333"
INSTANCE = f"arn:aws:connect:eu-west-1:{ACCOUNT}:instance/inst-0001"
SUPPORT, WEBCHAT, SALES = "support", "webchat", "sales"
_seq = iter(range(1, 1000))


def ts(offset: float) -> str:
    """Amazon Connect's timestamp format: ISO 8601 with milliseconds."""
    return datetime.fromtimestamp(T0 + offset, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def queue_arn(queue: str) -> str:
    return f"{INSTANCE}/queue/{queue}"


def agent_arn(agent: str) -> str:
    return f"{INSTANCE}/agent/{agent}"


def contact_event(offset: int, kind: str, contact: str, channel: str = "VOICE", queue: str | None = None,
                  queued: int | None = None, agent: str | None = None, connected: int | None = None,
                  disconnected: int | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"eventType": kind, "contactId": contact, "initialContactId": contact, "channel": channel,
                              "instanceArn": INSTANCE, "initiationMethod": "INBOUND", "initiationTimestamp": ts(offset)}
    if queue is not None:
        detail["queueInfo"] = {"queueArn": queue_arn(queue), "queueType": "STANDARD", "enqueueTimestamp": ts(queued or offset)}
    if agent is not None:
        detail["agentInfo"] = {"agentArn": agent_arn(agent), "connectedToAgentTimestamp": ts(connected or offset)}
    if disconnected is not None:
        detail["disconnectTimestamp"] = ts(disconnected)
    return {"version": "0", "id": f"eb-{next(_seq):04d}", "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect", "account": ACCOUNT, "time": ts(offset).replace(".000Z", "Z"), "region": "eu-west-1",
            "resources": [f"{INSTANCE}/contact/{contact}"], "detail": detail}


def snapshot(agent: str, status: str, status_type: str, queues: list[str], contacts: list[dict[str, Any]] | None = None,
             language: str = "en_US") -> dict[str, Any]:
    inbound = [{"ARN": queue_arn(q), "Name": q, "Channels": ["VOICE", "CHAT"]} for q in queues]
    inbound.append({"ARN": f"{INSTANCE}/queue/agent/{agent}", "Name": None, "Channels": ["VOICE"]})  # the agent's own queue
    return {"AgentStatus": {"ARN": f"{INSTANCE}/agent-state/{status.lower()}", "Name": status, "StartTimestamp": ts(0),
                            "Type": status_type},
            "Configuration": {"Username": agent, "FirstName": agent.title(), "LastName": "Example",
                              "LanguageCode": language, "AgentHierarchyGroups": None,
                              "RoutingProfile": {"ARN": f"{INSTANCE}/routing-profile/basic", "Name": "Basic",
                                                 "DefaultOutboundQueue": {"ARN": queue_arn(SUPPORT), "Name": SUPPORT},
                                                 "InboundQueues": inbound}},
            "Contacts": contacts or []}


def on(contact: str, state: str, since: int, channel: str = "VOICE", queue: str = SUPPORT) -> dict[str, Any]:
    return {"ContactId": contact, "InitialContactId": None, "Channel": channel, "InitiationMethod": "INBOUND",
            "State": state, "StateStartTimestamp": ts(since), "ConnectedToAgentTimestamp": None,
            "QueueTimestamp": None, "Queue": {"ARN": queue_arn(queue), "Name": queue}}


def agent_event(offset: int, kind: str, agent: str, current: dict[str, Any] | None,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"AWSAccountId": ACCOUNT, "AgentARN": agent_arn(agent), "CurrentAgentSnapshot": current,
            "EventId": f"aes-{next(_seq):04d}", "EventTimestamp": ts(offset), "EventType": kind, "InstanceARN": INSTANCE,
            "PreviousAgentSnapshot": previous, "Version": "2017-10-01"}


QUEUES = [SUPPORT, WEBCHAT]
A_IDLE = snapshot("alice", "Available", "ROUTABLE", QUEUES)
B_IDLE = snapshot("bob", "Available", "ROUTABLE", QUEUES)

#: The records, in arrival order (each line of a JSON-lines archive).
RECORDS: list[Any] = [
    agent_event(0, "LOGIN", "alice", A_IDLE),
    agent_event(5, "LOGIN", "bob", B_IDLE),
    contact_event(55, "INITIATED", "C1"),
    contact_event(60, "QUEUED", "C1", queue=SUPPORT),
    agent_event(70, "STATE_CHANGE", "alice", snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "INCOMING", 70)]), A_IDLE),
    contact_event(72, "CONNECTED_TO_AGENT", "C1", queue=SUPPORT, queued=60, agent="alice"),
    agent_event(72, "STATE_CHANGE", "alice", snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "CONNECTED", 72)]),
                snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "INCOMING", 70)])),
    contact_event(100, "CONTACT_DATA_UPDATED", "C1", queue=SUPPORT, queued=60, agent="alice", connected=72),
    contact_event(120, "QUEUED", "C2", queue=SUPPORT),
    agent_event(130, "STATE_CHANGE", "alice", snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "CONNECTED_ONHOLD", 130)]),
                snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "CONNECTED", 72)])),
    contact_event(160, "DISCONNECTED", "C2", queue=SUPPORT, queued=120, disconnected=160),
    agent_event(160, "STATE_CHANGE", "alice", snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "CONNECTED", 160)]),
                snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "CONNECTED_ONHOLD", 130)])),
    "{this line is not json",
    contact_event(252, "DISCONNECTED", "C1", queue=SUPPORT, queued=60, agent="alice", connected=72, disconnected=252),
    agent_event(252, "STATE_CHANGE", "alice", snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "ENDED", 252)]),
                snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "CONNECTED", 160)])),
    agent_event(272, "STATE_CHANGE", "alice", A_IDLE, snapshot("alice", "Available", "ROUTABLE", QUEUES, [on("C1", "ENDED", 252)])),
    contact_event(290, "TELEPORTED", "C9"),
    contact_event(300, "QUEUED", "C3", channel="CHAT", queue=WEBCHAT),
    contact_event(310, "QUEUED", "C8", channel="FAX", queue=WEBCHAT),
    contact_event(320, "CONNECTED_TO_AGENT", "C3", channel="CHAT", queue=WEBCHAT, queued=300, agent="bob"),
    agent_event(320, "STATE_CHANGE", "bob", snapshot("bob", "Available", "ROUTABLE", QUEUES,
                                                     [on("C3", "CONNECTED", 320, "CHAT", WEBCHAT)]), B_IDLE),
    agent_event(350, "STATE_CHANGE", "alice", snapshot("alice", "Available", "ROUTABLE", QUEUES, language="de_DE"), A_IDLE),
    {**agent_event(360, "STATE_CHANGE", "bob", B_IDLE), "EventTimestamp": "yesterday"},
    agent_event(400, "HEART_BEAT", "alice", A_IDLE, A_IDLE),
    contact_event(400, "QUEUED", "C4", queue=SUPPORT),
    contact_event(403, "DISCONNECTED", "C4", queue=SUPPORT, queued=400, disconnected=403),
    contact_event(410, "INITIATED", "C5"),
    contact_event(430, "DISCONNECTED", "C5", disconnected=430),
    42,
    {"hello": "world"},
    contact_event(500, "DISCONNECTED", "C3", channel="CHAT", queue=WEBCHAT, queued=300, agent="bob", connected=320,
                  disconnected=500),
    agent_event(500, "STATE_CHANGE", "bob", B_IDLE, snapshot("bob", "Available", "ROUTABLE", QUEUES,
                                                                [on("C3", "CONNECTED", 320, "CHAT", WEBCHAT)])),
    agent_event(600, "STATE_CHANGE", "bob", snapshot("bob", "Lunch", "NOT_ROUTABLE", QUEUES), B_IDLE),
    agent_event(700, "LOGOUT", "bob", snapshot("bob", "Offline", "OFFLINE", QUEUES), snapshot("bob", "Lunch", "NOT_ROUTABLE", QUEUES)),
    contact_event(640, "QUEUED", "C6", queue=SUPPORT),
    contact_event(670, "QUEUED", "C6", queue=SALES),  # the flow's queue timeout transfers it to sales
    contact_event(700, "DISCONNECTED", "C6", queue=SALES, queued=670, disconnected=700),
]


def lines() -> list[bytes]:
    """The records as a JSON-lines archive."""
    return [r.encode() if isinstance(r, str) else orjson.dumps(r) for r in RECORDS]


BAD = [(12, "not_json"), (16, "unknown_event"), (18, "unknown_channel"), (22, "invalid_timestamp"), (28, "not_object"),
       (29, "unknown_record")]

CONTACT_EVENTS: list[tuple[int, str, str, dict[str, Any]]] = [
    (60, "contact.queued", "C1", {"queue_id": SUPPORT, "channel": "voice"}),
    (72, "contact.answered", "C1", {"agent_id": "alice"}),
    (120, "contact.queued", "C2", {"queue_id": SUPPORT, "channel": "voice"}),
    (130, "contact.hold_started", "C1", {}),
    (160, "contact.abandoned", "C2", {}),
    (160, "contact.hold_ended", "C1", {}),
    (252, "contact.ended", "C1", {}),
    (272, "contact.wrapped_up", "C1", {}),
    (300, "contact.queued", "C3", {"queue_id": WEBCHAT, "channel": "chat"}),
    (320, "contact.answered", "C3", {"agent_id": "bob"}),
    (400, "contact.queued", "C4", {"queue_id": SUPPORT, "channel": "voice"}),
    (403, "contact.abandoned", "C4", {}),
    (500, "contact.ended", "C3", {}),
    (500, "contact.wrapped_up", "C3", {}),
    (640, "contact.queued", "C6", {"queue_id": SUPPORT, "channel": "voice"}),
    (670, "contact.queued", "C6", {"queue_id": SALES, "channel": "voice"}),
    (700, "contact.abandoned", "C6", {}),
]

AGENT_CHANGES: dict[str, list[tuple[int, str, str | None]]] = {
    "alice": [(0, "available", None), (72, "on_contact", None), (252, "after_contact_work", None), (272, "available", None)],
    "bob": [(5, "available", None), (320, "on_contact", None), (500, "available", None), (600, "away", "Lunch"),
            (700, "offline", None)],
}

#: 09:00 interval by hand. support (voice, 20 s): offered C1, C2, C4, C6 = 4 (C6 flowed out after 30: not in SL); answered C1 (12 s); abandoned C2 (40 s)
#: and C4 (3 s: short, within SL): SL 1 / (1 + 2 − 1) = 0.5, abandon rate 0.5; handled 1: talk 180 − 30 hold = 150,
#: hold 30 (once), ACW 20 → AHT 200. webchat (chat, 60 s): offered 1, answered 1 (20 s), handled: talk 180, no ACW.
EXPECTED_INTERVALS: dict[str, dict[str, Any]] = {
    SUPPORT: {"offered": 4, "answered": 1, "abandoned": 2, "short_abandoned": 1, "answered_within_sl": 1,
              "abandoned_within_sl": 1, "service_level": 0.5, "abandon_rate": 0.5, "asa_seconds": 12.0,
              "avg_abandon_seconds": 21.5, "max_wait_seconds": 40.0, "handled": 1, "avg_talk_seconds": 150.0,
              "avg_hold_seconds": 30.0, "hold_count": 1, "avg_acw_seconds": 20.0, "aht_seconds": 200.0},
    WEBCHAT: {"offered": 1, "answered": 1, "abandoned": 0, "answered_within_sl": 1, "service_level": 1.0,
              "asa_seconds": 20.0, "max_wait_seconds": 20.0, "handled": 1, "avg_talk_seconds": 180.0,
              "avg_acw_seconds": 0.0, "aht_seconds": 180.0},
}
#: sales: offered 1 (C6), abandoned after 30 s (beyond 20 s, not short): SL 0, abandon rate 1.
EXPECTED_INTERVALS[SALES] = {"offered": 1, "answered": 0, "abandoned": 1, "short_abandoned": 0, "abandoned_within_sl": 0,
                             "service_level": 0.0, "abandon_rate": 1.0, "avg_abandon_seconds": 30.0, "max_wait_seconds": 30.0}
FINAL_AGENTS = {"alice": ("available", 272, None), "bob": ("offline", 700, None)}

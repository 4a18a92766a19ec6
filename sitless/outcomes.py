"""Did the prompt work: each prompt's outcome stored, and published on ``prompt/outcome`` through the outbox.

The policy decides the outcome (stood within 5 min, with the delay; did not; unknown when the sensor
was off); this records it in the store and, with a broker, queues ``{"id", "prompt_ts", "stood",
"stood_after_s", "prompts_heeded_today"}`` in the outbox (QoS 1, not retained: an event, like the
prompt; its id is ``outcome-<prompt id>`` so a replay of the same data queues it once). "Today" is the
local day of the data time, in the daemon's time zone, and the count is read back from the store, so a
restart or a second sensor never miscounts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo

from sitless.alerts.payloads import dumps, outcome_payload
from sitless.alerts.policy import PromptOutcome
from sitless.store import Store

log = logging.getLogger(__name__)


class OutcomeRecorder:
    def __init__(
        self, *, store: Store, topic: str | None, timezone: tzinfo, kick: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.topic = topic
        self.timezone = timezone
        self.kick = kick

    def record(self, outcome: PromptOutcome) -> None:
        if outcome.stood is not None:
            self.store.set_prompt_outcome(outcome.prompt_id, outcome.stood_after_s if outcome.stood else None)
        if self.topic is None:
            return
        heeded = self.heeded_today(float(outcome.prompt_ts))
        payload = outcome_payload(outcome, heeded_today=heeded)
        self.store.outbox_put(f"outcome-{outcome.prompt_id}", self.topic, dumps(payload), qos=1, retain=False)
        if self.kick:
            self.kick()
        log.info(
            "prompt %s: %s", outcome.prompt_id[:8],
            {True: f"stood after {outcome.stood_after_s} s", False: "did not stand within 5 min",
             None: "outcome unknown (no data)"}[outcome.stood],
        )  # fmt: skip

    def heeded_today(self, now: float) -> int:
        """Prompts of the local day of ``now`` after which the person stood within 5 min."""
        day = datetime.fromtimestamp(now, self.timezone).date()
        start = datetime.combine(day, time(0), tzinfo=self.timezone).timestamp()
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.timezone).timestamp()
        return sum(record.heeded for record in self.store.prompts_between(start, end))

"""The fake Mixpanel of a run: the product's development receiver, plus what runs need.

It answers like Mixpanel's strict `/import` (`catalog_integrations.mixpanel.receiver`),
and on top of that records when each event first arrived, and can be switched to
answer 503 (down) or to hold every answer for a while (slow), as a run requires.
"""

import threading
import time


class Receiver:
    def __init__(self, port: int):
        from catalog_integrations.mixpanel.receiver import MixpanelReceiver

        self.port = port
        self.down = False
        self.delay = 0.0
        self.first_arrival: dict[str, float] = {}
        self.by_order: dict[str, float] = {}
        self.requests_in_progress = 0
        self._lock = threading.Lock()
        self.server = MixpanelReceiver(port, respond=self._respond)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "Receiver":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def _respond(self, request, state):
        from catalog_integrations.mixpanel.receiver import Reply, default_reply

        if self.down:
            return Reply(503, {"code": 503, "error": "down for the run", "status": "error"})
        with self._lock:
            self.requests_in_progress += 1
        try:
            if self.delay:
                # The events are in; the answer is late (a worker killed meanwhile never
                # learns that they arrived).
                reply = default_reply(request, state)
                self._note(request)
                time.sleep(self.delay)
                return reply
            reply = default_reply(request, state)
            self._note(request)
            return reply
        finally:
            with self._lock:
                self.requests_in_progress -= 1

    def _note(self, request) -> None:
        now = time.time()
        with self._lock:
            for event in request.events or []:
                props = event.get("properties", {}) if isinstance(event, dict) else {}
                insert_id = props.get("$insert_id")
                if insert_id and insert_id not in self.first_arrival:
                    self.first_arrival[insert_id] = now
                    key = (props.get("token", ""), str(props.get("order_id", "")))
                    self.by_order.setdefault(key, now)

    def accepted(self) -> int:
        with self.server.state.lock:
            return len(self.server.state.accepted)

    def unique(self) -> int:
        with self._lock:
            return len(self.first_arrival)

    def duplicates(self) -> int:
        ids = self.server.state.insert_ids()
        return len(ids) - len(set(ids))

    def arrival_of(self, token: str, order_id: str) -> float | None:
        with self._lock:
            return self.by_order.get((token, order_id))

"""The Runtime API harness notes when the runtime first polls for an event: the end of its init, which
bench-lambda reports as Lambda's Init Duration. A real client speaks to it over loopback."""

from __future__ import annotations

import http.client
import json
import threading
import time

from devtools.lambda_runtime_api import PREFIX, RuntimeApi


def test_the_first_poll_is_timed_and_an_event_goes_round_trip() -> None:
    api = RuntimeApi()
    try:
        assert api.first_poll_wall is None
        before = time.time()
        answers: list[tuple[str, object]] = []
        invoker = threading.Thread(target=lambda: answers.append(api.invoke("req-1", {"x": 1}, timeout=10)))
        invoker.start()
        runtime = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        runtime.request("GET", f"{PREFIX}/invocation/next")
        event = runtime.getresponse()
        request_id = event.getheader("Lambda-Runtime-Aws-Request-Id")
        assert (request_id, json.loads(event.read())) == ("req-1", {"x": 1})
        runtime.request("POST", f"{PREFIX}/invocation/{request_id}/response", body=json.dumps({"ok": True}))
        assert runtime.getresponse().status == 202
        invoker.join(timeout=10)
        assert answers == [("response", {"ok": True})]
        assert api.first_poll_wall is not None
        assert before <= api.first_poll_wall <= time.time()
    finally:
        api.close()

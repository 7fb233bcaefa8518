"""A subscriber of procession's global event feed over server-sent events, without Kafka.

    python sse_subscriber.py URL TOKEN STATE_FILE

Reads `GET /api/v1/events/stream` (an admin token), handles each stored event once, and resumes
after a restart or a dropped connection: the stream's event ids are global log positions, so
the last one handled, kept in STATE_FILE, is where it resumes (`Last-Event-ID`), and anything at
or below it is a repeat. Only the standard library. Here "handling" is printing the event.
"""

import json
import pathlib
import sys
import time
import urllib.request


def handle(event: dict) -> None:
    """Your work. Record the position in the same transaction as it, if you can."""
    print(json.dumps(event), flush=True)


def main() -> None:
    url, token, state = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    last = int(state.read_text()) if state.exists() else 0
    while True:  # reconnect whenever the stream ends (a restart of the service, a network drop)
        request = urllib.request.Request(f"{url}/api/v1/events/stream", headers={
            "Authorization": f"Bearer {token}", "Last-Event-ID": str(last)})
        try:
            with urllib.request.urlopen(request) as stream:
                for line in stream:
                    if not line.startswith(b"data: "):
                        continue  # ids, event names and keep-alives
                    event = json.loads(line[6:])
                    if event.get("position", 0) > last:  # a shutdown notice has none; a repeat is not above
                        handle(event)
                        last = event["position"]
                        state.write_text(str(last))
        except OSError:
            pass
        time.sleep(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

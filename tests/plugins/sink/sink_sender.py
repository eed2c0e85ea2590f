"""A test-only sender for worker processes: POSTs each invitation's id to ``SINK_URL``.

Found through the ``receiver.senders`` entry point declared beside it, when this folder is on PYTHONPATH.
"""

import requests

from receiver.senders import ReadyInvitation, SendFailure


class SinkSender:
    def __init__(self, environ):
        self.url = environ["SINK_URL"]
        self.session = requests.Session()

    def send(self, invitation: ReadyInvitation) -> None:
        try:
            response = self.session.post(self.url, json={"id": invitation.id, "ref": invitation.ref}, timeout=30)
        except requests.RequestException as exc:
            raise SendFailure(type(exc).__name__, transient=True) from None
        if response.status_code >= 300:
            raise SendFailure(f"sink answered {response.status_code}", transient=response.status_code >= 500)

    def close(self) -> None:
        self.session.close()

"""A serving app: looks features up by prepared statement and builds a model-server request.

    python examples/serving_app.py --dsn postgresql://... --port 8080
    curl 'localhost:8080/score?user_id=1&merchant_id=1001'

It answers with the online features of the ``fraud_scoring`` service and the TensorFlow
Serving REST body it would POST to ``$MODEL_SERVER_URL`` (for example
``http://tf-serving:8501/v1/models/fraud:predict``). With MODEL_SERVER_URL set it does
POST it and returns the model's answer too. Standard library HTTP server: a picture of
the integration, not a production server.
"""
from __future__ import annotations

import argparse
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from fspg import FeatureStore
from fspg.errors import FspgError
from fspg.payloads import dumps, tf_serving_request

SERVICE = "fraud_scoring"
KEYS = ("user_id", "merchant_id")


def make_handler(store: FeatureStore, model_server_url: str | None):
    """The request handler class, bound to one FeatureStore (its pool prepares the lookup once per connection)."""

    class ScoreHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            if url.path != "/score":
                return self._reply(404, {"error": "GET /score?user_id=…&merchant_id=…"})
            query = parse_qs(url.query)
            try:
                entities = {k: [int(v) for v in query[k]] for k in KEYS}
                table = store.get_online_features(service=SERVICE, entities=entities)
            except (KeyError, ValueError):
                return self._reply(400, {"error": f"give {' and '.join(KEYS)} as integers"})
            except FspgError as err:
                return self._reply(400, {"error": str(err)})
            request = tf_serving_request(table, keys=KEYS)
            answer = {"features": table.to_pylist(), "model_request": request}
            if model_server_url:
                post = urllib.request.Request(model_server_url, data=dumps(request).encode(),
                                              headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(post, timeout=5) as response:
                    answer["model_response"] = json.load(response)
            return self._reply(200, answer)

        def _reply(self, status: int, body: dict) -> None:
            payload = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    return ScoreHandler


def serve(dsn: str | None, port: int, model_server_url: str | None = None) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1:port (0 picks a free port); call serve_forever() on it."""
    store = FeatureStore(dsn)
    return ThreadingHTTPServer(("127.0.0.1", port), make_handler(store, model_server_url))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("FSPG_DSN"))
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = serve(args.dsn, args.port, os.environ.get("MODEL_SERVER_URL"))
    print(f"serving on http://127.0.0.1:{server.server_address[1]}/score")
    server.serve_forever()

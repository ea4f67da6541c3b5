"""A serving app that gets its features from `fspg serve`, as a model server's
pre-processing step (a KServe transformer, a TensorFlow Serving client) would.

    fspg serve --port 6566 &
    python examples/serving_app.py --url http://127.0.0.1:6566 --user-id 1 --merchant-id 1001

It asks the feature server for the ``fraud_scoring`` service's features of one
(user, merchant) pair and prints them with the TensorFlow Serving body it would POST to
the model. With the server started with ``--model-server fraud=tfserving:URL`` the
server forwards the features itself: ``POST /predict/fraud``. Standard library only: any
language that speaks HTTP and JSON can do the same.
"""
from __future__ import annotations

import argparse
import json
import os
import urllib.request

SERVICE = "fraud_scoring"


def features(url: str, user_id: int, merchant_id: int, token: str | None = None) -> dict:
    """The service's features for one pair: ``{"user_id": …, "merchant_id": …, feature: value, …}``."""
    body = {"service": SERVICE, "entities": {"user_id": [user_id], "merchant_id": [merchant_id]}}
    request = urllib.request.Request(f"{url}/get-online-features", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["rows"][0]


def tf_serving_body(row: dict, keys: tuple[str, ...] = ("user_id", "merchant_id")) -> dict:
    """TensorFlow Serving's row format: the features without the keys."""
    return {"instances": [{k: v for k, v in row.items() if k not in keys}]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:6566")
    parser.add_argument("--user-id", type=int, default=1)
    parser.add_argument("--merchant-id", type=int, default=1001)
    args = parser.parse_args()
    row = features(args.url, args.user_id, args.merchant_id, os.environ.get("FSPG_TOKEN"))
    print(json.dumps({"features": row, "model_request": tf_serving_body(row)}, indent=2))

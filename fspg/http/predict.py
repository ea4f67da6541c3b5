"""``POST /predict/{model}``: the model's features, looked up, forwarded to its model server.

The body sent is one of fspg.payloads' (TensorFlow Serving's ``instances``, KServe v2's
``inputs``, SageMaker's JSON), chosen per model with ``--model-server
NAME=FORMAT:URL``; the answer is the features and the model server's reply.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from fspg import payloads
from fspg.errors import InvalidArgument, SourceFailed
from fspg.http.feast import json_value

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = {"tfserving": payloads.tf_serving_request, "kserve": payloads.kserve_v2_request,
           "sagemaker": payloads.sagemaker_json_request}


def parse_model_server(text: str) -> tuple[str, tuple[str, str]]:
    """``NAME=FORMAT:URL`` (as ``--model-server`` takes it) as (name, (format, url))."""
    name, _, rest = text.partition("=")
    body_format, _, url = rest.partition(":")
    if not name or body_format not in FORMATS or not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"--model-server {text!r} is not NAME=FORMAT:URL",
                              hint=f"FORMAT is one of {', '.join(FORMATS)}; e.g. fraud=tfserving:http://tf:8501/v1/models/fraud:predict")
    return name, (body_format, url)


async def forward(table: "pa.Table", keys: Sequence[str], body_format: str, url: str) -> dict[str, Any]:
    """POST the features of ``table`` (its ``keys`` columns left out) to ``url`` as
    ``body_format``; the features and the reply."""
    import httpx

    body = FORMATS[body_format](table, keys=keys)
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            reply = await client.post(url, content=payloads.dumps(body), headers={"Content-Type": "application/json"})
    except httpx.HTTPError as err:
        raise SourceFailed(f"the model server at {url} did not answer: {err}") from err
    if reply.status_code >= 400:
        raise SourceFailed(f"the model server answered {reply.status_code}: {reply.text[:200]}")
    return {"features": [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()],
            "prediction": reply.json()}

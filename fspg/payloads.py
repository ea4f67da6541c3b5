"""Request bodies for model servers, from an online lookup (an Arrow table).

The original specification names TensorFlow Serving and SageMaker; KServe's v2
protocol covers Triton, MLServer and KServe itself. Each helper takes the table that
``get_online_features`` returns and the feature columns the model expects, in order
(default: every column but the entity keys).
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Sequence

import pyarrow as pa

_KSERVE_TYPES = {pa.float64(): "FP64", pa.float32(): "FP32", pa.int64(): "INT64", pa.int32(): "INT32",
                 pa.bool_(): "BOOL", pa.string(): "BYTES"}


def _columns(table: pa.Table, features: Sequence[str] | None, keys: Sequence[str] | None) -> list[str]:
    if features:
        missing = [f for f in features if f not in table.column_names]
        if missing:
            raise ValueError(f"no column(s) {', '.join(missing)} in the lookup result")
        return list(features)
    keys = set(keys or [])
    return [c for c in table.column_names if c not in keys]


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def tf_serving_request(table: pa.Table, features: Sequence[str] | None = None, *, keys: Sequence[str] | None = None,
                       columnar: bool = False, signature_name: str | None = None) -> dict[str, Any]:
    """TensorFlow Serving REST predict body: row format ``{"instances": [{f: v}, …]}`` or
    columnar ``{"inputs": {f: [v, …]}}``."""
    names = _columns(table, features, keys)
    body: dict[str, Any] = {}
    if signature_name:
        body["signature_name"] = signature_name
    if columnar:
        body["inputs"] = {n: [_json_value(v) for v in table.column(n).to_pylist()] for n in names}
    else:
        body["instances"] = [{n: _json_value(row[n]) for n in names} for row in table.select(names).to_pylist()]
    return body


def kserve_v2_request(table: pa.Table, features: Sequence[str] | None = None, *, keys: Sequence[str] | None = None,
                      request_id: str | None = None) -> dict[str, Any]:
    """KServe / Open Inference Protocol v2 body: one input tensor per feature, shape [rows]
    (vectors: [rows, dim])."""
    inputs = []
    for name in _columns(table, features, keys):
        column = table.column(name)
        values = column.to_pylist()
        if pa.types.is_list(column.type):
            dim = len(next((v for v in values if v is not None), []))
            flat = [x for v in values for x in (v if v is not None else [None] * dim)]
            inputs.append({"name": name, "shape": [len(values), dim], "datatype": "FP32", "data": flat})
        else:
            inputs.append({"name": name, "shape": [len(values)],
                           "datatype": _KSERVE_TYPES.get(column.type, "BYTES"),
                           "data": [_json_value(v) for v in values]})
    body: dict[str, Any] = {"inputs": inputs}
    if request_id:
        body["id"] = request_id
    return body


def sagemaker_json_request(table: pa.Table, features: Sequence[str] | None = None, *,
                           keys: Sequence[str] | None = None) -> dict[str, Any]:
    """SageMaker JSON inference body: ``{"instances": [[v1, v2, …], …]}`` in feature order."""
    names = _columns(table, features, keys)
    return {"instances": [[_json_value(row[n]) for n in names] for row in table.select(names).to_pylist()]}


def sagemaker_csv_request(table: pa.Table, features: Sequence[str] | None = None, *,
                          keys: Sequence[str] | None = None) -> str:
    """SageMaker text/csv body: one line per entity, features in order, no header; NULL is empty."""
    names = _columns(table, features, keys)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in table.select(names).to_pylist():
        writer.writerow(["" if row[n] is None else row[n] for n in names])
    return out.getvalue()


def dumps(body: Any) -> str:
    """JSON text of a request body (NaN is not JSON: it was turned into null)."""
    return json.dumps(body, allow_nan=False, default=str)

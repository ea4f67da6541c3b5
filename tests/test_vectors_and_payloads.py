"""Vector features (HNSW index, nearest neighbours) and model-server request bodies."""
from __future__ import annotations

import datetime as dt
import sys
import urllib.request

import pytest

from fspg import errors
from fspg.payloads import kserve_v2_request, sagemaker_csv_request, sagemaker_json_request, tf_serving_request
from tests.conftest import REPO
from tests.defs import base

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def embeddings(metric: str = "cosine") -> dict:
    doc = base()
    doc["feature_views"].append({"name": "emb", "entity": "user", "ttl": "30 days", "features": [
        {"name": "e", "dtype": "vector(3)", "index": {"type": "hnsw", "metric": metric}},
        {"name": "segment", "dtype": "text"}]})
    return doc


def test_hnsw_index_and_nearest(store, conn, needs_vector):
    store.apply(embeddings())
    indexdef = conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'emb__v1' AND indexdef LIKE '%%hnsw%%'").fetchone()[0]
    assert "vector_cosine_ops" in indexdef
    store.insert_batch("emb", {"user_id": [1, 2, 3, 4], "e": [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]],
                               "segment": ["a", "b", "a", "a"]}, timestamp=NOW - dt.timedelta(hours=1))
    near = store.nearest("emb", "e", [1, 0, 0], k=2)
    assert near.column("user_id").to_pylist() == [1, 2]
    assert near.column("distance").to_pylist()[0] == pytest.approx(0.0, abs=1e-6)
    assert near.column("e").to_pylist()[0] == [1.0, 0.0, 0.0]  # vectors come back as lists
    filtered = store.nearest("emb", "e", [1, 0, 0], k=2, filters={"segment": "a"})
    assert filtered.column("user_id").to_pylist() == [1, 3]
    rows = conn.execute("SELECT entity, round(distance::numeric, 3) FROM fs.nearest('emb', 'e', '{0,1,0}', 1)").fetchall()
    assert rows == [({"user_id": 3}, 0)]
    online = store.get_online_features(["emb.e"], entities=[2])
    assert online.column("e").to_pylist()[0] == pytest.approx([0.9, 0.1, 0.0])


def test_bad_vector_requests(store, needs_vector):
    store.apply(embeddings())
    with pytest.raises(errors.InvalidArgument, match="has 2 dimensions, emb.e has 3"):
        store.nearest("emb", "e", [1, 0], k=2)
    with pytest.raises(errors.NotFound, match="not a vector feature"):
        store.nearest("emb", "segment", [1, 0, 0])
    with pytest.raises(errors.InvalidArgument, match="k must be"):
        store.nearest("emb", "e", [1, 0, 0], k=0)
    doc = base()
    doc["feature_views"][0]["features"][0]["index"] = "hnsw"
    with pytest.raises(errors.DefinitionError, match="index applies to vector features only"):
        store.apply(doc)


TABLE_ROWS = {"user_id": [1, 2], "spend_7d": [10.5, None], "country": ["DE", "FR"]}


def test_model_server_bodies():
    import pyarrow as pa

    table = pa.table(TABLE_ROWS)
    assert tf_serving_request(table, keys=["user_id"]) == {
        "instances": [{"spend_7d": 10.5, "country": "DE"}, {"spend_7d": None, "country": "FR"}]}
    assert tf_serving_request(table, ["spend_7d"], columnar=True, signature_name="serving_default") == {
        "signature_name": "serving_default", "inputs": {"spend_7d": [10.5, None]}}
    assert kserve_v2_request(table, ["spend_7d"], request_id="r1") == {
        "id": "r1", "inputs": [{"name": "spend_7d", "shape": [2], "datatype": "FP64", "data": [10.5, None]}]}
    vectors = pa.table({"e": pa.array([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float32()))})
    assert kserve_v2_request(vectors)["inputs"][0] == {"name": "e", "shape": [2, 2], "datatype": "FP32",
                                                       "data": [1.0, 2.0, 3.0, 4.0]}
    assert sagemaker_json_request(table, ["spend_7d", "country"]) == {"instances": [[10.5, "DE"], [None, "FR"]]}
    assert sagemaker_csv_request(table, ["spend_7d", "country"]) == "10.5,DE\n,FR\n"
    with pytest.raises(ValueError, match="no column"):
        sagemaker_csv_request(table, ["nope"])


def test_example_serving_app_is_a_client_of_fspg_serve(store, dsn, needs_vector):
    from fspg.http.app import ServerConfig, create_app
    from tests.http_server import running

    sys.path.insert(0, str(REPO / "examples"))
    try:
        import serving_app
    finally:
        sys.path.pop(0)
    store.apply(REPO / "examples" / "features")
    store.insert_batch("user_stats", {"user_id": [1], "spend_7d": [12.0], "txn_count_7d": [3], "country": ["DE"]},
                       timestamp=NOW - dt.timedelta(hours=1))
    with running(create_app(ServerConfig(dsn=dsn))) as url:
        row = serving_app.features(url, 1, 1001)
        assert row["user_id"] == 1 and row["spend_7d"] == 12.0 and row["country"] == "DE"
        body = serving_app.tf_serving_body(row)
        assert body["instances"][0]["country"] == "DE" and "user_id" not in body["instances"][0]
        with pytest.raises(urllib.error.HTTPError) as err:
            serving_app.features(url, 1, "x")  # type: ignore[arg-type]
        assert err.value.code == 400

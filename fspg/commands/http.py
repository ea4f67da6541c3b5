"""``fspg serve`` and ``fspg token add``: the HTTP feature server and who may call it."""
from __future__ import annotations

import ipaddress
import os

import click

from fspg.commands.common import emit_one, json_option, store

LOOPBACK = ("localhost",)
# Measured on 2 cores (docs/decisions.md): 4 connections answered 1,500 lookups/s at p99
# 8 ms from 8 clients; 8 connections fewer, at p99 59 ms (the backends fought for the cores).
DEFAULT_POOL_SIZE = 2 * (os.cpu_count() or 2)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --tokens.")
@click.option("--port", type=int, default=6566, show_default=True, help="Port (Feast's feature server uses 6566 too).")
@click.option("--tokens", "token_file", type=click.Path(dir_okay=False),
              help="Token file (fspg token add): requests need a bearer token and run as its role.")
@click.option("--replica", "replicas", multiple=True, metavar="DSN",
              help="A serving replica to read lookups from while it keeps up (repeatable).")
@click.option("--max-lag-bytes", type=int, default=16 * 1024 * 1024, show_default=True,
              help="A replica further behind the primary's WAL than this serves no reads.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds a request may take (then 504).")
@click.option("--pool-size", type=int, default=DEFAULT_POOL_SIZE, show_default=True,
              help="Connections per role and database (default: twice the CPU cores; more only queue in the kernel).")
@click.option("--model-server", "model_servers", multiple=True, metavar="NAME=FORMAT:URL",
              help="Where POST /predict/NAME forwards features; FORMAT: tfserving, kserve or sagemaker (repeatable).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, token_file: str | None, replicas: tuple[str, ...],
          max_lag_bytes: int, timeout: float, pool_size: int, model_servers: tuple[str, ...]) -> None:
    """Run the HTTP feature server: POST /get-online-features (Feast's form or fspg's),
    /push, /predict/MODEL; GET /health, /metrics, /docs. Stops cleanly on Ctrl-C or
    SIGTERM (requests in flight finish, then the pools close)."""
    import uvicorn

    from fspg.http import tokens
    from fspg.http.app import ServerConfig, create_app
    from fspg.http.predict import parse_model_server

    if token_file is None and not _is_loopback(host):
        raise click.UsageError(f"--host {host} without --tokens would let anyone on the network read features",
                               ctx=ctx)
    config = ServerConfig(dsn=store(ctx).dsn, replicas=list(replicas), timeout=timeout, pool_size=pool_size,
                          max_lag_bytes=max_lag_bytes,
                          tokens=tokens.load(token_file) if token_file else None,
                          model_servers=dict(parse_model_server(m) for m in model_servers))
    click.echo(f"fspg: serving on http://{host}:{port} (API: /docs)", err=True)
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                loop="auto", http="auto", timeout_graceful_shutdown=max(timeout, 1.0) + 1)


@click.group()
def token() -> None:
    """Bearer tokens of the feature server."""


@token.command("add")
@click.argument("name")
@click.option("--role", required=True, help="The PostgreSQL role the token acts as (fs_serving, fs_writer, or yours).")
@click.option("--file", "token_file", type=click.Path(dir_okay=False), default="fspg-tokens.yaml", show_default=True,
              help="The token file to append to (made if missing, readable by its owner only).")
@json_option
def token_add(name: str, role: str, token_file: str, as_json: bool) -> None:
    """Make a token for NAME acting as ROLE and print it: it is shown once, the file keeps
    only its SHA-256."""
    from fspg.http import tokens

    secret = tokens.add(token_file, name, role)
    emit_one({"name": name, "role": role, "token": secret, "file": token_file}, as_json, secret)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


COMMANDS = [serve, token]

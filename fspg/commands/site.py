"""``fspg docs build`` and ``fspg ui``: the catalog as a static site."""
from __future__ import annotations

import click

from fspg.commands.common import emit_one, json_option, store


@click.group()
def docs() -> None:
    """The catalog as a static site (in the spirit of dbt docs)."""


@docs.command("build")
@click.argument("path", type=click.Path(file_okay=False), default="fspg-docs")
@click.option("--verify", is_flag=True, help="Rebuild every stored training set to show whether it is still identical.")
@json_option
@click.pass_context
def docs_build(ctx: click.Context, path: str, verify: bool, as_json: bool) -> None:
    """Write the catalog site into PATH: an index with search by name, tag, owner and
    entity; a page per feature view (versions and their diff, freshness, rows, ingest
    timeline, histograms with drift and skew, PSI), service, training set and model; the
    lineage graph. Opens from the file system, offline."""
    built = store(ctx).build_docs(path, verify=verify)
    emit_one({"path": built.path, "pages": built.pages, "views": built.views, "seconds": round(built.seconds, 2)},
             as_json, f"wrote {built.pages} pages to {built.path}/index.html in {built.seconds:.1f} s")


@click.command()
@click.option("--port", type=int, default=8765, show_default=True, help="Port on 127.0.0.1.")
@click.option("--path", type=click.Path(file_okay=False), default="fspg-docs", show_default=True,
              help="Where the site is built.")
@click.pass_context
def ui(ctx: click.Context, port: int, path: str) -> None:
    """Build the catalog site and serve it on http://127.0.0.1:PORT until Ctrl-C.
    Rebuild with fspg docs build (a reload shows it)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    built = store(ctx).build_docs(path)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=built.path)
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        click.echo(f"fspg: the catalog is at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", err=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


COMMANDS = [docs, ui]

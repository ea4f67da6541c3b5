"""The catalog site: ``fspg docs build DIR`` writes it, ``fspg ui`` serves it.

``data`` reads the catalog (one call to ``fs.site_catalog``), ``charts`` and ``lineage``
draw the pictures as SVG with matplotlib and networkx (nothing fetched when a page is
viewed: the site opens from a file:// path offline), ``pages`` renders the HTML with
Jinja2, ``build`` writes the files, ``notebook`` gives results an HTML face in Jupyter.
"""

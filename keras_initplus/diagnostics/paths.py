"""Report rows keyed by layer path: repeats told apart, lookups by path
or short name. The paths themselves come from
`keras_initplus.introspection.paths`.
"""


def unique_paths(paths):
    """The paths with a `#2`, `#3`... appended to later repeats (a layer
    called more than once has one row per call)."""
    seen = {}
    out = []
    for path in paths:
        seen[path] = seen.get(path, 0) + 1
        out.append(path if seen[path] == 1 else f"{path}#{seen[path]}")
    return out


def find_row(rows, key, path_of, name_of, what):
    """The row whose path is `key`, else the only row named `key`.

    Raises KeyError naming the matching paths when the short name is
    shared by several layers, or listing the paths when nothing matches.
    """
    for row in rows:
        if path_of(row) == key:
            return row
    hits = [row for row in rows if name_of(row) == key]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise KeyError(
            f"{key!r} is the name of {len(hits)} layers in the {what}; "
            f"look one up by its path: {[path_of(r) for r in hits]}"
        )
    raise KeyError(
        f"No layer with path or name {key!r} in the {what}. Paths: "
        f"{[path_of(r) for r in rows]}"
    )

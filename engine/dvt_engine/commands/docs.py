"""docs generate / docs serve: manifest.json + catalog.json + a self-contained index.html.

The catalog comes from each adapter's information_schema (list relations, get columns),
one query per (connection, database, schema), so models on several targets and sources
on several connections all appear. index.html embeds the manifest and catalog as JSON
and renders them with inline JS/CSS: no CDN, it works offline and from file://.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import webbrowser
from collections import defaultdict
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from dvt_engine import artifacts
from dvt_engine.adapters import Adapter, Relation
from dvt_engine.commands.base import announce_found, select_ids
from dvt_engine.commands.compile import COMPILE_TYPES
from dvt_engine.errors import DvtError, ProjectError
from dvt_engine.events import Concurrency
from dvt_engine.execution.context import ExecutionContext
from dvt_engine.invocation import Invocation
from dvt_engine.manifest import Node
from dvt_engine.results import EXIT_OK, InfoResult

CATALOG_SCHEMA = "https://schemas.getdbt.com/dbt/catalog/v1.json"
CATALOG_TYPES = ("model", "seed", "snapshot")
_NO_STATS = {"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": False,
                           "include": False,
                           "description": "Indicates whether there are statistics for this "
                                          "table"}}


def run(inv: Invocation) -> InfoResult:
    if inv.options.action == "serve":
        return serve(inv)
    return generate(inv)


# -- generate -----------------------------------------------------------------------------
def generate(inv: Invocation) -> InfoResult:
    events = inv.events
    started = time.perf_counter()
    manifest = inv.manifest
    announce_found(inv)
    compiled: dict[str, str] = {}
    # one selection (so unmatched criteria warn once): compile part of it, catalog all of it
    ids = select_ids(inv, (*COMPILE_TYPES, *CATALOG_TYPES, "source"))
    if not inv.options.no_compile:
        events.log("")
        events.emit(Concurrency(threads=inv.threads, target_name=inv.profile.target_name))
        executor = ExecutionContext(inv)
        for uid in ids:
            node = manifest.nodes.get(uid)
            if node is not None and node.resource_type in COMPILE_TYPES \
                    and not node.is_ephemeral:
                compiled[uid] = executor.compile(node)
    manifest_data = _manifest_data(inv, compiled)
    artifacts.write_json(inv.target_dir / "manifest.json", manifest_data)
    events.log("Building catalog")
    catalog = build_catalog(inv, ids if inv.options.has_selection else None)
    path = (inv.target_dir / "catalog.json").resolve()
    artifacts.write_json(path, catalog)
    write_index(inv.target_dir / "index.html", manifest_data, catalog)
    if inv.options.static:
        write_index(inv.target_dir / "static_index.html", manifest_data, catalog)
    events.log(f"Catalog written to {path}")
    return InfoResult("docs", True, details={"catalog": catalog}, exit_code=EXIT_OK,
                         elapsed=time.perf_counter() - started)


def _manifest_data(inv: Invocation, compiled: dict[str, str]) -> dict[str, Any]:
    try:
        adapter_type: str | None = inv.output().type
    except DvtError:
        adapter_type = None
    data = artifacts.manifest_json(inv.manifest, adapter_type)
    for uid, sql in compiled.items():
        entry = data["nodes"].get(uid)
        if entry is not None:
            entry.update(compiled=True, compiled_code=sql,
                         compiled_path=f"{inv.project.target_path}/compiled/"
                                       f"{entry['package_name']}/{entry['original_file_path']}")
    return data


def build_catalog(inv: Invocation, unique_ids: list[str] | None = None) -> dict[str, Any]:
    """catalog.json in dbt's shape, from every connection the nodes live on."""
    manifest = inv.manifest
    chosen = set(unique_ids) if unique_ids is not None else None
    groups: dict[tuple[str | None, str, str], list[Node]] = defaultdict(list)
    for node in manifest.all_nodes():
        if chosen is not None and node.unique_id not in chosen:
            continue
        if node.resource_type not in (*CATALOG_TYPES, "source") or node.is_ephemeral:
            continue
        conn = node.config.get("connection") if node.resource_type == "source" else node.target
        groups[(conn or None, node.database or "", node.schema or "")].append(node)
    out: dict[str, Any] = {"nodes": {}, "sources": {}}
    errors: list[str] = []
    for (conn, database, schema), nodes in sorted(groups.items(), key=lambda kv: str(kv[0])):
        try:
            adapter = inv.adapter(conn)
            found = {r.identifier.lower(): r for r in
                     adapter.list_relations_uncached(database or adapter.database, schema)
                     if r.identifier}
            for node in nodes:
                ident = (node.identifier if node.resource_type == "source"
                         else node.alias) or node.name
                rel = found.get(ident.lower())
                if rel is None:
                    continue
                key = "sources" if node.resource_type == "source" else "nodes"
                out[key][node.unique_id] = _catalog_entry(adapter, node, rel)
        except DvtError as exc:
            errors.append(f"{conn or 'default target'} {database}.{schema}: {exc.message}")
    return {"metadata": artifacts.metadata(CATALOG_SCHEMA, _adapter_type(inv)),
            "nodes": out["nodes"], "sources": out["sources"],
            "errors": errors or None}


def _adapter_type(inv: Invocation) -> str | None:
    try:
        return inv.output().type
    except DvtError:
        return None


def _catalog_entry(adapter: Adapter, node: Node, rel: Relation) -> dict[str, Any]:
    columns = {}
    for i, col in enumerate(adapter.get_columns(rel), start=1):
        columns[col.name] = {"type": col.native_type.upper(), "index": i, "name": col.name,
                             "comment": None}
    return {
        "metadata": {"type": "VIEW" if rel.type == "view" else "BASE TABLE",
                     "schema": rel.schema, "name": rel.identifier, "database": rel.database,
                     "comment": None, "owner": None},
        "columns": columns,
        "stats": _NO_STATS,
        "unique_id": node.unique_id,
    }


# -- index.html ---------------------------------------------------------------------------
def _embed(data: Any) -> str:
    # "<" escaped keeps `</script>` inside SQL or descriptions from closing the tag
    return json.dumps(data, default=str).replace("<", "\\u003c")


def write_index(path: Path, manifest: dict[str, Any], catalog: dict[str, Any]) -> None:
    # macros are most of a manifest and the page does not show them
    slim = {k: v for k, v in manifest.items() if k not in ("macros", "child_map")}
    html = (_INDEX_HTML.replace("__MANIFEST__", _embed(slim))
            .replace("__CATALOG__", _embed(catalog))
            .replace("__TITLE__", _html_text(str(manifest["metadata"].get("project_name")))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__ docs - DVT</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2933;
display:flex;height:100vh}
nav{width:300px;border-right:1px solid #d9e2ec;overflow:auto;background:#f5f7fa;flex:none}
nav h1{font-size:16px;margin:12px}
nav input{margin:0 12px 8px;width:calc(100% - 24px);box-sizing:border-box;padding:5px}
nav h2{font-size:12px;text-transform:uppercase;color:#627d98;margin:12px 12px 4px}
nav a{display:block;padding:2px 12px 2px 20px;color:#243b53;text-decoration:none;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
nav a:hover,nav a.sel{background:#d9e2ec}
main{flex:1;overflow:auto;padding:16px 28px}
main h2{margin:0 0 4px}.muted{color:#627d98}
table{border-collapse:collapse;margin:8px 0 16px;min-width:50%}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:left;vertical-align:top}
pre{background:#f0f4f8;padding:10px;overflow:auto;border-radius:4px}
.tabs button{border:1px solid #bcccdc;background:#fff;padding:3px 10px;cursor:pointer}
.tabs button.on{background:#243b53;color:#fff}
.deps a{margin-right:10px;cursor:pointer;color:#2680c2}
</style></head>
<body>
<nav><h1 id="title"></h1><input id="q" placeholder="Search" aria-label="Search">
<div id="list"></div></nav>
<main id="main"><p class="muted">Select a model, seed, snapshot or source.</p></main>
<script id="dvt-manifest" type="application/json">__MANIFEST__</script>
<script id="dvt-catalog" type="application/json">__CATALOG__</script>
<script>
(function(){
"use strict";
var M=JSON.parse(document.getElementById("dvt-manifest").textContent);
var C=JSON.parse(document.getElementById("dvt-catalog").textContent);
var all={};
Object.keys(M.nodes||{}).forEach(function(k){all[k]=M.nodes[k];});
Object.keys(M.sources||{}).forEach(function(k){all[k]=M.sources[k];});
var groups=[["model","Models"],["seed","Seeds"],["snapshot","Snapshots"],
["source","Sources"],["analysis","Analyses"],["test","Data tests"]];
function el(tag,text,cls){var e=document.createElement(tag);
if(text!=null)e.textContent=text;if(cls)e.className=cls;return e;}
function label(n){return n.resource_type==="source"?n.source_name+"."+n.name:n.name;}
function cat(id){return (C.nodes||{})[id]||(C.sources||{})[id]||null;}
document.getElementById("title").textContent=(M.metadata||{}).project_name||"project";
function drawList(){
var q=document.getElementById("q").value.toLowerCase();var list=document.getElementById("list");
list.textContent="";
groups.forEach(function(g){
var ids=Object.keys(all).filter(function(k){var n=all[k];
return n.resource_type===g[0]&&(!q||label(n).toLowerCase().indexOf(q)>=0);}).sort(
function(a,b){return label(all[a]).localeCompare(label(all[b]));});
if(!ids.length)return;list.appendChild(el("h2",g[1]+" ("+ids.length+")"));
ids.forEach(function(id){var a=el("a",label(all[id]));a.href="#"+encodeURIComponent(id);
a.title=id;if(location.hash.slice(1)===encodeURIComponent(id))a.className="sel";
list.appendChild(a);});});}
function link(id){var a=el("a",all[id]?label(all[id]):id);a.href="#"+encodeURIComponent(id);
return a;}
function show(id){
var n=all[id];var main=document.getElementById("main");main.textContent="";
if(!n){main.appendChild(el("p","Select a model, seed, snapshot or source.","muted"));return;}
var c=cat(id);main.appendChild(el("h2",label(n)));
main.appendChild(el("div",n.resource_type+" \u00b7 "+id,"muted"));
var rel=[n.database,n.schema,n.resource_type==="source"?n.identifier:(n.alias||n.name)]
.filter(Boolean).join(".");
main.appendChild(el("p","Relation: "+rel+(c?" ("+c.metadata.type+")":" (not built)")));
if(n.description)main.appendChild(el("p",n.description));
var cols={};Object.keys(n.columns||{}).forEach(function(k){cols[k.toLowerCase()]=
{name:k,type:n.columns[k].data_type||"",desc:n.columns[k].description||""};});
if(c)Object.keys(c.columns).forEach(function(k){var e=cols[k.toLowerCase()]||
{name:k,desc:""};e.type=c.columns[k].type;e.index=c.columns[k].index;
cols[k.toLowerCase()]=e;});
var keys=Object.keys(cols).sort(function(a,b){return (cols[a].index||1e9)-(cols[b].index||1e9);});
if(keys.length){main.appendChild(el("h3","Columns"));var t=el("table");
var h=el("tr");["Column","Type","Description"].forEach(function(x){h.appendChild(el("th",x));});
t.appendChild(h);keys.forEach(function(k){var r=el("tr");r.appendChild(el("td",cols[k].name));
r.appendChild(el("td",cols[k].type||""));r.appendChild(el("td",cols[k].desc||""));
t.appendChild(r);});main.appendChild(t);}
var parents=(M.parent_map||{})[id]||[];var kids=Object.keys(M.parent_map||{}).filter(
function(k){return (M.parent_map[k]||[]).indexOf(id)>=0;});
[["Depends on",parents],["Referenced by",kids]].forEach(function(p){if(!p[1].length)return;
main.appendChild(el("h3",p[0]));var d=el("div",null,"deps");
p[1].forEach(function(x){d.appendChild(link(x));});main.appendChild(d);});
if(n.raw_code||n.compiled_code){main.appendChild(el("h3","Code"));
var tabs=el("div",null,"tabs");var pre=el("pre");
var codes=[["Source",n.raw_code],["Compiled",n.compiled_code]].filter(function(x){return x[1];});
codes.forEach(function(x,i){var b=el("button",x[0]);b.onclick=function(){pre.textContent=x[1];
Array.prototype.forEach.call(tabs.children,function(y){y.className="";});b.className="on";};
if(i===0){b.className="on";pre.textContent=x[1];}tabs.appendChild(b);});
main.appendChild(tabs);main.appendChild(pre);}}
function route(){drawList();show(decodeURIComponent(location.hash.slice(1)));}
document.getElementById("q").oninput=drawList;window.onhashchange=route;route();
})();
</script>
</body></html>
"""


# -- serve --------------------------------------------------------------------------------
class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without writing a line per request to stderr (nothing in the engine
    prints)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8080
                ) -> ThreadingHTTPServer:
    """An HTTP server over `directory`; port 0 picks a free port (server.server_port)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    return ThreadingHTTPServer((host, port), handler)


def serve(inv: Invocation) -> InfoResult:
    target = inv.target_dir
    if not (target / "index.html").is_file():
        raise ProjectError(f"No docs site in {target}",
                           hint="Run `dvt docs generate` first.")
    host = str(inv.options.host or "127.0.0.1")
    try:
        server = make_server(target, host, int(inv.options.port))
    except OSError as exc:
        raise ProjectError(f"Cannot serve docs on {host}:{inv.options.port}: {exc.strerror}",
                           hint="Pick another port with --port.") from None
    port = server.server_port
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    events = inv.events
    events.log(f"Serving docs at {port}")
    events.log(f"To access from your browser, navigate to: {url}")
    events.log("")
    events.log("")
    events.log("Press Ctrl+C to exit.")
    if not inv.options.no_browser:
        # no browser here is fine: the URL is printed above
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open_new_tab(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return InfoResult("docs", True, exit_code=EXIT_OK)

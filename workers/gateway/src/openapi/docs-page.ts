/**
 * /docs: a self-contained API reference rendered in the browser from /openapi.json (no external
 * scripts or fonts, so it works offline and under a strict CSP).
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>comfy-edge API reference</title>
<style>
  :root { --fg:#1d2330; --muted:#5b6475; --line:#e3e6ec; --bg:#fff; --code:#f5f6f8; --accent:#3b5bdb; }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.5 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; color:var(--fg); background:var(--bg); }
  header { padding:20px 28px; border-bottom:1px solid var(--line); display:flex; gap:16px; align-items:center; flex-wrap:wrap; }
  header h1 { font-size:20px; margin:0; }
  header p { margin:0; color:var(--muted); flex:1 1 320px; }
  #filter { padding:8px 10px; border:1px solid var(--line); border-radius:6px; min-width:240px; font:inherit; }
  main { display:grid; grid-template-columns: 260px 1fr; min-height: calc(100vh - 80px); }
  nav { border-right:1px solid var(--line); padding:16px; position:sticky; top:0; align-self:start; max-height:100vh; overflow:auto; }
  nav h3 { font-size:12px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); margin:16px 0 6px; }
  nav a { display:block; color:var(--fg); text-decoration:none; padding:2px 0; font-size:13px; word-break:break-all; }
  nav a:hover { color:var(--accent); }
  #ops { padding:8px 28px 40px; max-width: 1000px; }
  .op { border:1px solid var(--line); border-radius:8px; margin:14px 0; }
  .op > button { all:unset; cursor:pointer; display:flex; gap:10px; align-items:center; padding:10px 14px; width:100%; box-sizing:border-box; }
  .op > button:focus-visible { outline:2px solid var(--accent); }
  .method { font:600 12px ui-monospace, monospace; padding:2px 8px; border-radius:4px; color:#fff; min-width:58px; text-align:center; }
  .get{background:#2b8a3e}.post{background:#1971c2}.patch{background:#e8590c}.put{background:#9c36b5}.delete{background:#c92a2a}
  .path { font-family: ui-monospace, monospace; font-size:14px; }
  .summary { color:var(--muted); margin-left:auto; text-align:right; }
  .details { display:none; padding:0 14px 14px; border-top:1px solid var(--line); }
  .op.open .details { display:block; }
  h4 { margin:14px 0 6px; font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
  pre { background:var(--code); padding:10px; border-radius:6px; overflow:auto; font-size:12.5px; margin:0; }
  table { border-collapse:collapse; width:100%; font-size:13.5px; }
  td, th { border-bottom:1px solid var(--line); padding:4px 6px; text-align:left; vertical-align:top; }
  .badge { font-size:12px; border:1px solid var(--line); border-radius:10px; padding:1px 8px; color:var(--muted); }
  #status { padding:20px 28px; color:var(--muted); }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } nav { display:none; } }
</style>
</head>
<body>
<header>
  <h1>comfy-edge API</h1>
  <p id="desc">Loading the OpenAPI document…</p>
  <input id="filter" type="search" placeholder="Filter by path or summary" aria-label="Filter operations">
  <a href="/openapi.json">openapi.json</a>
</header>
<main>
  <nav id="nav" aria-label="Operations"></nav>
  <section>
    <div id="status" role="status"></div>
    <div id="ops"></div>
  </section>
</main>
<script>
(function () {
  var opsEl = document.getElementById("ops");
  var navEl = document.getElementById("nav");
  var statusEl = document.getElementById("status");
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function lookup(doc, ref) {
    if (ref.indexOf("#/") !== 0) return undefined;
    return ref.slice(2).split("/").reduce(function (node, key) {
      return node === undefined || node === null ? undefined : node[key.replace(/~1/g, "/").replace(/~0/g, "~")];
    }, doc);
  }
  // Inlines every $ref (a schema that refers to itself is shown by name), so no reader meets a bare pointer.
  function inline(doc, node, names) {
    if (Array.isArray(node)) return node.map(function (n) { return inline(doc, n, names); });
    if (!node || typeof node !== "object") return node;
    if (typeof node.$ref === "string") {
      var name = node.$ref.split("/").pop();
      if (names.indexOf(name) >= 0) return "(recursive: " + name + ")";
      var target = lookup(doc, node.$ref);
      if (target === undefined) return "(missing schema " + name + ")";
      return inline(doc, target, names.concat([name]));
    }
    var out = {};
    Object.keys(node).forEach(function (k) { out[k] = inline(doc, node[k], names); });
    return out;
  }
  function resolve(doc, schema) {
    return JSON.stringify(inline(doc, schema, []), null, 2);
  }
  function headerTable(headers) {
    var t = el("table", { class: "headers" }, [el("tr", {}, [el("th", { text: "header" }), el("th", { text: "always" }), el("th", { text: "description" })])]);
    Object.keys(headers).forEach(function (name) {
      var h = headers[name];
      t.appendChild(el("tr", {}, [el("td", { text: name }), el("td", { text: h.required ? "yes" : "no" }), el("td", { text: h.description || "" })]));
    });
    return t;
  }
  function render(doc) {
    document.getElementById("desc").textContent = doc.info.description || "";
    document.title = doc.info.title + " " + doc.info.version;
    var byTag = {};
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var tag = (op.tags && op.tags[0]) || "Other";
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    Object.keys(byTag).forEach(function (tag) {
      navEl.appendChild(el("h3", { text: tag }));
      opsEl.appendChild(el("h2", { text: tag, id: "tag-" + tag }));
      byTag[tag].forEach(function (item) {
        var id = item.op.operationId;
        navEl.appendChild(el("a", { href: "#" + id, text: item.method.toUpperCase() + " " + item.path }));
        var details = el("div", { class: "details" });
        if (item.op.description) details.appendChild(el("p", { text: item.op.description }));
        var auth = (item.op.security || []).map(function (s) { return Object.keys(s)[0]; }).join(", ") || "none";
        details.appendChild(el("p", {}, [el("span", { class: "badge", text: "auth: " + auth + (item.op["x-required-scope"] ? " (scope " + item.op["x-required-scope"] + ")" : "") })]));
        var params = item.op.parameters || [];
        if (params.length) {
          details.appendChild(el("h4", { text: "Parameters" }));
          var t = el("table", {}, [el("tr", {}, [el("th", { text: "name" }), el("th", { text: "in" }), el("th", { text: "required" }), el("th", { text: "schema" })])]);
          params.forEach(function (p) {
            t.appendChild(el("tr", {}, [el("td", { text: p.name }), el("td", { text: p.in }), el("td", { text: p.required ? "yes" : "no" }), el("td", { text: JSON.stringify(inline(doc, p.schema, [])) })]));
          });
          details.appendChild(t);
        }
        if (item.op.requestBody) {
          details.appendChild(el("h4", { text: "Request body" }));
          var media = item.op.requestBody.content["application/json"];
          details.appendChild(el("p", { text: item.op.requestBody.required ? "required" : "optional" }));
          details.appendChild(el("pre", { text: resolve(doc, media.schema) }));
          if (media.example !== undefined) {
            details.appendChild(el("h4", { text: "Example" }));
            details.appendChild(el("pre", { class: "example", text: JSON.stringify(media.example, null, 2) }));
          }
        }
        details.appendChild(el("h4", { text: "Responses" }));
        Object.keys(item.op.responses).forEach(function (status) {
          var r = item.op.responses[status];
          var types = Object.keys(r.content || {});
          details.appendChild(el("p", { text: status + " — " + r.description + (types.length ? " (" + types.join(", ") + ")" : "") }));
          var content = r.content && r.content[types[0]];
          if (content && content.schema && status < 300) details.appendChild(el("pre", { text: resolve(doc, content.schema) }));
          if (r.headers && Object.keys(r.headers).length) details.appendChild(headerTable(r.headers));
        });
        var button = el("button", { "aria-expanded": "false" }, [
          el("span", { class: "method " + item.method, text: item.method.toUpperCase() }),
          el("span", { class: "path", text: item.path }),
          el("span", { class: "summary", text: item.op.summary || "" }),
        ]);
        var box = el("div", { class: "op", id: id, "data-search": (item.method + " " + item.path + " " + (item.op.summary || "")).toLowerCase() }, [button, details]);
        button.addEventListener("click", function () {
          var open = box.classList.toggle("open");
          button.setAttribute("aria-expanded", String(open));
        });
        opsEl.appendChild(box);
      });
    });
    var schemas = (doc.components && doc.components.schemas) || {};
    if (Object.keys(schemas).length) {
      opsEl.appendChild(el("h2", { text: "Schemas", id: "schemas" }));
      Object.keys(schemas).forEach(function (name) {
        opsEl.appendChild(el("div", { class: "op open", id: "schema-" + name }, [el("div", { class: "details" }, [el("h4", { text: name }), el("pre", { text: resolve(doc, schemas[name]) })])]));
      });
    }
    statusEl.textContent = Object.keys(doc.paths).length + " paths";
  }
  document.getElementById("filter").addEventListener("input", function (e) {
    var q = e.target.value.toLowerCase();
    document.querySelectorAll(".op[data-search]").forEach(function (op) {
      op.style.display = op.getAttribute("data-search").indexOf(q) >= 0 ? "" : "none";
    });
  });
  fetch("/openapi.json").then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(render).catch(function (err) {
    statusEl.textContent = "Could not load /openapi.json: " + err.message;
  });
})();
</script>
</body>
</html>
`;

// onnxinspect's HTML report: draws the charts and the paged, sortable, filterable tables
// from the JSON in #oi-data.  Every cell is set with textContent: names are never markup.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("oi-data").textContent);
  const PAGE = 100;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // Charts: Vega-Lite specs, compiled and drawn as SVG by vega-embed.
  const drawn = Object.keys(D.charts).map(function (id) {
    return vegaEmbed("#chart-" + id, D.charts[id], {renderer: "svg", actions: false});
  });
  Promise.all(drawn).then(function () {
    document.body.setAttribute("data-charts", "drawn");
    window.onnxinspectDrawnMs = performance.now();
  }, function (err) { console.error("chart failed: " + err); });

  // Tables: columns [{label, text, sort, num}] index into each row array.
  function table(spec) {
    const root = document.getElementById(spec.id);
    const filter = root.querySelector("input.oi-filter");
    const info = root.querySelector(".oi-info");
    const head = root.querySelector("thead tr");
    const body = root.querySelector("tbody");
    const cols = spec.columns;
    let rows = spec.rows.slice();
    let page = 0, sortCol = -1, dir = 1;

    cols.forEach(function (c, i) {
      const th = el("th", c.label, c.num ? "num" : "");
      th.setAttribute("data-col", i);
      th.title = "sort";
      th.addEventListener("click", function () { sortBy(i); });
      head.appendChild(th);
    });

    function key(row, c) { return row[c.sort === undefined ? c.text : c.sort]; }

    function sortBy(i) {
      dir = sortCol === i ? -dir : (cols[i].num ? -1 : 1);
      sortCol = i;
      const c = cols[i];
      rows.sort(function (a, b) {
        const x = key(a, c), y = key(b, c);
        if (x === y) return 0;
        if (x === null) return 1;          // unknown values last, either way
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      });
      head.querySelectorAll("th").forEach(function (th, j) {
        th.setAttribute("aria-sort", j === i ? (dir > 0 ? "ascending" : "descending") : "none");
      });
      page = 0;
      draw();
    }

    function apply() {
      const q = filter.value.trim().toLowerCase();
      rows = spec.rows.filter(function (r) {
        return !q || spec.search.some(function (j) { return String(r[j]).toLowerCase().indexOf(q) >= 0; });
      });
      if (sortCol >= 0) { dir = -dir; sortBy(sortCol); } else { page = 0; draw(); }
    }

    function draw() {
      const frag = document.createDocumentFragment();
      const start = page * PAGE, end = Math.min(rows.length, start + PAGE);
      for (let r = start; r < end; r++) {
        const tr = document.createElement("tr");
        cols.forEach(function (c) { tr.appendChild(el("td", rows[r][c.text], c.num ? "num" : c.cls)); });
        frag.appendChild(tr);
      }
      body.replaceChildren(frag);
      info.textContent = rows.length ? (start + 1) + "–" + end + " of " + rows.length
        + (rows.length < spec.rows.length ? " (filtered from " + spec.rows.length + ")" : "") : "no rows";
      root.querySelector(".oi-prev").disabled = page === 0;
      root.querySelector(".oi-next").disabled = end >= rows.length;
    }

    filter.addEventListener("input", apply);
    root.querySelector(".oi-prev").addEventListener("click", function () { page--; draw(); });
    root.querySelector(".oi-next").addEventListener("click", function () { page++; draw(); });
    draw();
  }
  D.tables.forEach(table);

  // The layer tree: a layer opens onto its nodes, filled in when first opened.
  const tree = document.getElementById("oi-layers");
  if (tree && D.layers) {
    const byIndex = {};
    D.nodes.forEach(function (n) { byIndex[n[0]] = n; });
    let shown = 0;
    const more = el("button", "", "oi-more");
    function grow() {
      const frag = document.createDocumentFragment();
      const end = Math.min(D.layers.length, shown + 200);
      for (let i = shown; i < end; i++) {
        const layer = D.layers[i];
        const d = el("details");
        const s = el("summary");
        s.appendChild(el("span", layer[0], "oi-name"));
        s.appendChild(el("span", layer[1], "oi-ops"));
        s.appendChild(el("span", layer[2] + " params", "oi-fig"));
        s.appendChild(el("span", layer[3] + " FLOPs", "oi-fig"));
        s.appendChild(el("span", layer[4], "oi-fig"));
        d.appendChild(s);
        d.addEventListener("toggle", function () {
          if (!d.open || d.childNodes.length > 1) return;
          const ul = el("ul");
          layer[5].forEach(function (idx) {
            const n = byIndex[idx];
            ul.appendChild(el("li", "#" + n[0] + " " + n[1] + " (" + n[2] + ")  " + n[3]
              + "  params " + n[4] + "  FLOPs " + n[6]));
          });
          d.appendChild(ul);
        });
        frag.appendChild(d);
      }
      shown = end;
      tree.insertBefore(frag, more);
      more.textContent = "show " + Math.min(200, D.layers.length - shown) + " more of "
        + (D.layers.length - shown) + " layers";
      more.hidden = shown >= D.layers.length;
    }
    more.addEventListener("click", grow);
    tree.appendChild(more);
    grow();
  }
})();

/* Devora dashboard: polls api/dashboard?window=... and renders every section.
 *
 * Plain browser JavaScript, no build step. Charts are uPlot (static/vendor/uplot, MIT).
 * Data is only ever put into the page as text (textContent, bidi controls made visible),
 * never as HTML.
 * window.devoraDashboard exposes the chart instances and the last data, for tests.
 */
(function () {
  "use strict";

  var body = document.body;
  var state = {
    window: body.getAttribute("data-window") || "1h",
    refreshMs: Math.max(1000, Number(body.getAttribute("data-refresh-ms")) || 5000),
    timer: null,
    loading: false,
    queued: false,
    data: null,
    charts: {},
    signatures: {},
    updates: 0,
  };
  window.devoraDashboard = { state: state, charts: state.charts, refresh: refresh };

  /* --- small helpers ------------------------------------------------------------- */

  /* Explicit bidi controls (U+202A-U+202E, U+2066-U+2069) in a name would reorder the text
   * that follows it on the same line (an alert's numbers, a budget's action): every text
   * shows them as visible code points instead. */
  var BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

  function shown(value) {
    return String(value).replace(BIDI_CONTROLS, function (c) {
      return "[U+" + c.charCodeAt(0).toString(16).toUpperCase() + "]";
    });
  }

  function el(tag, options, children) {
    var node = document.createElement(tag);
    options = options || {};
    if (options.className) node.className = options.className;
    if (options.text !== undefined && options.text !== null) node.textContent = shown(options.text);
    Object.keys(options.attrs || {}).forEach(function (name) {
      node.setAttribute(name, options.attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function isNum(v) {
    return typeof v === "number" && isFinite(v);
  }

  var compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  var whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

  var fmt = {
    int: function (v) { return isNum(v) ? whole.format(v) : "–"; },
    compact: function (v) { return isNum(v) ? compact.format(v) : "–"; },
    pct: function (v) {
      if (!isNum(v)) return "–";
      var p = v * 100;
      return (p !== 0 && Math.abs(p) < 10 ? p.toFixed(2) : p.toFixed(1)) + "%";
    },
    usd: function (v) {
      if (!isNum(v)) return "–";
      var a = Math.abs(v);
      var digits = a >= 100 ? 0 : a >= 1 ? 2 : a >= 0.01 ? 3 : a === 0 ? 2 : 5;
      return (v < 0 ? "-$" : "$") + a.toFixed(digits);
    },
    ms: function (v) {
      if (!isNum(v)) return "–";
      return v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(v < 10 ? 1 : 0) + " ms";
    },
    num: function (v) {
      if (!isNum(v)) return "–";
      return Math.abs(v) >= 100 ? whole.format(v) : v.toPrecision(3);
    },
    p: function (v) {
      if (!isNum(v)) return "–";
      return v < 0.001 ? "<0.001" : v.toFixed(3);
    },
    when: function (iso) {
      if (!iso) return "–";
      var d = new Date(iso);
      return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
    },
  };

  function valueFormatter(metric) {
    var m = String(metric || "");
    if (m.indexOf("rate") >= 0) return fmt.pct;
    if (m.indexOf("latency") >= 0 || m.slice(-3) === "_ms") return fmt.ms;
    if (m.indexOf("cost") >= 0) return fmt.usd;
    return fmt.num;
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function withAlpha(color, alpha) {
    var m = /^#([0-9a-f]{6})$/i.exec(color);
    if (!m) return color;
    var n = parseInt(m[1], 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function badge(status, text) {
    return el("span", { className: "badge", text: text || status, attrs: { "data-status": status || "unknown" } });
  }

  function table(headers, rows, numeric) {
    numeric = numeric || [];
    var head = el("tr", {}, headers.map(function (h, i) {
      return el("th", { text: h, className: numeric.indexOf(i) >= 0 ? "num" : "", attrs: { scope: "col" } });
    }));
    var bodyRows = rows.map(function (cells) {
      return el("tr", {}, cells.map(function (cell, i) {
        var td = el("td", { className: numeric.indexOf(i) >= 0 ? "num" : "" });
        if (cell instanceof Node) td.appendChild(cell);
        else td.textContent = cell === null || cell === undefined ? "–" : shown(cell);
        return td;
      }));
    });
    return el("div", { className: "table-wrap" }, [
      el("table", { className: "table" }, [el("thead", {}, [head]), el("tbody", {}, bodyRows)]),
    ]);
  }

  function empty(text) {
    return el("p", { className: "empty", text: text });
  }

  function failed(section) {
    return section && typeof section === "object" && !Array.isArray(section) && section.error;
  }

  /* --- fetching ------------------------------------------------------------------ */

  function request(path, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    if (options.method === "POST") headers["X-Requested-With"] = "devora-dashboard";
    return fetch(path, { method: options.method || "GET", credentials: "same-origin", headers: headers })
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = "login";
          throw new Error("login required");
        }
        return response.json().then(function (data) {
          if (!response.ok) throw new Error((data && data.error) || "HTTP " + response.status);
          return data;
        });
      });
  }

  function setStatus(text, isError) {
    var status = byId("status");
    status.textContent = shown(text);
    status.setAttribute("data-error", isError ? "true" : "false");
  }

  function schedule() {
    clearTimeout(state.timer);
    if (!document.hidden) state.timer = setTimeout(refresh, state.refreshMs);
  }

  function refresh() {
    if (state.loading) {
      state.queued = true;
      return Promise.resolve();
    }
    state.loading = true;
    clearTimeout(state.timer);
    var wanted = state.window;
    return request("api/dashboard?window=" + encodeURIComponent(wanted))
      .then(function (data) {
        state.data = data;
        render(data);
        state.updates += 1;
        body.setAttribute("data-updates", String(state.updates));
        body.setAttribute("data-loaded-window", data.window);
        setStatus("Updated " + new Date().toLocaleTimeString() + " · every " + state.refreshMs / 1000 + " s");
      })
      .catch(function (error) {
        setStatus("Could not update: " + error.message, true);
      })
      .then(function () {
        state.loading = false;
        if (state.queued || wanted !== state.window) {
          state.queued = false;
          return refresh();
        }
        schedule();
      });
  }

  /* --- rendering ----------------------------------------------------------------- */

  function render(data) {
    renderWindows(data.windows, data.window);
    renderOverall(data.health);
    renderCards(data.overview);
    renderCharts(data.timeseries, data.cost_history);
    renderCosts(data.costs);
    renderRouting(data.routing);
    renderExperiments(data.experiments);
    renderAlerts(data.alerts);
    renderHealth(data.health);
  }

  function renderWindows(windows, chosen) {
    var select = byId("window");
    if (!Array.isArray(windows)) return;
    var current = Array.prototype.map.call(select.options, function (o) { return o.value; });
    if (current.join(",") !== windows.join(",")) {
      clear(select);
      windows.forEach(function (w) { select.appendChild(el("option", { text: w, attrs: { value: w } })); });
    }
    select.value = chosen;
  }

  function renderOverall(health) {
    var node = byId("overall");
    var status = failed(health) ? "unknown" : health.overall_status;
    node.setAttribute("data-status", status);
    node.textContent = status;
  }

  function card(key, label, value, sub) {
    return el("div", { className: "card", attrs: { "data-card": key } }, [
      el("span", { className: "card-label", text: label }),
      el("strong", { className: "card-value", text: value }),
      el("span", { className: "card-sub", text: sub || "" }),
    ]);
  }

  function renderCards(overview) {
    var root = clear(byId("cards"));
    if (failed(overview)) return root.appendChild(empty("Overview unavailable: " + overview.error));
    var o = overview.overview;
    var lat = o.latency_ms || {};
    var ttft = o.time_to_first_token_ms || {};
    var tokens = o.tokens || {};
    [
      card("requests", "Requests", fmt.int(o.total_requests), fmt.num(o.requests_per_second) + " per second"),
      card("success", "Success rate", fmt.pct(o.success_rate), fmt.int(o.failed_requests) + " failed"),
      card("latency", "Latency P95", fmt.ms(lat.p95), "P50 " + fmt.ms(lat.p50) + " · P99 " + fmt.ms(lat.p99)),
      card("ttft", "Time to first token P95", fmt.ms(ttft.p95), "P50 " + fmt.ms(ttft.p50) + " · P99 " + fmt.ms(ttft.p99)),
      card("cost", "Total cost", fmt.usd(o.total_cost), fmt.usd(o.cost_per_request) + " per request"),
      card("cache", "Cache hit rate", fmt.pct(o.cache_hit_rate), fmt.usd(o.saved_cost) + " saved"),
      card("tokens", "Tokens", fmt.compact(tokens.total), fmt.compact(tokens.input) + " in · " + fmt.compact(tokens.output) + " out"),
    ].forEach(function (node) { root.appendChild(node); });
  }

  /* --- charts -------------------------------------------------------------------- */

  var PALETTE = ["--s1", "--s2", "--s3", "--s4", "--s5", "--s6", "--s7"];

  function scaled(values, factor) {
    return (values || []).map(function (v) { return isNum(v) ? v * factor : null; });
  }

  function seriesSpecs(ts, history) {
    var s = (ts && ts.series) || {};
    var t = (ts && ts.t) || [];
    var pct = function (v) { return v.toFixed(v < 10 ? 1 : 0) + "%"; };
    var specs = {
      requests: { y: "requests", format: fmt.compact, x: t, lines: [
        ["Requests", "--s1", s.requests], ["Errors", "--s3", s.errors]] },
      errors: { y: "% of requests", format: pct, x: t, lines: [["Error rate", "--s3", scaled(s.error_rate, 100)]] },
      latency: { y: "ms", format: fmt.compact, x: t, lines: [
        ["P50", "--s1", s.latency_p50], ["P95", "--s2", s.latency_p95], ["P99", "--s3", s.latency_p99]] },
      ttft: { y: "ms", format: fmt.compact, x: t, lines: [
        ["P50", "--s1", s.ttft_p50], ["P95", "--s2", s.ttft_p95], ["P99", "--s3", s.ttft_p99]] },
      cost: { y: "USD", format: fmt.usd, x: t, lines: [["Cost", "--s4", s.cost, { fill: true }]] },
      cache: { y: "% of requests", format: pct, x: t, lines: [["Hit rate", "--s5", scaled(s.cache_hit_rate, 100)]] },
      tokens: { y: "tokens", format: fmt.compact, x: t, lines: Object.keys((ts && ts.tokens_by_model) || {}).map(function (model, i) {
        return [model, PALETTE[i % PALETTE.length], ts.tokens_by_model[model]];
      }) },
      forecast: forecastSpec(history),
    };
    return specs;
  }

  function dayStart(day) {
    var parts = String(day).split("-");
    return Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])) / 1000;
  }

  function forecastSpec(history) {
    history = failed(history) ? {} : history || {};
    var band = history.forecast || null;
    var days = (history.days || []).slice();
    if (band && band.day) band.day.forEach(function (d) { if (days.indexOf(d) < 0) days.push(d); });
    days.sort();
    var pick = function (keys, values) {
      var map = {};
      (keys || []).forEach(function (k, i) { map[k] = values[i]; });
      return days.map(function (d) { return isNum(map[d]) ? map[d] : null; });
    };
    var lines = [["Actual", "--s4", pick(history.days, history.cost || []), { fill: true }]];
    var bands = [];
    if (band && band.day) {
      lines.push(["Forecast", "--s2", pick(band.day, band.point || []), { dash: [6, 4] }]);
      ["0.95", "0.8"].forEach(function (level) {
        var cols = band.levels && band.levels[level];
        if (!cols) return;
        var label = Math.round(Number(level) * 100) + "%";
        var first = lines.length + 1;
        lines.push([label + " high", "--s2", pick(band.day, cols.upper), { width: 1, alpha: 0.35 }]);
        lines.push([label + " low", "--s2", pick(band.day, cols.lower), { width: 1, alpha: 0.35 }]);
        bands.push({ series: [first, first + 1], alpha: level === "0.8" ? 0.22 : 0.12 });
      });
    }
    return { y: "USD per day", format: fmt.usd, x: days.map(dayStart), lines: lines, bands: bands, days: true };
  }

  function chartOptions(spec, width) {
    var muted = cssVar("--muted");
    var grid = cssVar("--grid");
    var axis = {
      stroke: muted,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: "11px system-ui, sans-serif",
      labelFont: "12px system-ui, sans-serif",
    };
    var series = [{ label: spec.days ? "Day" : "Time" }].concat(spec.lines.map(function (line) {
      var extra = line[3] || {};
      var color = cssVar(line[1]);
      var s = { label: shown(line[0]), stroke: color, width: 2, spanGaps: false };
      if (extra.fill) s.fill = withAlpha(color, 0.15);
      if (extra.dash) s.dash = extra.dash;
      if (extra.width) s.width = extra.width;
      if (extra.alpha) s.stroke = withAlpha(color, extra.alpha);
      return s;
    }));
    var opts = {
      width: width,
      height: 200,
      series: series,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: function (u, min, max) { return [Math.min(0, min || 0), max > 0 ? max * 1.1 : 1]; } },
      },
      axes: [
        Object.assign({}, axis, { label: spec.days ? "day" : "time", labelSize: 22 }),
        Object.assign({}, axis, {
          label: spec.y,
          labelSize: 22,
          size: 64,
          values: function (u, splits) { return splits.map(function (v) { return spec.format(v); }); },
        }),
      ],
    };
    if (spec.bands && spec.bands.length) {
      var fillColor = cssVar("--s2");
      opts.bands = spec.bands.map(function (b) {
        return { series: b.series, fill: withAlpha(fillColor, b.alpha) };
      });
    }
    return opts;
  }

  function chartData(spec) {
    return [spec.x].concat(spec.lines.map(function (line) {
      return (line[2] || []).map(function (v) { return isNum(v) ? v : null; });
    }));
  }

  function drawChart(name, spec) {
    var figure = document.querySelector('.chart[data-chart="' + name + '"]');
    if (!figure || typeof uPlot === "undefined") return;
    var plot = figure.querySelector(".plot");
    var signature = spec.lines.map(function (l) { return l[0]; }).join("|") + "#" + (spec.bands || []).length;
    var existing = state.charts[name];
    var data = chartData(spec);
    if (existing && state.signatures[name] === signature) {
      existing.setData(data);
      return;
    }
    if (existing) existing.destroy();
    clear(plot);
    var width = Math.max(260, plot.clientWidth || 400);
    state.charts[name] = new uPlot(chartOptions(spec, width), data, plot);
    state.signatures[name] = signature;
    figure.setAttribute("data-drawn", "true");
  }

  function renderCharts(ts, history) {
    var note = byId("series-note");
    if (failed(ts)) {
      note.textContent = "Time series unavailable: " + shown(ts.error);
      return;
    }
    if (ts.source === "store") {
      note.textContent = fmt.int(ts.records) + " records from the event store in " +
        fmt.int(ts.bucket_seconds) + "-second buckets" + (ts.truncated ? " (the latest only)" : "") + ".";
    } else {
      note.textContent = "No event store: request and error counts from the monitor only.";
    }
    var specs = seriesSpecs(ts, history);
    Object.keys(specs).forEach(function (name) { drawChart(name, specs[name]); });
  }

  function redrawAll() {
    Object.keys(state.charts).forEach(function (name) {
      state.charts[name].destroy();
      delete state.charts[name];
      delete state.signatures[name];
    });
    if (state.data) renderCharts(state.data.timeseries, state.data.cost_history);
  }

  if (typeof ResizeObserver !== "undefined") {
    var resizer = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) {
        var name = entry.target.parentNode.getAttribute("data-chart");
        var chart = state.charts[name];
        var width = Math.floor(entry.contentRect.width);
        if (chart && width > 0 && Math.abs(chart.width - width) > 2) chart.setSize({ width: width, height: 200 });
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".chart .plot"), function (plot) {
      resizer.observe(plot);
    });
  }

  /* --- costs --------------------------------------------------------------------- */

  function costTable(rows) {
    if (!rows || !rows.length) return empty("Nothing spent in this window.");
    return table(["Name", "Cost", "Share", "Requests", "Per request", "P95"], rows.map(function (r) {
      return [r.name, fmt.usd(r.cost), fmt.pct(r.share), fmt.int(r.requests), fmt.usd(r.cost_per_request), fmt.ms(r.latency_p95_ms)];
    }), [1, 2, 3, 4, 5]);
  }

  function budgetCard(b) {
    var used = isNum(b.used) ? b.used : null;
    var fill = el("div", { className: "bar-fill", attrs: { "data-level": used >= 1 ? "bad" : used >= 0.8 ? "warn" : "ok" } });
    fill.style.width = Math.min(100, Math.max(0, (used || 0) * 100)).toFixed(1) + "%";
    var projected = isNum(b.projected) ? "projected " + fmt.usd(b.projected) + " by the end of the period" : "no projection yet";
    if (isNum(b.probability_over_limit)) projected += " · " + fmt.pct(b.probability_over_limit) + " chance of going over";
    var status = b.exceeded ? badge("exceeded", "spent") : b.in_effect ? badge("warning", b.action + " in effect") : badge("ok", "ok");
    return el("div", { className: "budget", attrs: { "data-budget": b.name } }, [
      el("div", { className: "budget-head" }, [el("strong", { text: b.name }), status]),
      el("span", { className: "muted", text: [b.period, b.scope, b.action].filter(Boolean).join(" · ") }),
      el("div", { className: "bar", attrs: { role: "img", "aria-label": fmt.pct(used) + " used" } }, [fill]),
      el("div", { text: fmt.usd(b.spent) + " of " + fmt.usd(b.limit) + " (" + fmt.pct(used) + ") · " + fmt.usd(b.remaining) + " left" }),
      el("div", { className: "muted", text: projected }),
    ]);
  }

  function renderCosts(costs) {
    var ids = { models: "cost-models", providers: "cost-providers", agents: "cost-agents", users: "cost-users" };
    var broken = failed(costs);
    Object.keys(ids).forEach(function (key) {
      var root = clear(byId(ids[key]));
      root.appendChild(broken ? empty("Unavailable: " + costs.error) : costTable((costs.breakdown || {})[key]));
    });
    var budgets = clear(byId("budgets"));
    var list = broken ? [] : costs.budgets;
    if (failed(list)) budgets.appendChild(empty("Budgets unavailable: " + list.error));
    else if (!list || !list.length) budgets.appendChild(empty("No budgets configured."));
    else list.forEach(function (b) { budgets.appendChild(budgetCard(b)); });
    renderForecast(broken ? null : costs.forecast);
    var recs = clear(byId("recommendations"));
    var items = broken ? [] : costs.recommendations;
    if (failed(items)) recs.appendChild(el("li", { text: "Recommendations unavailable: " + items.error }));
    else if (!items || !items.length) recs.appendChild(el("li", { className: "muted", text: "No recommendations." }));
    else items.forEach(function (r) {
      recs.appendChild(el("li", {}, [
        el("strong", { text: r.title || r.kind }),
        el("span", { text: r.estimated_monthly_saving > 0 ? " — saves about " + fmt.usd(r.estimated_monthly_saving) + " a month. " : ". " }),
        el("span", { className: "muted", text: r.action || "" }),
      ]));
    });
  }

  function renderForecast(forecast) {
    var node = byId("forecast-summary");
    if (!forecast) { node.textContent = "No cost tracker: no forecast."; return; }
    if (failed(forecast)) { node.textContent = "Forecast unavailable: " + shown(forecast.error); return; }
    var days = (forecast.days || []).length;
    var interval = (forecast.total_intervals || []).filter(function (i) { return Number(i.level) === 0.8; })[0];
    var text = "Next " + days + " days: " + fmt.usd(forecast.total);
    if (interval) text += " (80%: " + fmt.usd(interval.lower) + " – " + fmt.usd(interval.upper) + ")";
    if (forecast.method) text += " · " + forecast.method;
    if (forecast.notes && forecast.notes.length) text += " · " + forecast.notes.join("; ");
    node.textContent = shown(text);
  }

  /* --- model routing ------------------------------------------------------------- */

  function renderRouting(section) {
    var note = byId("routing-note");
    var cards = clear(byId("routing-cards"));
    var reasons = clear(byId("routing-reasons"));
    var models = clear(byId("routing-models"));
    if (failed(section)) {
      note.textContent = "Routing unavailable: " + shown(section.error);
      return;
    }
    if (!section.decisions) {
      note.textContent = "No routed calls in this window. Route with ai.routing.ModelRouter, " +
        "or a gateway alias of kind: router.";
      return;
    }
    var s = section.savings || {};
    note.textContent = fmt.int(section.decisions) + " calls decided by a router" +
      (section.source === "store" ? ", from the event store" : section.source ? ", from the cost tracker's latest records" : "") +
      (section.truncated ? " (the latest only)" : "") + ".";
    var unpriced = s.unpriced_calls ? " · " + fmt.int(s.unpriced_calls) + " without a price" : "";
    [
      card("routing-routed", "Routed to the cheap model", fmt.int(section.routed_calls),
        fmt.pct(section.routed_share) + " of " + fmt.int(section.decisions) + " decisions"),
      card("routing-cost", "Cost of routed calls", fmt.usd(s.cost), fmt.int(s.routed_calls) + " priced calls" + unpriced),
      card("routing-capable", "On the capable model", fmt.usd(s.cost_if_capable), "what they would have cost"),
      card("routing-saving", "Saving", fmt.usd(s.saving), fmt.pct(s.saving_share) + " of the capable cost"),
    ].forEach(function (node) { cards.appendChild(node); });
    reasons.appendChild(table(["Route", "Complexity", "Why", "Calls", "Share"], (section.by_reason || []).map(function (r) {
      return [r.route, r.complexity, r.reason, fmt.int(r.calls), fmt.pct(r.share)];
    }), [3, 4]));
    models.appendChild(table(["Model", "Calls", "Routed here", "Failed", "Cost"], (section.by_model || []).map(function (m) {
      return [m.model, fmt.int(m.calls), fmt.int(m.routed_calls), fmt.int(m.failed), fmt.usd(m.cost)];
    }), [1, 2, 3, 4]));
  }

  /* --- experiments --------------------------------------------------------------- */

  function intervalText(ci, format) {
    if (!ci || !isNum(ci.lower) || !isNum(ci.upper)) return "–";
    return "[" + format(ci.lower) + ", " + format(ci.upper) + "]";
  }

  function experimentCard(x) {
    var format = valueFormatter(x.primary_metric);
    var decision = x.decision || {};
    var head = el("div", { className: "experiment-head" }, [
      el("h3", { text: x.name }),
      badge(x.status, x.status || "unknown"),
      decision.status ? badge(decision.status, String(decision.status).replace(/_/g, " ")) : null,
      decision.winner ? badge("winner", "winner: " + decision.winner) : null,
      x.srm && x.srm.mismatch ? badge("sample_ratio_mismatch", "SRM p" + (fmt.p(x.srm.p_value).charAt(0) === "<" ? "" : "=") + fmt.p(x.srm.p_value)) : null,
      x.significant ? badge("ok", "significant") : null,
    ]);
    if (x.error) return el("div", { className: "experiment" }, [head, empty("Unavailable: " + x.error)]);
    var rows = (x.variants || []).map(function (v) {
      return [
        v.name + (v.is_control ? " (control)" : ""),
        fmt.int(v.units),
        format(v.value),
        intervalText(v.interval, format),
        isNum(v.relative_lift) ? fmt.pct(v.relative_lift) + " " + intervalText(v.relative_lift_ci, fmt.pct) : "–",
        fmt.p(v.p_value),
        v.is_control ? "" : v.significant ? "yes" : "no",
      ];
    });
    return el("div", { className: "experiment", attrs: { "data-experiment": x.name } }, [
      head,
      el("p", { className: "muted", text: (x.description || "") + (x.primary_metric ? " · primary metric: " + x.primary_metric : "") }),
      table(["Variant", "Units", x.primary_metric || "Value", "Interval", "Lift (CI)", "p (Holm)", "Significant"], rows, [1, 2, 5]),
      decision.reason ? el("p", { className: "reason", text: decision.reason }) : null,
    ]);
  }

  function renderExperiments(section) {
    var root = clear(byId("experiments"));
    if (failed(section)) return root.appendChild(empty("Experiments unavailable: " + section.error));
    var list = section.experiments || [];
    if (!list.length) return root.appendChild(empty("No experiments."));
    list.forEach(function (x) { root.appendChild(experimentCard(x)); });
  }

  /* --- alerts -------------------------------------------------------------------- */

  function acknowledge(button, alertId) {
    button.disabled = true;
    button.textContent = "Acknowledging…";
    request("api/alerts/" + encodeURIComponent(alertId) + "/acknowledge", { method: "POST" })
      .then(function () { return refresh(); })
      .catch(function (error) {
        button.disabled = false;
        button.textContent = "Acknowledge";
        setStatus("Could not acknowledge: " + error.message, true);
      });
  }

  function activeAlert(a) {
    var action;
    if (a.acknowledged_at) {
      action = el("span", { className: "muted", text: "acknowledged " + fmt.when(a.acknowledged_at) });
    } else {
      action = el("button", { text: "Acknowledge", attrs: { type: "button", "data-ack": a.alert_id } });
      action.addEventListener("click", function () { acknowledge(action, a.alert_id); });
    }
    return el("li", { className: "alert", attrs: { "data-alert": a.alert_id } }, [
      badge(a.severity, a.severity),
      el("span", { className: "message", text: a.message }),
      el("span", { className: "muted", text: "since " + fmt.when(a.fired_at) }),
      action,
    ]);
  }

  function renderAlerts(section) {
    var active = clear(byId("alerts-active"));
    var recent = clear(byId("alerts-recent"));
    if (failed(section)) return active.appendChild(empty("Alerts unavailable: " + section.error));
    if (!section.active.length) active.appendChild(empty("No alerts firing."));
    else active.appendChild(el("ul", { className: "alert-list" }, section.active.map(activeAlert)));
    if (!section.recent.length) return recent.appendChild(empty("No alerts yet."));
    recent.appendChild(table(["Fired", "Rule", "Severity", "Status", "Message", "Acknowledged"],
      section.recent.map(function (a) {
        return [fmt.when(a.fired_at), a.rule, badge(a.severity), badge(a.status), a.message, a.acknowledged_at ? fmt.when(a.acknowledged_at) : "no"];
      })));
  }

  /* --- health -------------------------------------------------------------------- */

  function renderHealth(health) {
    var root = clear(byId("health"));
    if (failed(health)) return root.appendChild(empty("Health unavailable: " + health.error));
    var components = health.components || {};
    var names = Object.keys(components);
    if (!names.length) return root.appendChild(empty("Nothing to check."));
    names.forEach(function (name) {
      var c = components[name];
      root.appendChild(el("div", { className: "component", attrs: { "data-component": name } }, [
        el("div", { className: "component-head" }, [el("strong", { text: name.replace(/_/g, " ") }), badge(c.status)]),
        el("p", { text: c.reason }),
      ]));
    });
  }

  /* --- controls ------------------------------------------------------------------ */

  byId("window").addEventListener("change", function (event) {
    state.window = event.target.value;
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "?window=" + encodeURIComponent(state.window));
    }
    refresh();
  });

  byId("refresh").addEventListener("click", function () { refresh(); });

  byId("theme-toggle").addEventListener("click", function () {
    var root = document.documentElement;
    var current = root.getAttribute("data-theme") ||
      (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    var next = current === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { window.localStorage.setItem("devora-theme", next); } catch (ignored) { /* private mode */ }
    redrawAll();
  });

  if (window.matchMedia) {
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    var onScheme = function () { if (!document.documentElement.getAttribute("data-theme")) redrawAll(); };
    if (scheme.addEventListener) scheme.addEventListener("change", onScheme);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) clearTimeout(state.timer);
    else refresh();
  });

  refresh();
})();

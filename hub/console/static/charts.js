// customer hub dashboards: every <figure data-chart> holds its numbers as JSON (the same rows as its table view and
// its downloads); this draws them with the vendored Apache ECharts and switches between chart and table.
// Numbers are written as the tables write them (hub/console/i18n.py: number): ¥1,234.56, 1,234, 91.25%, and
// 万/亿 when asked; axes are shortened (万/亿 in Chinese, K/M/B in English).
(function () {
  "use strict";
  // The filters' form sends only the filters set: short links to share (…/cockpit?from=2025-01&team=华东大区).
  var form = document.getElementById("dash-filters");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.querySelectorAll("input, select"), function (el) {
        if (!el.value || (el.type === "checkbox" && !el.checked)) { el.disabled = true; }
      });
    });
  }
  if (!window.echarts) { return; }

  function group(v, places) {
    return Number(v).toLocaleString("en-US", {minimumFractionDigits: places, maximumFractionDigits: places});
  }
  function money(v, sign, units) {
    var a = Math.abs(v), neg = v < 0 ? "-" : "";
    if (units && a >= 1e8) { return neg + sign + group(a / 1e8, 2) + "亿"; }
    if (units && a >= 1e4) { return neg + sign + group(a / 1e4, 2) + "万"; }
    return neg + sign + group(a, 2);
  }
  function fmt(v, kind, spec) {
    if (v === null || v === undefined || v === "") { return "—"; }
    switch (kind) {
      case "int": return group(v, 0);
      case "pct": return group(v, 2) + "%";
      case "days": return group(v, 1);
      case "ratio": return group(v, 2);
      case "money": return money(v, spec.sign, spec.units);
      default: return String(v);
    }
  }
  function short(v, kind, spec) {  // axis labels
    var a = Math.abs(v), neg = v < 0 ? "-" : "", pre = kind === "money" ? spec.sign : "";
    var post = kind === "pct" ? "%" : "", body;
    if (kind === "pct" || kind === "days" || kind === "ratio") {  // rates stay plain: 8,000%, not 8千%
      body = a >= 1000 ? group(a, 0) : +a.toFixed(2);
    } else if (spec.lang === "zh" || spec.units) {
      if (a >= 1e8) { body = +(a / 1e8).toFixed(2) + "亿"; }
      else if (a >= 1e4) { body = +(a / 1e4).toFixed(1) + "万"; }
      else { body = +a.toFixed(2); }
    } else {
      if (a >= 1e9) { body = +(a / 1e9).toFixed(2) + "B"; }
      else if (a >= 1e6) { body = +(a / 1e6).toFixed(1) + "M"; }
      else if (a >= 1e4) { body = +(a / 1e3).toFixed(0) + "K"; }
      else { body = +a.toFixed(2); }
    }
    return neg + pre + body + post;
  }
  function col(spec, name) { return spec.columns.indexOf(name); }
  function values(spec, name) {
    var i = col(spec, name);
    return spec.rows.map(function (r) { return r[i]; });
  }
  function kindOf(spec, name) { return spec.kinds[col(spec, name)]; }
  function axis(spec, kinds, horizontal) {
    var kind = kinds[0] || "int";
    return {type: "value", axisLabel: {formatter: function (v) { return short(v, kind, spec); }},
            splitLine: {lineStyle: {color: "#eceff5"}}, max: kind === "pct" && !horizontal ? null : null};
  }

  function seriesOf(spec) {  // [{name, kind, type, axis, data, dashed, area}]
    if (spec.pivot) {
      var x = values(spec, spec.x), by = spec.pivot.by.map(function (c) { return col(spec, c); });
      var vi = col(spec, spec.pivot.value), kind = spec.kinds[vi];
      var xs = [], names = [], cells = {};
      spec.rows.forEach(function (r, i) {
        var xv = spec.categories[i], name = by.map(function (b) { return r[b]; }).join(" · ");
        if (xs.indexOf(xv) < 0) { xs.push(xv); }
        if (names.indexOf(name) < 0) { names.push(name); }
        cells[xv + "\u0000" + name] = r[vi];
      });
      return {categories: xs, series: names.map(function (name) {
        return {name: name, kind: kind, type: spec.seriesType, axis: 0, data: xs.map(function (xv) {
          var v = cells[xv + "\u0000" + name]; return v === undefined ? null : v;
        })};
      })};
    }
    return {categories: spec.categories, series: spec.series.map(function (s) {
      return {name: s.label, kind: kindOf(spec, s.column), type: s.type, axis: s.axis, data: values(spec, s.column),
              dashed: s.dashed, area: s.area};
    })};
  }

  function option(spec) {
    var got = seriesOf(spec), horizontal = spec.draw === "hbar";
    var byName = {};
    got.series.forEach(function (s) { byName[s.name] = s; });
    var tooltip = {
      trigger: spec.draw === "funnel" ? "item" : "axis", confine: true, renderMode: "richText",
      valueFormatter: undefined,
      formatter: function (params) {
        var list = Array.isArray(params) ? params : [params];
        var head = list.length ? (list[0].axisValueLabel || list[0].name) : "";
        return [head].concat(list.map(function (p) {
          var s = byName[p.seriesName] || got.series[0];
          return p.seriesName + ": " + fmt(Array.isArray(p.value) ? p.value[1] : p.value, s.kind, spec);
        })).join("\n");
      }
    };
    if (spec.draw === "funnel") {
      var s0 = got.series[0];
      return {tooltip: tooltip, animation: false, series: [{
        type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "8%", gap: 2,
        label: {show: true, position: "inside", formatter: function (p) { return p.name + "  " + fmt(p.value, s0.kind, spec); }},
        data: got.categories.map(function (c, i) { return {name: c, value: s0.data[i]}; })
      }]};
    }
    var axes = [[], []];
    got.series.forEach(function (s) { axes[s.axis].push(s.kind); });
    var valueAxes = [axis(spec, axes[0], horizontal)];
    if (axes[1].length) { var a1 = axis(spec, axes[1], horizontal); a1.splitLine = {show: false}; valueAxes.push(a1); }
    var categoryAxis = {type: "category", data: got.categories, axisLabel: {hideOverlap: true},
                        inverse: horizontal, axisTick: {alignWithLabel: true}};
    var series = got.series.map(function (s) {
      var out = {name: s.name, type: s.type, data: s.data, emphasis: {focus: "series"}, connectNulls: false};
      if (!horizontal) { out.yAxisIndex = s.axis; }
      if (s.type === "line") {
        out.symbolSize = 6;
        if (s.dashed) { out.lineStyle = {type: "dashed"}; }
        if (s.area) { out.areaStyle = {opacity: 0.12}; }
      } else {
        out.barMaxWidth = 28;
        if (spec.draw === "pivot") { out.stack = spec.key === "steward_throughput" ? "all" : undefined; }
      }
      return out;
    });
    return {
      animation: false, tooltip: tooltip,
      legend: {type: "scroll", top: 0, data: got.series.map(function (s) { return s.name; })},
      grid: {left: 8, right: 12, top: 36, bottom: 8, containLabel: true},
      xAxis: horizontal ? valueAxes[0] : categoryAxis,
      yAxis: horizontal ? categoryAxis : valueAxes,
      series: series
    };
  }

  var charts = [];
  Array.prototype.forEach.call(document.querySelectorAll("figure[data-chart]"), function (fig) {
    var el = fig.querySelector(".chart-canvas"), script = fig.querySelector("script.chart-spec");
    if (!el || !script) { return; }
    var spec = JSON.parse(script.textContent);
    if (spec.draw === "hbar") { el.style.height = Math.max(240, 22 * spec.rows.length + 70) + "px"; }
    var chart = window.echarts.init(el, null, {renderer: "canvas", locale: spec.lang === "zh" ? "ZH" : "EN"});
    chart.setOption(option(spec));
    if (spec.link) {
      var li = col(spec, spec.link);
      chart.on("click", function (p) {
        var row = spec.rows[p.dataIndex];
        if (row) { window.location.href = "/customers/" + encodeURIComponent(row[li]); }
      });
    }
    fig.chart = chart;
    charts.push(chart);
    // chart / table
    Array.prototype.forEach.call(fig.querySelectorAll("button[data-view]"), function (button) {
      button.addEventListener("click", function () {
        var table = button.getAttribute("data-view") === "table";
        fig.querySelector(".chart-table").hidden = !table;
        el.hidden = table;
        Array.prototype.forEach.call(fig.querySelectorAll("button[data-view]"), function (b) {
          var on = b === button;
          b.classList.toggle("on", on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
        });
        if (!table) { chart.resize(); }
      });
    });
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();

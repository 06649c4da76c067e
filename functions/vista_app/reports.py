"""The report people look at: one self-contained HTML page per job or model.

Charts are drawn here as inline SVG (no plotting library in a Lambda); the pictures a training
job drew itself (confusion matrix, curves, misclassified images) come from its output.tar.gz
and are embedded as PNG data URIs, so the page opens anywhere, offline, as one file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import tarfile
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from vista_app.leaderboard import COLUMNS

PICTURES = ("confusion_matrix.png", "training_curves.png", "misclassified.png")
DATA_FILES = ("misclassified.json", "history.json")
STATE_COLOURS = {"champion": "#1b7f3b", "candidate": "#3366cc", "retired": "#888888", "rejected": "#c0392b"}
REPORTS_PREFIX = "artifacts/reports/"


def output_archive_uri(model: dict[str, Any]) -> str:
    """The job's output.tar.gz beside its model.tar.gz."""
    return model["artifact"].rsplit("/", 1)[0] + "/output.tar.gz"


def read_outputs(s3: Any, model: dict[str, Any]) -> dict[str, Any]:
    """The pictures (bytes) and data files (decoded JSON) a training job wrote; {} when missing."""
    bucket, _, key = output_archive_uri(model).removeprefix("s3://").partition("/")
    found: dict[str, Any] = {}
    try:
        blob = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix("./")
                if name in PICTURES + DATA_FILES and member.isfile():
                    data = archive.extractfile(member).read()  # type: ignore[union-attr]
                    found[name] = json.loads(data) if name.endswith(".json") else data
    except (ClientError, tarfile.TarError, ValueError):
        return found  # a report without the pictures beats no report: each missing one says so
    return found


# ---------------------------------------------------------------------------- SVG charts


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(
    rows: list[tuple[str, float, str]],
    *,
    title: str,
    maximum: float = 1.0,
    percent: bool = True,
    label_width: int = 260,
    bar_width: int = 420,
) -> str:
    """Horizontal bars: (label, value, colour) per row."""
    row_height = 26
    height = 40 + row_height * len(rows)
    parts = [
        f'<svg role="img" aria-label="{_esc(title)}" viewBox="0 0 {label_width + bar_width + 90} {height}" '
        f'class="chart"><title>{_esc(title)}</title>',
        f'<text x="0" y="18" class="chart-title">{_esc(title)}</text>',
    ]
    for i, (label, value, colour) in enumerate(rows):
        y = 30 + i * row_height
        width = 0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * bar_width
        shown = f"{value:.1%}" if percent else f"{value:,.4g}"
        parts += [
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end">{_esc(label)}</text>',
            f'<rect x="{label_width}" y="{y + 4}" width="{width:.1f}" height="{row_height - 8}" fill="{colour}"/>',
            f'<text x="{label_width + width + 6:.1f}" y="{y + 17}">{shown}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def scatter(
    points: list[tuple[float, float]], *, x_label: str, y_label: str, log_x: bool = False, maximize: bool = True
) -> str:
    """Objective against one hyperparameter, one dot per trial; the best trial ringed."""
    width, height, pad = 340, 220, 44
    if not points:
        return ""
    xs = [math.log10(x) if log_x else x for x, _ in points]
    ys = [y for _, y in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 0.01)

    def position(x: float, y: float) -> tuple[float, float]:
        return (
            pad + (x - x0) / (x1 - x0) * (width - 2 * pad),
            height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad),
        )

    best = (max if maximize else min)(range(len(points)), key=lambda i: ys[i])
    parts = [
        f'<svg role="img" aria-label="{_esc(y_label)} against {_esc(x_label)}" viewBox="0 0 {width} {height}" '
        f'class="chart small"><title>{_esc(y_label)} against {_esc(x_label)}</title>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" class="axis"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" class="axis"/>',
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">'
        f"{_esc(x_label)}{' (log)' if log_x else ''}</text>",
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
        f"{_esc(y_label)}</text>",
    ]
    for value, anchor, x in ((x0, "start", pad), (x1, "end", width - pad)):
        shown = 10**value if log_x else value
        parts.append(f'<text x="{x}" y="{height - pad + 14}" text-anchor="{anchor}" class="tick">{shown:.3g}</text>')
    for value, y in ((y0, height - pad), (y1, pad)):
        parts.append(f'<text x="{pad - 4}" y="{y + 4}" text-anchor="end" class="tick">{value:.3g}</text>')
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        cx, cy = position(x, y)
        ring = ' stroke="#1b7f3b" stroke-width="3"' if i == best else ""
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="#3366cc" fill-opacity="0.75"{ring}/>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------- the page


def _number(value: Any, style: str = "") -> str:
    if value is None:
        return "&ndash;"
    if style == "%":
        return f"{value:.1%}"
    if style == "$":
        return f"${value:,.4f}"
    if style == "s":
        return f"{value:,.0f} s"
    if style == "ms":
        return f"{value:,.1f} ms"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if isinstance(value, float) else _esc(value)


def leaderboard_table(models: list[dict[str, Any]]) -> str:
    if not models:
        return ""
    head = "".join(f"<th>{_esc(title)}</th>" for _, title, _ in COLUMNS)
    rows = []
    for model in models:
        cells = []
        for key, _, style in COLUMNS:
            value = model.get(key)
            if key == "state":
                cells.append(f'<td><span class="state {_esc(value)}">{_esc(value)}</span></td>')
            else:
                cells.append(
                    f'<td class="{"num" if style or isinstance(value, int | float) else ""}">'
                    f"{_number(value, style)}</td>"
                )
        rows.append(f'<tr id="row-{_esc(model["name"])}">{"".join(cells)}</tr>')
    return f'<table class="leaderboard"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def per_class_table(metrics: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_esc(name)}</td><td class='num'>{v['precision']:.1%}</td><td class='num'>{v['recall']:.1%}</td>"
        f"<td class='num'>{v['f1']:.1%}</td><td class='num'>{v['support']:,}</td></tr>"
        for name, v in metrics.get("per_class", {}).items()
    )
    return (
        "<table><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>test images</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _picture(outputs: dict[str, Any], name: str, alt: str) -> str:
    data = outputs.get(name)
    if not data:
        return f'<p class="missing">({_esc(name)} was not written by this job)</p>'
    return f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}" alt="{_esc(alt)}">'


def _mistakes(outputs: dict[str, Any], name: str) -> str:
    if outputs.get("misclassified.json") == []:
        return "<p>No test image was misclassified.</p>"
    return (
        f"<figure>{_picture(outputs, 'misclassified.png', f'misclassified test images of {name}')}"
        "<figcaption>Misclassified test images, most confident mistakes first.</figcaption></figure>"
    )


def model_section(model: dict[str, Any], outputs: dict[str, Any]) -> str:
    metrics = model.get("metrics", {})
    facts = [
        ("state", _esc(model.get("state"))),
        ("test accuracy", _number(model.get("accuracy"), "%")),
        ("macro-F1", _number(model.get("macro_f1"), "%")),
        ("test loss", _number(model.get("loss"))),
        ("parameters", _number(model.get("parameters"))),
        ("training time", _number(model.get("training_seconds"), "s")),
        ("billable time", _number(model.get("billable_seconds"), "s")),
        ("training cost", _number(model.get("training_cost"), "$")),
        ("serving latency (CPU, batch 1)", _number(model.get("serving_latency_ms"), "ms")),
        ("cost / 1,000 predictions", _number(model.get("cost_per_1000_predictions"), "$")),
        ("instance", _esc(model.get("instance_type"))),
    ]
    hyperparameters = ", ".join(
        f"{_esc(k)}={_esc(v)}"
        for k, v in sorted(model.get("hyperparameters", {}).items())
        if k in ("learning_rate", "dropout", "l2", "epochs", "batch_size", "image_size", "augment", "weights")
    )
    wrong = outputs.get("misclassified.json", [])
    wrong_rows = "".join(
        f"<tr><td>{_esc(w['file'])}</td><td>{_esc(w['true'])}</td><td>{_esc(w['predicted'])}</td>"
        f"<td class='num'>{w['probabilities'][w['predicted']]:.1%}</td>"
        f"<td class='num'>{w['probabilities'][w['true']]:.1%}</td></tr>"
        for w in wrong
    )
    reason = f"<p class='reason'>{_esc(model['reason'])}</p>" if model.get("reason") else ""
    return f"""
<section class="model" id="model-{_esc(model["name"])}">
  <h2>{_esc(model["name"])} <small>{_esc(model.get("architecture"))}</small></h2>
  {reason}
  <dl class="facts">{"".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)}</dl>
  <p class="hyper">hyperparameters: {hyperparameters or "&ndash;"}</p>
  <div class="pair">
    <figure>{_picture(outputs, "confusion_matrix.png", f"confusion matrix of {model['name']}")}
      <figcaption>Confusion matrix on the test split (rows: true class).</figcaption></figure>
    <figure>{per_class_table(metrics)}
      {
        bar_chart(
            [(c, v["f1"], "#3366cc") for c, v in metrics.get("per_class", {}).items()],
            title="F1 per class",
            label_width=100,
            bar_width=240,
        )
    }
    </figure>
  </div>
  <figure>{_picture(outputs, "training_curves.png", f"training curves of {model['name']}")}
    <figcaption>Accuracy and loss per epoch, train against validation.</figcaption></figure>
  {_mistakes(outputs, model["name"])}
  {
        "<table><thead><tr><th>image</th><th>true</th><th>predicted</th><th>p(predicted)</th><th>p(true)</th></tr>"
        f"</thead><tbody>{wrong_rows}</tbody></table>"
        if wrong_rows
        else ""
    }
</section>"""


def trials_section(job: dict[str, Any]) -> str:
    trials = [t for t in job.get("trials", []) if t.get("objective") is not None]
    if not trials:
        return ""
    objective = job.get("request", {}).get("tuning", {}).get("objective", "objective")
    ranges = job.get("request", {}).get("tuning", {}).get("ranges", {})
    maximize = not objective.endswith("loss")
    better = max if maximize else min
    charts = []
    for name, spec in ranges.items():
        values = [(t["hyperparameters"].get(name), t["objective"]) for t in trials]
        numeric = [(float(v), o) for v, o in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numeric) == len(values):
            log_x = isinstance(spec, dict) and spec.get("scale") in ("log", "reverse_log")
            charts.append(scatter(numeric, x_label=name, y_label=objective, log_x=log_x, maximize=maximize))
        else:
            best: dict[str, float] = {}
            for value, score in values:
                best[str(value)] = better(score, best.get(str(value), score))
            top = max(best.values())
            charts.append(
                bar_chart(
                    [(k, v, "#3366cc") for k, v in sorted(best.items(), key=lambda kv: kv[1], reverse=maximize)],
                    title=f"best {objective} by {name}",
                    maximum=top if top > 0 else 1,
                    percent=objective.endswith("accuracy"),
                )
            )
    rows = "".join(
        f"<tr><td>{_esc(t['name'])}</td><td>{_esc(t['status'])}</td><td class='num'>{t['objective']:.4f}</td>"
        f"<td>{_esc(', '.join(f'{k}={v}' for k, v in sorted(t['hyperparameters'].items())))}</td></tr>"
        for t in sorted(trials, key=lambda t: t["objective"], reverse=maximize)
    )
    return f"""
<section id="tuning"><h2>Tuning trials of {_esc(job["name"])}</h2>
  <p>{len(trials)} trials with an objective; each dot is one trial ({_esc(objective)}, the best ringed).</p>
  <div class="charts">{"".join(charts)}</div>
  <table><thead><tr><th>trial</th><th>status</th><th>{_esc(objective)}</th><th>tuned values</th></tr></thead>
  <tbody>{rows}</tbody></table>
</section>"""


STYLE = (
    """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;
 padding:1rem 1.2rem 3rem;color:#1d2430;background:#fff}
h1{margin:.2rem 0}h2{border-top:1px solid #dde3ea;padding-top:1.2rem;margin-top:2rem}h2 small{color:#667}
table{border-collapse:collapse;margin:.6rem 0;font-size:14px}th,td{padding:.3rem .6rem;border-bottom:1px solid #e6eaf0;
 text-align:left;vertical-align:top}th{background:#f3f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.leaderboard{width:100%;display:block;overflow-x:auto}
.state{padding:.05rem .45rem;border-radius:.6rem;color:#fff;font-size:13px}
"""
    + "".join(f".state.{k}{{background:{v}}}" for k, v in STATE_COLOURS.items())
    + """
.chart{width:100%;max-width:780px;font-size:13px}.chart.small{max-width:340px}.chart-title{font-weight:600}
.axis{stroke:#889}.tick{fill:#667;font-size:11px}.charts{display:flex;flex-wrap:wrap;gap:1rem}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:.4rem 1rem;margin:.8rem 0}
.facts dt{color:#667;font-size:13px}.facts dd{margin:0;font-weight:600}
.pair{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}figure{margin:.8rem 0}
.pair>figure{flex:1 1 360px;max-width:560px}.pair .chart{min-width:300px}
img{max-width:100%;height:auto;border:1px solid #e6eaf0}.missing,.meta,.hyper{color:#667}
.reason{background:#fff4e5;padding:.4rem .7rem;border-left:3px solid #e69500}
"""
)


def build_report(
    *,
    title: str,
    leaderboard: list[dict[str, Any]],
    focus: list[dict[str, Any]],
    outputs: dict[str, dict[str, Any]],
    job: dict[str, Any] | None = None,
    tuning_jobs: list[dict[str, Any]] | None = None,
) -> str:
    """The page: leaderboard (chart and table), each model in `focus`, then tuning jobs' trials."""
    bars = [
        (f"{m['name']} ({m.get('architecture')})", m["accuracy"], STATE_COLOURS.get(m.get("state", ""), "#3366cc"))
        for m in leaderboard
        if m.get("accuracy") is not None
    ]
    legend = " ".join(f'<span class="state {k}">{k}</span>' for k in STATE_COLOURS)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    job_line = ""
    if job is not None:
        cost = f", cost ${job['cost']:,.4f}" if job.get("cost") is not None else ""
        job_line = (
            f"<p class='meta'>Job {_esc(job['name'])} ({_esc(job.get('kind'))}): {_esc(job.get('status'))}{cost}; "
            f"dataset {_esc(job.get('request', {}).get('dataset'))}</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_esc(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{_esc(title)}</h1>
<p class="meta">Generated {generated}. {len(leaderboard)} model(s). Numbers are the Models table's.</p>
{job_line}
<section id="leaderboard"><h2>Leaderboard</h2>
  {bar_chart(bars, title="Test accuracy by model") if bars else "<p>No model has a test accuracy yet.</p>"}
  <p>{legend}</p>
  {leaderboard_table(leaderboard)}
</section>
{"".join(model_section(m, outputs.get(m["name"], {})) for m in focus)}
{"".join(trials_section(j) for j in tuning_jobs or [])}
</body></html>
"""


def write_job_report(
    job: dict[str, Any],
    *,
    leaderboard: list[dict[str, Any]],
    s3: Any,
    bucket: str,
    tuning_jobs: list[dict[str, Any]] | None = None,
) -> str:
    """The job's report to s3://<bucket>/artifacts/reports/<job>/report.html; returns its URI.
    Its models are those it produced; a tuning job's trials are shown (a comparison passes its members')."""
    names = set(job.get("models") or ([job["model"]] if job.get("model") else []))
    focus = [m for m in leaderboard if m["name"] in names]
    page = build_report(
        title=f"Vista report: {job['name']}",
        leaderboard=leaderboard,
        focus=focus,
        outputs={m["name"]: read_outputs(s3, m) for m in focus},
        job=job,
        tuning_jobs=tuning_jobs if tuning_jobs is not None else [job] if job.get("trials") else [],
    )
    key = f"{REPORTS_PREFIX}{job['name']}/report.html"
    s3.put_object(Bucket=bucket, Key=key, Body=page.encode(), ContentType="text/html; charset=utf-8")
    return f"s3://{bucket}/{key}"

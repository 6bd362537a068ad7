# ruff: noqa: E501
# (the HTML keeps its lines whole)
"""The HTML page of the review report (Jinja2, autoescaped; charts are data: URIs).

Kept as a Python string so it ships with the package like any module (no package data).
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Distillation report: {{ r.run.id }}</title>
<style>
 body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 24px 48px; color: #1d2430; }
 h1 { font-size: 24px; margin: 24px 0 4px; } h2 { font-size: 19px; border-bottom: 2px solid #dde3ea; padding-bottom: 4px; margin-top: 36px; }
 h3 { font-size: 15px; margin: 20px 0 6px; }
 .muted { color: #5b6676; } .mono, pre, code { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
 .badge { display: inline-block; padding: 4px 12px; border-radius: 4px; font-weight: 700; color: #fff; font-size: 15px; }
 .ok { background: #1e8e3e; } .bad { background: #c5221f; } .warn { background: #b06000; }
 .banner { border-left: 6px solid #c5221f; background: #fce8e6; padding: 10px 14px; margin: 14px 0; }
 .banner.ok { border-color: #1e8e3e; background: #e6f4ea; color: inherit; } .banner.warn { border-color: #b06000; background: #fef7e0; }
 table { border-collapse: collapse; margin: 8px 0 12px; } th, td { border: 1px solid #dde3ea; padding: 3px 8px; text-align: right; }
 th { background: #f1f4f8; } td.l, th.l { text-align: left; } tr.below td { background: #fce8e6; }
 .pos { color: #1e8e3e; } .neg { color: #c5221f; }
 img { max-width: 100%; display: block; margin: 6px 0 14px; }
 .scroll { max-height: 420px; overflow: auto; } td.nowrap { white-space: nowrap; } pre { background: #f6f8fa; padding: 10px; overflow: auto; max-height: 420px; }
 nav a { margin-right: 12px; }
</style></head>
<body>
<h1>Distillation report: run <span class="mono">{{ r.run.id }}</span></h1>
<div class="muted">pipeline <b>{{ r.run.pipeline }}</b> · started {{ r.run.started }} · status {{ r.run.status }} ·
 metadata <span class="mono">{{ r.run.metadata }}</span> · generated {{ r.generated }}</div>
<nav class="muted"><a href="#verdict">verdict</a><a href="#quality">student vs teacher</a><a href="#size">size and speed</a>
 <a href="#data">data</a><a href="#training">training</a><a href="#lineage">lineage</a><a href="#config">config</a>
 {% if r.comparison %}<a href="#comparison">comparison</a>{% endif %}</nav>

<h2 id="verdict">Verdict</h2>
{% if not r.evaluated %}
 <div class="banner"><b>No evaluation.</b> {{ r.message }}</div>
{% else %}
 {% set v = r.verdict %}
 <p><span class="badge {{ 'ok' if v.blessed else 'bad' }}">{{ 'BLESSED' if v.blessed else 'NOT BLESSED' }}</span>
  &nbsp; on the {{ r.evaluation_split }} split, overall {{ v.headline }} = <b>{{ v.overall_value | num }}</b>
  [95 % interval {{ r.metrics.overall.get(v.headline ~ '_lower') | num }}–{{ r.metrics.overall.get(v.headline ~ '_upper') | num }}],
  gate ({{ 'point estimate' if v.gate == 'point' else 'interval lower bound' }}) ≥ {{ v.threshold | num }}
  {% if v.per_language_floor is not none %}, per-language floor ≥ {{ v.per_language_floor | num }}{% endif %}
  {% if v.get('teacher_min_exact_match') is not none %}, teacher exact match ≥ {{ v.teacher_min_exact_match | num }} overall and on every language{% endif %}
  {% if v.get('above_teacher_bound') is not none %}, student not clearly above the teacher (interval lower end ≤ {{ v.above_teacher_bound | num }}){% endif %}
  {% if v.pushed_to %}· pushed to <span class="mono">{{ v.pushed_to }}</span>{% else %}· not pushed{% endif %}</p>
 {% if r.message %}<div class="banner warn">{{ r.message }}</div>{% endif %}
 {% if v.get('teacher_weak') %}<div class="banner"><b>The teacher is weak</b> (a fraction of a weak teacher is not a result):
  {% for m in v.teacher_weak %}<br>{{ m }}{% endfor %}</div>{% endif %}
 {% if v.failed_checks %}
  <h3>Checks that failed (TFMA validation)</h3>
  <table><tr><th class="l">slice</th><th class="l">metric</th><th>value</th><th>bound</th><th class="l">message</th></tr>
  {% for f in v.failed_checks %}<tr><td class="l">{{ f.slice }}</td><td class="l">{{ f.metric }}</td><td>{{ f.value | num }}</td><td>{{ '≤' if f.get('bound_kind') == 'upper' else '≥' }} {{ f.bound | num }}</td><td class="l">{{ f.message }}</td></tr>{% endfor %}
  </table>
 {% else %}<p>All TFMA threshold checks passed.</p>{% endif %}
 <h3>Slices below the floor ({{ v.floor_used | num }})</h3>
 {% if v.below_floor %}
  <table><tr><th class="l">slice</th><th>judged fraction of teacher (EM)¹</th><th>examples</th><th class="l">gated</th></tr>
  {% for s in v.below_floor %}<tr class="below"><td class="l">{{ s.slice }}</td><td>{{ s.value | num }}</td><td>{{ s.examples | int }}</td><td class="l">{{ 'yes' if s.gated else 'no (informative)' }}</td></tr>{% endfor %}
  <tr><td class="l muted" colspan="4">¹ the gate rule's value ({{ v.gate }}); for a slice under {{ v.min_slice_examples }} examples the upper end of its 95 % interval</td></tr>
  </table>
 {% else %}<p>None.</p>{% endif %}
 {% if v.undefined_slices %}<p class="muted">Undefined (the teacher got no example of the slice exactly right):
  {{ v.undefined_slices | join(', ') }}.</p>{% endif %}
 <img alt="fraction of teacher per language" src="data:image/png;base64,{{ charts.fraction }}">
{% endif %}

<h2 id="quality">Student vs teacher</h2>
{% if r.evaluated %}
 {% set m = r.metrics %}
 <table><tr><th class="l">slice</th><th>examples</th>
  {% for k in metric_cols %}<th>student {{ k }}</th><th>teacher {{ k }}</th><th>fraction</th>{% endfor %}</tr>
 {% for name, row in quality_rows %}
  <tr class="{{ 'below' if row.below else '' }}"><td class="l">{{ name }}{% if row.too_few %} <span class="muted">(too few to judge)</span>{% endif %}</td><td>{{ row.v.eval_examples | int }}</td>
  {% for k in metric_cols %}{% set f = 'fraction_of_teacher_' ~ k %}<td>{{ row.v['student_' ~ k] | num }}</td><td>{{ row.v['teacher_' ~ k] | num }}</td><td>{{ row.v[f] | num }}{% if (f ~ '_lower') in row.v %} <span class="muted">[{{ row.v[f ~ '_lower'] | num }}–{{ row.v[f ~ '_upper'] | num }}]</span>{% endif %}</td>{% endfor %}</tr>
 {% endfor %}
 </table>
 <img alt="student vs teacher per language" src="data:image/png;base64,{{ charts.per_language }}">
 <h3>Per intent ({{ r.evaluation_split }} split, worst fraction of teacher first)</h3>
 <div class="scroll"><table><tr><th class="l">intent</th><th>examples</th>
  {% for k in metric_cols %}<th>student {{ k }}</th><th>teacher {{ k }}</th>{% endfor %}<th>fraction (EM)</th></tr>
 {% for name, v in intent_rows %}
  <tr><td class="l">{{ name }}</td><td>{{ v.eval_examples | int }}</td>
  {% for k in metric_cols %}<td>{{ v['student_' ~ k] | num }}</td><td>{{ v['teacher_' ~ k] | num }}</td>{% endfor %}<td>{{ v[r.verdict.headline] | num }}{% if (r.verdict.headline ~ '_lower') in v %} <span class="muted">[{{ v[r.verdict.headline ~ '_lower'] | num }}–{{ v[r.verdict.headline ~ '_upper'] | num }}]</span>{% endif %}{% if v.eval_examples < r.verdict.min_slice_examples %} <span class="muted">too few to judge</span>{% endif %}</td></tr>
 {% endfor %}</table></div>
 {% if r.predictions %}
  <h3>Intent confusion ({{ r.predictions.split }} split, rows normalised)</h3>
  <p class="muted">Recomputed by running the evaluated model on the Evaluator's examples; its overall scores
   {{ 'match' if r.predictions.matches_tfma else 'DO NOT match' }} TFMA's ({{ r.predictions.eval_examples }} examples).</p>
  {% if r.predictions.top_confusions %}
  <table><tr><th class="l">gold intent</th><th class="l">student predicted</th><th>student count</th><th>teacher count (same pair)</th></tr>
  {% for c in r.predictions.top_confusions %}<tr><td class="l">{{ c.gold }}</td><td class="l">{{ c.predicted }}</td><td>{{ c.student }}</td><td>{{ c.teacher }}</td></tr>{% endfor %}
  </table>{% endif %}
  <img alt="intent confusion matrix" src="data:image/png;base64,{{ charts.confusion }}">
  <h3>Slot F1 per slot type</h3>
  <table><tr><th class="l">slot</th><th>gold spans</th><th>student P</th><th>student R</th><th>student F1</th><th>teacher F1</th></tr>
  {% for name, s in slot_rows %}<tr><td class="l">{{ name }}</td><td>{{ s.support }}</td><td>{{ s.student.precision | num }}</td><td>{{ s.student.recall | num }}</td><td>{{ s.student.f1 | num }}</td><td>{{ s.teacher.f1 | num }}</td></tr>{% endfor %}
  </table>
  {% if charts.slots %}<img alt="slot F1 per slot type" src="data:image/png;base64,{{ charts.slots }}">{% endif %}
  <h3>Where the student loses to the teacher</h3>
  <p class="muted">Rows one gets exactly right and the other not, by what the other got wrong; and every slot span
   got wrong, by kind: a gold span overlapped by a predicted span of its slot with other ends (boundary), only by
   other slots' spans (wrong slot), by nothing (missed), and predicted spans overlapping no gold span (spurious).</p>
  <table><tr><th class="l">rows lost on</th><th>student loses</th><th>teacher loses</th></tr>
  {% for kind in r.predictions.rows_lost.student %}<tr><td class="l">{{ kind }}</td><td>{{ r.predictions.rows_lost.student[kind] }}</td><td>{{ r.predictions.rows_lost.teacher[kind] }}</td></tr>{% endfor %}
  </table>
  <table><tr><th class="l">slot spans wrong</th><th>student</th><th>teacher</th></tr>
  {% for kind in r.predictions.span_errors.student %}<tr><td class="l">{{ kind }}</td><td>{{ r.predictions.span_errors.student[kind] }}</td><td>{{ r.predictions.span_errors.teacher[kind] }}</td></tr>{% endfor %}
  </table>
 {% endif %}
{% else %}<p class="muted">Not available: the run has no evaluation.</p>{% endif %}

<h2 id="size">Size and speed</h2>
{% if r.size_speed %}{% set s = r.size_speed %}
 <p class="muted">Measured on {{ s.machine }}; single queries one at a time, {{ s.queries }} timed queries after a warm-up.</p>
 <table><tr><th class="l">model</th><th>parameters</th><th>fp32 bytes</th><th>int8 bytes</th><th>p50 latency (ms)</th><th>p90 latency (ms)</th></tr>
 {% for row in s.rows %}<tr><td class="l">{{ row.name }}</td><td>{{ row.params | count }}</td><td>{{ row.fp32_bytes | count }}</td><td>{{ row.int8_bytes | count }}{% if row.get('int8_estimated') %} (estimate){% endif %}</td><td>{{ row.p50_ms | num(2) }}</td><td>{{ row.p90_ms | num(2) }}</td></tr>{% endfor %}
 </table>
 <p>Teacher fp32 / student int8 size: <b>{{ s.size_ratio | num(1) }}×</b> · parameters: <b>{{ s.params_ratio | num(1) }}×</b> ·
  single-query latency teacher / student: <b>{{ s.latency_ratio | num(1) }}×</b></p>
{% else %}<p class="muted">Not available: {{ r.size_speed_missing }}</p>{% endif %}

<h2 id="data">Data</h2>
{% if r.data.counts %}
 <h3>Examples per split × language (DatasetGen)</h3>
 <table><tr><th class="l">split</th>{% for lang in r.data.languages %}<th>{{ lang }}</th>{% endfor %}<th>total</th></tr>
 {% for split, langs in r.data.counts.items() %}<tr><td class="l">{{ split }}</td>{% for lang in r.data.languages %}<td>{{ langs.get(lang, 0) | count }}</td>{% endfor %}<td>{{ langs.values() | sum | count }}</td></tr>{% endfor %}
 </table>
{% endif %}
{% if r.data.augmentation %}{% set a = r.data.augmentation %}
 <h3>Augmentation ({{ a.emitted | count }} rows from {{ a.train_rows | count }} training rows)</h3>
 <table><tr><th class="l">method</th>{% for o in a.outcomes %}<th>{{ o }}</th>{% endfor %}</tr>
 {% for method, outcomes in a.by_method.items() %}<tr><td class="l">{{ method }}</td>{% for o in a.outcomes %}<td>{{ outcomes.get(o, 0) | count }}</td>{% endfor %}</tr>{% endfor %}
 </table>
{% endif %}
{% if r.data.soft_labels %}<p>Teacher soft labels written: {% for split, n in r.data.soft_labels.items() %}{{ split }} {{ n | count }}{{ ', ' if not loop.last }}{% endfor %}.</p>{% endif %}
<h3>Dead letters per stage</h3>
{% if r.dead_letters %}
 <table><tr><th class="l">stage</th><th>rows in</th><th>dead-lettered</th><th class="l">by code</th><th class="l">first rows</th></tr>
 {% for stage, d in r.dead_letters.items() %}<tr><td class="l">{{ stage }}</td><td>{{ d.rows_in | count }}</td><td>{{ d.count | count }}</td>
  <td class="l">{% for code, n in d.by_code.items() %}{{ code }}: {{ n }}<br>{% endfor %}</td>
  <td class="l mono">{% for f in d.first %}[{{ f.code }}] {{ f.reason }} — {{ f.row }}<br>{% endfor %}</td></tr>{% endfor %}
 </table>
{% else %}<p class="muted">No stage summaries in this run.</p>{% endif %}

<h2 id="training">Training curves</h2>
{% set st = r.get('stopped') or {} %}{% if st.teacher or st.student %}<p>Where training stopped (both stop on the eval split and keep their best evaluation):
{% if st.teacher %}<br>teacher fine-tune: kept step {{ st.teacher.best_step }} (epoch {{ st.teacher.best_epoch }}, eval exact match {{ st.teacher.eval_exact_match | num }}), stopped at step {{ st.teacher.last_step }}: {{ st.teacher.reason }}{% endif %}
{% if st.student %}<br>student: kept epoch {{ st.student.kept_epoch }} of {{ st.student.epochs_run }} (eval exact match {{ st.student.eval_exact_match | num }}), stopped: {{ st.student.reason }}{% endif %}</p>{% endif %}
{% if charts.training %}<p class="muted">From the Trainer's TensorBoard logs <span class="mono">{{ r.training.log_dir }}</span>{% if r.training.examples_per_second %};
 {{ r.training.examples_per_second | num(1) }} training examples/s ({{ r.training.epochs }} epochs of {{ r.training.train_rows | count }} rows in {{ r.training.seconds | num(1) }} s, validation passes included){% endif %}.</p>
 <img alt="training curves" src="data:image/png;base64,{{ charts.training }}">
{% else %}<p class="muted">No Trainer logs in this run.</p>{% endif %}

<h2 id="lineage">Lineage</h2>
<img alt="stage timeline" src="data:image/png;base64,{{ charts.timeline }}">
<table><tr><th>execution</th><th class="l">component</th><th class="l">state</th><th class="l">started (UTC)</th><th>seconds</th><th class="l">inputs</th><th class="l">outputs</th></tr>
{% for e in r.lineage.executions %}<tr class="{{ 'below' if e.state == 'FAILED' else '' }}"><td>{{ e.id }}</td><td class="l">{{ e.component }}</td><td class="l">{{ e.state }}</td><td class="l">{{ e.started }}</td><td>{{ e.seconds | num(1) }}</td>
 <td class="l">{% for k, ids in e.inputs.items() %}{{ k }}: {{ ids | join(', ') }}<br>{% endfor %}</td><td class="l">{% for k, ids in e.outputs.items() %}{{ k }}: {{ ids | join(', ') }}<br>{% endfor %}</td></tr>{% endfor %}
</table>
{% if r.lineage.not_reached %}<p>Registered in earlier runs but not reached in this one: {{ r.lineage.not_reached | join(', ') }}.</p>{% endif %}
<div class="scroll"><table><tr><th>artifact</th><th class="l">type</th><th class="l">producer</th><th class="l">created (UTC)</th><th class="l">URI</th></tr>
{% for a in r.lineage.artifacts %}<tr><td>{{ a.id }}</td><td class="l">{{ a.type }}</td><td class="l">{{ a.producer }}</td><td class="l nowrap">{{ a.created }}</td><td class="l mono">{{ a.uri }}</td></tr>{% endfor %}
</table></div>

<h2 id="config">Config used</h2>
{% if r.config %}<pre>{{ config_yaml }}</pre>{% else %}<p class="muted">No stage of this run recorded its config.</p>{% endif %}

{% if r.comparison %}{% set c = r.comparison %}
<h2 id="comparison">Comparison with run <span class="mono">{{ c.baseline_run }}</span></h2>
<p>Baseline {{ 'blessed' if c.blessed.baseline else 'not blessed' }}{% if c.blessed.baseline is none %} (no evaluation){% endif %};
 this run {{ 'blessed' if c.blessed.current else 'not blessed' }}.</p>
<table><tr><th class="l">metric (overall)</th><th>baseline</th><th>this run</th><th>delta</th></tr>
{% for name, d in c.overall.items() %}<tr><td class="l">{{ name }}</td><td>{{ d.baseline | num }}</td><td>{{ d.current | num }}</td><td class="{{ d.delta | sign }}">{{ d.delta | delta }}{% if d.within_intervals is true %} <span class="muted">(within the intervals)</span>{% elif d.within_intervals is false %} <b>(outside the intervals)</b>{% endif %}</td></tr>{% endfor %}
</table>
{% if c.per_language %}<table><tr><th class="l" rowspan="2">language</th>{% for k in c.language_metrics %}<th colspan="3">{{ k | replace('fraction_of_teacher_exact_match', 'fraction of teacher (EM)') | replace('_', ' ') }}</th>{% endfor %}</tr>
<tr>{% for k in c.language_metrics %}<th>baseline</th><th>this run</th><th>delta</th>{% endfor %}</tr>
{% for lang, ds in c.per_language.items() %}<tr><td class="l">{{ lang }}</td>{% for k in c.language_metrics %}{% set d = ds[k] %}<td>{{ d.baseline | num }}</td><td>{{ d.current | num }}</td><td class="{{ d.delta | sign }}">{{ d.delta | delta }}{% if d.within_intervals is true %} <span class="muted">(within)</span>{% elif d.within_intervals is false %} <b>(outside)</b>{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
{% if c.size_speed %}<table><tr><th class="l">student</th><th>baseline</th><th>this run</th><th>delta</th></tr>
{% for name, d in c.size_speed.items() %}<tr><td class="l">{{ name }}</td>{% if name.endswith('_ms') %}<td>{{ d.baseline | num(2) }}</td><td>{{ d.current | num(2) }}</td><td>{{ d.delta | delta(2) }}</td>
 {% else %}<td>{{ d.baseline | count }}</td><td>{{ d.current | count }}</td><td>{{ d.delta | delta(0) }}</td>{% endif %}</tr>{% endfor %}</table>{% endif %}
<h3>Config differences</h3>
{% if c.config_changes %}<table><tr><th class="l">key</th><th class="l">baseline</th><th class="l">this run</th></tr>
{% for ch in c.config_changes %}<tr><td class="l mono">{{ ch.key }}</td><td class="l mono">{{ ch.baseline }}</td><td class="l mono">{{ ch.current }}</td></tr>{% endfor %}</table>
{% else %}<p>None.</p>{% endif %}
{% endif %}
</body></html>
"""

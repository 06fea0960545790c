"""Figures shared by the Streamlit app and the notebooks (plotly; matplotlib logos live in motifs).

Every builder takes plain data (a :class:`~genemask_viz.app_logic.MaskView`,
DataFrames) and returns a ``plotly.graph_objects.Figure``; nothing here computes
science or imports Streamlit.

Sequence coordinates: nucleotide ``i`` is drawn on ``[i, i+1)``; token ``t`` covers
nucleotides ``t .. t+k-1`` and a span of tokens ``first .. last`` is drawn over the
nucleotides those tokens start at, ``[first, last+1)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BASE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#C98A00", "T": "#D62839", "N": "#888888"}
#: colours of what the track draws
COLORS = {"centre": "#F28E2B", "extended": "#7B4FA0", "unit": "#2A9D8F", "hidden": "#E63946",
          "centre_mark": "#333333", "chosen": "#7B4FA0", "motif": "#6C757D", "score": "#1F77B4",
          "token": "#BBBBBB"}
SPAN_NAMES = {"centre": "masked tokens: span around a centre",
              "extended": "masked tokens: GeneMask span around the chosen k-mer",
              "unit": "masked tokens: covering a PMI unit"}
STRATEGY_COLORS = {"random": "#8C8C8C", "dnabert": "#F28E2B", "genemask": "#7B4FA0",
                   "genemask-released": "#C5A3DB", "pmi-span": "#2A9D8F"}
_ROWS = {"sequence": 5, "hidden": 4, "masked": 3, "centres": 2, "chosen": 1, "motifs": 0}
_ROW_LABELS = {"sequence": "sequence", "hidden": "hidden nt", "masked": "masked tokens",
               "centres": "centres", "chosen": "chosen k-mer", "motifs": "known motif"}


def _segments(first, last, y):
    """x/y arrays drawing each [first, last+1) interval as one line piece (None-separated)."""
    xs, ys = [], []
    for f, l in zip(first, last):
        xs += [f, l + 1, None]
        ys += [y, y, None]
    return xs, ys


def default_range(view, motifs: pd.DataFrame | None = None, width: int = 120) -> tuple[float, float]:
    """A readable window (``width`` nt) to open the track on: around the first planted motif,
    else the first chosen k-mer, else the first masked span, else the start."""
    L = len(view.sequence)
    if motifs is not None and len(motifs):
        centre = float(motifs["start"].iloc[0] + motifs["end"].iloc[0]) / 2
    elif len(view.chosen):
        centre = float(view.chosen["pos"].min()) + view.k / 2
    elif len(view.spans):
        centre = float(view.spans["first"].min())
    else:
        centre = 0.0
    lo = max(0.0, min(centre - width / 2, L - width))
    return lo, min(float(L), lo + width)


def sequence_track(view, motifs: pd.DataFrame | None = None, x_range=None, height: int = 470,
                   title: str | None = None) -> go.Figure:
    """The sequence track of one masked sequence, with the PMI score track below.

    Top panel rows: the nucleotides (hidden ones on red), hidden nucleotides,
    masked-token spans (by kind), centres, GeneMask's chosen k-mer per centre with
    its score, and known motif sites (``motifs``: DataFrame ``start, end,
    motif_name``, window coordinates). Bottom panel: the table's score of the
    k-mer starting at each position (what GeneMask ranks the candidates by). Both
    panels share one x axis; ``x_range`` (default :func:`default_range`) is what shows first.
    Traces are plain dicts and validation is skipped: the figure is rebuilt on every
    app rerun, and plotly's validators would cost ~100 ms.
    """
    seq = np.array(list(view.sequence))
    L, k = len(seq), view.k
    x = np.arange(L) + 0.5
    top, bottom = dict(xaxis="x", yaxis="y"), dict(xaxis="x", yaxis="y2")
    traces = []

    def add(**kw):
        traces.append(dict(type="scatter", **top, **kw))

    hidden = np.asarray(view.hidden, bool)
    if hidden.any():  # red boxes behind the letters, and their own row
        hx = x[hidden]
        add(x=hx, y=np.full(hx.size, _ROWS["sequence"]), mode="markers", hoverinfo="skip",
            showlegend=False, marker=dict(symbol="square", size=13, color=COLORS["hidden"], opacity=0.35))
        add(x=hx, y=np.full(hx.size, _ROWS["hidden"]), mode="markers",
            marker=dict(symbol="square", size=8, color=COLORS["hidden"]),
            name="hidden nucleotide (no unmasked k-mer covers it)",
            hovertemplate="nt %{customdata}: hidden<extra></extra>", customdata=np.flatnonzero(hidden) + 1)
    for base, color in BASE_COLORS.items():
        sel = seq == base
        if sel.any():
            add(x=x[sel], y=np.full(int(sel.sum()), _ROWS["sequence"]), mode="text", text=seq[sel],
                textfont=dict(color=color, size=12), customdata=np.flatnonzero(sel) + 1, showlegend=False,
                hovertemplate=f"nt %{{customdata}}: {base}<extra></extra>")
    spans = view.spans
    for kind in ("centre", "unit", "extended"):
        part = spans[spans["kind"] == kind] if len(spans) else spans
        if len(part):
            sx, sy = _segments(part["first"].to_numpy(), part["last"].to_numpy(), _ROWS["masked"])
            name = "masked token (each drawn alone)" if view.strategy == "random" else SPAN_NAMES[kind]
            add(x=sx, y=sy, mode="lines", name=name, hoverinfo="skip",
                line=dict(color=COLORS[kind], width=9 if kind != "extended" else 5))
    if len(view.centres) and view.strategy != "random":
        c = np.asarray(view.centres)
        add(x=c + 0.5, y=np.full(c.size, _ROWS["centres"]), mode="markers", name="centre (drawn at random)",
            marker=dict(symbol="triangle-up", size=10, color=COLORS["centre_mark"]), customdata=c + 1,
            hovertemplate="centre: token %{customdata}<extra></extra>")
    ch = view.chosen
    if len(ch):
        ext = ch["extended"].to_numpy(bool)
        for sel, name, color in ((ext, "chosen k-mer, got the 11-token span", COLORS["chosen"]),
                                 (~ext, "chosen k-mer, not extended (lower score)", "#C5A3DB")):
            if sel.any():
                pos = ch["pos"].to_numpy()[sel]
                sx, sy = _segments(pos, pos + k - 1, _ROWS["chosen"])
                add(x=sx, y=sy, mode="lines", line=dict(color=color, width=7), name=name, hoverinfo="skip")
        score = ch["score"].to_numpy(float)
        label = [f"{km} {s:.2f}" if np.isfinite(s) else f"{km} n/a" for km, s in zip(ch["kmer"], score)]
        order = np.argsort(ch["pos"].to_numpy(), kind="stable")
        ys = np.empty(len(ch))
        ys[order] = _ROWS["chosen"] - 0.4 - 0.35 * (np.arange(len(ch)) % 2)  # alternate: less overlap
        add(x=ch["pos"].to_numpy() + k / 2, y=ys, mode="text", text=label, showlegend=False,
            textfont=dict(size=10, color=COLORS["chosen"]), customdata=ch["pos"].to_numpy() + 1,
            hovertemplate="k-mer at token %{customdata}: %{text}<extra></extra>")
    if motifs is not None and len(motifs):
        sx, sy = _segments(motifs["start"].to_numpy(), motifs["end"].to_numpy() - 1, _ROWS["motifs"])
        add(x=sx, y=sy, mode="lines", line=dict(color=COLORS["motif"], width=7),
            name="planted motif site (ground truth)", hoverinfo="skip")
        add(x=(motifs["start"] + motifs["end"]).to_numpy() / 2, y=np.full(len(motifs), _ROWS["motifs"] - 0.45),
            mode="text", text=motifs["motif_name"].to_numpy(), textfont=dict(size=10), showlegend=False,
            hoverinfo="skip")
    s = np.asarray(view.kmer_scores, float)
    kmers = [view.sequence[t:t + k] for t in range(s.size)]
    traces.append(dict(type="scatter", **bottom, x=np.arange(s.size) + 0.5, y=s, mode="lines",
                       line=dict(color=COLORS["score"], width=1.3, shape="hv"), customdata=kmers,
                       name="PMI score of the k-mer starting here",
                       hovertemplate="%{customdata}: %{y:.3f}<extra></extra>"))
    if len(ch):
        traces.append(dict(type="scatter", **bottom, x=ch["pos"].to_numpy() + 0.5,
                           y=ch["score"].to_numpy(float), mode="markers", showlegend=False,
                           marker=dict(color=COLORS["chosen"], size=8), hoverinfo="skip"))
    used = {r: v for r, v in _ROWS.items() if r != "motifs" or (motifs is not None and len(motifs))}
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), dragmode="pan",
        title=dict(text=title) if title else None, plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=-0.2, font=dict(size=11)),
        xaxis=dict(anchor="y2", range=list(x_range) if x_range else list(default_range(view, motifs)),
                   title=dict(text="position in the sequence (nt)")),
        yaxis=dict(domain=[0.36, 1.0], tickvals=list(used.values()),
                   ticktext=[_ROW_LABELS[r] for r in used], range=[min(used.values()) - 1.0, 5.6],
                   showgrid=False, fixedrange=True),
        yaxis2=dict(domain=[0.0, 0.28], title=dict(text="PMI score"), fixedrange=True, gridcolor="#EEEEEE"))
    return go.Figure(data=traces, layout=layout, _validate=False)


def _hidden_geometry(n_nt: int, k: int, masked: set[int]) -> np.ndarray:
    """Hidden nucleotides of a toy sequence: every token covering them is masked."""
    n_tok = n_nt - k + 1
    return np.array([all(t in masked for t in range(max(0, i - k + 1), min(i, n_tok - 1) + 1))
                     for i in range(n_nt)])


def overlap_schematic(k: int = 6) -> go.Figure:
    """Why span masking matters for overlapping k-mers: three toy masks side by side.

    A 20-nt sequence, its overlapping k-mer tokens as staggered bars; masked
    tokens coloured; nucleotides that no unmasked token covers are hidden (red).
    """
    seq = "GATTACAGGCTCCCAGTTAC"
    n_nt, n_tok = len(seq), len(seq) - k + 1
    panels = [("1 masked token: 0 nt hidden", {7}, "#555555"),
              (f"DNABERT: {k} tokens masked, 1 nt hidden", set(range(5, 5 + k)), COLORS["centre"]),
              (f"GeneMask: {2 * k - 1} tokens masked, {k} nt hidden",
               set(range(2, 2 + 2 * k - 1)), COLORS["extended"])]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[p[0] for p in panels], horizontal_spacing=0.04)
    for col, (_, masked, color) in enumerate(panels, start=1):
        hidden = _hidden_geometry(n_nt, k, masked)
        for t in range(n_tok):
            on = t in masked
            fig.add_trace(go.Scatter(x=[t + 0.1, t + k - 0.1], y=[-t - 1.5] * 2, mode="lines",
                                     line=dict(color=color if on else "#DDDDDD", width=6),
                                     hoverinfo="skip", showlegend=False), 1, col)
        for i, b in enumerate(seq):
            if hidden[i]:
                fig.add_trace(go.Scatter(x=[i + 0.5], y=[0], mode="markers", hoverinfo="skip",
                                         marker=dict(symbol="square", size=14, color=COLORS["hidden"],
                                                     opacity=0.45), showlegend=False), 1, col)
        fig.add_trace(go.Scatter(x=np.arange(n_nt) + 0.5, y=np.zeros(n_nt), mode="text", text=list(seq),
                                 textfont=dict(size=12, color=[BASE_COLORS[b] for b in seq]),
                                 hoverinfo="skip", showlegend=False), 1, col)
    fig.update_xaxes(visible=False, range=[-0.5, n_nt + 0.5])
    fig.update_yaxes(visible=False, range=[-n_tok - 2.5, 1])
    fig.update_layout(height=330, margin=dict(l=5, r=5, t=40, b=5), plot_bgcolor="white")
    fig.update_annotations(font_size=13)
    return fig


def rates_figure(rates: pd.DataFrame) -> go.Figure:
    """Box plots over draws: % masked tokens and % hidden nucleotides, per strategy."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["masked tokens (% of tokens)",
                                                        "hidden nucleotides (% of nucleotides)"])
    for strategy, g in rates.groupby("strategy", sort=False):
        color = STRATEGY_COLORS.get(strategy)
        for col, what in ((1, "token_rate"), (2, "hidden_rate")):
            fig.add_trace(go.Box(y=100 * g[what], name=strategy, marker_color=color,
                                 boxmean=True, showlegend=False), 1, col)
    fig.update_yaxes(rangemode="tozero", ticksuffix="%")
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def run_length_figure(runs: pd.DataFrame, max_length: int = 25) -> go.Figure:
    """Distribution of run lengths (consecutive masked tokens; consecutive hidden nt), per strategy.

    Lengths above ``max_length`` are counted at ``max_length``."""
    whats = ["masked tokens", "hidden nucleotides"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"runs of {w}" for w in whats])
    for col, what in enumerate(whats, start=1):
        sub = runs[runs["what"] == what]
        for strategy, g in sub.groupby("strategy", sort=False):
            counts = g["length"].clip(upper=max_length).value_counts(normalize=True).sort_index()
            fig.add_trace(go.Scatter(x=counts.index, y=100 * counts.values, name=strategy,
                                     mode="lines+markers", line=dict(color=STRATEGY_COLORS.get(strategy)),
                                     showlegend=col == 1, legendgroup=strategy), 1, col)
    fig.update_xaxes(title_text=f"run length ({max_length} = {max_length} or more)", range=[0, max_length + 1])
    fig.update_yaxes(title_text="% of runs", col=1)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def loss_curves(metrics: dict[str, pd.DataFrame], smooth: int = 1) -> go.Figure:
    """Training loss against step, one line per run; evaluation losses as markers."""
    fig = go.Figure()
    palette = ["#7B4FA0", "#F28E2B", "#2A9D8F", "#8C8C8C", "#D62839", "#255C99"]
    for i, (label, m) in enumerate(metrics.items()):
        color = palette[i % len(palette)]
        if len(m) and "loss" in m:
            tr = m.dropna(subset=["loss"])
            y = tr["loss"].rolling(smooth, min_periods=1).mean() if smooth > 1 else tr["loss"]
            fig.add_trace(go.Scatter(x=tr["step"], y=y, mode="lines", name=f"{label} (train)",
                                     line=dict(color=color)))
        if len(m) and "eval_loss" in m:
            ev = m.dropna(subset=["eval_loss"])
            fig.add_trace(go.Scatter(x=ev["step"], y=ev["eval_loss"], mode="markers+lines",
                                     name=f"{label} (held-out)", line=dict(color=color, dash="dot")))
    fig.update_layout(xaxis_title="training step", yaxis_title="masked-token loss (cross-entropy)",
                      height=360, margin=dict(l=10, r=10, t=20, b=10), legend=dict(font=dict(size=11)))
    return fig


#: what each few-shot metric scores when the model guesses (two balanced classes; MCC 0)
CHANCE = {"accuracy": 0.5, "macro_f1": 0.5, "auroc": 0.5, "mcc": 0.0}


def fewshot_figure(results: pd.DataFrame, metric: str = "accuracy", group: str = "model",
                   shots: str = "shots", legend_title: str | None = None,
                   chance: float | None = None) -> go.Figure:
    """Mean +- standard deviation over seeds of ``metric`` per shot count, one line per ``group``
    (a column; :func:`genemask_viz.app_logic.labs.fewshot_lines` makes one per dataset and model).

    The y axis is never auto-zoomed onto the data: it runs from chance (``chance``, default
    :data:`CHANCE` of the metric, drawn as a dotted line; lower if a bar reaches below it)
    to 1, so a spread of 0.006 looks as small as it is."""
    fig = go.Figure()
    keys = [group] if group in results else []
    low = high = None
    for name, g in (results.groupby(keys, sort=False) if keys else [("all", results)]):
        name = name[0] if isinstance(name, tuple) else name
        agg = g.groupby(shots)[metric].agg(["mean", "std", "count"]).reset_index()
        sd = agg["std"].fillna(0)
        fig.add_trace(go.Scatter(x=agg[shots], y=agg["mean"], mode="lines+markers", name=str(name),
                                 error_y=dict(type="data", array=sd, visible=True),
                                 customdata=np.stack([agg["count"], sd], axis=1),
                                 hovertemplate="%{x} shots: %{y:.3f} +- %{customdata[1]:.3f} "
                                               "(n=%{customdata[0]})<extra></extra>"))
        if len(agg):
            lo, hi = float((agg["mean"] - sd).min()), float((agg["mean"] + sd).max())
            low = lo if low is None else min(low, lo)
            high = hi if high is None else max(high, hi)
    ticks = sorted(results[shots].unique())
    fig.update_xaxes(type="log", title_text="shots per class (log scale)", tickvals=ticks,
                     ticktext=[str(t) for t in ticks])
    chance = CHANCE.get(metric) if chance is None else chance
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color="#888",
                      annotation_text="chance", annotation_position="bottom right")
        bottom = min(chance, low if low is not None else chance) - 0.03
        top = max(1.0, high if high is not None else 1.0) + 0.02
        fig.update_yaxes(range=[bottom, top])
    fig.update_yaxes(title_text=f"{metric} (mean +- sd over seeds)")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=20, b=10), showlegend=True,
                      legend_title_text=legend_title or group)
    return fig


def ranking_bins_figure(ranking_scores: dict[str, np.ndarray], match_score: np.ndarray,
                        label: str = "best JASPAR match (core, fraction of max)",
                        bins: int = 20) -> go.Figure:
    """Mean motif-match score per ranking bin (bin 1 = top), one line per ranking.

    Bins are whole numbers: the x axis has one tick per bin (1, 2, ..., ``bins``; every
    other one past 20), never 2.5 or 7.5."""
    fig = go.Figure()
    match_score = np.asarray(match_score, float)
    x = np.arange(1, bins + 1)
    for name, score in ranking_scores.items():
        order = np.argsort(-np.asarray(score, float), kind="stable")
        chunks = np.array_split(match_score[order], bins)
        fig.add_trace(go.Scatter(x=x, y=[float(c.mean()) if c.size else np.nan for c in chunks],
                                 mode="lines+markers", name=RANKING_NAMES.get(name, name),
                                 line=dict(color="#7B4FA0" if name == "pmi" else None)))
    step = 1 if bins <= 20 else 2
    fig.update_xaxes(title_text=f"ranking bin (1 = top {100 / bins:.0f}%)", tickmode="array",
                     tickvals=list(x[::step]), ticktext=[str(v) for v in x[::step]])
    fig.update_yaxes(title_text=label)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=20, b=10))
    return fig


def score_distribution(table: pd.DataFrame, column: str = "genemask_score") -> go.Figure:
    """Distribution of a score column per n-gram length (box per n)."""
    fig = go.Figure()
    sub = table[table[column].notna()]
    for n, g in sub.groupby("n"):
        fig.add_trace(go.Box(y=g[column], name=f"n={n}", boxpoints=False, showlegend=False))
    fig.update_layout(yaxis_title=column, xaxis_title="n-gram length", height=320,
                      margin=dict(l=10, r=10, t=20, b=10))
    return fig


RANKING_NAMES = {"pmi": "PMI", "frequency": "frequency", "naive_pmi": "naive PMI",
                 "random": "random"}


def ranking_statistics_figure(tidy: pd.DataFrame, on: str = "core_rel", enrich_on: str = "core",
                              motifs: str = "all", kmer_set: str = "kmers") -> go.Figure:
    """The PMI ranking beside its controls: Spearman rho with motif match, and top-N enrichment."""
    t = tidy[(tidy["motifs"] == motifs) & (tidy["kmer_set"] == kmer_set)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[
        "Spearman rho with motif match", "fold enrichment in the top N"])
    for col, (measure, what, ref) in enumerate((("spearman", on, 0.0),
                                                ("enrichment_fold", enrich_on, 1.0)), start=1):
        part = t[(t["measure"] == measure) & (t["on"] == what)]
        names = [RANKING_NAMES.get(r, r) for r in part["ranking"]]
        colors = ["#7B4FA0" if r == "pmi" else "#AAAAAA" for r in part["ranking"]]
        text = [f"p={p:.1g}" for p in part["p"]]
        fig.add_trace(go.Bar(x=names, y=part["value"], marker_color=colors, text=text,
                             textposition="outside", showlegend=False), 1, col)
        fig.add_hline(y=ref, line_dash="dot", line_color="#555", row=1, col=col)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
    return fig

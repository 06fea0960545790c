"""The whole comparison: the release's hg38 ranking, the demo genome's planted motifs, logos, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyjaspar")

from genemask_viz.motifs.logos import aligned_starts, match_logo  # noqa: E402
from genemask_viz.motifs.report import compare_table  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HG38 = SHARED / "genemask" / "hg38_chr1-3_6mer_npmi_ranking.csv"
PLANTED = ["MA0139.2", "MA0079.5", "MA0108.3", "MA0506.3", "MA0095.4"]


def test_logo_alignment_and_files(tmp_path):
    assert aligned_starts(6, 15, 3, 1) == (3, 0)
    assert aligned_starts(6, 15, 3, -1) == (6, 0)      # revcomp(k-mer) on columns 3..8
    assert aligned_starts(8, 6, -1, 1) == (0, 1)       # motif starts at k-mer base 1
    assert aligned_starts(8, 6, -1, -1) == (0, 1)
    probs = np.full((15, 4), 0.1)
    probs[np.arange(15), np.arange(15) % 4] = 0.7
    fig = match_logo("GTGTGT", probs, 3, -1, motif_label="M")
    assert len(fig.axes) == 2 and "reverse complement" in fig.axes[1].get_title(loc="left")
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    fig.savefig(tmp_path / "x.png")
    fig.savefig(tmp_path / "x.svg")
    assert (tmp_path / "x.png").stat().st_size > 1000 and (tmp_path / "x.svg").stat().st_size > 1000


@pytest.mark.skipif(not HG38.exists(), reason=f"release ranking not found at {HG38}")
def test_cli_on_release_hg38_ranking(tmp_path):
    from genemask_viz.cli.motifs import register
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["motifs", "--table", str(HG38), "--top", "100", "--logos", "2",
                              "--bootstrap", "30", "--out", str(tmp_path)])
    assert args.func(args) == 0
    s = json.loads((tmp_path / "summary.json").read_text(),
                   parse_constant=lambda c: pytest.fail(f"summary.json holds {c}: not strict JSON"))
    assert s["n_kmers"] == 4096 and s["n_motifs"] == 879
    st = s["statistics"]["all"]
    pmi, rnd = st["pmi"]["kmers"], st["random"]["kmers"]
    assert pmi["spearman"]["core_rel"]["rho"] > 0.2 and pmi["spearman"]["core_rel"]["p"] < 1e-20
    assert abs(rnd["spearman"]["core_rel"]["rho"]) < 0.05
    assert pmi["partial_spearman_gc_cpg"]["core_rel"]["rho"] > 0.1
    assert pmi["enrichment"]["core"]["fold"] > 1.1 and pmi["enrichment"]["core"]["p"] < 0.05
    assert s["base_rates"]["naive"] > 0.95                       # the saturated definition
    assert 0.3 < s["base_rates"]["core"] < 0.7
    assert s["base_rates"]["pvalue"] > 0.85                      # per-motif FPR: near-saturated
    assert s["p_match_all_fpr_per_motif"] == pytest.approx(0.01 / 879)
    assert s["base_rates"]["pvalue_all"] == 0.0                  # 0.01/879 * 4^6 < 1: none can pass
    assert pmi["enrichment"]["pvalue_all"]["all_matches"] == 0
    assert set(s["top_rates"]) == set(s["base_rates"])
    assert s["pmi_beats"]["random"] is True
    matches = (tmp_path / "matches.csv").read_text().splitlines()
    assert len(matches) == 4097 and matches[1].split(",")[1] == "CCTCCC"
    assert len(list((tmp_path / "logos").glob("*.png"))) == 4      # 2 k-mers + 2 groups
    # both rankings, named; best_rel on reverse-complement pairs is the headline
    assert set(s["rankings"]) == {"pmi", "pmi_exact", "frequency", "naive_pmi", "random"}
    assert "release" in s["rankings"]["pmi"] and "exact" in s["rankings"]["pmi_exact"]
    h = s["headline"]
    assert (h["kmer_set"], h["on"]) == ("rc_merged", "best_rel")
    assert s["sensitivity_core_rel"]["on"] == "core_rel"
    pmi_rho = h["rho"]["pmi"]
    assert pmi_rho["lo"] < pmi_rho["rho"] < pmi_rho["hi"] and pmi_rho["lo"] > 0.2
    d = h["differences"]["pmi - random"]
    assert d["lo"] > 0.15 and d["p_bh"] >= d["p_boot"] and d["p_bh"] < 1e-3
    import pandas as pd
    boot = pd.read_csv(tmp_path / "bootstrap.csv")
    assert set(boot["reps"]) == {30} and {"rc_merged", "kmers"} == set(boot["kmer_set"])
    stats = pd.read_csv(tmp_path / "stats.csv")
    assert (stats["p_bh"] >= stats["p"] - 1e-15).all() and stats["p_bh"].max() <= 1
    assert s["correction"].startswith("Benjamini-Hochberg")
    groups = pd.read_csv(tmp_path / "groups.csv")
    assert {"p", "E", "q", "best_motif_name"} <= set(groups.columns) and len(groups) >= 10
    assert groups.loc[0, "best_motif_name"] == "ZNF460"              # the Alu group
    assert (groups["E"] >= groups["p"]).all() and (groups["q"] >= groups["p"]).all()
    assert s["tomtom"]["extended"] is None and "ext_q" not in groups   # no sequences given


def test_default_n_prefers_genemask_6mers():
    import pandas as pd
    from genemask_viz.motifs.report import default_n

    def table(counts):  # rows per length; scored unless the length is listed with a minus
        rows = [{"ngram": "A" * abs(n), "n": abs(n), "genemask_score": None if n < 0 else 1.0}
                for n, c in counts.items() for _ in range(c)]
        return pd.DataFrame(rows)
    # a demo table with max_n=10 has more 7-mers than 6-mers: still compare 6-mers
    assert default_n(table({5: 10, 6: 20, 7: 50, 8: 40})) == 6
    assert default_n(table({4: 30, 5: 60, 8: 10})) == 5          # no 6-mers: the most common
    assert default_n(table({-6: 90, 5: 10, 7: 20})) == 7         # unscored 6-mers do not count
    from genemask_viz.cli.motifs import register
    import argparse
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    action = next(a for a in parser._subparsers._group_actions[0].choices["motifs"]._actions
                  if a.dest == "n")
    assert "6" in action.help and "most rows" in action.help and "table's k" not in action.help


def test_demo_genome_planted_motifs_are_recovered(tmp_path, monkeypatch):
    """`genemask motifs --table demo`: the planted motifs are recovered, by core hit (6-mers)
    and, for 8-mer groups, by Tomtom at q < 0.05."""
    import argparse
    import pandas as pd
    from genemask_viz.cli.motifs import load_demo_or_table, register
    from genemask_viz.motifs.report import tomtom_groups
    from genemask_viz.motifs.tomtom import counts_to_probs, tomtom_matrix

    table = load_demo_or_table("demo")                    # computed once, n <= 8
    # a tiny task: positives carry NRF1's consensus (either strand), negatives are random
    rng = np.random.default_rng(0)
    task = tmp_path / "tiny"
    task.mkdir()
    rows = ['"sequence"\t"label"']
    for i in range(80):
        seq = "".join(rng.choice(list("ACGT"), 60))
        if i < 40:
            site = "GCGCATGCGC" if i % 2 else "GCGCATGCGC"[::-1].translate(str.maketrans("ACGT", "TGCA"))
            seq = seq[:20] + site + seq[30:]
        rows.append(f'"{" ".join(seq[j:j + 6] for j in range(55))}"\t{int(i < 40)}')
    (task / "train.tsv").write_text("\n".join(rows) + "\n")
    result = compare_table(table, top=100, reps=20, tasks={"tiny": task})
    tiny = result.tasks["tiny"]["motifs"]
    assert tiny.iloc[0]["q"] < 1e-6 and tiny["enriched"].any()
    assert "MA0506.3" in set(tiny.loc[tiny.enriched, "motif_id"])       # NRF1
    assert result.tasks["tiny"]["facts"]["n_positive"] == 40
    assert "task:tiny" in result.stats and set(result.tasks["tiny"]["chance"]) == set(result.rankings)
    from genemask_viz.motifs.report import summary
    s = summary(result)
    assert s["tasks"]["tiny"]["kmers"]["on"] == "best_rel"
    json.dumps(s["tasks"], default=float)
    top = result.matches.head(100)
    found = {mid for mid in PLANTED if (top["core_motif"] == mid).any()}
    # measured: CTCF, SP1 and NRF1 are some top-100 k-mer's best core hit; TBP (TATAAA is
    # common in an AT-rich background) and YY1 are not
    assert {"MA0139.2", "MA0079.5", "MA0506.3"} <= found
    st = result.stats["all"]
    assert st["pmi"]["kmers"]["enrichment"]["core"]["p"] < 1e-3
    assert st["random"]["kmers"]["enrichment"]["core"]["p"] > 0.05
    assert st["pmi"]["kmers"]["spearman"]["core_rel"]["rho"] > 0.1
    # Tomtom: groups of the top 100 8-mers find SP1, NRF1 and YY1 at q < 0.05 (measured; CTCF's
    # 8-mers vary too much to reach the table's min count 101, and no group finds it)
    eight = table[(table.n == 8) & table.genemask_score.notna()].sort_values(
        "genemask_score", ascending=False)
    groups, hits, objs = tomtom_groups(eight["ngram"].head(100).to_numpy(), result.mset, 8)
    res = tomtom_matrix([counts_to_probs(g.counts) for g in objs], result.mset)
    ids = list(result.mset.ids)
    best_q = {mid: float(res["q"][:, ids.index(mid)].min()) for mid in PLANTED}
    assert max(best_q[m] for m in ("MA0079.5", "MA0506.3", "MA0095.4")) < 0.05, best_q
    assert best_q["MA0108.3"] > 0.05                       # TBP: not found (documented)
    assert best_q["MA0139.2"] > 0.05                       # CTCF: not found (docs/MOTIFS.md)
    assert set(hits.loc[(hits.hit == 1) & (hits.q < 0.05), "motif_id"]) >= {"MA0506.3", "MA0095.4"}
    # seed extension: each group's sites in the demo genome, +-8 nt, trimmed at 0.25 bits
    # (measured, docs/MOTIFS.md): SP1 and NRF1 found; YY1's seeds are 82 % chance occurrences
    # and its extended matrix is lost (q 0.53); CTCF and TBP still not found
    from genemask_viz.motifs.extend import extend_groups
    from genemask_viz.sequences import demo_genome
    genome = demo_genome(seed=0)
    ext = extend_groups(objs, genome.records, flank=8)
    res_e = tomtom_matrix([counts_to_probs(e.counts) for e in ext], result.mset)
    ext_q = {mid: float(res_e["q"][:, ids.index(mid)].min()) for mid in PLANTED}
    assert max(ext_q["MA0079.5"], ext_q["MA0506.3"]) < 0.05, ext_q
    assert min(ext_q["MA0095.4"], ext_q["MA0108.3"], ext_q["MA0139.2"]) > 0.05, ext_q
    # the dilution estimate agrees with the planted truth: the share of sites on a planted motif
    planted = genome.motifs.assign(record=genome.motifs["record"].str[3:].astype(int) - 1)

    def on_planted(e, mid):
        p = planted[planted.motif_id == mid]
        m = e.sites.merge(p, on="record", suffixes=("", "_m"))
        hit = (m.start < m.end_m) & (m.start_m < m.end)
        return m.loc[hit, ["record", "start", "strand"]].drop_duplicates().shape[0] / e.n_sites
    sp1 = next(e for e, g in zip(ext, objs) if g.consensus == "GGGGCGGGG")
    yy1 = next(e for e, g in zip(ext, objs) if g.consensus == "CCCATTTTGCAG")
    assert sp1.background_fraction < 0.1 and on_planted(sp1, "MA0079.5") > 0.85
    assert yy1.background_fraction > 0.7 and on_planted(yy1, "MA0095.4") < 0.2
    # the CLI path: 'demo' is a table, not a missing file (its table is the one computed above)
    import genemask_viz.cli.motifs as cli_motifs
    assert table.attrs["source"].startswith("demo genome")
    monkeypatch.setattr(cli_motifs, "load_demo_or_table",
                        lambda spec: table if spec == "demo" else pytest.fail(spec))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["motifs", "--table", "demo", "--group-n", "8", "--bootstrap", "10",
                              "--logos", "0", "--out", str(tmp_path)])
    assert args.func(args) == 0
    cli_groups = pd.read_csv(tmp_path / "groups.csv")
    assert set(cli_groups.loc[cli_groups.q < 0.05, "best_motif_id"]) >= {"MA0506.3", "MA0095.4"}
    # with --table demo the groups are also extended from the demo genome's sites
    assert "MA0506.3" in set(cli_groups.loc[cli_groups.ext_q < 0.05, "ext_best_motif_id"])
    assert np.allclose(cli_groups["ext_sites"], [e.n_sites for e in ext])
    assert (tmp_path / "tomtom_hits_extended.csv").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["tomtom"]["n"] == 8 and summary["n_kmers"] == len(result.kmers)
    assert summary["tomtom"]["extended"]["flank"] == 8
    assert summary["tomtom"]["extended"]["significant_q05"] == int(cli_groups.ext_significant_q05.sum())

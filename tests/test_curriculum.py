"""CM-GEMS curriculum: the switch rule on synthetic loss curves, the per-stage collator,
and resume across the switch (tiny model, a few steps, one torch thread)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import TrainerCallback

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.tokens import KmerTokenizer, kmer_vocab
from genemask_viz.training import registry as reg
from genemask_viz.training.corpus import BatchCollator, SequenceDataset, make_collator
from genemask_viz.training.curriculum import (CurriculumBatchCollator, CurriculumCallback,
                                              SwitchRule, default_window, setup_curriculum)
from genemask_viz.training.pretrain import PretrainConfig
from genemask_viz.training.worker import execute_run

pytestmark = pytest.mark.usefixtures("one_thread")


def curve(steps):
    """Perplexity falls by 10 per step to 100 at step 40, then stays there."""
    return [math.log(max(500.0 - 10 * s, 100.0)) for s in steps]


def test_switch_rule_on_a_synthetic_curve():
    rule = SwitchRule(window=10, threshold=1.0)
    switched = [s for s, loss in zip(range(1, 101), curve(range(1, 101))) if rule.update(s, loss)]
    # at 57 the earlier window still holds ppl 120 and 110: 100 * (1.2 * 1.1)^0.1 - 100 = 2.81;
    # at 58 only 110: 100 * 1.1^0.1 - 100 = 0.957 < 1
    assert switched[0] == 58
    assert rule.last["step"] == 100 and rule.last["improvement"] == pytest.approx(0.0, abs=1e-9)
    rule = SwitchRule(window=10, threshold=1.0)
    for s in range(1, 58):
        assert not rule.update(s, curve([s])[0])
    assert rule.last["improvement"] == pytest.approx(100 * 1.32 ** 0.1 - 100)
    assert rule.update(58, curve([58])[0])
    assert rule.last["perplexity_before"] == pytest.approx(100 * 1.1 ** 0.1)
    assert rule.last["perplexity_now"] == pytest.approx(100.0)
    # a steadily falling curve never switches; a flat one at the first possible step (2w)
    falling = SwitchRule(window=10, threshold=1.0)
    assert not any(falling.update(s, math.log(5000 - 10 * s)) for s in range(1, 200))
    flat = SwitchRule(window=10, threshold=1.0)
    assert [s for s in range(1, 40) if flat.update(s, 2.0)][0] == 20


def test_switch_rule_weights_rows_by_steps_and_ignores_nan():
    """Log rows cover several steps (Trainer averages over logging_steps); the first row
    (logging_first_step) covers one. Window 4 at step 8: rows (1: n=1), (4: n=3), (8: n=4)."""
    rule = SwitchRule(window=4, threshold=0.5)
    assert not rule.update(1, math.log(10.0))
    assert not rule.update(4, math.log(20.0))
    assert not rule.update(6, float("nan"))          # skipped, no row
    assert rule.update(8, math.log(20.0))
    # before = rows with 0 < step <= 4, weights 1 and 3; now = the row at 8
    assert rule.last["perplexity_before"] == pytest.approx(math.exp((math.log(10) + 3 * math.log(20)) / 4))
    assert rule.last["improvement"] < 0
    assert not rule.update(8, 0.0)                    # a repeated log of the same step
    with pytest.raises(GeneMaskInputError, match="window"):
        SwitchRule(window=0)
    assert default_window(10_000, 10) == 500 and default_window(20, 10) == 10
    with pytest.raises(GeneMaskInputError, match="curricula only"):
        setup_curriculum(PretrainConfig(strategy="genemask", switch_window=50), None, None, None,
                         make_collator, BatchCollator)


def table():
    rng = np.random.default_rng(0)
    kmers = kmer_vocab(6)[5:]
    return pd.DataFrame({"ngram": kmers, "n": 6, "genemask_score": rng.normal(size=len(kmers))})


def test_curriculum_collator_masks_each_stage_like_a_plain_run():
    tok = KmerTokenizer(k=6)
    rng = np.random.default_rng(1)
    ds = SequenceDataset(["".join(rng.choice(list("ACGT"), n)) for n in (80, 200, 300)], k=6)
    examples = [ds[i] for i in range(3)]
    tab = table()
    stages = [BatchCollator(make_collator(s, tok, table=tab, seed=5), seed=5)
              for s in ("genemask", "global-pmi")]
    batch = CurriculumBatchCollator(stages)(examples)
    plain = [BatchCollator(make_collator(s, tok, table=tab, seed=5), seed=5)(examples)
             for s in ("genemask", "global-pmi")]
    assert batch["stage_input_ids"].shape == (2, 3, plain[0]["input_ids"].shape[1])
    cb = CurriculumCallback("cm-gems", SwitchRule(window=2))
    for stage in (0, 1):
        cb.stage = stage
        picked = cb.select(batch)
        assert "stage_input_ids" not in picked and "stage_labels" not in picked
        assert torch.equal(picked["input_ids"], plain[stage]["input_ids"])
        assert torch.equal(picked["labels"], plain[stage]["labels"])
    assert not torch.equal(plain[0]["labels"], plain[1]["labels"])
    with pytest.raises(GeneMaskInputError, match="curriculum"):
        CurriculumCallback("genemask", SwitchRule(window=2))


def config(table_path, **kw) -> PretrainConfig:
    base = dict(corpus="demo", strategy="cm-gems", model="tiny", steps=8, batch_size=4,
                max_length=64, n_val=8, save_steps=2, logging_steps=1, seed=3, threads=1,
                switch_window=3, switch_threshold=1e9, table=str(table_path))
    base.update(kw)
    return PretrainConfig(**base)


def losses(run_dir) -> dict[int, float]:
    frame = reg.read_metrics(run_dir)
    frame = frame[frame["loss"].notna()]
    return dict(zip(frame["step"].astype(int), frame["loss"].astype(float)))


class Kill(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.global_step == self.step and logs and "loss" in logs:
            raise KeyboardInterrupt("simulated kill")


def test_resume_across_the_switch_gives_the_same_losses(tmp_path):
    """Threshold 1e9, window 3: the switch comes at step 6 (the first possible, 2w).
    Killed at step 5 (checkpoint 4: stage 0, the rule needs steps 1..4), resumed, killed
    at step 7 (checkpoint 6: already in stage 1), resumed: every step's loss equals the
    uninterrupted run's, and the switch is recorded once."""
    path = tmp_path / "table.csv"
    table().to_csv(path, index=False)
    cfg = config(path)
    full = reg.create_run("pretrain", asdict(cfg), run_dir=tmp_path / "full")
    assert execute_run(full, progress=False)["state"] == "done"
    cut = reg.create_run("pretrain", asdict(cfg), run_dir=tmp_path / "cut")
    for kill_at, checkpoint, stage in ((5, 4, 0), (7, 6, 1)):
        with pytest.raises(KeyboardInterrupt):
            execute_run(cut, progress=False, callbacks=[Kill(kill_at)])
        saved = json.loads((cut / "checkpoints" / f"checkpoint-{checkpoint}" /
                            "curriculum.json").read_text())
        assert saved["stage"] == stage
        assert [r[0] for r in saved["rule"]["rows"]] == list(range(max(1, checkpoint - 5),
                                                                   checkpoint + 1))
        reg.create_run("pretrain", asdict(cfg), run_dir=cut)      # same command: resume
    assert execute_run(cut, progress=False)["state"] == "done"
    a, b = losses(full), losses(cut)
    assert sorted(b) == list(range(1, 9))
    for step in range(1, 9):
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-6), step
    for run in (full, cut):
        state = json.loads((run / "curriculum.json").read_text())
        assert state["stage"] == 1 and state["strategy"] == "global-pmi"
        events = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()
                  if "curriculum_switch" in x]
        assert len(events) == 1 and events[0]["step"] == 6
        assert events[0]["from"] == "genemask" and events[0]["to"] == "global-pmi"
        assert "threshold" in events[0]["reason"]
        record = json.loads((run / "model" / "training_record.json").read_text())
        assert record["curriculum"]["switches"][0]["step"] == 6
    # the stage matters: a resume that forgot it (stage 0 from checkpoint 6) gives other losses
    shutil.rmtree(full / "checkpoints" / "checkpoint-8")
    (full / "checkpoints" / "checkpoint-6" / "curriculum.json").unlink()
    saved = full / "checkpoints" / "checkpoint-6" / "trainer_state.json"
    state = json.loads(saved.read_text())
    state["log_history"] = [r for r in state["log_history"] if r.get("step", 0) < 3]
    saved.write_text(json.dumps(state))   # nothing to replay the rule over: stays in stage 0
    reg.create_run("pretrain", asdict(cfg), run_dir=full)
    with pytest.warns(Warning, match="replaying"):
        execute_run(full, progress=False)
    c = losses(full)
    assert c[6] == pytest.approx(a[6], rel=1e-5) and c[7] != pytest.approx(a[7], rel=1e-4)

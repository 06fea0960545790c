"""Cells of 03_pretrain_and_fewshot.ipynb (built by _build.py)."""

from _build import code, md

CELLS = [
md("""
# 3. Pretraining with two masking strategies, then 10-shot learning

GeneMask's claim is practical: a model pretrained with PMI-guided masking learns **faster** (the
paper pretrains for 10,000 steps instead of DNABERT's 200,000) and does better when only a few
labelled examples are available (**few-shot** learning). This notebook walks through that
experiment end to end, at toy scale:

1. pretrain a tiny BERT on the demo genome twice: with GeneMask masking and with BERT's random
   masking (same data, same seed, same steps);
2. fine-tune each, and an untrained model as a baseline, on **10 examples per class** of the demo
   task (does a 70-nt window hold a planted motif?), with several seeds;
3. compare the results with error bars, and read them honestly;
4. see how to run the same at the paper's scale on a GPU (commands only, not run here).

With the defaults this takes one to two minutes on 2 CPU cores. At this scale the models learn
very little: the point is the procedure, and how to judge a difference between two strategies.
"""),
code("""
# Parameters: change them here, then "Run all". Defaults: 1-2 minutes on 2 CPU cores.
STRATEGIES = ["genemask", "random"]   # masking strategies to pretrain with (any of the five)
MODEL = "tiny"            # tiny (2 layers, 64 hidden) | logo | dnabert-base (needs a GPU)
PRETRAIN_STEPS = 40       # optimizer steps (paper: 10,000 with dnabert-base)
BATCH_SIZE = 8            # sequences per step (paper: 250)
MAX_LENGTH = 128          # positions per sequence incl. [CLS]/[SEP] (paper: 512)
SHOTS = 10                # labelled examples per class
SEEDS = 3                 # fine-tuning runs (draws) per model: the error bars
FINETUNE_LR = 1e-3        # None = the paper's 1e-4 (tuned for BERT-base; too small for "tiny")
FINETUNE_EPOCHS = 10      # None = the paper's (20 epochs for 10 shots; twice the time)
MAX_TEST = None           # test rows per run (None: the whole held-out half, 1,000 rows)
BASELINE = True           # also fine-tune an untrained model: does pretraining help at all?
RUNS_DIR = None           # where runs are written; None: a temporary folder
THREADS = None            # CPU threads for torch; None = every core (pretraining uses both)
SEED = 0
# Scaling up on CPU: MAX_LENGTH = 512 (the paper's segments, ~385 positions on average),
# BATCH_SIZE = 16: tiny first learns only the 6-mer frequencies (loss ~8.08 nats, their entropy)
# and was still there after 150 steps; plan on 1,000+ steps (docs/BENCHMARKS.md, issue 11, has
# the measured step rates: tiny ~0.13 s per 16 x 512 step on 2 idle cores). The same question
# with intervals, 7 strategies and 3 benchmark tasks: `genemask study run laptop` (docs/REPLICATION.md).
# Paper scale needs a GPU: see the last section.
""", tags=["parameters"]),
code("""
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm: no Jupyter widgets here

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from transformers.utils import logging as hf_logging

from genemask_viz.plots import loss_curves
from genemask_viz.training.fewshot import FewShotConfig, run_fewshot, summarise
from genemask_viz.training.pretrain import PretrainConfig, device_info, pretrain
from genemask_viz.training.registry import read_metrics
from genemask_viz.training.tasks import demo_task

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()
runs = Path(RUNS_DIR) if RUNS_DIR else Path(tempfile.mkdtemp(prefix="genemask-notebook03-"))
runs.mkdir(parents=True, exist_ok=True)
print("runs folder:", runs)
print("device:", device_info()["device"])
"""),
md("""
## 1. Pretraining

Each run cuts segments from the demo genome (as the paper does from hg38: a random offset, then
segments of up to `MAX_LENGTH` positions), masks every batch with its strategy, and trains a
masked language model with Hugging Face `Trainer` (AdamW, the paper's learning rate 8e-4 with
warmup). Training takes the fast path: the prediction head runs only at the masked positions,
attention uses PyTorch's fused kernels, and batches group segments of similar length so that
little is padded. For `genemask` the k-mer PMI table is counted from the same genome first. The first
segments are held out to measure the validation loss at the end.
"""),
code("""
pretrained = {}
for strategy in STRATEGIES:
    config = PretrainConfig(corpus="demo", strategy=strategy, model=MODEL, steps=PRETRAIN_STEPS,
                            batch_size=BATCH_SIZE, max_length=MAX_LENGTH, seed=SEED, n_val=16,
                            threads=THREADS,
                            logging_steps=max(1, PRETRAIN_STEPS // 10),
                            save_steps=PRETRAIN_STEPS + 1)   # no intermediate checkpoints
    result = pretrain(config, runs / f"pretrain-{strategy}", progress=False)
    pretrained[strategy] = result
    print(f"{strategy:>18}: {result.eval['steps']} steps in {result.eval['train_runtime']:.0f} s, "
          f"validation loss {result.eval['eval_loss']:.3f}, "
          f"masked-token accuracy {result.eval['eval_accuracy']:.3f}")
"""),
code("""
fig = loss_curves({strategy: read_metrics(result.run_dir) for strategy, result in pretrained.items()})
fig.add_hline(y=np.log(4101), line_dash="dot", annotation_text="uniform guess over 4,101 tokens")
fig.show()
"""),
md("""
The two losses are **not comparable**: each strategy sets a different exercise. Random masking
hides almost nothing (notebook 1), so its masked tokens can be copied from their neighbours once
the model has learnt how; GeneMask hides whole 6-mers, which must be inferred from context. A
lower pretraining loss does not mean a better model. What counts is the downstream task.

## 2. The few-shot task

Positives are 70-nt windows of the demo genome that hold a whole planted JASPAR motif site;
negatives are windows that overlap no site. Half of each class is the fixed test set; each seed
draws `SHOTS` training examples per class from the other half.
"""),
code("""
task = demo_task()
print(f"{task.name}: {len(task.pool)} pool rows, {len(task.test)} test rows, classes {task.classes}")
task.pool.groupby("label").head(2)[["sequence", "label"]]
"""),
md("""
## 3. Fine-tuning: 10 shots, several seeds

Each run puts a fresh classification head on the pretrained encoder and fine-tunes everything on
the draw (the paper's 10-shot recipe: batch 5, warmup 10%, weight decay 0.01; the learning rate
and the number of epochs, 20 in the paper, are parameters above). The untrained baseline starts from random weights.
"""),
code("""
models = {strategy: str(result.model_dir) for strategy, result in pretrained.items()}
if BASELINE:
    models["no pretraining"] = MODEL
results = []
for name, model in models.items():
    config = FewShotConfig(data="demo", shots=[SHOTS], seeds=SEEDS, model=model,
                           learning_rate=FINETUNE_LR, epochs=FINETUNE_EPOCHS, max_test=MAX_TEST,
                           threads=THREADS)
    out = run_fewshot(config, out_dir=runs / f"fewshot-{name.replace(' ', '-')}", progress=False)
    results.append(out.results.assign(model=name))
results = pd.concat(results, ignore_index=True)
results[["model", "shots", "seed", "accuracy", "macro_f1", "mcc", "auroc", "n_train", "n_test"]].round(3)
"""),
code("""
table = summarise(results).set_index("model").loc[list(models)]
metrics = ["accuracy", "mcc", "auroc"]
fig, axes = plt.subplots(1, len(metrics), figsize=(12, 3.6))
x = np.arange(len(table))
for ax, metric in zip(axes, metrics):
    ax.bar(x, table[f"{metric}_mean"], yerr=table[f"{metric}_std"], capsize=5,
           color=plt.cm.tab10(x), alpha=0.75)
    for i, name in enumerate(table.index):   # every seed as a dot
        values = results.loc[results.model == name, metric]
        ax.plot(np.full(len(values), i), values, "k.", ms=6)
    ax.axhline({"accuracy": 0.5, "mcc": 0.0, "auroc": 0.5}[metric], color="k", lw=0.8, ls=":")
    ax.set_xticks(x, table.index, rotation=20)
    ax.set_title(f"{metric} (mean +/- sd, {SEEDS} seeds)", loc="left", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
fig.tight_layout()
plt.show()
table[[f"{m}_{s}" for m in metrics for s in ("mean", "std")]].round(3)
"""),
md("""
### Reading the comparison

* The dotted lines are chance. With a few dozen pretraining steps of a tiny model, every model
  is close to it, and the validation loss is still near the uniform guess: the pretrained
  weights are barely different from random ones. (A tiny model first learns how often each
  6-mer occurs, a loss of about 8.08 nats on the demo genome, the entropy of those
  frequencies, and only later starts to use the context; that takes hundreds of steps.) Whatever gap appears between strategies here
  reflects how a few steps nudged the initial weights, not what the strategies teach, so there
  is nothing to conclude about GeneMask at this scale, even when the gap looks consistent.
* **Error bars first.** Two strategies differ only when the gap is large compared with the
  spread over seeds (here the standard deviation over `SEEDS` draws). With 3 seeds the standard
  deviation is itself uncertain: treat a difference smaller than about two of them as noise. The
  paper reports mean and standard deviation over several draws for the same reason.
* The seeds change both the drawn examples and the fine-tuning; the test set is the same for
  every run, so the runs are paired: compare models seed by seed, too.
"""),
code("""
paired = results.pivot_table(index="seed", columns="model", values="auroc")[list(models)]
if len(STRATEGIES) >= 2:
    a, b = STRATEGIES[:2]
    diff = paired[a] - paired[b]
    print(f"AUROC {a} - {b} per seed: {np.round(diff.to_numpy(), 3).tolist()}; "
          f"mean {diff.mean():+.3f}, sd {diff.std(ddof=1) if len(diff) > 1 else 0:.3f}")
paired.round(3)
"""),
md("""
## 4. The same experiment at paper scale, on a GPU

Not run here. The same library runs it from the command line (`genemask --help`), on a machine
with a CUDA GPU (bf16 is used automatically where the GPU supports it). Install as in the
README, then:

```bash
# 1. The PMI table of the pretraining genome (paper: hg38, n-grams up to 10, count >= 101).
#    Or skip it and pass the release's ranking: --table ../shared/data/genemask/hg38_chr1-3_6mer_npmi_ranking.csv
genemask npmi hg38.fa.gz --max-n 10 --min-count 101 --out hg38_table.parquet

# 2. Pretrain BERT-base (DNABERT's architecture) with GeneMask masking, the paper's settings:
#    10,000 steps x 250 sequences of up to 512 positions, lr 8e-4, 500 warmup steps.
genemask pretrain --corpus hg38.fa.gz --strategy genemask --model dnabert-base \\
    --table hg38_table.parquet --steps 10000 --batch-size 125 --grad-accum 2 \\
    --lr 8e-4 --warmup 500 --save-steps 1000 --num-workers 4 --out runs/genemask-hg38

# The comparison run: the same command with --strategy dnabert (DNABERT's masking; the paper's
# DNABERT recipe is 200,000 steps at lr 4e-4 with 10,000 warmup steps) or --strategy random.
# An interrupted run resumes from its last checkpoint when started again with the same --out.

# 3. Several GPUs: the same arguments under Accelerate; keep GPUs x batch x accumulation = 250.
accelerate launch --num_processes 2 -m genemask_viz.cli pretrain --corpus hg38.fa.gz \\
    --strategy genemask --model dnabert-base --table hg38_table.parquet --steps 10000 \\
    --batch-size 125 --grad-accum 1 --lr 8e-4 --warmup 500 --out runs/genemask-hg38-2gpu

# 4. Few-shot evaluation on the paper's benchmarks (shot files + test set), 5 seeds per setting.
genemask fewshot --data ../shared/data/genemask/fewshot/Prom-core --shots 10,50,100,500,1000 \\
    --seeds 5 --model runs/genemask-hg38 --out runs/fewshot-prom-core-genemask
genemask runs ls
```

`python bench/gpu_pretrain.py` measures the pretraining throughput of your card (tokens per
second and model FLOPs utilisation) in a few minutes before you commit to the full run. A
downloaded DNABERT checkpoint (for example `zhihan1996/DNA_bert_6` saved in a local folder) can
be fine-tuned the same way: `--model path/to/DNA_bert_6`.

The Python API used above does the same (`PretrainConfig(model="dnabert-base", steps=10_000,
batch_size=125, grad_accum=2, warmup=500, table="hg38_table.parquet", ...)`), and
`genemask_viz.training.registry` (`create_run`, `start_run`, `run_progress`) runs it in a
background process that survives a closed notebook.
"""),
]

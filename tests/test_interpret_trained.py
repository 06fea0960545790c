"""Attribution of a model that has learned the demo task: the planted motif sites matter most.

A tiny k=6 classifier is trained here from scratch on the demo task (windows holding a
planted JASPAR site vs background windows) until its held-out accuracy shows it has
learned the task; then in-silico mutagenesis must put more importance on the planted
sites' bases than on the background bases of the same windows, on average.
"""

import numpy as np
import pytest
import torch

from genemask_viz.interpret import demo_site_spans, saturation_mutagenesis
from genemask_viz.tokens import KmerTokenizer
from genemask_viz.training.models import model_config

LEARNED = 0.70       # held-out accuracy that counts as "has learned the task" (chance 0.5)
MAX_EPOCHS = 6


@pytest.fixture(scope="module")
def trained():
    from transformers import BertForSequenceClassification

    from genemask_viz.training.tasks import demo_task
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    task = demo_task()
    tok = KmerTokenizer(k=6)
    x = tok.encode_batch(task.pool["sequence"].tolist())["input_ids"]
    y = torch.tensor(task.pool["label"].to_numpy())
    test = task.test.sample(n=300, random_state=0).reset_index(drop=True)
    xt = tok.encode_batch(test["sequence"].tolist())["input_ids"]
    yt = torch.tensor(test["label"].to_numpy())
    torch.manual_seed(0)
    model = BertForSequenceClassification(model_config("tiny", 6, num_labels=2,
                                                       hidden_dropout_prob=0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    acc = 0.0
    for _ in range(MAX_EPOCHS):  # train until it has learned the task
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), 32):
            i = order[s:s + 32]
            loss = torch.nn.functional.cross_entropy(model(input_ids=x[i]).logits, y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(input_ids=xt).logits.argmax(1)
        acc = float((pred == yt).float().mean())
        if acc >= LEARNED:
            break
    yield model, test, pred.numpy(), acc
    torch.set_num_threads(before)


def test_planted_sites_get_more_attribution_than_background(trained):
    model, test, pred, acc = trained
    assert acc >= LEARNED, f"the model did not learn the demo task (accuracy {acc:.3f})"
    hits = (test["label"].to_numpy() == 1) & (pred == 1)
    seqs = test["sequence"][hits].head(25).str.upper().tolist()
    sites = demo_site_spans(seqs)
    assert sites["sequence"].nunique() >= 0.9 * len(seqs)  # every positive window holds a site
    site_means, back_means = [], []
    for i, seq in enumerate(seqs):
        on = np.zeros(len(seq), bool)
        for s, e in sites.loc[sites["sequence"] == i, ["start", "end"]].itertuples(index=False):
            on[s:e] = True
        if not on.any() or on.all():
            continue
        effect, _, target, _ = saturation_mutagenesis(model, seq, target=1)
        importance = -effect.sum(1) / 4  # mean-centred effect of the observed base
        site_means.append(importance[on].mean())
        back_means.append(importance[~on].mean())
    site_means, back_means = np.array(site_means), np.array(back_means)
    assert len(site_means) >= 15
    assert site_means.mean() > back_means.mean() + 0.5 * back_means.std()
    assert (site_means > back_means).mean() > 0.6

"""Structured pruning mechanics on a tiny random BERT: slicing equals masking, plans, save/load of shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ovtool.errors import UserError
from ovtool.recipe.sections.distill import LayerPlan, StructuredSpec
from ovtool.training import structured as st
from ovtool.training.models import derive_student, load_classifier, save_torch, student_layer_ids


def tiny_bert(seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=48, num_labels=3, max_position_embeddings=64)  # fmt: skip
    return BertForSequenceClassification(config).eval()


def batch() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 100, (4, 12), generator=gen)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([0, 1, 2, 1])}


def _masked_logits(model, heads_off: dict[int, list[int]], ffn_off: dict[int, list[int]]) -> torch.Tensor:
    """Logits with the given heads/neurons zeroed by pre-hooks (what pruning must reproduce exactly)."""
    handles = []
    for i, layer in enumerate(model.bert.encoder.layer):
        hmask = torch.ones(4 * 8)
        for h in heads_off.get(i, []):
            hmask[h * 8 : (h + 1) * 8] = 0
        fmask = torch.ones(48)
        fmask[ffn_off.get(i, [])] = 0
        handles.append(layer.attention.output.dense.register_forward_pre_hook(lambda _m, a, m=hmask: (a[0] * m,)))
        handles.append(layer.output.dense.register_forward_pre_hook(lambda _m, a, m=fmask: (a[0] * m,)))
    with torch.no_grad():
        out = model(**{k: v for k, v in batch().items() if k != "labels"}).logits
    for h in handles:
        h.remove()
    return out


def test_slicing_equals_masking_heads_and_neurons() -> None:
    model = tiny_bert()
    heads_off = {0: [1, 3], 2: [0]}
    ffn_off = {1: list(range(0, 48, 3)), 2: [5, 6, 7]}
    expected = _masked_logits(model, heads_off, ffn_off)
    keep_h = [[h for h in range(4) if h not in heads_off.get(i, [])] for i in range(3)]
    keep_f = [[n for n in range(48) if n not in ffn_off.get(i, [])] for i in range(3)]
    st.prune_layers(model, keep_h, keep_f)
    with torch.no_grad():
        got = model(**{k: v for k, v in batch().items() if k != "labels"}).logits
    assert torch.allclose(got, expected, atol=1e-5)
    assert st.structure_of(model) == {"heads": [2, 4, 3], "ffn": [48, 32, 45]}
    assert model.bert.encoder.layer[0].attention.self.query.weight.shape == (16, 32)


def test_importance_and_global_plan_reach_the_ratio() -> None:
    model = tiny_bert()
    imp = st.measure_importance(model, [batch(), batch()])
    assert [len(h) for h in imp.heads] == [4, 4, 4] and [len(f) for f in imp.ffn] == [48, 48, 48]
    assert all(v >= 0 for layer in imp.heads for v in layer) and any(v > 0 for v in imp.heads[0])
    spec = StructuredSpec(heads_ratio=0.5, ffn_ratio=0.4)
    shape0 = st.structure_of(model)
    keep_h, keep_f = st.plan_keep(imp, spec, shape0)
    assert sum(map(len, keep_h)) == 6 and all(len(k) >= 1 for k in keep_h)
    assert sum(map(len, keep_f)) == round(144 * 0.6)
    # the kept heads of a layer are its most important ones
    for layer_scores, kept in zip(imp.heads, keep_h, strict=True):
        dropped = [s for i, s in enumerate(layer_scores) if i not in kept]
        assert not dropped or min(layer_scores[i] for i in kept) >= max(dropped)


def test_iterative_plan_ends_where_one_shot_does_and_per_layer_plan_wins() -> None:
    model = tiny_bert()
    shape0 = st.structure_of(model)
    spec = StructuredSpec(heads_ratio=0.5, ffn_ratio=0.5, plan={1: LayerPlan(heads=1, ffn=10)})
    for fraction in (0.5, 1.0):
        imp = st.measure_importance(model, [batch()])
        st.prune_layers(model, *st.plan_keep(imp, spec, shape0, fraction))
    final = st.structure_of(model)
    assert final["heads"][1] == 1 and final["ffn"][1] == 10
    assert sum(final["ffn"]) == 10 + 48  # the ratio applies to the two layers the plan does not name
    assert sum(final["heads"]) == 1 + 4
    with pytest.raises(UserError, match="plan"):
        st.plan_keep(st.measure_importance(model, [batch()]), StructuredSpec(plan={7: LayerPlan(heads=1)}), shape0)


def test_pruned_model_saves_and_loads_with_its_shapes(tmp_path: Path) -> None:
    from transformers import BertTokenizerFast

    model = tiny_bert()
    st.prune_layers(model, [[0], [1, 2], [0, 1, 2, 3]], [list(range(10)), list(range(48)), [3, 4]])
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]))
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    save_torch(model, tokenizer, tmp_path / "saved", st.structure_of(model))
    loaded = load_classifier(tmp_path / "saved").eval()
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    with torch.no_grad():
        assert torch.allclose(loaded(**inputs).logits, model(**inputs).logits, atol=1e-6)
    assert st.structure_of(loaded) == {"heads": [1, 2, 4], "ffn": [10, 48, 2]}


def test_student_layers_are_evenly_spaced_and_derived() -> None:
    assert student_layer_ids(6, 3, None) == [1, 3, 5]
    assert student_layer_ids(12, 4, None) == [2, 5, 8, 11]
    assert student_layer_ids(6, None, [4, 0]) == [0, 4]
    with pytest.raises(UserError, match="more than"):
        student_layer_ids(6, 8, None)
    teacher = tiny_bert()
    student = derive_student(teacher, [0, 2])
    assert len(student.bert.encoder.layer) == 2 and student.config.num_hidden_layers == 2
    assert len(teacher.bert.encoder.layer) == 3
    kept, source = student.bert.encoder.layer[1], teacher.bert.encoder.layer[2]
    assert torch.equal(kept.output.dense.weight, source.output.dense.weight)

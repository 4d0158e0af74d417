"""Packed documents (cu_seqlens): each document gets exactly what it gets alone."""
import pytest
import torch
import torch.nn.functional as F

# (B, T) = (3, 24) rows; documents longer than the tiny preset's 16-token window included.
ROW_DOCUMENTS = [[5, 19], [24], [3, 1, 20]]
LENGTH = 24


def packed_batch(vocab_size: int):
    torch.manual_seed(1)
    input_ids = torch.randint(0, vocab_size, (len(ROW_DOCUMENTS), LENGTH))
    lengths = [length for row in ROW_DOCUMENTS for length in row]
    cu_seqlens = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    return input_ids, cu_seqlens


@pytest.mark.parametrize("overrides", [{}, {"coda_mixers": ("swa", "gla"), "prelude_mixers": ("mamba", "swa")}])
def test_packed_rows_give_each_document_its_own_logits_and_loss(make_model, overrides):
    model = make_model(**overrides)
    input_ids, cu_seqlens = packed_batch(model.config.vocab_size)
    with torch.no_grad():
        packed = model(input_ids, labels=input_ids, cu_seqlens=cu_seqlens)
        flat_logits = packed.logits.flatten(0, 1)
        flat_ids = input_ids.flatten()
        loss_sum, targets = 0.0, 0
        bounds = cu_seqlens.tolist()
        for start, end in zip(bounds, bounds[1:]):
            document = flat_ids[start:end][None]
            alone = model(document, labels=document)
            torch.testing.assert_close(flat_logits[start:end], alone.logits[0], atol=2e-5, rtol=1e-4)
            if end - start > 1:
                loss_sum += alone.lm_loss.item() * (end - start - 1)
                targets += end - start - 1
    torch.testing.assert_close(packed.lm_loss.item(), loss_sum / targets, atol=1e-5, rtol=1e-5)


def test_packed_documents_do_not_see_each_other(make_model):
    """Poisoning one document leaves the others' logits (up to the rounding of the expert
    matmuls, whose row blocking depends on which tokens an expert gets)."""
    model = make_model()
    input_ids, cu_seqlens = packed_batch(model.config.vocab_size)
    poisoned = input_ids.clone()
    poisoned[0, :5] = (poisoned[0, :5] + 7) % model.config.vocab_size  # the first document of row 0
    with torch.no_grad():
        clean = model(input_ids, cu_seqlens=cu_seqlens).logits
        dirty = model(poisoned, cu_seqlens=cu_seqlens).logits
        unpacked = model(poisoned).logits
    assert (clean[0, :5] - dirty[0, :5]).abs().max() > 1e-2
    torch.testing.assert_close(clean[0, 5:], dirty[0, 5:], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(clean[1:], dirty[1:], atol=1e-6, rtol=1e-6)
    assert (unpacked[0, 5:] - dirty[0, 5:]).abs().max() > 1e-2  # without packing the state crosses


def test_packed_gradients_match_separate_documents(make_model):
    model = make_model(halting="none")
    input_ids, cu_seqlens = packed_batch(model.config.vocab_size)
    model(input_ids, labels=input_ids, cu_seqlens=cu_seqlens).lm_loss.backward()
    packed_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    bounds, flat_ids = cu_seqlens.tolist(), input_ids.flatten()
    targets = sum(end - start - 1 for start, end in zip(bounds, bounds[1:]))
    for start, end in zip(bounds, bounds[1:]):
        if end - start > 1:
            document = flat_ids[start:end][None]
            (model(document, labels=document).lm_loss * (end - start - 1) / targets).backward()
    for packed_grad, parameter in zip(packed_grads, model.parameters()):
        torch.testing.assert_close(packed_grad, parameter.grad, atol=1e-5, rtol=1e-4)


def test_boundary_labels_are_ignored(make_model):
    model = make_model(halting="none")
    input_ids = torch.randint(0, model.config.vocab_size, (1, 8))
    cu_seqlens = torch.tensor([0, 3, 8], dtype=torch.int32)
    out = model(input_ids, labels=input_ids, cu_seqlens=cu_seqlens)
    logits, targets = out.logits[0], input_ids[0]
    keep = [0, 1, 3, 4, 5, 6]  # position 2 would predict token 3, the next document's first
    expected = F.cross_entropy(logits[keep], targets[[k + 1 for k in keep]])
    torch.testing.assert_close(out.lm_loss, expected)


@pytest.mark.parametrize("cu_seqlens, message", [
    ([0, 4, 4, 16], "strictly increasing"),
    ([0, 16], "row start"),
    ([0, 8, 12], "from 0 to"),
    ([[0, 8, 16]], "1-D integer"),
])
def test_bad_cu_seqlens_are_rejected(make_model, cu_seqlens, message):
    model = make_model()
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(2, 8, dtype=torch.long), cu_seqlens=torch.tensor(cu_seqlens, dtype=torch.int32))


def test_packed_documents_refuse_a_decode_cache(make_model):
    model = make_model()
    with pytest.raises(ValueError, match="decode cache"):
        model(torch.zeros(1, 4, dtype=torch.long), cache=model.new_cache(1), cu_seqlens=torch.tensor([0, 4]))

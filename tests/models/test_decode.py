"""Decoding with the cache: same logits as one forward, constant cache size, generation."""
import pytest
import torch

from rdm.models import sample_next_token

LAYOUTS = {
    "default": dict(),
    "mamba_core": dict(prelude_mixers=("gla",), core_mixer="mamba", coda_mixers=("mamba",)),
    "swa_core": dict(prelude_mixers=("swa",), core_mixer="swa", coda_mixers=("gla",)),
}


@pytest.mark.parametrize("halting", ["act", "none"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_prefill_then_decode_matches_full_forward(make_model, layout, halting):
    # 20 tokens with an 8-token attention window: the ring of cached keys wraps around.
    model = make_model(halting=halting, attn_window=8, **LAYOUTS[layout])
    length, prefill, n_loops = 20, 7, 3
    input_ids = torch.randint(0, model.config.vocab_size, (2, length))
    with torch.no_grad():
        full = model(input_ids, n_loops=n_loops).logits
        cache = model.new_cache(2, n_loops)
        pieces = [model(input_ids[:, :prefill], n_loops=n_loops, cache=cache).logits]
        pieces += [model(input_ids[:, t : t + 1], n_loops=n_loops, cache=cache).logits for t in range(prefill, length)]
    assert cache.position == length
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-4, atol=1e-5)


def test_rope_positions_continue_across_decode_steps(make_model):
    # Only attention sees positions: an all-attention model decodes token by token from an
    # empty cache and must still match the full forward (position 0 everywhere would not).
    model = make_model(prelude_mixers=("swa",), core_mixer="swa", coda_mixers=("swa",), attn_num_memory=0)
    input_ids = torch.randint(0, model.config.vocab_size, (1, 12))
    with torch.no_grad():
        full = model(input_ids).logits
        cache = model.new_cache(1)
        steps = torch.cat([model(input_ids[:, t : t + 1], cache=cache).logits for t in range(12)], dim=1)
    torch.testing.assert_close(steps, full, rtol=1e-4, atol=1e-5)


def test_cache_grows_up_to_the_window_then_stays_constant(make_model):
    model = make_model()
    window = model.config.attn_window
    cache = model.new_cache(1)
    sizes = {0: cache.nbytes()}
    with torch.no_grad():
        for tokens in (window // 2, window // 2, 512 - window):
            model(torch.randint(0, model.config.vocab_size, (1, tokens)), cache=cache)
            sizes[cache.position] = cache.nbytes()
    assert cache.position == 512
    assert sizes[0] < sizes[window // 2] < sizes[window] == sizes[512]


def test_cache_rejects_more_loops_than_it_holds(make_model):
    model = make_model()
    cache = model.new_cache(1, n_loops=2)
    with pytest.raises(ValueError, match="loops"):
        model(torch.zeros(1, 1, dtype=torch.long), n_loops=3, cache=cache)


def test_generate_is_reproducible_and_matches_stream(make_model):
    model = make_model()
    prompt = torch.randint(0, model.config.vocab_size, (2, 5))
    sampling = dict(temperature=0.8, top_k=20, top_p=0.9)
    out = model.generate(prompt, 6, generator=torch.Generator().manual_seed(1), **sampling)
    again = model.generate(prompt, 6, generator=torch.Generator().manual_seed(1), **sampling)
    streamed = list(model.stream_generate(prompt, 6, generator=torch.Generator().manual_seed(1), **sampling))
    assert out.shape == (2, 11)
    assert torch.equal(out[:, :5], prompt) and torch.equal(out, again)
    assert torch.equal(out[:, 5:], torch.stack(streamed, dim=1))


def test_greedy_generation_matches_argmax_of_full_forward(make_model):
    model = make_model()
    out = model.generate(torch.randint(0, model.config.vocab_size, (1, 4)), 5, temperature=0)
    with torch.no_grad():
        logits = model(out).logits
    assert torch.equal(out[:, 4:], logits[:, 3:-1].argmax(-1))


def test_generation_stops_after_eos(make_model):
    model = make_model()
    prompt = torch.randint(0, model.config.vocab_size, (1, 4))
    first = model.generate(prompt, 1, temperature=0)[0, -1].item()
    out = model.generate(prompt, 10, temperature=0, eos_token_id=first)
    assert out.shape == (1, 5)


def test_depth_extrapolation_gives_finite_logits(make_model):
    model = make_model()
    deep = 4 * model.config.n_loops
    assert deep > model.config.max_loops
    input_ids = torch.randint(0, model.config.vocab_size, (1, 8))
    with torch.no_grad():
        assert torch.isfinite(model(input_ids, n_loops=deep).logits).all()
    assert model.generate(input_ids, 3, n_loops=deep).shape == (1, 11)


def test_top_k_and_top_p_cut_the_distribution():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    generator = torch.Generator().manual_seed(0)
    for cut in (dict(top_k=1), dict(top_p=1e-3)):
        draws = {sample_next_token(logits, generator=generator, **cut).item() for _ in range(20)}
        assert draws == {1}
    # top_p = 0.9 keeps the three likeliest tokens (their mass first reaches 0.9 at the third).
    draws = {sample_next_token(logits, top_p=0.9, generator=generator).item() for _ in range(200)}
    assert draws == {1, 2, 3}
    assert sample_next_token(logits, temperature=0).item() == 1

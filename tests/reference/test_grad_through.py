"""grad_through, the backward of every reference op (autograd through the forward on a
worker thread). Its use below the autograd layer is covered by the ops' opcheck and
torch.compile tests, which fail when the autograd runs on the calling thread."""
import threading

import pytest
import torch

from rdm.reference._autograd import grad_through


def forward(x, y, unused):
    return (x * y).sin(), x.exp()


def inputs():
    torch.manual_seed(0)
    return [torch.randn(3, 4, dtype=torch.float64) for _ in range(3)]


def test_matches_autograd_and_gives_zeros_for_unused_inputs():
    args = inputs()
    grad_outputs = [torch.randn(3, 4, dtype=torch.float64), None]  # no gradient into the second output
    grads = grad_through(forward, args, [0, 1, 2], grad_outputs)
    x, y = (a.detach().requires_grad_() for a in args[:2])
    expected = torch.autograd.grad(forward(x, y, None)[0], [x, y], grad_outputs[0])
    torch.testing.assert_close(grads[0], expected[0])
    torch.testing.assert_close(grads[1], expected[1])
    torch.testing.assert_close(grads[2], torch.zeros(3, 4, dtype=torch.float64), rtol=0, atol=0)
    assert not any(g.requires_grad for g in grads)


def test_ignores_the_callers_grad_mode():
    args = inputs()
    with torch.no_grad():
        grads = grad_through(forward, args, [0], [None, torch.ones(3, 4, dtype=torch.float64)])
    torch.testing.assert_close(grads[0], args[0].exp())


def test_exceptions_reach_the_caller():
    def failing(x):
        raise ValueError("planted")

    with pytest.raises(ValueError, match="planted"):
        grad_through(failing, inputs()[:1], [0], [None])


def test_nested_call_from_the_worker_runs_inline():
    def outer(x):
        # A forward that needs a gradient itself (as a reference calling another op's backward would).
        (inner,) = grad_through(lambda t: (t.pow(3),), [x.detach()], [0], [torch.ones_like(x)])
        return (x * inner,)

    result = []
    x = inputs()[0]
    caller = threading.Thread(target=lambda: result.append(grad_through(outer, [x], [0], [torch.ones_like(x)])),
                              daemon=True)
    caller.start()
    caller.join(timeout=60)
    assert not caller.is_alive(), "grad_through re-entered from its worker hung"
    torch.testing.assert_close(result[0][0], 3 * x.pow(2))  # inner is a constant of the outer forward

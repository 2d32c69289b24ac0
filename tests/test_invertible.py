import pytest
import torch

from iml.models.invertible import InvertiblePerceptron, sigmoid_invt, tanh_invt


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("act", [tanh_invt(), sigmoid_invt()], ids=["tanh_invt", "sigmoid_invt"])
def test_activation_is_c1_and_invertible(act):
    t = torch.linspace(-30, 30, 20001)
    y = act(t)
    assert (y.diff() > 0).all()  # strictly increasing, so invertible
    torch.testing.assert_close(act.inverse(y), t, rtol=1e-9, atol=1e-7)
    for edge in (act.t_lo, act.t_hi):  # continuous value and slope at each threshold
        below, above = torch.tensor([edge - 1e-9]), torch.tensor([edge + 1e-9])
        torch.testing.assert_close(act(below), act(above), atol=1e-8, rtol=0)
        torch.testing.assert_close(act.log_derivative(below), act.log_derivative(above), atol=1e-6, rtol=0)
    # the derivative the log-volume uses is the true one
    t = torch.linspace(-12, 12, 241, requires_grad=True)
    (grad,) = torch.autograd.grad(act(t).sum(), t)
    torch.testing.assert_close(act.log_derivative(t.detach()), grad.log(), atol=1e-6, rtol=1e-6)


def test_paper_constants():
    tanh, sig = tanh_invt(0.99), sigmoid_invt(1e-4)
    assert tanh.y_hi == pytest.approx(0.99) and tanh.c_hi == pytest.approx(1 - 0.99**2)
    assert sig.y_lo == pytest.approx(1e-4) and sig.c_lo == pytest.approx(1e-4 * (1 - 1e-4))


@pytest.mark.parametrize("sizes", [(2, 5, 9), (20, 60, 784), (5, 5, 5)])
def test_encoder_inverts_decoder(sizes):
    torch.manual_seed(0)
    model = InvertiblePerceptron(*sizes)
    h = 3 * torch.randn(64, sizes[0])  # large enough to reach the linear tails
    x = model.decode(h)
    torch.testing.assert_close(model.encode(x), h, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("n,seed", [(3, 0), (6, 1), (10, 2)])
def test_log_volume_equals_autograd_jacobian(n, seed):
    """Square layers: log V(x) is exactly log |det d f^-1 / dx|."""
    torch.manual_seed(seed)
    model = InvertiblePerceptron(n, n, n)
    x = torch.rand(4, n) * 1.2 - 0.1  # some pixels outside [0, 1]: the sigmoid's linear tails
    _, log_v = model.log_volume(x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(model.encode, x[i : i + 1]).reshape(n, n)
        assert log_v[i].item() == pytest.approx(torch.linalg.slogdet(jac).logabsdet.item(), rel=1e-9, abs=1e-8)


def test_log_volume_rectangular_is_sum_of_layer_terms():
    """Rectangular layers: the paper's per-layer formula (with the output sigmoid's term)."""
    torch.manual_seed(3)
    model = InvertiblePerceptron(4, 7, 12)
    x = torch.rand(5, 12)
    h, log_v = model.log_volume(x)
    y_out = model.act_output.inverse(x)
    z = model.act_hidden.inverse(
        torch.linalg.lstsq(model.output_layer.weight, (y_out - model.output_layer.bias).T).solution.T
    )
    expected = (
        -model.act_output.log_derivative(y_out).sum(1)
        - model.act_hidden.log_derivative(z).sum(1)
        - 0.5 * torch.logdet(model.output_layer.weight.T @ model.output_layer.weight)
        - 0.5 * torch.logdet(model.hidden_layer.weight.T @ model.hidden_layer.weight)
    )
    torch.testing.assert_close(log_v, expected)


def test_output_sigmoid_term_can_be_left_out_as_the_authors_did(mnist_test_images):
    """With the term: every layer's Jacobian; without: minus the output sigmoid's, which on MNIST
    is -log σ'(σ⁻¹(x)) per pixel, its tail slope for the (many) pixels at 0 or 1."""
    torch.manual_seed(0)
    model = InvertiblePerceptron(5, hidden=50)
    x = torch.as_tensor(mnist_test_images[:20], dtype=torch.float64)
    h, with_term = model.log_volume(x)
    h2, without = model.log_volume(x, output_sigmoid=False)
    eps = 1e-4
    inside = x.clamp(eps, 1 - eps)
    expected = -torch.log(inside * (1 - inside)).sum(1)
    torch.testing.assert_close(with_term - without, expected, rtol=1e-9, atol=1e-8)
    torch.testing.assert_close(h, h2)
    zeros = (x < eps).sum(1).double()
    assert torch.corrcoef(torch.stack([with_term - without, zeros]))[0, 1] > 0.9  # it counts the dark pixels

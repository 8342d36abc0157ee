"""Every worked example of the seeds, through explore(), with the numbers the seeds print.

The expected numbers are typed in from the seed documents (shared/seeds/), not
computed by our code.
"""
from __future__ import annotations

import torch

import explorer


def close(actual, printed, tol=1e-4):
    torch.testing.assert_close(actual.double(), torch.tensor(printed, dtype=torch.float64), atol=tol, rtol=0)


def test_polynomial_at_4_gives_72():  # seed 001
    ex = explorer.explore("x**3 + 2*x**2 + 8*x", x=4)
    assert ex.grads["x"].tolist() == [72.0]
    assert ex.v[0].tolist() == [1.0]  # backward(ones) as the seed does, same answer


def test_polynomial_as_named_intermediates():  # seed 001's w1..w6
    ex = explorer.explore("w1 = x\nw2 = w1**3\nw3 = w1**2\nw4 = 2*w3\nw5 = 8*w1\nw6 = w2 + w4 + w5", x=4)
    assert ex.grads["x"].tolist() == [72.0]
    assert ex.outputs[0].tolist() == [4**3 + 2 * 16 + 32]


def test_sin_at_4():  # seed 001
    close(explorer.explore("sin(x)", x=4).grads["x"], [-0.6536])


def test_sin_over_ten_values_gives_the_printed_cosines():  # seed 001, In [10]
    X = [5.6419, 1.1369, 4.7996, 0.8205, 0.4615, 0.4596, 2.5004, 1.2695, 2.5845, 0.4513]
    printed = [0.80134296, 0.420412, 0.08707973, 0.6818824, 0.8953653, 0.896241,
               -0.80138785, 0.29677498, -0.84881455, 0.89987385]
    ex = explorer.explore("sin(X)", X=X)
    close(ex.outputs[0], [-0.5982, 0.9073, -0.9962, 0.7315, 0.4453, 0.4436, 0.5981, 0.9549, 0.5287, 0.4362])
    close(ex.grads["X"], printed)
    assert ex.v[0].tolist() == [1.0] * 10


def test_two_scalar_variables():  # seed 001: x**3 + y**2 + a*x + b with a=1, b=6
    ex = explorer.explore("x**3 + y**2 + a*x + b", x=4, y=2, a=1, b=6)
    assert ex.grads["x"].tolist() == [49.0] and ex.grads["y"].tolist() == [4.0]


def test_sin_plus_sin():  # seed 001
    ex = explorer.explore("sin(x) + sin(y)", x=4, y=2)
    close(ex.grads["x"], [-0.6536])
    close(ex.grads["y"], [-0.4161])


def test_columns_of_XY():  # seed 001, In [16]-[17]
    XY = [[5.9066, 1.1849], [6.0019, 1.2083], [3.8134, 4.7397], [2.1871, 2.9670], [0.4878, 4.3015],
          [2.5796, 3.2423], [1.0124, 5.7254], [4.4697, 4.1561], [5.1514, 6.0768], [0.3598, 1.5586]]
    ex = explorer.explore("sin(XY[:, 0]) + sin(XY[:, 1])", XY=XY)
    close(ex.outputs[0], [0.5587, 0.6574, -1.6221, 0.9898, -0.4481, 0.4324, 0.3188, -1.8199, -1.1101, 1.3520])
    close(ex.grads["XY"], [[0.9299176, 0.37643185], [0.9606921, 0.3545953], [-0.78267014, 0.02728887],
                           [-0.578051, -0.9847898], [0.88338107, -0.39942288], [-0.8461944, -0.9949382],
                           [0.5298115, 0.8484107], [-0.24032214, -0.5280292], [0.42501867, 0.9787835],
                           [0.9359573, 0.01222623]])


def test_tanh_derivative_is_one_minus_tanh_squared():  # seed 001, In [18]-[20]
    X = [-0.1015, 0.4655, 0.7771, -0.6037, -0.8693, 0.2803, -0.9955, -0.4249, 0.3446, -0.9768]
    ex = explorer.explore("tanh(X)", X=X)
    close(ex.outputs[0], [-0.1012, 0.4345, 0.6510, -0.5397, -0.7010, 0.2732, -0.7597, -0.4010, 0.3316, -0.7517])
    close(ex.grads["X"], [0.9897621, 0.8111834, 0.57615125, 0.7087302, 0.5085927, 0.9253647,
                          0.42288297, 0.8391874, 0.8900712, 0.43500286])


def test_partial_derivatives_of_a_product():  # seed 002: (x + y) * (y + 3) at 1, 2
    ex = explorer.explore("(x + y) * (y + 3)", x=1, y=2)
    assert ex.grads["x"].tolist() == [5.0] and ex.grads["y"].tolist() == [8.0]


def test_gradient_of_dot_x_x_is_2x():  # seed 002
    ex = explorer.explore("dot(x, x)", x="ones(3)")
    assert ex.grads["x"].tolist() == [2.0, 2.0, 2.0]


def test_log_one_plus_xx():  # seed 003 (a): the gradient is 2x / (1 + x.x)
    # The seed prints 9 of x's 10 values; the 10th (0.0492) follows from the printed gradient.
    x = [0.1801, 0.3444, 0.4006, 0.6215, 0.2568, 0.3863, 0.5832, 0.4745, 0.8343, 0.0492]
    ex = explorer.explore("z = dot(x, x)\nlog(1 + z)", x=x, dtype="float64")
    close(ex.grads["x"], [0.1134, 0.2168, 0.2522, 0.3913, 0.1617, 0.2432, 0.3672, 0.2987, 0.5252, 0.0310])


def test_sin_of_affine_map_with_v_ones():  # seed 003 (b): backward(ones) = cos(Ax + b) A
    A = [[0.9670, 0.5487, 0.0196, 0.4444, 0.3262], [0.3794, 0.7918, 0.9998, 0.0907, 0.8979],
         [0.0238, 0.1552, 0.9408, 0.4540, 0.7213], [0.0461, 0.6931, 0.9383, 0.2263, 0.5735],
         [0.1622, 0.9763, 0.6564, 0.8489, 0.6759], [0.1780, 0.4534, 0.0268, 0.5234, 0.3507],
         [0.1702, 0.2508, 0.9425, 0.4099, 0.5830], [0.7704, 0.2154, 0.5592, 0.2581, 0.9374],
         [0.5028, 0.6831, 0.5410, 0.7700, 0.9633], [0.1757, 0.9128, 0.7975, 0.6231, 0.2041]]
    b = [0.2230, 0.8327, 0.9930, 0.4835, 0.0355, 0.7217, 0.7977, 0.3526, 0.9574, 0.4611]
    x = [0.0143, 0.9790, 0.6805, 0.8771, 0.0953]
    ex = explorer.explore("z = mv(A, x) + b\nsin(z)", A=A, x=x, b=b, dtype="float64", v="ones(10)")
    # A, b and x are printed to 4 decimals, so the printed results agree to about 2e-4.
    close(ex.outputs[0], [0.9350, 0.6309, 0.7764, 0.8853, 0.7785, 0.9942, 0.8621, 0.9553, 0.3643, 0.6254], 3e-4)
    close(ex.grads["x"], [-0.5727, -2.9134, -3.6513, -2.2281, -2.8390], 5e-4)


def test_composed_function_of_seed_004():  # g(f(x)) = log(x0 x1) * sin(x1) at [0.5, 0.75]
    ex = explorer.explore("log(x[0]*x[1]) * sin(x[1])", x=[0.5, 0.75])
    close(ex.grads["x"], [1.3633, 0.1912])
    two = explorer.explore("(log(x[0]*x[1]), sin(x[1]))", x=[0.5, 0.75])
    assert len(two.outputs) == 2


def test_v_can_be_given_and_is_recorded():
    ex = explorer.explore("sin(x)", x="linspace(0, 1, 5)", v="[1, 0, 0, 0, 2]")
    assert ex.v[0].tolist() == [1, 0, 0, 0, 2]
    close(ex.grads["x"], (torch.cos(torch.linspace(0, 1, 5)) * torch.tensor([1, 0, 0, 0, 2.0])).tolist())


def test_trace_names_parameters_of_a_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    loss = model(torch.ones(5, 3)).pow(2).mean()
    ex = explorer.trace(loss, model.named_parameters())
    assert set(ex.grads) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    loss2 = model(torch.ones(5, 3)).pow(2).mean()
    loss2.backward()
    torch.testing.assert_close(ex.grads["0.weight"], model[0].weight.grad)


def test_a_random_v_follows_the_seed_and_leaves_the_global_generator_alone():
    state = torch.get_rng_state()
    one = explorer.explore("sin(x)", x="ones(3)", v="rand(3)", seed=5)
    two = explorer.explore("sin(x)", x="ones(3)", v="rand(3)", seed=5)
    assert torch.equal(one.v[0], two.v[0])
    assert torch.equal(state, torch.get_rng_state())

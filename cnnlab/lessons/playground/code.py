"""The PyTorch code of a Playground setting, and of the optimizer race (the course's lesson 3).

The page trains in the student's browser; on request the server writes the setting as a short
standalone script in the course's style (data, the ``Net`` class, the optimizer, the loop). Same
seeds, same data, initial weights and batches as the browser, so it trains the same network:
tests/test_web_playground.py runs this code and the browser's JavaScript side by side.
"""
from __future__ import annotations

import inspect
import math

from ...core import optimizers
from ...core.cache import LRU
from .data import ACTIVATION_CODE, DATASETS, FEATURE_CODE, OPTIMIZERS
from .settings import MAX_CODE_STEPS, Settings, check_settings, classes_of, usable

# The optimizer race: y = x^2 + 0.1 * normal noise, x evenly spaced in [-1, 1] (the browser's
# race.js runs the same).
RACE_POINTS, RACE_NOISE = 1000, 0.1
RACE_HIDDEN = 20                        # the course's Net(1, 20, 1)
RACE_LR, RACE_BATCH, RACE_EPOCHS = 0.01, 32, 12
RACE_STEPS = RACE_EPOCHS * math.ceil(RACE_POINTS / RACE_BATCH)        # 384 lockstep steps
RACE_NAMES = tuple(OPTIMIZERS)          # sgd, momentum, rmsprop, adam
RACE_OPTIMIZERS = "\n".join(f"    {optimizers.code(name, f'nets[{i}].parameters()', 'LR')},"
                            for i, name in enumerate(RACE_NAMES))


def _own_data(s: Settings) -> tuple[str, str]:
    """(a definition, the line that makes x and y) for the student's own points."""
    rows = ",\n          ".join("(" + ", ".join(repr(float(v)) for v in row) + ")" for row in s.own)
    if DATASETS[s.dataset].task == "classification":
        make = ("x = torch.tensor([p[:2] for p in POINTS])              # (n, 2)\n"
                "y = torch.tensor([int(p[2]) for p in POINTS])          # (n,) the classes")
    else:
        make = ("x = torch.tensor([p[:1] for p in POINTS])              # (n, 1)\n"
                "y = torch.tensor([p[1:] for p in POINTS])              # (n, 1) the values")
    return f"POINTS = [{rows}]                  # your own points", make


_codes: LRU[str] = LRU(256)           # a class asks for the same few settings' code


def code_for(s: Settings, steps: int = 100) -> str:
    """A short standalone PyTorch script that trains what ``s`` describes, in the course's style."""
    return _codes.get_or_make((s, steps), lambda: _write_code(s, steps))


def _write_code(s: Settings, steps: int) -> str:
    s = check_settings(usable(s))
    steps = max(0, min(int(steps), MAX_CODE_STEPS))
    spec = DATASETS[s.dataset]
    k = classes_of(s)
    regression = spec.task == "regression"
    if spec.own:
        maker, make = _own_data(s)
    else:
        maker = inspect.getsource(spec.make).rstrip()
        classes = s.classes if spec.many_classes else 2
        make = f"x, y = {spec.make.__name__}({s.points}, {float(s.noise)!r}, {classes}, g)"
    sizes = [len(s.features), *s.hidden]
    n_out = k or 1
    layers = "\n".join(f"        self.hidden{i + 1} = torch.nn.Linear({a}, {b})   # hidden layer {i + 1}"
                       for i, (a, b) in enumerate(zip(sizes, sizes[1:])))
    forward = "\n".join(f"        x = {ACTIVATION_CODE[s.activation].format(f'self.hidden{i + 1}(x)')}"
                        for i in range(len(s.hidden)))
    features = ", ".join(FEATURE_CODE[f] for f in s.features)
    full_batch = s.batch_size >= max(1, round(s.points * s.train_ratio))
    if s.regularization == "none" or s.reg_rate == 0:
        reg, reg_line = "", ""
    else:
        term = "w.abs().sum()" if s.regularization == "L1" else "(w ** 2).sum()"
        reg = f"REG_RATE = {s.reg_rate:g}                     # {s.regularization} regularization of the weights\n"
        reg_line = ("\n        loss = loss + REG_RATE * sum(" + term +
                    " for name, w in net.named_parameters() if name.endswith('weight'))")
    split = ("x_train, y_train, x_test, y_test = x, y, x[:0], y[:0]   # every point trains, as in the course"
             if s.train_ratio >= 1.0 else
             f"order = torch.randperm(len(x), generator=g)      # a random {s.train_ratio:.0%} trains, the rest tests\n"
             f"n_train = max(1, min(len(x) - 1, round({s.train_ratio!r} * len(x))))\n"
             "x_train, y_train = x[order[:n_train]], y[order[:n_train]]\n"
             "x_test, y_test = x[order[n_train:]], y[order[n_train:]]")
    loss_name = "torch.nn.MSELoss()" if regression else "torch.nn.CrossEntropyLoss()"
    if regression:
        report = ("print(f'step {step}: train loss {loss_func(net(features(x_train)), y_train).item():.4f}'\n"
                  "      + (f', test loss {loss_func(net(features(x_test)), y_test).item():.4f}'"
                  " if len(x_test) else ''))")
    else:
        report = ("accuracy = (net(features(x_train)).argmax(1) == y_train).float().mean().item()\n"
                  "print(f'step {step}: train loss {loss_func(net(features(x_train)), y_train).item():.4f}, '\n"
                  "      f'train accuracy {accuracy:.3f}'\n"
                  "      + (f', test accuracy {(net(features(x_test)).argmax(1) == y_test).float().mean().item():.3f}'"
                  " if len(x_test) else ''))")
    if full_batch:
        loop = ("step = 0\n"
                "for step in range(1, STEPS + 1):\n"
                "    prediction = net(features(x_train))          # every training point, every step\n"
                f"    loss = loss_func(prediction, y_train){reg_line.replace(chr(10) + '        ', chr(10) + '    ')}\n"
                "    optimizer.zero_grad()                        # clear the gradients of the last step\n"
                "    loss.backward()                              # backpropagation: compute the gradients\n"
                "    optimizer.step()                             # apply the gradients\n")
    else:
        loop = ("batches = torch.Generator().manual_seed(SEED)   # the order of the batches\n"
                "step = 0\n"
                "while step < STEPS:                             # one pass over the data is an epoch\n"
                "    order = torch.randperm(len(x_train), generator=batches)\n"
                "    for i in range(0, len(order), BATCH_SIZE):\n"
                "        if step == STEPS:\n"
                "            break\n"
                "        b = order[i:i + BATCH_SIZE]\n"
                f"        loss = loss_func(net(features(x_train[b])), y_train[b]){reg_line}\n"
                "        optimizer.zero_grad()\n"
                "        loss.backward()\n"
                "        optimizer.step()\n"
                "        step += 1\n")
    header = (f'"""cnnlab Playground: {spec.name} data, {len(s.hidden)} hidden layer(s) '
              f'{list(s.hidden)}, {s.activation}, {OPTIMIZERS[s.optimizer][0]} (lr {s.lr:g}).\n'
              'Run it with: python playground.py"""')
    return f"""{header}
import math

import torch
import torch.nn.functional as F

STEPS = {steps}
LR = {s.lr!r}
BATCH_SIZE = {s.batch_size}
SEED = {s.seed}                               # the initial weights
{reg}

{maker}


g = torch.Generator().manual_seed({s.data_seed})      # the data
{make}
{split}


def features(x):                                 # what the first layer sees
    return torch.cat([{features}], 1)


class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()
{layers + chr(10) if layers else ''}        self.predict = torch.nn.Linear({sizes[-1]}, {n_out})   # output layer

    def forward(self, x):
{forward + chr(10) if forward else ''}        x = self.predict(x)
        return x


torch.manual_seed(SEED)
net = Net()
print(net)

optimizer = {OPTIMIZERS[s.optimizer][1]}
loss_func = {loss_name}

{loop}
with torch.no_grad():
    {report.replace(chr(10), chr(10) + '    ')}
"""


def race_code(steps: int = RACE_STEPS) -> str:
    """The race as a standalone script, in the course's style."""
    return f'''"""cnnlab Playground: the optimizer race (SGD, Momentum, RMSprop, Adam) on y = x^2 + noise."""
import copy

import torch
import torch.nn.functional as F

LR = {RACE_LR}
BATCH_SIZE = {RACE_BATCH}
STEPS = {int(steps)}                    # {RACE_EPOCHS} epochs of {math.ceil(RACE_POINTS / RACE_BATCH)} batches

g = torch.Generator().manual_seed(1)
x = torch.unsqueeze(torch.linspace(-1, 1, {RACE_POINTS}), dim=1)
y = x.pow(2) + {RACE_NOISE} * torch.normal(torch.zeros(*x.size()), generator=g)


class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.hidden = torch.nn.Linear(1, {RACE_HIDDEN})   # hidden layer
        self.predict = torch.nn.Linear({RACE_HIDDEN}, 1)   # output layer

    def forward(self, x):
        x = F.relu(self.hidden(x))
        x = self.predict(x)
        return x


torch.manual_seed(1)
net = Net()
nets = [copy.deepcopy(net) for _ in range(4)]          # the same initial weights for all four
optimizers = [
{RACE_OPTIMIZERS}
]
names = ["SGD", "Momentum", "RMSprop", "Adam"]
loss_func = torch.nn.MSELoss()
losses_his = [[], [], [], []]                           # record the loss of each

batches = torch.Generator().manual_seed(1)              # the order of the batches
step = 0
while step < STEPS:
    order = torch.randperm(len(x), generator=batches)
    for i in range(0, len(order), BATCH_SIZE):
        if step == STEPS:
            break
        b = order[i:i + BATCH_SIZE]
        for net, opt, l_his in zip(nets, optimizers, losses_his):   # the same batch for each
            loss = loss_func(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            l_his.append(loss.item())
        step += 1

for name, l_his in zip(names, losses_his):
    print(f"{{name}}: final batch loss {{l_his[-1]:.4f}}, mean of the last 20 {{sum(l_his[-20:]) / 20:.4f}}")
'''

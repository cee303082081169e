"""Probes: run a student's exercise code on given inputs and return plain data (tensors, lists, numbers).

ONE SELF-CONTAINED FILE, LOADED AS TEXT: it imports nothing from labutils (standard library, numpy and
torch only). `labutils.checks` imports it as a module and probes in the student's own kernel; the
grader's probe process (labutils/grading/probe_process.py) reads it as text into a private namespace
before any student code runs. judges.py imports it for the crafted models and `as_numpy`.
"""
import contextlib
import functools
import random
import signal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_UNSET = object()
# The names each probe sets in the notebook's globals while it runs (so the grader need not rebuild them)
PROVIDED = {"vectorize_string": ("char2idx",), "train_step": ("compute_loss", "device"),
            "generate_text": ("char2idx", "idx2char", "vocab", "device")}


class ProbeTimeout(BaseException):
    """Raised inside student code that runs past the probe's time limit (not an Exception on purpose)."""


def seed_everything(seed):
    """Seed Python's, numpy's and torch's global random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def globals_set(fn, values):
    """Temporarily set names in the globals of `fn` (the notebook's), restoring them afterwards."""
    namespace = getattr(fn, "__globals__", None)
    if namespace is None:
        yield
        return
    saved = {name: namespace.get(name, _UNSET) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is _UNSET:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def describe(value, depth=0):
    """Plain-data description of a returned value: kind, type, dtype, shape and values."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        info = {"kind": "tensor", "type": "Tensor", "dtype": str(tensor.dtype), "shape": list(tensor.shape),
                "device": tensor.device.type}
        if tensor.device.type != "meta":
            info["values"] = tensor.cpu().as_subclass(torch.Tensor).clone()
        return info
    if isinstance(value, np.ndarray) or (
            isinstance(value, list) and not any(isinstance(v, (torch.Tensor, tuple)) for v in value[:10])):
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, RuntimeError):
            array = None
        if array is not None and array.dtype.kind in "biuf":
            info = {"kind": "array", "type": type(value).__name__, "dtype": str(array.dtype),
                    "shape": list(array.shape)}
            info["values"] = torch.from_numpy(np.array(array, dtype=np.float64 if array.dtype.kind == "f" else np.int64))
            return info
    if isinstance(value, (tuple, list)) and depth < 3:
        return {"kind": "tuple", "type": type(value).__name__, "items": [describe(v, depth + 1) for v in value[:10]],
                "length": len(value)}
    if isinstance(value, (bool, int, float, np.number)):
        return {"kind": "number", "type": type(value).__name__, "value": float(value)}
    if isinstance(value, str):
        return {"kind": "str", "type": "str", "value": value[:100000]}
    return {"kind": "other", "type": type(value).__name__}


def as_numpy(data):
    """An int64 numpy array from a tensor or array-like."""
    if isinstance(data, torch.Tensor):
        return data.numpy().astype(np.int64)
    return np.asarray(data)


def _own_globals(obj):
    """The globals of the code that defined `obj` (a function, or a class's methods), else None."""
    if hasattr(obj, "__globals__"):
        return obj.__globals__
    for value in vars(obj).values() if isinstance(obj, type) else ():
        function = getattr(value, "__func__", value)
        if hasattr(function, "__globals__"):
            return function.__globals__
    return None


def _frames(error):
    """The frames `error` passed through, from where it was caught down to where it was raised."""
    entry = error.__traceback__
    while entry is not None:
        yield entry.tb_frame
        entry = entry.tb_next


def untouched_todo(error, stage):
    """True when the NotImplementedError `error` was raised by the student's own code (a TODO left as it was),
    not by a library such as PyTorch ("not implemented for 'Long'"): told apart by the frame that raised it."""
    frames, own = list(_frames(error)), stage.get("globals")
    if not frames or own is None:
        return str(error).startswith("TODO")
    return frames[-1].f_globals is own


def wrong_arguments(error, stage):
    """True when `error` is a TypeError of the call into the student's code itself: the exercise does not take
    the lab's arguments (no frame of the student's code ever ran)."""
    own = stage.get("globals")
    return isinstance(error, TypeError) and own is not None and all(f.f_globals is not own for f in _frames(error))


def error_data(error, doing, stage):
    """{"kind": "error", ...}: what the student's code raised while `doing` ("arguments": the call did not fit)."""
    data = {"kind": "error", "type": type(error).__name__, "message": str(error)[:500], "while": doing}
    if wrong_arguments(error, stage):
        data["arguments"] = True
    return data


def guarded(stage, doing, thunk):
    """(thunk(), None), or (None, the error it raised while `doing`); an untouched TODO and timeouts propagate."""
    stage["now"] = doing
    try:
        return thunk(), None
    except ProbeTimeout:
        raise
    except NotImplementedError as error:
        if untouched_todo(error, stage):
            raise
        return None, error_data(error, doing, stage)
    except (Exception, SystemExit) as error:  # student code may raise anything
        return None, error_data(error, doing, stage)


def attempt(stage, doing, thunk):
    """describe(thunk()), or the error it raised (an untouched TODO and timeouts propagate)."""
    described, error = guarded(stage, doing, lambda: describe(thunk()))
    return error or described


def probe_vectorize_string(fn, inputs, stage):
    """Call vectorize_string(s) on each input string with the notebook's char2idx set to the given one."""
    outputs = []
    with globals_set(fn, {"char2idx": inputs["char2idx"]}):
        for string in inputs["strings"]:
            stage["now"] = f"calling vectorize_string on a string of {len(string)} characters"
            outputs.append(describe(fn(string)))
    return {"outputs": outputs}


def probe_get_batch(fn, inputs, stage):
    """Call get_batch on the given texts (seeded); return what came back from each call."""
    seed_everything(inputs["seed"])
    texts = {"data": as_numpy(inputs["data"]), "songs": as_numpy(inputs["songs"])}
    outputs = []
    for call in inputs["calls"]:
        text = texts["data"][: call["length"]] if call["source"] == "data" else texts["songs"]
        doing = (f"calling get_batch(text of {len(text)} characters, seq_length={call['seq_length']}, "
                 f"batch_size={call['batch_size']})")
        outputs.append(attempt(stage, doing, functools.partial(fn, text, call["seq_length"], call["batch_size"])))
    return {"outputs": outputs}


def probe_lstm_model(cls, inputs, stage):
    """Build LSTMModel(vocab, embedding, hidden); report its layers, weights and outputs for given x and state."""
    vocab_size, embedding_dim, hidden_size = inputs["vocab_size"], inputs["embedding_dim"], inputs["hidden_size"]
    seed_everything(inputs["seed"])
    stage["now"] = f"building LSTMModel({vocab_size}, {embedding_dim}, {hidden_size})"
    model = cls(vocab_size, embedding_dim, hidden_size)
    if not isinstance(model, nn.Module):
        return {"not_module": type(model).__name__}
    layers, weights = [], {}
    for name, module in model.named_modules():
        kind = type(module).__name__
        if isinstance(module, (nn.Embedding, nn.RNNBase, nn.Linear)):
            info = {"name": name, "type": kind}
            if isinstance(module, nn.Embedding):
                info.update(num_embeddings=module.num_embeddings, embedding_dim=module.embedding_dim)
            elif isinstance(module, nn.RNNBase):
                info.update(input_size=module.input_size, hidden_size=module.hidden_size,
                            num_layers=module.num_layers, batch_first=module.batch_first,
                            bidirectional=module.bidirectional)
            else:
                info.update(in_features=module.in_features, out_features=module.out_features)
            layers.append(info)
            weights[name] = {k: v.detach().clone() for k, v in module.named_parameters(recurse=False)}
    result = {"layers": layers, "weights": weights,
              "num_parameters": sum(p.numel() for p in model.parameters())}
    model.eval()
    batch = inputs["x"].shape[0]
    state = (inputs["h0"].clone(), inputs["c0"].clone())
    x = inputs["x"]
    with torch.no_grad():
        result["init_hidden"] = attempt(stage, f"calling model.init_hidden({batch}, torch.device('cpu'))",
                                        lambda: model.init_hidden(batch, torch.device("cpu")))
        result["init_hidden_meta"] = attempt(stage, f"calling model.init_hidden({batch}, torch.device('meta'))",
                                             lambda: model.init_hidden(batch, torch.device("meta")))
        result["default"] = attempt(stage, "calling model(x) on x of shape (batch, seq)", lambda: model(x))
        result["with_state"] = attempt(stage, "calling model(x, state)", lambda: model(x, state))
        result["return_state"] = attempt(stage, "calling model(x, state, return_state=True)",
                                         lambda: model(x, state, return_state=True))
    return result


def reference_compute_loss(labels, logits):
    """The lab's loss (a private copy, so train_step is probed with a known-good compute_loss)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1))


def probe_compute_loss(fn, inputs, stage):
    """Call compute_loss(labels, logits) on each case; return the loss and its gradient on the logits."""
    outputs = []
    for case in inputs["cases"]:
        labels, logits = case["labels"].clone(), case["logits"].clone().requires_grad_(True)
        doing = f"calling compute_loss(labels {tuple(labels.shape)}, logits {tuple(logits.shape)})"
        loss, error = guarded(stage, doing, functools.partial(fn, labels, logits))
        info = {"loss": error or describe(loss)}
        if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1:
            stage["now"] = "calling loss.backward()"
            loss.reshape(()).backward()
            info["grad"] = None if logits.grad is None else logits.grad.detach().clone()
        outputs.append(info)
    return {"outputs": outputs}


class TinyCharModel(nn.Module):
    """A small LSTMModel-like network (embedding -> LSTM -> linear) that train_step is probed with."""

    def __init__(self, vocab_size, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(vocab_size, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, vocab_size)

    def init_hidden(self, batch_size, device):
        """Zero (h, c), each (1, batch, 16)."""
        zeros = torch.zeros(1, batch_size, 16, device=device)
        return zeros, zeros.clone()

    def forward(self, x, state=None, return_state=False):
        """Logits (batch, seq, vocab)."""
        out, state = self.lstm(self.embedding(x), state)
        logits = self.fc(out)
        return (logits, state) if return_state else logits


def warm_up(name):
    """Before exercise `name` is probed under its time limit, do once what torch does lazily and slowly on first
    use (a first optimizer imports torch._dynamo), so that it does not count against the student's code."""
    if name == "train_step":
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def probe_train_step(fn, inputs, stage):
    """Run train_step twice with SGD on TinyCharModel; return the losses and the parameters after each step."""
    model = TinyCharModel(inputs["vocab_size"], inputs["seed"])
    optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"])
    steps = []
    with globals_set(fn, {"compute_loss": reference_compute_loss, "device": torch.device("cpu")}):
        for i, (x_batch, y_batch) in enumerate(inputs["batches"]):
            stage["now"] = f"calling train_step(model, optimizer, x_batch, y_batch) (step {i + 1})"
            loss = fn(model, optimizer, x_batch.clone(), y_batch.clone())
            steps.append({"loss": describe(loss),
                          "params": {k: v.detach().clone() for k, v in model.named_parameters()}})
    return {"steps": steps}


class _ScriptedModel(nn.Module):
    """Base of the crafted models for generate_text: LSTMModel's interface, state (h, c) counts characters."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.anchor = nn.Parameter(torch.zeros(1))  # so next(model.parameters()).device works
        self.calls = []

    def init_hidden(self, batch_size, device):
        """(h, c), each (1, batch, 1); h holds how many characters the model has read."""
        zeros = torch.zeros(1, batch_size, 1, device=device)
        return zeros, zeros.clone()

    def forward(self, x, state=None, return_state=False):
        """Logits (batch, seq, vocab) from self.scores; the new state has read seq more characters."""
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long or x.dim() != 2:
            raise ValueError(f"the model expects a LongTensor of shape (batch, seq), got "
                             f"{getattr(x, 'dtype', type(x).__name__)} of shape {tuple(getattr(x, 'shape', ()))}")
        if state is not None and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise TypeError(f"state must be the (h, c) pair from init_hidden or from the previous call, got "
                            f"{type(state).__name__}")
        fresh = state is None or bool((state[0] == 0).all())
        self.calls.append({"seq": int(x.shape[1]), "state_given": state is not None, "fresh": fresh,
                           "return_state": bool(return_state)})
        if state is None:
            state = self.init_hidden(x.shape[0], x.device)
        read = state[0][0, :, 0].long()[:, None] + torch.arange(1, x.shape[1] + 1, device=x.device)  # (batch, seq)
        logits = self.scores(x, read)  # (batch, seq, vocab)
        new_state = (state[0] + x.shape[1], state[1])
        return (logits, new_state) if return_state else logits


class CountingModel(_ScriptedModel):
    """Next character = (current + step * characters read) mod vocab, with certainty: it needs the carried state."""

    def __init__(self, vocab_size, step):
        super().__init__(vocab_size)
        self.step = step

    def scores(self, x, read):
        target = (x + self.step * read) % self.vocab_size  # (batch, seq)
        return F.one_hot(target, self.vocab_size).float() * 40.0


class FixedDistributionModel(_ScriptedModel):
    """Always the same next-character logits: sampling and argmax give very different texts."""

    def __init__(self, logits):
        super().__init__(len(logits))
        self.fixed = torch.as_tensor(logits, dtype=torch.float32)

    def scores(self, x, read):
        return self.fixed.to(x.device).expand(x.shape[0], x.shape[1], -1)


def probe_generate_text(fn, inputs, stage):
    """Run generate_text on the crafted models (the counting one from the start string and from its first
    character alone), with the notebook's char2idx, idx2char and vocab set to the lab's."""
    vocab = list(inputs["vocab"])
    names = {"char2idx": {c: i for i, c in enumerate(vocab)}, "idx2char": np.array(vocab), "vocab": vocab,
             "device": torch.device("cpu")}
    result = {}
    with globals_set(fn, names):
        for key, start in (("counting", inputs["start"]), ("counting_one", inputs["start"][0])):
            counting = CountingModel(len(vocab), inputs["step"])
            seed_everything(inputs["seed"])
            result[key] = attempt(stage, f"calling generate_text(model, {start!r}, {inputs['length']})",
                                  functools.partial(fn, counting, start, inputs["length"]))
            result[key + "_calls"] = counting.calls[:50]
        fixed = FixedDistributionModel(inputs["logits"])
        seed_everything(inputs["seed"] + 1)
        result["sampling"] = attempt(stage, f"calling generate_text(model, 'X', {inputs['sample_length']})",
                                     functools.partial(fn, fixed, "X", inputs["sample_length"]))
    return result


PROBES = {"vectorize_string": probe_vectorize_string, "get_batch": probe_get_batch,
          "LSTMModel": probe_lstm_model, "compute_loss": probe_compute_loss,
          "train_step": probe_train_step, "generate_text": probe_generate_text}


def _delegates_to_reference(obj, name):
    """True when `obj` is, subclasses, or calls labutils' own `name` instead of student code."""
    if isinstance(obj, type):
        if any(k.__module__.startswith("labutils") for k in obj.__mro__):
            return True
        functions = [v for v in vars(obj).values() if callable(v) and hasattr(v, "__code__")]
    else:
        functions = [obj]
    for function in functions:
        codes, names = [getattr(function, "__code__", None)], set()
        while codes:
            code = codes.pop()
            if code is not None:
                names.update(code.co_names)
                codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
        namespace = dict(getattr(function, "__globals__", {}))
        for var, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
            namespace[var] = cell.cell_contents if cell.cell_contents is not None else None
            names.add(var)
        for used in names:
            value = namespace.get(used)
            module = getattr(value, "__module__", None) or ""
            if getattr(value, "__name__", None) == name and module.startswith("labutils"):
                return True
            if type(value).__name__ == "module" and value.__name__.startswith("labutils") and name in names:
                return True
    return False


def _raised(error, stage):
    """What the student's code raised, for a result: type, message, stage and whether the call did not fit."""
    data = error_data(error, stage["now"], stage)
    return {"type": data["type"], "message": data["message"], "stage": stage["now"], "arguments": "arguments" in data}


def run_probe(name, obj, inputs):
    """Probe one exercise: {"meta": ..., "data": ...} or {"meta": ..., "error": kind, ...}; never raises."""
    meta = {"module": getattr(obj, "__module__", None) or "", "type": type(obj).__name__}
    try:
        meta["reference"] = _delegates_to_reference(obj, name)
    except (AttributeError, TypeError):
        meta["reference"] = False
    if meta["reference"]:
        return {"meta": meta, "error": "reference"}
    stage = {"now": "starting", "globals": _own_globals(obj)}
    try:
        return {"meta": meta, "data": PROBES[name](obj, inputs, stage)}
    except NotImplementedError as error:
        if untouched_todo(error, stage):
            return {"meta": meta, "error": "not_implemented", "message": str(error)[:300]}
        return {"meta": meta, "error": "exception", **_raised(error, stage)}
    except ProbeTimeout:
        return {"meta": meta, "error": "timeout", "stage": stage["now"]}
    except (Exception, SystemExit) as error:  # student code may raise anything
        return {"meta": meta, "error": "exception", **_raised(error, stage)}


@contextlib.contextmanager
def time_limit(seconds):
    """Raise ProbeTimeout in the main thread after `seconds` (POSIX only; no limit elsewhere)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise ProbeTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

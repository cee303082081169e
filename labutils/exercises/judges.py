"""Judges of the exercises: compare what a probe returned with labutils' reference, as a Verdict with a
[PASS]/[FAIL] message (used by labutils.checks in a notebook and by the grader in its own process)."""
from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from labutils.exercises.probes import CountingModel, TinyCharModel, as_numpy
from labutils.model import LSTMModel as ReferenceLSTMModel
from labutils.sampling import generate_text as reference_generate_text
from labutils.training import train_step as reference_train_step


class Verdict(NamedTuple):
    """A judge's answer: status is pass, fail, not_implemented or missing."""

    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class _Fail(Exception):
    def __init__(self, what: str, hint: str):
        super().__init__(f"[FAIL] {what} — hint: {hint}")


def _require(condition, what: str, hint: str) -> None:
    if not condition:
        raise _Fail(what, hint)


def _no_error(name: str, described: Dict) -> None:
    if described.get("kind") == "error":
        raise _Fail(f"{name} raised {described['type']} while {described['while']}: {described['message']}",
                    EXCEPTION_HINTS[name])


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)


PASSES = {
    "vectorize_string": "vectorize_string maps each character to its char2idx index (int64 numpy array)",
    "get_batch": "get_batch returns random (x, y) LongTensor windows of shape (batch, seq), y shifted one ahead",
    "LSTMModel": "LSTMModel = embedding -> LSTM -> linear; logits (batch, seq, vocab); state passed and returned",
    "compute_loss": "compute_loss gives the mean cross-entropy over all characters, with gradients",
    "train_step": "train_step zeroes the gradients, steps the optimizer and returns the batch loss",
    "generate_text": "generate_text carries the state, feeds each sample back and samples from softmax(logits)",
}
EXCEPTION_HINTS = {
    "vectorize_string": "look each character up in the notebook's char2idx: np.array([char2idx[c] for c in string])",
    "get_batch": "starts must leave room for y: i + seq_length + 1 <= len(vectorized_songs); "
                 "x = text[i:i+seq_length], y = text[i+1:i+seq_length+1]",
    "LSTMModel": "__init__ builds nn.Embedding, nn.LSTM(batch_first=True), nn.Linear; forward(x, state=None, "
                 "return_state=False) runs them in order",
    "compute_loss": "flatten logits to (batch*seq, vocab) and labels to (batch*seq,), then F.cross_entropy(logits, labels)",
    "train_step": "optimizer.zero_grad(); logits = model(x_batch); loss = compute_loss(y_batch, logits); "
                  "loss.backward(); optimizer.step(); return loss",
    "generate_text": "input_idx (1, seq) LongTensor; state = model.init_hidden(1, device); loop: "
                     "predictions, state = model(input_idx, state, return_state=True)",
}


def _judge_vectorize_string(inputs: Dict, data: Dict) -> None:
    char2idx = inputs["char2idx"]
    for string, out in zip(inputs["strings"], data["outputs"]):
        expected = [char2idx[c] for c in string]
        _require(out["kind"] in ("array", "tensor"), f"vectorize_string returned a {out['type']}, expected a numpy array",
                 "return np.array([char2idx[c] for c in string])")
        _require(out["type"] == "ndarray", f"vectorize_string returned a {out['type']}, expected a numpy array",
                 "wrap the indices in np.array(...)")
        _require(out["dtype"] == "int64", f"vectorize_string returned dtype {out['dtype']}, expected int64",
                 "indices are integers: np.array(indices, dtype=np.int64)")
        _require(out["shape"] == [len(string)], f"vectorize_string returned shape {tuple(out['shape'])} for a string "
                 f"of {len(string)} characters, expected ({len(string)},)", "one index per character, in order")
        got = out["values"].tolist()
        bad = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), None)
        _require(bad is None, f"character {string[bad]!r} at position {bad} became {got[bad]}, but "
                 f"char2idx[{string[bad]!r}] is {expected[bad]}" if bad is not None else "",
                 "look each character up in the notebook's char2idx")


def _window_starts(text: np.ndarray, row: np.ndarray) -> np.ndarray:
    if len(row) == 0 or len(row) > len(text):
        return np.zeros(0, dtype=np.int64)
    candidates = np.flatnonzero(text[: len(text) - len(row) + 1] == row[0])
    windows = sliding_window_view(text, len(row))[candidates]
    return candidates[(windows == row).all(axis=1)]


def _shift(text: np.ndarray, starts: np.ndarray, y_row: np.ndarray) -> Optional[int]:
    for shift in (1, 0, -1, 2, -2, 3):
        for p in starts:
            q = p + shift
            if 0 <= q and q + len(y_row) <= len(text) and np.array_equal(text[q: q + len(y_row)], y_row):
                return shift
    return None


def _judge_get_batch(inputs: Dict, data: Dict) -> None:
    texts = {"data": as_numpy(inputs["data"]), "songs": as_numpy(inputs["songs"])}
    starts_seen = []
    for call, out in zip(inputs["calls"], data["outputs"]):
        seq, batch = call["seq_length"], call["batch_size"]
        text = texts["data"][: call["length"]] if call["source"] == "data" else texts["songs"]
        where = f"get_batch(text, seq_length={seq}, batch_size={batch})"
        _no_error("get_batch", out)
        _require(out["kind"] == "tuple" and out.get("length") == 2, f"{where} returned a {out['type']}, expected "
                 "a pair (x_batch, y_batch)", "return x_batch, y_batch")
        for label, item in zip(("x_batch", "y_batch"), out["items"]):
            _require(item["kind"] == "tensor", f"{label} is a {item['type']}, expected a torch tensor",
                     "build it with torch.tensor(..., dtype=torch.long)")
            _require(item["dtype"] == "torch.int64", f"{label} has dtype {item['dtype']}, expected torch.long (int64)",
                     "character indices must be integers for nn.Embedding and cross_entropy: dtype=torch.long")
            off = item["shape"][1] - seq if len(item["shape"]) == 2 and item["shape"][0] == batch else None
            _require(item["shape"] == [batch, seq], f"{label} has shape {tuple(item['shape'])}, expected "
                     f"(batch_size, seq_length) = ({batch}, {seq})" + (
                         f": its rows are {abs(off)} character{'s' * (abs(off) != 1)} "
                         f"{'short' if off < 0 else 'long'}" if off else ""),
                     "one row per window: (batch_size, seq_length)" if not off else
                     ("y = vectorized_songs[start+1:start+seq_length+1]: the slice ends one past start+seq_length"
                      if label == "y_batch" else "x = vectorized_songs[start:start+seq_length]"))
        x, y = (item["values"].numpy() for item in out["items"])
        starts = []
        for row in range(batch):
            found = _window_starts(text, x[row])
            _require(len(found), f"row {row} of x_batch is not a run of consecutive characters of the text",
                     "x_batch[i] = vectorized_songs[start:start+seq_length]")
            shift = _shift(text, found, y[row])
            _require(shift != 0, "y_batch equals x_batch", "the target is the next character: "
                     "y = vectorized_songs[start+1:start+seq_length+1]")
            _require(shift != -1, "x_batch and y_batch are swapped (y is one character behind x)",
                     "return (x_batch, y_batch) with y one character ahead of x")
            _require(shift == 1, f"row {row} of y_batch is " + (f"shifted by {shift} characters from x_batch"
                     if shift is not None else "not x_batch shifted by one character") + ", expected exactly 1",
                     "y = vectorized_songs[start+1:start+seq_length+1] (an off-by-one?)")
            starts.append(int(found[0]))
        if call["source"] == "data" and call["length"] == 1000 and seq == inputs["calls"][0]["seq_length"]:
            starts_seen.append(starts)
    first, second = starts_seen[0], starts_seen[1]
    _require(len(set(first)) >= len(first) // 2, f"get_batch used only {len(set(first))} different start positions "
             f"in a batch of {len(first)}", "draw batch_size random starts, one per row")
    _require(first != second, "get_batch returned the same batch twice", "draw new random starts on every call "
             "(np.random.choice / np.random.randint)")
    top = max(first + second)
    _require(top >= (1000 - inputs["calls"][0]["seq_length"]) // 2, f"all start positions were below {top + 1} in a "
             "text of 1000 characters", "draw starts from the whole text: 0 .. len(vectorized_songs) - seq_length - 1")


def _reference_model(inputs: Dict, data: Dict) -> ReferenceLSTMModel:
    model = ReferenceLSTMModel(inputs["vocab_size"], inputs["embedding_dim"], inputs["hidden_size"])
    names = {layer["type"]: layer["name"] for layer in data["layers"]}
    for ours, theirs in (("embedding", names["Embedding"]), ("lstm", names["LSTM"]), ("fc", names["Linear"])):
        getattr(model, ours).load_state_dict(data["weights"][theirs])
    return model.eval()


def _judge_lstm_model(inputs: Dict, data: Dict) -> None:
    vocab, emb, hidden = inputs["vocab_size"], inputs["embedding_dim"], inputs["hidden_size"]
    batch, seq = inputs["x"].shape
    _require("not_module" not in data, f"LSTMModel(...) built a {data.get('not_module')}, not an nn.Module",
             "class LSTMModel(nn.Module) with super().__init__() first in __init__")
    layers = data["layers"]

    def only(kinds, what, hint):
        found = [layer for layer in layers if layer["type"] in kinds]
        _require(len(found) == 1, f"the model has {len(found)} {what} layers, expected exactly one", hint)
        return found[0]

    embedding = only(("Embedding",), "nn.Embedding", "self.embedding = nn.Embedding(vocab_size, embedding_dim)")
    _require((embedding["num_embeddings"], embedding["embedding_dim"]) == (vocab, emb), f"the embedding is "
             f"nn.Embedding({embedding['num_embeddings']}, {embedding['embedding_dim']}), expected "
             f"nn.Embedding({vocab}, {emb})", "nn.Embedding(vocab_size, embedding_dim)")
    rnn = only(("LSTM", "GRU", "RNN"), "recurrent (nn.LSTM)", "self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)")
    _require(rnn["type"] == "LSTM", f"the recurrent layer is nn.{rnn['type']}, expected nn.LSTM", "use nn.LSTM")
    _require(rnn["batch_first"], "nn.LSTM is not batch_first", "our tensors are (batch, seq, ...): nn.LSTM(..., batch_first=True)")
    config = (rnn["input_size"], rnn["hidden_size"], rnn["num_layers"], rnn["bidirectional"])
    _require(config == (emb, hidden, 1, False), f"nn.LSTM has input_size={config[0]}, hidden_size={config[1]}, "
             f"num_layers={config[2]}, bidirectional={config[3]}; expected {emb}, {hidden}, 1, False",
             "nn.LSTM(input_size=embedding_dim, hidden_size=hidden_size, batch_first=True)")
    linear = only(("Linear",), "nn.Linear", "self.fc = nn.Linear(hidden_size, vocab_size)")
    _require((linear["in_features"], linear["out_features"]) == (hidden, vocab), f"the output layer is nn.Linear("
             f"{linear['in_features']}, {linear['out_features']}), expected nn.Linear({hidden}, {vocab})",
             "nn.Linear(hidden_size, vocab_size): from LSTM outputs to one logit per character")
    reference = _reference_model(inputs, data)
    expected_count = sum(p.numel() for p in reference.parameters())
    _require(data["num_parameters"] == expected_count, f"the model has {data['num_parameters']} parameters, expected "
             f"{expected_count}", "only the embedding, the LSTM and the linear layer")
    for key, device in (("init_hidden", "cpu"), ("init_hidden_meta", "meta")):
        state = data[key]
        _no_error("LSTMModel", state)
        _require(state["kind"] == "tuple" and state["length"] == 2 and all(i["kind"] == "tensor" for i in state["items"]),
                 f"init_hidden returned a {state['type']}, expected a pair (h, c) of tensors",
                 "return (torch.zeros(1, batch_size, hidden_size, device=device), the same for c)")
        for item in state["items"]:
            _require(item["shape"] == [1, batch, hidden], f"init_hidden({batch}, device) gave a tensor of shape "
                     f"{tuple(item['shape'])}, expected (1, {batch}, {hidden})", "(num_layers, batch_size, hidden_size)")
            _require(item["device"] == device, f"init_hidden(batch, torch.device({device!r})) made tensors on "
                     f"{item['device']}", "create the zeros on the given device: torch.zeros(..., device=device)")
            _require(device == "meta" or not item["values"].any(), "init_hidden returned non-zero tensors",
                     "the initial state is all zeros")
    x, state = inputs["x"], (inputs["h0"], inputs["c0"])
    with torch.no_grad():
        expected_default = reference(x)
        expected_state, (h, c) = reference(x, state, return_state=True)
    default = data["default"]
    _no_error("LSTMModel", default)
    _require(default["kind"] == "tensor", f"model(x) returned a {default['type']}, expected the logits tensor",
             "with return_state=False, return only the logits")
    _require(default["shape"] == [batch, seq, vocab], f"model(x) gave logits of shape {tuple(default['shape'])}, "
             f"expected (batch, seq, vocab_size) = ({batch}, {seq}, {vocab})", "embedding -> lstm -> fc, batch first")
    _require(_close(default["values"], expected_default), "model(x) logits differ from embedding -> LSTM -> linear "
             "with the same weights", "x = self.embedding(x); out, state = self.lstm(x, state); return self.fc(out)")
    given = data["with_state"]
    _no_error("LSTMModel", given)
    _require(given["kind"] == "tensor" and given["shape"] == [batch, seq, vocab],
             f"model(x, state) returned a {given['type']} of shape {tuple(given.get('shape', ()))}",
             "with return_state=False, return only the logits")
    _require(not _close(given["values"], expected_default), "forward ignores its `state` argument",
             "use init_hidden only when state is None, and pass state to self.lstm(x, state)")
    _require(_close(given["values"], expected_state), "model(x, state) logits differ from the reference",
             "pass state to self.lstm(x, state)")
    both = data["return_state"]
    _no_error("LSTMModel", both)
    _require(both["kind"] == "tuple" and both["length"] == 2, f"model(x, state, return_state=True) returned a "
             f"{both['type']}, expected (logits, state)", "return out if not return_state else (out, state)")
    logits, new_state = both["items"]
    _require(logits["kind"] == "tensor" and _close(logits["values"], expected_state),
             "with return_state=True the first item is not the logits", "return (logits, state)")
    _require(new_state["kind"] == "tuple" and new_state.get("length") == 2 and all(
        i["kind"] == "tensor" and _close(i["values"], e) for i, e in zip(new_state["items"], (h, c))),
        "with return_state=True the returned state is not the LSTM's new (h, c)", "out, state = self.lstm(x, state)")


def _judge_compute_loss(inputs: Dict, data: Dict) -> None:
    for case, out in zip(inputs["cases"], data["outputs"]):
        labels, logits = case["labels"], case["logits"].clone().requires_grad_(True)
        shape = tuple(logits.shape)
        expected = F.cross_entropy(logits.reshape(-1, shape[-1]), labels.reshape(-1))
        expected.backward()
        loss = out["loss"]
        _no_error("compute_loss", loss)
        _require(loss["kind"] != "number", "compute_loss returned a Python number, expected the loss tensor",
                 "return the tensor from F.cross_entropy (no .item()): loss.backward() needs it")
        _require(loss["kind"] == "tensor", f"compute_loss returned a {loss['type']}, expected a tensor",
                 "return F.cross_entropy(...)")
        _require(loss["shape"] in ([], [1]), f"compute_loss returned shape {tuple(loss['shape'])} for logits {shape}, "
                 "expected a single number", "average over all batch*seq characters (reduction='mean', the default)")
        value = float(loss["values"].reshape(()))
        _require(abs(value - expected.item() * labels.numel()) > 1e-3 * labels.numel(), "compute_loss sums the "
                 "loss over characters instead of averaging", "use the mean (reduction='mean', the default)")
        _require(abs(value - expected.item()) <= 1e-4 * max(1.0, abs(expected.item())), f"compute_loss gave "
                 f"{value:.4f} for logits of shape {shape}, the reference {expected.item():.4f}",
                 "flatten logits to (batch*seq, vocab) and labels to (batch*seq,), then F.cross_entropy(logits, labels)")
        _require(out.get("grad") is not None, "no gradient flows from the loss back to the logits",
                 "compute the loss with torch operations on logits: no .detach(), .numpy() or .item()")
        _require(_close(out["grad"], logits.grad), "the loss's gradient on the logits differs from the reference",
                 "F.cross_entropy on the flattened logits and labels")


def _number(described) -> Optional[float]:
    if described["kind"] == "number":
        return described["value"]
    if described["kind"] == "tensor" and described["shape"] in ([], [1]):
        return float(described["values"].reshape(()))
    return None


def _same_loss(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-4 * max(1.0, abs(b))


def _loss_of(model, x: torch.Tensor, labels: torch.Tensor) -> float:
    """The cross-entropy of `model` on inputs x against `labels`, without touching gradients."""
    with torch.no_grad():
        logits = model(x)
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)))


def _judge_train_step(inputs: Dict, data: Dict) -> None:
    model = TinyCharModel(inputs["vocab_size"], inputs["seed"])
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=inputs["lr"])
    for step, ((x, y), out) in enumerate(zip(inputs["batches"], data["steps"]), start=1):
        labels_x_loss = _loss_of(model, x, x)  # the usual slip: the inputs taken as the labels
        expected_loss = reference_train_step(model, optimizer, x, y)
        loss = _number(out["loss"])
        _require(loss is not None, f"train_step returned a {out['loss']['type']}, expected the loss (a number)",
                 "return loss (or loss.item())")
        if not _same_loss(loss, expected_loss):
            if _same_loss(loss, labels_x_loss):
                hint = "the labels are y_batch (the next characters), not x_batch: compute_loss(y_batch, model(x_batch))"
            elif _same_loss(loss, _loss_of(model, x, y)):
                hint = "return the loss computed before optimizer.step() (yours is the loss after the update)"
            else:
                hint = "loss = compute_loss(y_batch, model(x_batch)), computed before optimizer.step()"
            _require(False, f"train_step returned loss {loss:.4f} at step {step}, but the batch's loss before the "
                     f"update is {expected_loss:.4f}", hint)
        params = out["params"]
        if step == 1:
            _require(any(not torch.equal(params[k], v) for k, v in initial.items()), "the model's parameters did "
                     "not change after train_step", "call loss.backward() and then optimizer.step()")
        matches = all(_close(params[k], v.detach()) for k, v in model.named_parameters())
        _require(matches, "the parameters after one train_step differ from one optimizer step on the batch loss"
                 if step == 1 else "the second train_step differs from the reference although the first matched: "
                 "gradients accumulate across steps", "call optimizer.zero_grad() before loss.backward()"
                 if step > 1 else "optimizer.zero_grad(); loss.backward(); optimizer.step()")


def _judge_generate_text(inputs: Dict, data: Dict) -> None:
    vocab, start, length = inputs["vocab"], inputs["start"], inputs["length"]
    for key, first, count in (("counting", start, length), ("sampling", "X", inputs["sample_length"])):
        out = data[key]
        _require(out["kind"] == "str", f"generate_text returned a {out['type']}, expected a string",
                 "return start_string + ''.join(text_generated)")
        text = out["value"]
        _require(text.startswith(first), f"the returned text does not begin with start_string {first!r}",
                 "return start_string + ''.join(text_generated)")
        _require(len(text) == len(first) + count, f"generate_text({first!r}, generation_length={count}) returned "
                 f"{len(text)} characters, expected {len(first) + count}", "generate exactly generation_length "
                 "characters and return start_string followed by them")
    logits = torch.tensor(inputs["logits"])
    likely = torch.topk(logits, 3).indices.tolist()  # characters with 60%, 30%, 10%
    sampled = data["sampling"]["value"][1:]
    shares = [sampled.count(vocab[i]) / len(sampled) for i in likely]
    described = ", ".join(f"{vocab[i]!r} {p:.0%}" for i, p in zip(likely, (0.6, 0.3, 0.1)))
    _require(shares[0] < 0.9, f"with a model that predicts {described}, generate_text wrote {vocab[likely[0]]!r} "
             f"{shares[0]:.0%} of the time: that is argmax, not sampling", "draw the next character with "
             "torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)")
    _require(sum(shares) > 0.999, f"with a model that predicts {described}, {1 - sum(shares):.0%} of the generated "
             "characters were ones it gives (almost) zero probability", "sample from softmax(predictions[0, -1, :])")
    _require(0.45 <= shares[0] <= 0.75 and 0.15 <= shares[1] <= 0.45 and 0.03 <= shares[2] <= 0.2,
             f"with a model that predicts {described}, the sampled shares were " + ", ".join(
                 f"{s:.0%}" for s in shares), "sample at temperature 1 from torch.softmax(logits, dim=-1)")
    expected = reference_generate_text(CountingModel(len(vocab), inputs["step"]), start, length, vocab=vocab)
    text, calls = data["counting"]["value"], data["counting_calls"]
    if text != expected:
        _require(not any(call["fresh"] for call in calls[1:]), "the model's state is not carried between "
                 "steps (after the first step the model got no state or a fresh one)", "keep the state the "
                 "model returns: predictions, state = model(input_idx, state, return_state=True)")
        _require(all(call["seq"] == 1 for call in calls[1:]), "after the first step the model was fed "
                 f"{max(call['seq'] for call in calls[1:])} characters at a time along with the carried state",
                 "feed only the character just sampled: input_idx = predicted_idx.unsqueeze(0), shape (1, 1)")
        bad = next(i for i, (a, b) in enumerate(zip(text, expected)) if a != b)
        raise _Fail(f"the generated text does not follow the model's predictions (first difference at character "
                    f"{bad})", "prime with the whole start_string, sample from predictions[0, -1, :] and feed the "
                    "sampled character back in")

JUDGES: Dict[str, Callable[[Dict, Dict], None]] = {
    "vectorize_string": _judge_vectorize_string, "get_batch": _judge_get_batch, "LSTMModel": _judge_lstm_model,
    "compute_loss": _judge_compute_loss, "train_step": _judge_train_step, "generate_text": _judge_generate_text,
}


def judge(name: str, inputs: Dict, result: Dict) -> Verdict:
    """Compare a probe's result for exercise `name` with the reference: a Verdict with a [PASS]/[FAIL] message."""
    error = result.get("error")
    if error == "missing":
        module = result.get("meta", {}).get("module", "")
        found = f" (only labutils' reference from {module})" if module.startswith("labutils") else ""
        return Verdict("missing", f"[FAIL] {name} is not defined in this notebook{found} — hint: write it in the "
                                  "TODO cell and run that cell")
    if error in ("not_implemented", "reference", "tampered"):
        what = {"not_implemented": "is not implemented yet",
                "reference": "uses labutils' reference instead of your own code",
                "tampered": "switched off the grader's watch on labutils' reference while it ran"}[error]
        if error == "reference" and result.get("how") == "call":
            what = f"calls labutils' reference ({result.get('message')}) while it runs instead of your own code"
        return Verdict("not_implemented", f"[FAIL] {name} {what} — hint: fill in the TODO cell above, run it, "
                                          "then run the check again")
    if error == "crashed":
        return Verdict("fail", f"[FAIL] testing {name} stopped the Python process that tested it (while "
                               f"{result.get('stage', 'starting')}) — hint: {EXCEPTION_HINTS[name]}")
    if error == "timeout":
        return Verdict("fail", f"[FAIL] {name} did not finish in time while {result.get('stage')} — hint: look for "
                               "an endless loop")
    if error == "exception":
        hint = EXCEPTION_HINTS[name]
        if result.get("computed_in") is not None:
            hint = (f"{name} uses a name set by top-level code in cell {result['computed_in'] + 1}, which the grader "
                    "does not re-run: compute it inside the function or pass it as an argument")
        return Verdict("fail", f"[FAIL] {name} raised {result['type']} while {result['stage']}: {result['message']} "
                               f"— hint: {hint}")
    try:
        JUDGES[name](inputs, result["data"])
    except _Fail as failure:
        return Verdict("fail", str(failure))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as error:
        return Verdict("fail", f"[FAIL] {name} returned something unexpected ({type(error).__name__}: {error}) — hint: "
                               f"{EXCEPTION_HINTS[name]}")
    return Verdict("pass", f"[PASS] {PASSES[name]}")

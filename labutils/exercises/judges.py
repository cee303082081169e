"""Judges of the exercises: compare what a probe returned with labutils' reference, as a Verdict with a
[PASS]/[FAIL] message (used by labutils.checks in a notebook and by the grader in its own process).
Every message comes from the keyed tables of texts.py."""
from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from labutils.exercises.probes import CountingModel, TinyCharModel, as_numpy
from labutils.exercises.sgd import PlainSGD, stepped
from labutils.exercises.texts import fail_message, pass_message
from labutils.model import LSTMModel as ReferenceLSTMModel
from labutils.sampling import generate_text as reference_generate_text
from labutils.training import train_step as reference_train_step


class Verdict(NamedTuple):
    """A judge's answer: status is pass, partial (fails the check, earns the rubric's partial credit), fail,
    not_implemented or missing."""

    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class _Fail(Exception):
    """A failed requirement: the [FAIL] message of the keys `what` and `hint` (texts.py) with their slots."""

    def __init__(self, what: str, hint: str, **slots):
        super().__init__(fail_message(what, hint, **slots))


class _Partial(_Fail):
    """A requirement of full marks failed, but the part that earns partial credit works (the rubric's PARTIAL)."""


def _require(condition, what: str, hint: str, **slots) -> None:
    """Fail with the message of `what` and `hint` unless `condition` holds."""
    if not condition:
        raise _Fail(what, hint, **slots)


# The exercises' signatures, as the lab's TODO cells write them (the hint when a call does not fit)
SIGNATURES = {"vectorize_string": "vectorize_string(string)",
              "get_batch": "get_batch(vectorized_songs, seq_length, batch_size)",
              "LSTMModel": "LSTMModel(vocab_size, embedding_dim, hidden_size)",
              "compute_loss": "compute_loss(labels, logits)",
              "train_step": "train_step(model, optimizer, x_batch, y_batch)",
              "generate_text": "generate_text(model, start_string, generation_length=1000)"}


def _raised_hint(name: str, described: Dict) -> str:
    """The hint for code that raised: the lab's signature when the call itself did not fit, else the recipe."""
    return "signature" if described.get("arguments") else f"{name}.recipe"


def _no_error(name: str, described: Dict) -> None:
    """Fail when the probe saw the student's code raise, saying what it raised and while doing what."""
    if described.get("kind") == "error":
        raise _Fail("raised", _raised_hint(name, described), name=name, error=described["type"],
                    stage=described["while"], message=described["message"], signature=SIGNATURES[name])


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape and the same values, up to float rounding."""
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)


def _judge_vectorize_string(inputs: Dict, data: Dict) -> None:
    """An int64 numpy array with char2idx's index of each character."""
    char2idx = inputs["char2idx"]
    for string, out in zip(inputs["strings"], data["outputs"]):
        expected = [char2idx[c] for c in string]
        _require(out["kind"] in ("array", "tensor"), "vectorize_string.not_array", "vectorize_string.return_array",
                 type=out["type"])
        _require(out["type"] == "ndarray", "vectorize_string.not_array", "vectorize_string.wrap", type=out["type"])
        _require(out["dtype"] == "int64", "vectorize_string.dtype", "vectorize_string.int64", dtype=out["dtype"])
        _require(out["shape"] == [len(string)], "vectorize_string.shape", "vectorize_string.one_each",
                 shape=tuple(out["shape"]), length=len(string))
        got = out["values"].tolist()
        bad = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), None)
        if bad is not None:
            raise _Fail("vectorize_string.index", "vectorize_string.look_up", char=repr(string[bad]), position=bad,
                        got=got[bad], expected=expected[bad])


def _window_starts(text: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Every position where `row` occurs in `text`."""
    if len(row) == 0 or len(row) > len(text):
        return np.zeros(0, dtype=np.int64)
    candidates = np.flatnonzero(text[: len(text) - len(row) + 1] == row[0])
    windows = sliding_window_view(text, len(row))[candidates]
    return candidates[(windows == row).all(axis=1)]


def _shift(text: np.ndarray, starts: np.ndarray, y_row: np.ndarray) -> Optional[int]:
    """The shift (1, 0, -1, 2, -2 or 3) at which y_row follows a window starting at one of `starts`; else None."""
    for shift in (1, 0, -1, 2, -2, 3):
        for p in starts:
            q = p + shift
            if 0 <= q and q + len(y_row) <= len(text) and np.array_equal(text[q: q + len(y_row)], y_row):
                return shift
    return None


def _require_batch_shapes(out: Dict, seq: int, batch: int) -> None:
    """x_batch and y_batch are LongTensors of shape (batch, seq); a wrong length says by how much."""
    for label, item in zip(("x_batch", "y_batch"), out["items"]):
        _require(item["kind"] == "tensor", "get_batch.not_tensor", "get_batch.tensor", label=label, type=item["type"])
        _require(item["dtype"] == "torch.int64", "get_batch.dtype", "get_batch.long", label=label, dtype=item["dtype"])
        off = item["shape"][1] - seq if len(item["shape"]) == 2 and item["shape"][0] == batch else None
        slots = {"label": label, "shape": tuple(item["shape"]), "batch": batch, "seq": seq}
        if not off:
            _require(item["shape"] == [batch, seq], "get_batch.shape", "get_batch.one_row_each", **slots)
        else:
            raise _Fail("get_batch.rows_short" if off < 0 else "get_batch.rows_long",
                        "get_batch.y_slice" if label == "y_batch" else "get_batch.x_slice", count=abs(off),
                        characters="character" if abs(off) == 1 else "characters", **slots)


def _batch_starts(text: np.ndarray, x: np.ndarray, y: np.ndarray) -> List[int]:
    """Where each row of x starts in the text, once each row is a window and y is x shifted by one."""
    starts = []
    for row in range(len(x)):
        found = _window_starts(text, x[row])
        _require(len(found), "get_batch.not_window", "get_batch.x_row", row=row)
        shift = _shift(text, found, y[row])
        _require(shift != 0, "get_batch.y_is_x", "get_batch.next_character")
        _require(shift != -1, "get_batch.swapped", "get_batch.y_ahead")
        if shift != 1:
            raise _Fail("get_batch.shifted" if shift is not None else "get_batch.not_shifted", "get_batch.off_by_one",
                        row=row, shift=shift)
        starts.append(int(found[0]))
    return starts


def _judge_get_batch(inputs: Dict, data: Dict) -> None:
    """Pairs of LongTensor windows of the text, y one ahead, from random starts all over the text."""
    texts = {"data": as_numpy(inputs["data"]), "songs": as_numpy(inputs["songs"])}
    starts_seen = []
    for call, out in zip(inputs["calls"], data["outputs"]):
        seq, batch = call["seq_length"], call["batch_size"]
        text = texts["data"][: call["length"]] if call["source"] == "data" else texts["songs"]
        _no_error("get_batch", out)
        _require(out["kind"] == "tuple" and out.get("length") == 2, "get_batch.not_pair", "get_batch.return_pair",
                 call=f"get_batch(text, seq_length={seq}, batch_size={batch})", type=out["type"])
        _require_batch_shapes(out, seq, batch)
        starts = _batch_starts(text, *(item["values"].numpy() for item in out["items"]))
        if call["source"] == "data" and call["length"] == 1000 and seq == inputs["calls"][0]["seq_length"]:
            starts_seen.append(starts)
    first, second = starts_seen[0], starts_seen[1]
    _require(len(set(first)) >= len(first) // 2, "get_batch.few_starts", "get_batch.start_each_row",
             distinct=len(set(first)), batch=len(first))
    _require(first != second, "get_batch.same_batch", "get_batch.new_starts")
    top = max(first + second)
    _require(top >= (1000 - inputs["calls"][0]["seq_length"]) // 2, "get_batch.low_starts", "get_batch.whole_text",
             top=top + 1)


def _reference_model(inputs: Dict, data: Dict) -> ReferenceLSTMModel:
    """labutils' LSTMModel with the student's model's weights."""
    model = ReferenceLSTMModel(inputs["vocab_size"], inputs["embedding_dim"], inputs["hidden_size"])
    names = {layer["type"]: layer["name"] for layer in data["layers"]}
    for ours, theirs in (("embedding", names["Embedding"]), ("lstm", names["LSTM"]), ("fc", names["Linear"])):
        getattr(model, ours).load_state_dict(data["weights"][theirs])
    return model.eval()


def _only(layers, kinds, what: str, hint: str, **slots) -> Dict:
    """The one layer of `kinds` the model has (more or none fails)."""
    found = [layer for layer in layers if layer["type"] in kinds]
    _require(len(found) == 1, what, hint, count=len(found), **slots)
    return found[0]


def _require_layers(inputs: Dict, data: Dict) -> None:
    """One nn.Embedding, one batch-first nn.LSTM and one nn.Linear, of the sizes asked for."""
    vocab, emb, hidden = inputs["vocab_size"], inputs["embedding_dim"], inputs["hidden_size"]
    _require("not_module" not in data, "LSTMModel.not_module", "LSTMModel.module", type=data.get("not_module"))
    layers = data["layers"]
    embedding = _only(layers, ("Embedding",), "LSTMModel.layer_count", "LSTMModel.one_embedding", layer="nn.Embedding")
    _require((embedding["num_embeddings"], embedding["embedding_dim"]) == (vocab, emb), "LSTMModel.embedding",
             "LSTMModel.embedding", got_vocab=embedding["num_embeddings"], got_dim=embedding["embedding_dim"],
             vocab=vocab, dim=emb)
    rnn = _only(layers, ("LSTM", "GRU", "RNN"), "LSTMModel.recurrent_count", "LSTMModel.one_lstm")
    _require(rnn["type"] == "LSTM", "LSTMModel.not_lstm", "LSTMModel.use_lstm", type=rnn["type"])
    _require(rnn["batch_first"], "LSTMModel.not_batch_first", "LSTMModel.batch_first")
    config = (rnn["input_size"], rnn["hidden_size"], rnn["num_layers"], rnn["bidirectional"])
    _require(config == (emb, hidden, 1, False), "LSTMModel.lstm", "LSTMModel.lstm", input_size=config[0],
             hidden_size=config[1], num_layers=config[2], bidirectional=config[3], dim=emb, hidden=hidden)
    linear = _only(layers, ("Linear",), "LSTMModel.layer_count", "LSTMModel.one_linear", layer="nn.Linear")
    _require((linear["in_features"], linear["out_features"]) == (hidden, vocab), "LSTMModel.linear", "LSTMModel.linear",
             got_in=linear["in_features"], got_out=linear["out_features"], hidden=hidden, vocab=vocab)


def _require_init_hidden(inputs: Dict, data: Dict) -> None:
    """init_hidden(batch, device) gives zeros (h, c) of shape (1, batch, hidden) on that device."""
    batch, hidden = inputs["x"].shape[0], inputs["hidden_size"]
    for key, device in (("init_hidden", "cpu"), ("init_hidden_meta", "meta")):
        state = data[key]
        _no_error("LSTMModel", state)
        _require(state["kind"] == "tuple" and state["length"] == 2 and all(i["kind"] == "tensor" for i in state["items"]),
                 "LSTMModel.init_hidden_type", "LSTMModel.zeros_pair", type=state["type"])
        for item in state["items"]:
            _require(item["shape"] == [1, batch, hidden], "LSTMModel.init_hidden_shape", "LSTMModel.state_shape",
                     batch=batch, shape=tuple(item["shape"]), hidden=hidden)
            _require(item["device"] == device, "LSTMModel.init_hidden_device", "LSTMModel.on_device",
                     device=repr(device), got=item["device"])
            _require(device == "meta" or not item["values"].any(), "LSTMModel.init_hidden_nonzero", "LSTMModel.zeros")


def _require_forward(inputs: Dict, data: Dict, reference: ReferenceLSTMModel) -> None:
    """model(x), model(x, state) and model(x, state, return_state=True) give the reference's logits and state."""
    x, state = inputs["x"], (inputs["h0"], inputs["c0"])
    (batch, seq), vocab = x.shape, inputs["vocab_size"]
    with torch.no_grad():
        expected_default = reference(x)
        expected_state, (h, c) = reference(x, state, return_state=True)
    default = data["default"]
    _no_error("LSTMModel", default)
    _require(default["kind"] == "tensor", "LSTMModel.logits_type", "LSTMModel.logits_only", type=default["type"])
    _require(default["shape"] == [batch, seq, vocab], "LSTMModel.logits_shape", "LSTMModel.layer_order",
             shape=tuple(default["shape"]), batch=batch, seq=seq, vocab=vocab)
    _require(_close(default["values"], expected_default), "LSTMModel.logits_values", "LSTMModel.forward")
    given = data["with_state"]
    _no_error("LSTMModel", given)
    _require(given["kind"] == "tensor" and given["shape"] == [batch, seq, vocab], "LSTMModel.state_type",
             "LSTMModel.logits_only", type=given["type"], shape=tuple(given.get("shape", ())))
    _require(not _close(given["values"], expected_default), "LSTMModel.state_ignored", "LSTMModel.state_if_none")
    _require(_close(given["values"], expected_state), "LSTMModel.state_values", "LSTMModel.pass_state")
    both = data["return_state"]
    _no_error("LSTMModel", both)
    _require(both["kind"] == "tuple" and both["length"] == 2, "LSTMModel.return_state_type", "LSTMModel.return_state",
             type=both["type"])
    logits, new_state = both["items"]
    _require(logits["kind"] == "tensor" and _close(logits["values"], expected_state), "LSTMModel.return_state_logits",
             "LSTMModel.logits_first")
    _require(new_state["kind"] == "tuple" and new_state.get("length") == 2 and all(
        i["kind"] == "tensor" and _close(i["values"], e) for i, e in zip(new_state["items"], (h, c))),
        "LSTMModel.return_state_state", "LSTMModel.new_state")


def _judge_lstm_model(inputs: Dict, data: Dict) -> None:
    """The layers, the parameter count, init_hidden and forward of the student's LSTMModel."""
    _require_layers(inputs, data)
    reference = _reference_model(inputs, data)
    expected_count = sum(p.numel() for p in reference.parameters())
    _require(data["num_parameters"] == expected_count, "LSTMModel.parameters", "LSTMModel.three_layers",
             count=data["num_parameters"], expected=expected_count)
    _require_init_hidden(inputs, data)
    _require_forward(inputs, data, reference)


def _judge_compute_loss(inputs: Dict, data: Dict) -> None:
    """The mean cross-entropy of each case, as a tensor whose gradient reaches the logits."""
    for case, out in zip(inputs["cases"], data["outputs"]):
        labels, logits = case["labels"], case["logits"].clone().requires_grad_(True)
        shape = tuple(logits.shape)
        expected = F.cross_entropy(logits.reshape(-1, shape[-1]), labels.reshape(-1))
        expected.backward()
        loss = out["loss"]
        _no_error("compute_loss", loss)
        _require(loss["kind"] != "number", "compute_loss.number", "compute_loss.keep_tensor")
        _require(loss["kind"] == "tensor", "compute_loss.not_tensor", "compute_loss.return_tensor", type=loss["type"])
        _require(loss["shape"] in ([], [1]), "compute_loss.shape", "compute_loss.mean_all", shape=tuple(loss["shape"]),
                 logits=shape)
        value = float(loss["values"].reshape(()))
        _require(abs(value - expected.item() * labels.numel()) > 1e-3 * labels.numel(), "compute_loss.sum",
                 "compute_loss.mean")
        _require(abs(value - expected.item()) <= 1e-4 * max(1.0, abs(expected.item())), "compute_loss.value",
                 "compute_loss.recipe", value=f"{value:.4f}", logits=shape, expected=f"{expected.item():.4f}")
        _require(out.get("grad") is not None, "compute_loss.no_gradient", "compute_loss.torch_only")
        _require(_close(out["grad"], logits.grad), "compute_loss.gradient", "compute_loss.flattened")


def _number(described) -> Optional[float]:
    """The number a probe described (a Python number or a one-element tensor), else None."""
    if described["kind"] == "number":
        return described["value"]
    if described["kind"] == "tensor" and described["shape"] in ([], [1]):
        return float(described["values"].reshape(()))
    return None


def _same_loss(a: float, b: float) -> bool:
    """Equal losses, up to float rounding."""
    return abs(a - b) <= 1e-4 * max(1.0, abs(b))


def _loss_of(model, x: torch.Tensor, labels: torch.Tensor) -> float:
    """The cross-entropy of `model` on inputs x against `labels`, without touching gradients."""
    with torch.no_grad():
        logits = model(x)
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)))


def _nearest_slip(loss: float, slips) -> str:
    """The hint of the nearest slip within tolerance (two can be, at a tiny model's start), else the general one."""
    near = [(abs(loss - slip_loss), hint) for slip_loss, hint in slips if _same_loss(loss, slip_loss)]
    return min(near)[1] if near else "train_step.loss"


def _judge_train_step(inputs: Dict, data: Dict) -> None:
    """Each of two steps returns the batch's loss before the update and leaves the reference's parameters."""
    model = TinyCharModel(inputs["vocab_size"], inputs["seed"])
    optimizer = PlainSGD(model.parameters(), lr=inputs["lr"])
    for step, ((x, y), out) in enumerate(zip(inputs["batches"], data["steps"]), start=1):
        # The usual slips and their losses: x as the labels, x and y swapped (no hint), the loss after the update.
        slips = [(_loss_of(model, x, x), "train_step.labels"), (_loss_of(model, y, x), "train_step.loss")]
        before = {k: v.detach().clone() for k, v in model.named_parameters()}
        expected_loss = reference_train_step(model, optimizer, x, y)
        loss = _number(out["loss"])
        _require(loss is not None, "train_step.not_number", "train_step.return_loss", type=out["loss"]["type"])
        if not _same_loss(loss, expected_loss):
            slips.append((_loss_of(model, x, y), "train_step.loss_before"))
            raise _Fail("train_step.loss", _nearest_slip(loss, slips), loss=f"{loss:.4f}", step=step,
                        expected=f"{expected_loss:.4f}")
        params = out["params"]
        if step == 1:
            _require(any(not torch.equal(params[k], v) for k, v in before.items()), "train_step.unchanged",
                     "train_step.backward_step")
        matches = all(_close(params[k], v.detach()) for k, v in model.named_parameters())
        what = "train_step.first_step" if step == 1 else "train_step.second_step"
        # At a tiny model's start the loss is about the same whatever the labels: the parameters tell this slip.
        labels_slip = not matches and all(_close(params[k], v.detach())
                                          for k, v in stepped(model, before, x, x, inputs["lr"]).named_parameters())
        _require(not labels_slip, what, "train_step.labels")
        _require(matches, what, "train_step.order" if step == 1 else "train_step.zero_grad")


def _require_text(out: Dict, start: str, count: int) -> None:
    """generate_text(model, start, count) returned start followed by exactly `count` characters."""
    _no_error("generate_text", out)
    _require(out["kind"] == "str", "generate_text.not_str", "generate_text.return_text", type=out["type"])
    text = out["value"]
    _require(text.startswith(start), "generate_text.start", "generate_text.return_text", start=repr(start))
    _require(len(text) == len(start) + count, "generate_text.length", "generate_text.length", start=repr(start),
             count=count, got=len(text), expected=len(start) + count)


def _require_sampling(inputs: Dict, data: Dict) -> None:
    """Text from the fixed-distribution model has each likely character about as often as the model says."""
    _require_text(data["sampling"], "X", inputs["sample_length"])
    vocab = inputs["vocab"]
    likely = torch.topk(torch.tensor(inputs["logits"]), 3).indices.tolist()  # characters with 60%, 30%, 10%
    sampled = data["sampling"]["value"][1:]
    shares = [sampled.count(vocab[i]) / len(sampled) for i in likely]
    predicted = ", ".join(f"{vocab[i]!r} {p:.0%}" for i, p in zip(likely, (0.6, 0.3, 0.1)))
    _require(shares[0] < 0.9, "generate_text.argmax", "generate_text.multinomial", predicted=predicted,
             char=repr(vocab[likely[0]]), share=f"{shares[0]:.0%}")
    _require(sum(shares) > 0.999, "generate_text.impossible", "generate_text.softmax", predicted=predicted,
             share=f"{1 - sum(shares):.0%}")
    _require(0.45 <= shares[0] <= 0.75 and 0.15 <= shares[1] <= 0.45 and 0.03 <= shares[2] <= 0.2,
             "generate_text.shares", "generate_text.temperature", predicted=predicted,
             shares=", ".join(f"{s:.0%}" for s in shares))


def _counting_failure(inputs: Dict, data: Dict, key: str, start: str) -> Optional[_Fail]:
    """What is wrong with the counting model's text from `start` (data[key]), or None when it is the reference's."""
    vocab, length = inputs["vocab"], inputs["length"]
    try:
        _require_text(data[key], start, length)
        expected = reference_generate_text(CountingModel(len(vocab), inputs["step"]), start, length, vocab=vocab)
        text, calls = data[key]["value"], data[key + "_calls"]
        if text != expected:
            _require(not any(call["fresh"] for call in calls[1:]), "generate_text.state_dropped",
                     "generate_text.keep_state")
            _require(all(call["seq"] == 1 for call in calls[1:]), "generate_text.fed_many", "generate_text.feed_one",
                     count=max((call["seq"] for call in calls[1:]), default=1))
            bad = next(i for i, (a, b) in enumerate(zip(text, expected)) if a != b)
            raise _Fail("generate_text.diverges", "generate_text.follow", position=bad)
    except _Fail as failure:
        return failure
    return None


def _judge_generate_text(inputs: Dict, data: Dict) -> None:
    """Sampling at the model's probabilities, and the counting model's text exactly, from any start string.

    Right from a one-character start string (as the lab generates from "X") but not from a longer one: partial."""
    _require_sampling(inputs, data)
    start = inputs["start"]
    failure = _counting_failure(inputs, data, "counting", start)
    if failure is None:
        return
    if _counting_failure(inputs, data, "counting_one", start[0]) is not None:
        raise failure
    out = data["counting"]
    if out.get("kind") == "error":
        raise _Partial("generate_text.long_start_raised", "generate_text.last_position", start=repr(start),
                       error=out["type"], message=out["message"])
    raise _Partial("generate_text.long_start", "generate_text.last_position", start=repr(start))


JUDGES: Dict[str, Callable[[Dict, Dict], None]] = {
    "vectorize_string": _judge_vectorize_string, "get_batch": _judge_get_batch, "LSTMModel": _judge_lstm_model,
    "compute_loss": _judge_compute_loss, "train_step": _judge_train_step, "generate_text": _judge_generate_text,
}


# why the grader could not rebuild a global the student's code reads -> the keys of its message (texts.py)
UNREBUILT = {"not_rerun": ("not_rerun", "set_plainly"), "failed": ("rerun_failed", "rerun_failed"),
             "slow": ("rerun_slow", "rerun_slow")}


def _judge_error(name: str, error: str, result: Dict) -> Verdict:
    """The verdict when the probe could not run the code to the end: missing, not implemented, crashed..."""
    if error == "missing":
        module = result.get("meta", {}).get("module", "")
        if module.startswith("labutils"):
            return Verdict("missing", fail_message("missing_reference", "missing", name=name, module=module))
        return Verdict("missing", fail_message("missing", "missing", name=name))
    if error in ("not_implemented", "reference"):
        what = "reference_call" if error == "reference" and result.get("how") == "call" else error
        return Verdict("not_implemented", fail_message(what, "not_implemented", name=name, calls=result.get("message")))
    if error == "crashed":
        return Verdict("fail", fail_message("crashed", f"{name}.recipe", name=name, stage=result.get("stage", "starting")))
    if error == "timeout":
        return Verdict("fail", fail_message("timeout", "timeout", name=name, stage=result.get("stage")))
    if error == "unrebuilt":
        what, hint = UNREBUILT[result["why"]]
        return Verdict("fail", fail_message(what, hint, name=name, missing=result["missing"], cell=result["cell"] + 1,
                                            error=result.get("type", ""), message=result.get("message", ""),
                                            seconds=result.get("seconds", 0)))
    return Verdict("fail", fail_message("raised", _raised_hint(name, result), name=name, error=result["type"],
                                        stage=result["stage"], message=result["message"], signature=SIGNATURES[name]))


def judge(name: str, inputs: Dict, result: Dict) -> Verdict:
    """Compare a probe's result for exercise `name` with the reference: a Verdict with a [PASS]/[FAIL] message."""
    error = result.get("error")
    if error in ("missing", "not_implemented", "reference", "crashed", "timeout", "exception", "unrebuilt"):
        return _judge_error(name, error, result)
    try:
        JUDGES[name](inputs, result["data"])
    except _Partial as failure:
        return Verdict("partial", str(failure))
    except _Fail as failure:
        return Verdict("fail", str(failure))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as error:
        return Verdict("fail", fail_message("unexpected", f"{name}.recipe", name=name,
                                      error=f"{type(error).__name__}: {error}"))
    return Verdict("pass", pass_message(f"{name}.pass"))

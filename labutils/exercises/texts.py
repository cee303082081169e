"""The English of every check message, keyed: "[PASS] <what>" or "[FAIL] <what> — hint: <hint>".

WHATS holds what a line says, HINTS where to look. The judges (judges.py) and the grader write
their messages only through `pass_message` and `fail_message`, by key, so every message they can
produce is in these two tables. A {slot} stands for a part that changes (a name, a shape, a
number); the caller formats its value. Translations use the same keys
(labutils/locales/<lang>/checks.yaml, read by labutils.messages).
"""
from __future__ import annotations

from typing import Optional

FRAME = {"pass": "[PASS]", "fail": "[FAIL]", "hint": " — hint: "}

WHATS = {
    # the [PASS] lines
    "vectorize_string.pass": "vectorize_string maps each character to its char2idx index (int64 numpy array)",
    "get_batch.pass": "get_batch returns random (x, y) LongTensor windows of shape (batch, seq), y shifted one ahead",
    "LSTMModel.pass": "LSTMModel = embedding -> LSTM -> linear; logits (batch, seq, vocab); state passed and returned",
    "compute_loss.pass": "compute_loss gives the mean cross-entropy over all characters, with gradients",
    "train_step.pass": "train_step zeroes the gradients, steps the optimizer and returns the batch loss",
    "generate_text.pass": "generate_text carries the state, feeds each sample back and samples from softmax(logits)",
    # what the judge says of any exercise
    "missing": "{name} is not defined in this notebook",
    "missing_reference": "{name} is not defined in this notebook (only labutils' reference from {module})",
    "not_implemented": "{name} is not implemented yet",
    "reference": "{name} uses labutils' reference instead of your own code",
    "reference_call": "{name} calls labutils' reference ({calls}) while it runs instead of your own code",
    "crashed": "testing {name} stopped the Python process that tested it (while {stage})",
    "timeout": "{name} did not finish in time while {stage}",
    "raised": "{name} raised {error} while {stage}: {message}",
    "not_rerun": "{name} reads {missing}, which cell {cell} sets in a loop, a block or another statement the grader "
                 "does not re-run",
    "rerun_failed": "{name} reads {missing}; re-running the line of cell {cell} that sets it raised {error}: {message}",
    "rerun_slow": "{name} reads {missing}; re-running the line of cell {cell} that sets it took more than the "
                  "grader's {seconds} s",
    "unexpected": "{name} returned something unexpected ({error})",
    # what the grader says
    "not_found": "{name} was not found in any notebook",
    "unusable": "{name}: the probe's data is unusable ({error})",
    "not_graded": "not graded: see the notes above",
    # vectorize_string
    "vectorize_string.not_array": "vectorize_string returned a {type}, expected a numpy array",
    "vectorize_string.dtype": "vectorize_string returned dtype {dtype}, expected int64",
    "vectorize_string.shape": "vectorize_string returned shape {shape} for a string of {length} characters, "
                              "expected ({length},)",
    "vectorize_string.index": "character {char} at position {position} became {got}, but char2idx[{char}] is {expected}",
    # get_batch
    "get_batch.not_pair": "{call} returned a {type}, expected a pair (x_batch, y_batch)",
    "get_batch.not_tensor": "{label} is a {type}, expected a torch tensor",
    "get_batch.dtype": "{label} has dtype {dtype}, expected torch.long (int64)",
    "get_batch.shape": "{label} has shape {shape}, expected (batch_size, seq_length) = ({batch}, {seq})",
    "get_batch.rows_short": "{label} has shape {shape}, expected (batch_size, seq_length) = ({batch}, {seq}): "
                            "its rows are {count} {characters} short",
    "get_batch.rows_long": "{label} has shape {shape}, expected (batch_size, seq_length) = ({batch}, {seq}): "
                           "its rows are {count} {characters} long",
    "get_batch.not_window": "row {row} of x_batch is not a run of consecutive characters of the text",
    "get_batch.y_is_x": "y_batch equals x_batch",
    "get_batch.swapped": "x_batch and y_batch are swapped (y is one character behind x)",
    "get_batch.shifted": "row {row} of y_batch is shifted by {shift} characters from x_batch, expected exactly 1",
    "get_batch.not_shifted": "row {row} of y_batch is not x_batch shifted by one character, expected exactly 1",
    "get_batch.few_starts": "get_batch used only {distinct} different start positions in a batch of {batch}",
    "get_batch.same_batch": "get_batch returned the same batch twice",
    "get_batch.low_starts": "all start positions were below {top} in a text of 1000 characters",
    # LSTMModel
    "LSTMModel.not_module": "LSTMModel(...) built a {type}, not an nn.Module",
    "LSTMModel.layer_count": "the model has {count} {layer} layers, expected exactly one",
    "LSTMModel.recurrent_count": "the model has {count} recurrent (nn.LSTM) layers, expected exactly one",
    "LSTMModel.embedding": "the embedding is nn.Embedding({got_vocab}, {got_dim}), expected nn.Embedding({vocab}, {dim})",
    "LSTMModel.not_lstm": "the recurrent layer is nn.{type}, expected nn.LSTM",
    "LSTMModel.not_batch_first": "nn.LSTM is not batch_first",
    "LSTMModel.lstm": "nn.LSTM has input_size={input_size}, hidden_size={hidden_size}, num_layers={num_layers}, "
                      "bidirectional={bidirectional}; expected {dim}, {hidden}, 1, False",
    "LSTMModel.linear": "the output layer is nn.Linear({got_in}, {got_out}), expected nn.Linear({hidden}, {vocab})",
    "LSTMModel.parameters": "the model has {count} parameters, expected {expected}",
    "LSTMModel.init_hidden_type": "init_hidden returned a {type}, expected a pair (h, c) of tensors",
    "LSTMModel.init_hidden_shape": "init_hidden({batch}, device) gave a tensor of shape {shape}, "
                                   "expected (1, {batch}, {hidden})",
    "LSTMModel.init_hidden_device": "init_hidden(batch, torch.device({device})) made tensors on {got}",
    "LSTMModel.init_hidden_nonzero": "init_hidden returned non-zero tensors",
    "LSTMModel.logits_type": "model(x) returned a {type}, expected the logits tensor",
    "LSTMModel.logits_shape": "model(x) gave logits of shape {shape}, expected (batch, seq, vocab_size) = "
                              "({batch}, {seq}, {vocab})",
    "LSTMModel.logits_values": "model(x) logits differ from embedding -> LSTM -> linear with the same weights",
    "LSTMModel.state_type": "model(x, state) returned a {type} of shape {shape}",
    "LSTMModel.state_ignored": "forward ignores its `state` argument",
    "LSTMModel.state_values": "model(x, state) logits differ from the reference",
    "LSTMModel.return_state_type": "model(x, state, return_state=True) returned a {type}, expected (logits, state)",
    "LSTMModel.return_state_logits": "with return_state=True the first item is not the logits",
    "LSTMModel.return_state_state": "with return_state=True the returned state is not the LSTM's new (h, c)",
    # compute_loss
    "compute_loss.number": "compute_loss returned a Python number, expected the loss tensor",
    "compute_loss.not_tensor": "compute_loss returned a {type}, expected a tensor",
    "compute_loss.shape": "compute_loss returned shape {shape} for logits {logits}, expected a single number",
    "compute_loss.sum": "compute_loss sums the loss over characters instead of averaging",
    "compute_loss.value": "compute_loss gave {value} for logits of shape {logits}, the reference {expected}",
    "compute_loss.no_gradient": "no gradient flows from the loss back to the logits",
    "compute_loss.gradient": "the loss's gradient on the logits differs from the reference",
    # train_step
    "train_step.not_number": "train_step returned a {type}, expected the loss (a number)",
    "train_step.loss": "train_step returned loss {loss} at step {step}, but the batch's loss before the update is "
                       "{expected}",
    "train_step.unchanged": "the model's parameters did not change after train_step",
    "train_step.first_step": "the parameters after one train_step differ from one optimizer step on the batch loss",
    "train_step.second_step": "the second train_step differs from the reference although the first matched: "
                              "gradients accumulate across steps",
    # generate_text
    "generate_text.not_str": "generate_text returned a {type}, expected a string",
    "generate_text.start": "the returned text does not begin with start_string {start}",
    "generate_text.length": "generate_text({start}, generation_length={count}) returned {got} characters, "
                            "expected {expected}",
    "generate_text.argmax": "with a model that predicts {predicted}, generate_text wrote {char} {share} of the time: "
                            "that is argmax, not sampling",
    "generate_text.impossible": "with a model that predicts {predicted}, {share} of the generated characters were "
                                "ones it gives (almost) zero probability",
    "generate_text.shares": "with a model that predicts {predicted}, the sampled shares were {shares}",
    "generate_text.state_dropped": "the model's state is not carried between steps (after the first step the model "
                                   "got no state or a fresh one)",
    "generate_text.fed_many": "after the first step the model was fed {count} characters at a time along with the "
                              "carried state",
    "generate_text.diverges": "the generated text does not follow the model's predictions (first difference at "
                              "character {position})",
    "generate_text.long_start": "generate_text works from a one-character start string, but from the start string "
                                "{start} its text does not follow the model's predictions",
    "generate_text.long_start_raised": "generate_text works from a one-character start string, but from the start "
                                       "string {start} it raised {error}: {message}",
}

HINTS = {
    # of any exercise
    "missing": "write it in the TODO cell and run that cell",
    "not_implemented": "fill in the TODO cell above, run it, then run the check again",
    "set_plainly": "set {missing} with a plain assignment at the top level of a cell (name = value), compute it "
                   "inside the function, or pass it as an argument",
    "rerun_failed": "set {missing} with a line that runs on its own after the imports it needs, or compute it "
                    "inside the function",
    "rerun_slow": "the grader re-runs only quick lines: compute {missing} inside the function, or from something "
                  "quicker than training or loading a model",
    "timeout": "look for an endless loop",
    "signature": "keep the lab's signature, {signature}: what it works on comes in as arguments",
    "not_found": "define it in its TODO cell and save the notebook",
    "unusable": "do not change the grader's objects from the notebook",
    # vectorize_string
    "vectorize_string.recipe": "look each character up in the notebook's char2idx: "
                               "np.array([char2idx[c] for c in string])",
    "vectorize_string.return_array": "return np.array([char2idx[c] for c in string])",
    "vectorize_string.wrap": "wrap the indices in np.array(...)",
    "vectorize_string.int64": "indices are integers: np.array(indices, dtype=np.int64)",
    "vectorize_string.one_each": "one index per character, in order",
    "vectorize_string.look_up": "look each character up in the notebook's char2idx",
    # get_batch
    "get_batch.recipe": "starts must leave room for y: i + seq_length + 1 <= len(vectorized_songs); "
                        "x = text[i:i+seq_length], y = text[i+1:i+seq_length+1]",
    "get_batch.return_pair": "return x_batch, y_batch",
    "get_batch.tensor": "build it with torch.tensor(..., dtype=torch.long)",
    "get_batch.long": "character indices must be integers for nn.Embedding and cross_entropy: dtype=torch.long",
    "get_batch.one_row_each": "one row per window: (batch_size, seq_length)",
    "get_batch.y_slice": "y = vectorized_songs[start+1:start+seq_length+1]: the slice ends one past start+seq_length",
    "get_batch.x_slice": "x = vectorized_songs[start:start+seq_length]",
    "get_batch.x_row": "x_batch[i] = vectorized_songs[start:start+seq_length]",
    "get_batch.next_character": "the target is the next character: y = vectorized_songs[start+1:start+seq_length+1]",
    "get_batch.y_ahead": "return (x_batch, y_batch) with y one character ahead of x",
    "get_batch.off_by_one": "y = vectorized_songs[start+1:start+seq_length+1] (an off-by-one?)",
    "get_batch.start_each_row": "draw batch_size random starts, one per row",
    "get_batch.new_starts": "draw new random starts on every call (np.random.choice / np.random.randint)",
    "get_batch.whole_text": "draw starts from the whole text: 0 .. len(vectorized_songs) - seq_length - 1",
    # LSTMModel
    "LSTMModel.recipe": "__init__ builds nn.Embedding, nn.LSTM(batch_first=True), nn.Linear; forward(x, state=None, "
                        "return_state=False) runs them in order",
    "LSTMModel.module": "class LSTMModel(nn.Module) with super().__init__() first in __init__",
    "LSTMModel.one_embedding": "self.embedding = nn.Embedding(vocab_size, embedding_dim)",
    "LSTMModel.one_lstm": "self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)",
    "LSTMModel.one_linear": "self.fc = nn.Linear(hidden_size, vocab_size)",
    "LSTMModel.embedding": "nn.Embedding(vocab_size, embedding_dim)",
    "LSTMModel.use_lstm": "use nn.LSTM",
    "LSTMModel.batch_first": "our tensors are (batch, seq, ...): nn.LSTM(..., batch_first=True)",
    "LSTMModel.lstm": "nn.LSTM(input_size=embedding_dim, hidden_size=hidden_size, batch_first=True)",
    "LSTMModel.linear": "nn.Linear(hidden_size, vocab_size): from LSTM outputs to one logit per character",
    "LSTMModel.three_layers": "only the embedding, the LSTM and the linear layer",
    "LSTMModel.zeros_pair": "return (torch.zeros(1, batch_size, hidden_size, device=device), the same for c)",
    "LSTMModel.state_shape": "(num_layers, batch_size, hidden_size)",
    "LSTMModel.on_device": "create the zeros on the given device: torch.zeros(..., device=device)",
    "LSTMModel.zeros": "the initial state is all zeros",
    "LSTMModel.logits_only": "with return_state=False, return only the logits",
    "LSTMModel.layer_order": "embedding -> lstm -> fc, batch first",
    "LSTMModel.forward": "x = self.embedding(x); out, state = self.lstm(x, state); return self.fc(out)",
    "LSTMModel.state_if_none": "use init_hidden only when state is None, and pass state to self.lstm(x, state)",
    "LSTMModel.pass_state": "pass state to self.lstm(x, state)",
    "LSTMModel.return_state": "return out if not return_state else (out, state)",
    "LSTMModel.logits_first": "return (logits, state)",
    "LSTMModel.new_state": "out, state = self.lstm(x, state)",
    # compute_loss
    "compute_loss.recipe": "flatten logits to (batch*seq, vocab) and labels to (batch*seq,), "
                           "then F.cross_entropy(logits, labels)",
    "compute_loss.keep_tensor": "return the tensor from F.cross_entropy (no .item()): loss.backward() needs it",
    "compute_loss.return_tensor": "return F.cross_entropy(...)",
    "compute_loss.mean_all": "average over all batch*seq characters (reduction='mean', the default)",
    "compute_loss.mean": "use the mean (reduction='mean', the default)",
    "compute_loss.torch_only": "compute the loss with torch operations on logits: no .detach(), .numpy() or .item()",
    "compute_loss.flattened": "F.cross_entropy on the flattened logits and labels",
    # train_step
    "train_step.recipe": "optimizer.zero_grad(); logits = model(x_batch); loss = compute_loss(y_batch, logits); "
                         "loss.backward(); optimizer.step(); return loss.item()",
    "train_step.return_loss": "return loss.item(), the loss as a number (the loss tensor itself is accepted too)",
    "train_step.labels": "the labels are y_batch (the next characters), not x_batch: "
                         "compute_loss(y_batch, model(x_batch))",
    "train_step.loss_before": "return the loss computed before optimizer.step() (yours is the loss after the update)",
    "train_step.loss": "loss = compute_loss(y_batch, model(x_batch)), computed before optimizer.step()",
    "train_step.backward_step": "call loss.backward() and then optimizer.step()",
    "train_step.zero_grad": "call optimizer.zero_grad() before loss.backward()",
    "train_step.order": "optimizer.zero_grad(); loss.backward(); optimizer.step()",
    # generate_text
    "generate_text.recipe": "input_idx (1, seq) LongTensor; state = model.init_hidden(1, device); loop: "
                            "predictions, state = model(input_idx, state, return_state=True)",
    "generate_text.return_text": "return start_string + ''.join(text_generated)",
    "generate_text.length": "generate exactly generation_length characters and return start_string followed by them",
    "generate_text.multinomial": "draw the next character with "
                                 "torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)",
    "generate_text.softmax": "sample from softmax(predictions[0, -1, :])",
    "generate_text.temperature": "sample at temperature 1 from torch.softmax(logits, dim=-1)",
    "generate_text.keep_state": "keep the state the model returns: "
                                "predictions, state = model(input_idx, state, return_state=True)",
    "generate_text.feed_one": "feed only the character just sampled: input_idx = predicted_idx.unsqueeze(0), "
                              "shape (1, 1)",
    "generate_text.last_position": "prime the model with the whole start_string, then sample only from the last "
                                   "position's logits, predictions[0, -1, :] (shape (vocab_size,)), and feed back "
                                   "that one character",
    "generate_text.follow": "prime with the whole start_string, sample from predictions[0, -1, :] and feed the "
                            "sampled character back in",
}


def pass_message(what: str, **slots) -> str:
    """'[PASS] <what>': the text of WHATS[what] with its {slots} filled in."""
    return f"{FRAME['pass']} {WHATS[what].format(**slots)}"


def fail_message(what: str, hint: Optional[str] = None, **slots) -> str:
    """'[FAIL] <what> — hint: <hint>': the texts of WHATS[what] and HINTS[hint] with their {slots} filled in."""
    message = f"{FRAME['fail']} {WHATS[what].format(**slots)}"
    return message if hint is None else message + FRAME["hint"] + HINTS[hint].format(**slots)

"""Students who write the exercises as others wrote them: the lab notes' own code, pasted at the TODOs of the
student notebooks (NOTES); the upstream MIT PyTorch solution, adapted to the lab's signatures (UPSTREAM); and
common correct variants (VARIANTS). Each is the source a student would paste, with the module-level state it
needs; each must earn full marks in the notebook checks (tests/test_checks.py) and in the grader
(tests/test_fair_grading.py), except upstream's generate_text, which is right only from a one-character start
string (partial credit). GRADER_MISTAKES: wrong code whose hint is the grader's own."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the exercises' notebooks define before their TODO cells (the names the pasted code may use)
CONTEXT = """import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm
from labutils.corpus import lab_vocab
vocab, char2idx, idx2char = lab_vocab()
device = torch.device("cpu")
"""
NOTEBOOKS = {"vectorize_string": "02_vectorization", "get_batch": "03_batches", "LSTMModel": "04_model",
             "compute_loss": "05_training", "train_step": "05_training", "generate_text": "06_sampling"}
TODO_LINE = re.compile(r"^( *)raise NotImplementedError\(\"TODO: .*\"\)$", re.M)

# ---------------------------------------------------------------- the lab notes, at the TODOs of the notebooks
# A list: one snippet per TODO of the exercise's cell, in order. A string: the whole cell, as the notes write it
# (compute_loss with its module-level loss object, generate_text with tqdm and the global device).
NOTES = {
    "vectorize_string": ["vector = [char2idx[char] for char in string]\nreturn np.array(vector)"],
    "get_batch": ["input_batch = [vectorized_songs[i:i+seq_length] for i in idx]\n"
                  "output_batch = [vectorized_songs[i+1:i+seq_length+1] for i in idx]",
                  "x_batch = torch.tensor(input_batch, dtype=torch.long)\n"
                  "y_batch = torch.tensor(output_batch, dtype=torch.long)"],
    "LSTMModel": ["self.embedding = nn.Embedding(vocab_size, embedding_dim)\n"
                  "self.lstm = nn.LSTM(input_size=embedding_dim, hidden_size=hidden_size, batch_first=True)\n"
                  "self.fc = nn.Linear(hidden_size, vocab_size)",
                  # init_hidden is not in the notes: the upstream solution's
                  "return (torch.zeros(1, batch_size, self.hidden_size).to(device),\n"
                  "        torch.zeros(1, batch_size, self.hidden_size).to(device))",
                  "x = self.embedding(x)\nif state is None:\n    state = self.init_hidden(x.size(0), x.device)\n"
                  "out, state = self.lstm(x, state)\nout = self.fc(out)"],
    "compute_loss": '''cross_entropy = nn.CrossEntropyLoss()


def compute_loss(labels, logits):
    batched_labels = labels.view(-1)
    batched_logits = logits.view(-1, logits.size(-1))
    loss = cross_entropy(batched_logits, batched_labels)
    return loss
''',
    # the notes show the loop, not the step: the upstream step's body, in the lab's train_step(model, optimizer, ...)
    "train_step": ["optimizer.zero_grad()\ny_hat = model(x_batch)\nloss = compute_loss(y_batch, y_hat)\n"
                   "loss.backward()\noptimizer.step()"],
    "generate_text": '''def generate_text(model, start_string, generation_length=1000):
    input_idx = [char2idx[s] for s in start_string]
    input_idx = torch.tensor([input_idx], dtype=torch.long).to(device)
    state = model.init_hidden(input_idx.size(0), device)
    text_generated = []
    for i in tqdm(range(generation_length)):
        predictions, state = model(input_idx, state, return_state=True)
        predicted_logits = predictions[0, -1, :]
        predicted_probs = torch.nn.functional.softmax(predicted_logits, dim=-1)
        predicted_idx = torch.multinomial(predicted_probs, num_samples=1)
        predicted_char = idx2char[predicted_idx.item()]
        text_generated.append(predicted_char)
        input_idx = predicted_idx.unsqueeze(0)
    return (start_string + ''.join(text_generated))
''',
}

# ---------------------------------------------------------------- the upstream MIT PyTorch solution
UPSTREAM = {
    "vectorize_string": '''def vectorize_string(string):
  vectorized_output = np.array([char2idx[char] for char in string])
  return vectorized_output
''',
    "get_batch": '''def get_batch(vectorized_songs, seq_length, batch_size):
    n = vectorized_songs.shape[0] - 1
    idx = np.random.choice(n - seq_length, batch_size)
    input_batch = [vectorized_songs[i: i + seq_length] for i in idx]
    output_batch = [vectorized_songs[i + 1: i + seq_length + 1] for i in idx]
    x_batch = torch.tensor(input_batch, dtype=torch.long)
    y_batch = torch.tensor(output_batch, dtype=torch.long)
    return x_batch, y_batch
''',
    "LSTMModel": '''class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super(LSTMModel, self).__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None, return_state=False):
        x = self.embedding(x)
        if state is None:
            state = self.init_hidden(x.size(0), x.device)
        out, state = self.lstm(x, state)
        out = self.fc(out)
        return out if not return_state else (out, state)

    def init_hidden(self, batch_size, device):
        return (torch.zeros(1, batch_size, self.hidden_size).to(device),
                torch.zeros(1, batch_size, self.hidden_size).to(device))
''',
    "compute_loss": NOTES["compute_loss"],
    # upstream's train_step(x, y) reads the globals model and optimizer; the lab passes them in
    "train_step": '''def train_step(model, optimizer, x_batch, y_batch):
  model.train()
  optimizer.zero_grad()
  y_hat = model(x_batch)
  loss = compute_loss(y_batch, y_hat)
  loss.backward()
  optimizer.step()
  return loss
''',
    # squeezes the batch dimension and samples every position: right from "X", wrong from a longer start
    "generate_text": '''def generate_text(model, start_string, generation_length=1000):
  input_idx = [char2idx[s] for s in start_string]
  input_idx = torch.tensor([input_idx], dtype=torch.long).to(device)
  state = model.init_hidden(input_idx.size(0), device)
  text_generated = []
  tqdm._instances.clear()
  for i in tqdm(range(generation_length)):
    predictions, state = model(input_idx, state, return_state=True)
    predictions = predictions.squeeze(0)
    input_idx = torch.multinomial(torch.softmax(predictions, dim=-1), num_samples=1)
    text_generated.append(idx2char[input_idx].item())
  return (start_string + ''.join(text_generated))
''',
}
UPSTREAM_UNADAPTED_TRAIN_STEP = '''def train_step(x, y):
  model.train()
  optimizer.zero_grad()
  y_hat = model(x)
  loss = compute_loss(y, y_hat)
  loss.backward()
  optimizer.step()
  return loss
'''

# ---------------------------------------------------------------- common correct variants: (exercise, name, source)
VARIANTS = [
    ("vectorize_string", "helper_and_fromiter", '''def index_of(char):
    return char2idx[char]


def vectorize_string(string):
    return np.fromiter(map(index_of, string), dtype=np.int64, count=len(string))
'''),
    ("get_batch", "module_level_generator", '''rng = np.random.default_rng(0)


def get_batch(vectorized_songs, seq_length, batch_size):
    starts = rng.integers(0, len(vectorized_songs) - seq_length, size=batch_size)
    x_batch = np.stack([vectorized_songs[s:s + seq_length] for s in starts])
    y_batch = np.stack([vectorized_songs[s + 1:s + seq_length + 1] for s in starts])
    return torch.from_numpy(x_batch).long(), torch.from_numpy(y_batch).long()
'''),
    ("get_batch", "torch_randint_windows", '''def window(text, start, length):
    return torch.as_tensor(text[start:start + length], dtype=torch.long)


def get_batch(vectorized_songs, seq_length, batch_size):
    starts = torch.randint(0, len(vectorized_songs) - seq_length - 1, (batch_size,)).tolist()
    x_batch = torch.stack([window(vectorized_songs, s, seq_length) for s in starts])
    y_batch = torch.stack([window(vectorized_songs, s + 1, seq_length) for s in starts])
    return x_batch.to(device), y_batch.to(device)
'''),
    ("LSTMModel", "to_device_and_keywords", '''class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(num_embeddings=vocab_size, embedding_dim=embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=1, batch_first=True)
        self.fc = nn.Linear(in_features=hidden_size, out_features=vocab_size)

    def init_hidden(self, batch_size, device):
        zeros = torch.zeros(1, batch_size, self.hidden_size)
        return zeros.to(device), zeros.clone().to(device)

    def forward(self, x, state=None, return_state=False):
        embedded = self.embedding(x)
        if state is None:
            state = self.init_hidden(x.shape[0], x.device)
        out, new_state = self.lstm(embedded, state)
        logits = self.fc(out)
        if return_state:
            return logits, new_state
        return logits
'''),
    ("compute_loss", "transpose", '''def compute_loss(labels, logits):
    return F.cross_entropy(logits.transpose(1, 2), labels)
'''),
    ("compute_loss", "loss_object_and_reshape", '''loss_fn = nn.CrossEntropyLoss(reduction="mean")


def compute_loss(labels, logits):
    return loss_fn(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
'''),
    ("compute_loss", "functional_reshape", '''def compute_loss(labels, logits):
    vocab_size = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab_size), labels.reshape(-1))
'''),
    ("train_step", "to_device_and_item", '''def train_step(model, optimizer, x_batch, y_batch):
    model.train()
    x_batch, y_batch = x_batch.to(device), y_batch.to(device)
    optimizer.zero_grad(set_to_none=True)
    loss = compute_loss(y_batch, model(x_batch))
    loss.backward()
    optimizer.step()
    return loss.item()
'''),
    ("generate_text", "helper_no_grad", '''def sample_next(logits):
    probabilities = torch.softmax(logits, dim=-1)
    return torch.multinomial(probabilities, num_samples=1)


def generate_text(model, start_string, generation_length=1000):
    device = next(model.parameters()).device
    model.eval()
    input_idx = torch.tensor([[char2idx[c] for c in start_string]], dtype=torch.long, device=device)
    state = model.init_hidden(1, device)
    text = []
    with torch.no_grad():
        for _ in range(generation_length):
            predictions, state = model(input_idx, state, return_state=True)
            predicted_idx = sample_next(predictions[0, -1])
            text.append(idx2char[predicted_idx.item()])
            input_idx = predicted_idx.view(1, 1)
    return start_string + "".join(text)
'''),
]

# ---------------------------------------------------------------- wrong code whose hint only the grader gives
# (exercise, student, source, words of its message, its hint's key): a global it reads is set where the grader
# cannot rebuild it; the message names the source's cell
GRADER_MISTAKES = [
    ("get_batch", "reads_a_loop_variable", '''for seed in range(3):
    chooser = np.random.default_rng(seed)


def get_batch(vectorized_songs, seq_length, batch_size):
    starts = chooser.integers(0, len(vectorized_songs) - seq_length, size=batch_size)
    x_batch = np.stack([vectorized_songs[s:s + seq_length] for s in starts])
    y_batch = np.stack([vectorized_songs[s + 1:s + seq_length + 1] for s in starts])
    return torch.from_numpy(x_batch).long(), torch.from_numpy(y_batch).long()
''', "reads chooser, which cell {cell} sets in a loop", "set_plainly"),
    ("compute_loss", "reads_a_failing_line", '''weights = torch.load("class_weights.pt")


def compute_loss(labels, logits):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), weight=weights)
''', "reads weights; re-running the line of cell {cell} that sets it raised FileNotFoundError", "rerun_failed"),
    ("vectorize_string", "reads_a_slow_line", '''import time
table = time.sleep(60) or dict(char2idx)


def vectorize_string(string):
    return np.array([table[c] for c in string], dtype=np.int64)
''', "reads table; re-running the line of cell {cell} that sets it took more than", "rerun_slow"),
]


def todo_cell(exercise: str) -> str:
    """The source of the student notebook's TODO cell of `exercise`."""
    notebook = json.loads((ROOT / "notebooks" / f"{NOTEBOOKS[exercise]}.ipynb").read_text(encoding="utf-8"))
    heads = (f"def {exercise}(", f"class {exercise}(")
    return next("".join(c["source"]) for c in notebook["cells"]
                if c["cell_type"] == "code" and "".join(c["source"]).startswith(heads))


def paste(cell: str, snippets) -> str:
    """The TODO cell with each `raise NotImplementedError("TODO: ...")` replaced by the next snippet (indented as
    it was); a string instead of snippets replaces the whole cell."""
    if isinstance(snippets, str):
        return snippets
    pending = iter(snippets)

    def replace(match):
        return "\n".join(match.group(1) + line for line in next(pending).splitlines())

    pasted = TODO_LINE.sub(replace, cell)
    assert next(pending, None) is None and "NotImplementedError" not in pasted, pasted
    return pasted


def notes_source(exercise: str) -> str:
    """The exercise's TODO cell with the lab notes' code pasted in."""
    return paste(todo_cell(exercise), NOTES[exercise])

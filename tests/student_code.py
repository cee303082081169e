"""A catalogue of student code for the checks and the grader: the lab's solutions as a student
writes them (SOLUTIONS), untouched TODOs, and the usual mistakes, each with the words its [FAIL]
message must contain and the key of the hint it must get (MISTAKES): every hint a judge gives has
a mistake here that triggers it, or one in student_variants.GRADER_MISTAKES. tests/test_checks.py,
tests/test_grading.py and tests/test_fair_grading.py use it."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labutils.corpus import lab_vocab

vocab, char2idx, idx2char = lab_vocab()
device = torch.device("cpu")
SONGS = np.random.default_rng(0).integers(0, 83, 5000)


# ---------------------------------------------------------------- the solutions, as in the lab notes


def vectorize_string(string):
    return np.array([char2idx[char] for char in string], dtype=np.int64)


def get_batch(vectorized_songs, seq_length, batch_size):
    n = vectorized_songs.shape[0] - 1
    idx = np.random.choice(n - seq_length, batch_size)
    x_batch = torch.tensor(np.array([vectorized_songs[i:i + seq_length] for i in idx]), dtype=torch.long)
    y_batch = torch.tensor(np.array([vectorized_songs[i + 1:i + seq_length + 1] for i in idx]), dtype=torch.long)
    return x_batch, y_batch


class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(input_size=embedding_dim, hidden_size=hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def init_hidden(self, batch_size, device):
        return (torch.zeros(1, batch_size, self.hidden_size, device=device),
                torch.zeros(1, batch_size, self.hidden_size, device=device))

    def forward(self, x, state=None, return_state=False):
        x = self.embedding(x)
        if state is None:
            state = self.init_hidden(x.size(0), x.device)
        out, state = self.lstm(x, state)
        out = self.fc(out)
        return out if not return_state else (out, state)


def compute_loss(labels, logits):
    return F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))


def train_step(model, optimizer, x_batch, y_batch):
    optimizer.zero_grad()
    loss = compute_loss(y_batch, model(x_batch))
    loss.backward()
    optimizer.step()
    return loss


def generate_text(model, start_string, generation_length=1000):
    input_idx = torch.tensor([[char2idx[s] for s in start_string]], dtype=torch.long).to(device)
    state = model.init_hidden(input_idx.size(0), device)
    text_generated = []
    for _ in range(generation_length):
        predictions, state = model(input_idx, state, return_state=True)
        probs = torch.softmax(predictions[0, -1, :], dim=-1)
        predicted_idx = torch.multinomial(probs, num_samples=1)
        text_generated.append(idx2char[predicted_idx.item()])
        input_idx = predicted_idx.unsqueeze(0)
    return start_string + "".join(text_generated)


SOLUTIONS = {"vectorize_string": vectorize_string, "get_batch": get_batch, "LSTMModel": LSTMModel,
             "compute_loss": compute_loss, "train_step": train_step, "generate_text": generate_text}


def untouched(*args, **kwargs):
    raise NotImplementedError("TODO: write this function")


class UntouchedModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        raise NotImplementedError("TODO: build the layers")


def vectorize_list(string):
    return [char2idx[c] for c in string]


def vectorize_float(string):
    return np.array([char2idx[c] for c in string], dtype=np.float32)


def vectorize_own_mapping(string):
    return np.array([ord(c) % 83 for c in string], dtype=np.int64)


def _windows(v, starts, seq_length, offset):
    return np.array([v[i + offset:i + offset + seq_length] for i in starts])


def batch_off_by_one(v, seq_length, batch_size):
    idx = np.random.choice(len(v) - seq_length - 1, batch_size)
    return torch.tensor(_windows(v, idx, seq_length, 0)), torch.tensor(_windows(v, idx, seq_length, 2))


def batch_no_shift(v, seq_length, batch_size):
    idx = np.random.choice(len(v) - seq_length, batch_size)
    return torch.tensor(_windows(v, idx, seq_length, 0)), torch.tensor(_windows(v, idx, seq_length, 0))


def batch_swapped(v, seq_length, batch_size):
    x, y = get_batch(v, seq_length, batch_size)
    return y, x


def batch_float(v, seq_length, batch_size):
    x, y = get_batch(v, seq_length, batch_size)
    return x.float(), y.float()


def batch_int32(v, seq_length, batch_size):
    x, y = get_batch(v, seq_length, batch_size)
    return x.int(), y.int()


def batch_lists(v, seq_length, batch_size):
    x, y = get_batch(v, seq_length, batch_size)
    return x.tolist(), y.tolist()


def batch_transposed(v, seq_length, batch_size):
    x, y = get_batch(v, seq_length, batch_size)
    return x.T, y.T


def batch_not_random(v, seq_length, batch_size):
    idx = np.full(batch_size, np.random.randint(len(v) - seq_length - 1))
    return torch.tensor(_windows(v, idx, seq_length, 0)), torch.tensor(_windows(v, idx, seq_length, 1))


def batch_past_the_end(v, seq_length, batch_size):
    idx = np.random.choice(len(v) - seq_length + 1, batch_size)
    return torch.tensor(_windows(v, idx, seq_length, 0)), torch.tensor(_windows(v, idx, seq_length, 1))


class NoEmbedding(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        nn.Module.__init__(self)
        self.hidden_size, self.vocab_size = hidden_size, vocab_size
        self.lstm = nn.LSTM(vocab_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None, return_state=False):
        out, state = self.lstm(F.one_hot(x, self.vocab_size).float(), state)
        return (self.fc(out), state) if return_state else self.fc(out)


class NoLinear(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        del self.fc

    def forward(self, x, state=None, return_state=False):
        out, state = self.lstm(self.embedding(x), state)
        return (out, state) if return_state else out


class NotBatchFirst(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.lstm = nn.LSTM(embedding_dim, hidden_size)


class IgnoresState(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        return super().forward(x, None, return_state)


class IgnoresReturnState(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        return super().forward(x, state, False)


class WrongDevice(LSTMModel):
    def init_hidden(self, batch_size, device):
        return super().init_hidden(batch_size, "cpu")


class UsesGRU(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.lstm = nn.GRU(embedding_dim, hidden_size, batch_first=True)


def loss_logits_not_flattened(labels, logits):
    return F.cross_entropy(logits, labels)


def loss_labels_not_flattened(labels, logits):
    return F.cross_entropy(logits.view(-1, logits.size(-1)), labels)


def loss_swapped(labels, logits):
    return F.cross_entropy(labels.view(-1).float(), logits.view(-1, logits.size(-1)))


def loss_item(labels, logits):
    return compute_loss(labels, logits).item()


def loss_sum(labels, logits):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), reduction="sum")


def loss_detached(labels, logits):
    return compute_loss(labels, logits.detach())


def step_no_zero_grad(model, optimizer, x_batch, y_batch):
    loss = compute_loss(y_batch, model(x_batch))
    loss.backward()
    optimizer.step()
    return loss


def step_no_step(model, optimizer, x_batch, y_batch):
    optimizer.zero_grad()
    loss = compute_loss(y_batch, model(x_batch))
    loss.backward()
    return loss


def step_no_backward(model, optimizer, x_batch, y_batch):
    optimizer.zero_grad()
    loss = compute_loss(y_batch, model(x_batch))
    optimizer.step()
    return loss


def step_swapped(model, optimizer, x_batch, y_batch):
    return train_step(model, optimizer, y_batch, x_batch)


def step_labels_from_x(model, optimizer, x_batch, y_batch):
    return train_step(model, optimizer, x_batch, x_batch)


def batch_target_one_short(v, seq_length, batch_size):
    idx = np.random.choice(len(v) - seq_length - 1, batch_size)
    return torch.tensor(_windows(v, idx, seq_length, 0)), torch.tensor(_windows(v, idx, seq_length - 1, 1))


def step_returns_loss_after_update(model, optimizer, x_batch, y_batch):
    train_step(model, optimizer, x_batch, y_batch)
    return compute_loss(y_batch, model(x_batch)).item()


def generate_loop(model, start_string, generation_length, pick, carry=True, reinit=False, position=-1):
    input_idx = torch.tensor([[char2idx[s] for s in start_string]], dtype=torch.long)
    state = model.init_hidden(1, device)
    text = []
    for _ in range(generation_length):
        if reinit:
            state = model.init_hidden(1, device)
        if carry:
            predictions, state = model(input_idx, state, return_state=True)
        else:
            predictions = model(input_idx)
        predicted_idx = pick(predictions[0, position, :])
        text.append(idx2char[predicted_idx.item()])
        input_idx = predicted_idx.view(1, 1)
    return start_string + "".join(text)


def sample(logits):
    return torch.multinomial(torch.softmax(logits, -1), 1)


def generate_no_state(model, start_string, generation_length=1000):
    return generate_loop(model, start_string, generation_length, sample, carry=False)


def generate_reinit(model, start_string, generation_length=1000):
    return generate_loop(model, start_string, generation_length, sample, reinit=True)


def generate_argmax(model, start_string, generation_length=1000):
    return generate_loop(model, start_string, generation_length, lambda logits: torch.argmax(logits).view(1))


def generate_double_softmax(model, start_string, generation_length=1000):
    return generate_loop(model, start_string, generation_length, lambda logits: sample(torch.softmax(logits, -1)))


def generate_no_start(model, start_string, generation_length=1000):
    return generate_text(model, start_string, generation_length)[len(start_string):]


def generate_refeeds_start(model, start_string, generation_length=1000):
    input_idx = torch.tensor([[char2idx[s] for s in start_string]], dtype=torch.long)
    state, text = model.init_hidden(1, device), []
    for _ in range(generation_length):
        predictions, state = model(input_idx, state, return_state=True)
        text.append(idx2char[sample(predictions[0, -1, :]).item()])
    return start_string + "".join(text)


def generate_first_position(model, start_string, generation_length=1000):
    return generate_loop(model, start_string, generation_length, sample, position=0)


def generate_without_batch_dim(model, start_string, generation_length=1000):
    model(torch.tensor([char2idx[s] for s in start_string]))
    return start_string


# ---------------------------------------------------------------- one mistake for each hint the judges give


def vectorize_one_short(string):
    return np.array([char2idx[c] for c in string[:-1]], dtype=np.int64)


def vectorize_whole_string_as_key(string):
    return np.array([char2idx[string]], dtype=np.int64)


def vectorize_digits(string):
    return "".join(str(char2idx[c]) for c in string)


def batch_with_starts(v, seq_length, batch_size):
    x, y = get_batch(v, seq_length, batch_size)
    return x, y, seq_length


def batch_reversed_rows(v, seq_length, batch_size):
    idx = np.random.choice(len(v) - seq_length - 1, batch_size)
    return torch.tensor(_windows(v, idx, seq_length, 0)[:, ::-1].copy()), torch.tensor(_windows(v, idx, seq_length, 1))


def batch_input_one_short(v, seq_length, batch_size):
    idx = np.random.choice(len(v) - seq_length - 1, batch_size)
    return torch.tensor(_windows(v, idx, seq_length - 1, 0)), torch.tensor(_windows(v, idx, seq_length, 1))


def batch_reseeded(v, seq_length, batch_size):
    np.random.seed(0)
    return get_batch(v, seq_length, batch_size)


def batch_from_the_start_only(v, seq_length, batch_size):
    idx = np.random.choice(min(len(v) - seq_length - 1, 100), batch_size)
    return torch.tensor(_windows(v, idx, seq_length, 0)), torch.tensor(_windows(v, idx, seq_length, 1))


class NotAModule:
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        self.embedding = nn.Embedding(vocab_size, embedding_dim)


class WrongEmbedding(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)


class TwoLSTMs(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.lstm2 = nn.LSTM(hidden_size, hidden_size, batch_first=True)


class TwoLayerLSTM(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=2, batch_first=True)


class WrongLinear(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.fc = nn.Linear(hidden_size, vocab_size + 1)


class ExtraLayer(LSTMModel):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__(vocab_size, embedding_dim, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)


class HiddenOnly(LSTMModel):
    def init_hidden(self, batch_size, device):
        return torch.zeros(1, batch_size, self.hidden_size, device=device)


class FlatState(LSTMModel):
    def init_hidden(self, batch_size, device):
        return (torch.zeros(batch_size, self.hidden_size, device=device),
                torch.zeros(batch_size, self.hidden_size, device=device))


class OnesState(LSTMModel):
    def init_hidden(self, batch_size, device):
        return (torch.ones(1, batch_size, self.hidden_size, device=device),
                torch.ones(1, batch_size, self.hidden_size, device=device))


class SeqFirstLogits(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        out, state = super().forward(x, state, True)
        return (out.transpose(0, 1), state) if return_state else out.transpose(0, 1)


class AlwaysReturnsState(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        return super().forward(x, state, True)


class LogSoftmaxLogits(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        out, state = super().forward(x, state, True)
        return (torch.log_softmax(out, -1), state) if return_state else torch.log_softmax(out, -1)


class DropsCellState(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        if state is not None:
            state = (state[0], torch.zeros_like(state[1]))
        return super().forward(x, state, return_state)


class StateFirst(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        out, state = super().forward(x, state, True)
        return (state, out) if return_state else out


class ReturnsGivenState(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        out = super().forward(x, state, False)
        return (out, state) if return_state else out


class MisspelledLayer(LSTMModel):
    def forward(self, x, state=None, return_state=False):
        return self.fc(self.lstm(self.embed(x), state)[0])


def loss_per_character(labels, logits):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), reduction="none")


def loss_in_a_list(labels, logits):
    return [compute_loss(labels, logits)]


def loss_without_gradient_path(labels, logits):
    return compute_loss(labels, logits.detach()) + 0 * logits.sum()


def step_twice(model, optimizer, x_batch, y_batch):
    optimizer.zero_grad()
    loss = compute_loss(y_batch, model(x_batch))
    loss.backward()
    optimizer.step()
    optimizer.step()
    return loss


def step_loss_arguments_swapped(model, optimizer, x_batch, y_batch):
    optimizer.zero_grad()
    loss = compute_loss(model(x_batch), y_batch)
    loss.backward()
    optimizer.step()
    return loss


def step_returns_nothing(model, optimizer, x_batch, y_batch):
    train_step(model, optimizer, x_batch, y_batch)


def step_reads_globals(x, y):  # the upstream train_step(x, y), not adapted to the lab's signature
    optimizer.zero_grad()  # noqa: F821 - the globals the lab passes in as arguments
    loss = compute_loss(y, model(x))  # noqa: F821
    loss.backward()
    optimizer.step()  # noqa: F821
    return loss


def generate_one_short(model, start_string, generation_length=1000):
    return generate_text(model, start_string, generation_length - 1)


def generate_cold(model, start_string, generation_length=1000):
    return generate_loop(model, start_string, generation_length, lambda logits: sample(logits / 0.4))


def generate_feeds_previous(model, start_string, generation_length=1000):
    input_idx = torch.tensor([[char2idx[s] for s in start_string]], dtype=torch.long)
    state, text = model.init_hidden(1, device), []
    previous = input_idx[:, -1:]
    for _ in range(generation_length):
        predictions, state = model(input_idx, state, return_state=True)
        predicted_idx = sample(predictions[0, -1, :])
        text.append(idx2char[predicted_idx.item()])
        input_idx, previous = previous, predicted_idx.view(1, 1)
    return start_string + "".join(text)


MISTAKES = [
    ("vectorize_string", vectorize_list, "returned a list", "vectorize_string.wrap"),
    ("vectorize_string", vectorize_float, "dtype float32, expected int64", "vectorize_string.int64"),
    ("vectorize_string", vectorize_own_mapping, "but char2idx[", "vectorize_string.look_up"),
    ("get_batch", batch_off_by_one, "shifted by 2 characters", "get_batch.off_by_one"),
    ("get_batch", batch_no_shift, "y_batch equals x_batch", "get_batch.next_character"),
    ("get_batch", batch_swapped, "x_batch and y_batch are swapped", "get_batch.y_ahead"),
    ("get_batch", batch_float, "dtype torch.float32, expected torch.long", "get_batch.long"),
    ("get_batch", batch_int32, "dtype torch.int32, expected torch.long", "get_batch.long"),
    ("get_batch", batch_lists, "x_batch is a list, expected a torch tensor", "get_batch.tensor"),
    ("get_batch", batch_transposed, "expected (batch_size, seq_length)", "get_batch.one_row_each"),
    ("get_batch", batch_not_random, "different start positions", "get_batch.start_each_row"),
    ("get_batch", batch_past_the_end, "i + seq_length + 1 <= len", "get_batch.recipe"),
    ("LSTMModel", NoEmbedding, "0 nn.Embedding layers", "LSTMModel.one_embedding"),
    ("LSTMModel", NoLinear, "0 nn.Linear layers", "LSTMModel.one_linear"),
    ("LSTMModel", NotBatchFirst, "batch_first=True", "LSTMModel.batch_first"),
    ("LSTMModel", IgnoresState, "forward ignores its `state` argument", "LSTMModel.state_if_none"),
    ("LSTMModel", IgnoresReturnState, "expected (logits, state)", "LSTMModel.return_state"),
    ("LSTMModel", WrongDevice, "torch.zeros(..., device=device)", "LSTMModel.on_device"),
    ("LSTMModel", UsesGRU, "nn.GRU, expected nn.LSTM", "LSTMModel.use_lstm"),
    ("compute_loss", loss_logits_not_flattened, "flatten logits to (batch*seq, vocab)", "compute_loss.recipe"),
    ("compute_loss", loss_labels_not_flattened, "flatten logits to (batch*seq, vocab)", "compute_loss.recipe"),
    ("compute_loss", loss_swapped, "flatten logits", "compute_loss.recipe"),
    ("compute_loss", loss_item, "returned a Python number", "compute_loss.keep_tensor"),
    ("compute_loss", loss_sum, "sums the loss over characters", "compute_loss.mean"),
    ("compute_loss", loss_detached, "no gradient flows", "compute_loss.torch_only"),
    ("train_step", step_no_zero_grad, "optimizer.zero_grad()", "train_step.zero_grad"),
    ("train_step", step_no_step, "did not change", "train_step.backward_step"),
    ("train_step", step_no_backward, "did not change", "train_step.backward_step"),
    ("train_step", step_swapped, "train_step returned loss", "train_step.loss"),
    ("train_step", step_returns_loss_after_update, "before optimizer.step()", "train_step.loss_before"),
    ("train_step", step_labels_from_x, "not x_batch", "train_step.labels"),
    ("get_batch", batch_target_one_short, "1 character short — hint: y = vectorized_songs[start+1:start+seq_length+1]", "get_batch.y_slice"),
    ("generate_text", generate_no_state, "state is not carried", "generate_text.keep_state"),
    ("generate_text", generate_reinit, "state is not carried", "generate_text.keep_state"),
    ("generate_text", generate_argmax, "that is argmax, not sampling", "generate_text.multinomial"),
    ("generate_text", generate_double_softmax, "zero probability", "generate_text.softmax"),
    ("generate_text", generate_no_start, "does not begin with start_string", "generate_text.return_text"),
    ("generate_text", generate_refeeds_start, "characters at a time", "generate_text.feed_one"),
    ("generate_text", generate_first_position, "does not follow the model's predictions", "generate_text.last_position"),
    ("generate_text", generate_without_batch_dim, "expects a LongTensor of shape (batch, seq)", "generate_text.recipe"),
    ("vectorize_string", untouched, "is not implemented yet", "not_implemented"),
    ("vectorize_string", vectorize_one_short, "expected (1,)", "vectorize_string.one_each"),
    ("vectorize_string", vectorize_whole_string_as_key, "raised KeyError", "vectorize_string.recipe"),
    ("vectorize_string", vectorize_digits, "returned a str", "vectorize_string.return_array"),
    ("get_batch", batch_with_starts, "expected a pair", "get_batch.return_pair"),
    ("get_batch", batch_reversed_rows, "not a run of consecutive characters", "get_batch.x_row"),
    ("get_batch", batch_input_one_short, "x_batch has shape", "get_batch.x_slice"),
    ("get_batch", batch_reseeded, "the same batch twice", "get_batch.new_starts"),
    ("get_batch", batch_from_the_start_only, "all start positions were below", "get_batch.whole_text"),
    ("LSTMModel", NotAModule, "not an nn.Module", "LSTMModel.module"),
    ("LSTMModel", WrongEmbedding, "the embedding is nn.Embedding(", "LSTMModel.embedding"),
    ("LSTMModel", TwoLSTMs, "2 recurrent", "LSTMModel.one_lstm"),
    ("LSTMModel", TwoLayerLSTM, "num_layers=2", "LSTMModel.lstm"),
    ("LSTMModel", WrongLinear, "the output layer is nn.Linear(", "LSTMModel.linear"),
    ("LSTMModel", ExtraLayer, "parameters, expected", "LSTMModel.three_layers"),
    ("LSTMModel", HiddenOnly, "expected a pair (h, c)", "LSTMModel.zeros_pair"),
    ("LSTMModel", FlatState, "init_hidden(", "LSTMModel.state_shape"),
    ("LSTMModel", OnesState, "non-zero", "LSTMModel.zeros"),
    ("LSTMModel", SeqFirstLogits, "gave logits of shape", "LSTMModel.layer_order"),
    ("LSTMModel", AlwaysReturnsState, "model(x) returned a tuple", "LSTMModel.logits_only"),
    ("LSTMModel", LogSoftmaxLogits, "logits differ from embedding -> LSTM -> linear", "LSTMModel.forward"),
    ("LSTMModel", DropsCellState, "model(x, state) logits differ", "LSTMModel.pass_state"),
    ("LSTMModel", StateFirst, "the first item is not the logits", "LSTMModel.logits_first"),
    ("LSTMModel", ReturnsGivenState, "the returned state is not the LSTM's new (h, c)", "LSTMModel.new_state"),
    ("LSTMModel", MisspelledLayer, "raised AttributeError", "LSTMModel.recipe"),
    ("compute_loss", loss_per_character, "expected a single number", "compute_loss.mean_all"),
    ("compute_loss", loss_in_a_list, "returned a list, expected a tensor", "compute_loss.return_tensor"),
    ("compute_loss", loss_without_gradient_path, "gradient on the logits differs", "compute_loss.flattened"),
    ("train_step", step_twice, "after one train_step differ", "train_step.order"),
    ("train_step", step_loss_arguments_swapped, "raised", "train_step.recipe"),
    ("train_step", step_returns_nothing, "returned a NoneType", "train_step.return_loss"),
    ("train_step", step_reads_globals, "takes 2 positional arguments", "signature"),
    ("generate_text", generate_one_short, "returned", "generate_text.length"),
    ("generate_text", generate_cold, "the sampled shares were", "generate_text.temperature"),
    ("generate_text", generate_feeds_previous, "does not follow the model's predictions", "generate_text.follow"),
]

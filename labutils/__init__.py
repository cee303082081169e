"""labutils: the tested helpers behind the RNN Music Lab notebooks."""

__version__ = "0.1.0"

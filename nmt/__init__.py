"""lstm-nmt: LSTM encoder-decoder machine translation on Keras 3."""

__version__ = "0.1.0"

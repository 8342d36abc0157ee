"""The names a caller chooses among, without torch: the command line offers them before anything loads.

>>> DEVICE_CHOICES, DTYPE_NAMES
(('auto', 'cuda', 'mps', 'cpu'), ('float32', 'float64'))
"""
DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
DTYPE_NAMES = ("float32", "float64")

__all__ = ["DEVICE_CHOICES", "DTYPE_NAMES"]

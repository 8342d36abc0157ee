"""Which device computes: CUDA first, then Apple's MPS, then the CPU.

>>> from explorer.device import resolve_device
>>> resolve_device("cpu")
device(type='cpu')
"""
from __future__ import annotations

import torch

from explorer.choices import DEVICE_CHOICES


def available_devices() -> list[str]:
    """The device types present on this machine, best first (always ends with ``"cpu"``)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def device_choices() -> tuple[str, ...]:
    """What a page offers: ``"auto"``, then the device types present here, best first.

    >>> device_choices()[0], device_choices()[-1]
    ('auto', 'cpu')
    """
    return ("auto", *available_devices())


def best_device() -> torch.device:
    """The best device present: CUDA, then MPS, then CPU."""
    return torch.device(available_devices()[0])


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Turn a device choice (``"auto"``, ``"cuda"``, ``"mps"``, ``"cpu"``) into a present device.

    Raises ``ValueError`` with a readable message for an unknown or absent device.
    """
    if isinstance(name, torch.device):
        name = name.type
    if name in (None, "", "auto"):
        return best_device()
    if name not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {name!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    if name not in available_devices():
        raise ValueError(f"device {name!r} is not present here; present: {', '.join(available_devices())}")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A one-line, human description of ``device`` (its model name where torch knows it)."""
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"

"""Fourier-domain losses of FECNet (Huang et al., ECCV 2022): L1 between spectrum amplitudes or phases."""

import torch
import torch.nn.functional as F
from torch import Tensor


def amplitude_l1(pred: Tensor, target: Tensor) -> Tensor:
    """Mean |(|FFT(pred)| − |FFT(target)|)| over the rfft2 bins (unnormalised 'backward' transform, as the
    release); pred, target (B,C,H,W)."""
    return F.l1_loss(torch.fft.rfft2(pred).abs(), torch.fft.rfft2(target).abs())


def phase_l1(pred: Tensor, target: Tensor) -> Tensor:
    """Mean |angle(FFT(pred)) − angle(FFT(target))| over the rfft2 bins (radians, unwrapped, as released)."""
    return F.l1_loss(torch.fft.rfft2(pred).angle(), torch.fft.rfft2(target).angle())

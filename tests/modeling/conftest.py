"""Fixtures for modeling tests: tiny random T5 configs saved in Hugging Face format."""

from __future__ import annotations

import pytest
import torch

from flankit.modeling.t5 import T5
from t5_testing import CONFIGS, small_config


@pytest.fixture(params=sorted(CONFIGS))
def saved_model(request, tmp_path):
    """(our model, folder it was saved to) for each architecture variant."""
    torch.manual_seed(0)
    model = T5(small_config(**CONFIGS[request.param])).eval()
    folder = tmp_path / request.param
    model.save_pretrained(folder)
    return model, folder

"""Shared layers: the scatter sum keeps half-precision messages in a float32 accumulator."""

import torch
from torch_geometric.data import Batch

from crystalbench.models.layers import scatter_sum


def test_scatter_sum_accumulates_half_precision_in_float32():
    ones = torch.ones(601, 1, dtype=torch.bfloat16)
    index = torch.zeros(601, dtype=torch.long)
    # 601 has no bfloat16 (8-bit mantissa) representation: a bfloat16 sum cannot be right
    assert torch.tensor(601.0).to(torch.bfloat16).item() != 601
    total = scatter_sum(ones, index, 1)
    assert total.dtype == torch.float32 and total.item() == 601
    for dtype in (torch.float32, torch.float64):  # full precision is summed as it is
        assert scatter_sum(ones.to(dtype), index, 1).dtype == dtype


def test_cogn_runs_under_bfloat16_autocast(demo_structures):
    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
    from crystalbench.crystal.symmetry import analyse_symmetry
    from crystalbench.models import build_model

    data = [CRYSTAL_GRAPHS.to_data(build_graph(
        s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers), GraphSpec("asu")))
        for s in demo_structures[:8]]
    batch = Batch.from_data_list(data)
    torch.manual_seed(0)
    model = build_model("cogn", {"width": 32, "blocks": 2})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
    exact = model(batch)
    assert torch.isfinite(out).all()
    assert torch.allclose(out.float(), exact, atol=0.05 * exact.abs().max().item() + 1e-3)

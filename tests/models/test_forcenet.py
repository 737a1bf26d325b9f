"""Force models (ForceNet and the SchNet / DimeNet++ force baselines) on small periodic
slabs with adsorbates, random weights, float64: shapes, cutoff check, translation and
permutation symmetry, rotation equivariance of the baselines and its absence in ForceNet,
gradients, bases, activations, element table and the parameter count at the defaults."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import add_adsorbate, bulk, fcc111
from pymatgen.core import Element
from scipy.spatial.transform import Rotation
from torch_geometric.data import Batch, Data

from crystalbench.core.graph_contract import GraphData
from crystalbench.core.neighbors import radius_limited_edges
from crystalbench.crystal.line_graph import angle_pairs
from crystalbench.models import FORCE_ARCHITECTURES, build_force_model, count_parameters
from crystalbench.models.forcenet import ForceNet, ForceNetConfig
from crystalbench.models.forcenet_basis import BASES, EdgeBasis
from crystalbench.models.forcenet_elements import (
    FORCENET_PROPERTIES,
    covalent_radius_table,
    forcenet_element_table,
)
from crystalbench.models.layers import ACTIVATIONS, activation, edge_pairs_at_target

CUTOFF = 6.0
SMALL = {
    "forcenet": dict(hidden=16, interactions=2, decoder_hidden=16, n_freqs=8),
    "schnet_forces": dict(width=16, filters=16, interactions=2, gaussians=16),
    "dimenetpp_forces": dict(width=16, out_emb=16, int_emb=8, basis_emb=4, blocks=2,
                             spherical=3, radial=4, output_init="glorot_orthogonal"),
}
BASELINES = ("schnet_forces", "dimenetpp_forces")


def slab_with_adsorbate() -> Atoms:
    slab = fcc111("Cu", (2, 2, 3), vacuum=5.0)
    add_adsorbate(slab, "O", 1.5, "fcc")
    add_adsorbate(slab, "H", 2.4, "ontop")
    return slab


def small_bulk() -> Atoms:
    return bulk("NaCl", "rocksalt", a=5.64)


def graph(atoms: Atoms, cutoff: float = CUTOFF) -> Data:
    """Full periodic cell (as the S2EF loader builds it), float64."""
    lattice = np.asarray(atoms.cell, dtype=np.float64)
    frac = atoms.get_scaled_positions(wrap=False)
    e = radius_limited_edges(lattice, frac, cutoff, 50)
    n = len(atoms)
    return Data(z=torch.tensor(atoms.numbers, dtype=torch.long),
                edge_index=torch.from_numpy(np.stack([e.src, e.dst])),
                edge_vec=torch.from_numpy(e.vec), multiplicity=torch.ones(n, dtype=torch.float64),
                num_nodes=n)


def run(model, data: list[Data]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return model(Batch.from_data_list(data))


def rotate(data: Data, rot: np.ndarray) -> Data:
    out = data.clone()
    out.edge_vec = data.edge_vec @ torch.from_numpy(rot).T
    return out


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def structures():
    return [slab_with_adsorbate(), small_bulk()]


@pytest.fixture(scope="module")
def graphs(structures):
    return [graph(a) for a in structures]


@pytest.fixture(scope="module", params=sorted(FORCE_ARCHITECTURES))
def model(request):
    torch.manual_seed(0)
    m = build_force_model(request.param, SMALL[request.param]).double().eval()
    m.architecture = request.param
    return m


def test_registry_builds_every_force_model():
    assert set(SMALL) == set(FORCE_ARCHITECTURES)
    with pytest.raises(ValueError, match="unknown force architecture"):
        build_force_model("forcenet2", {})


def test_shapes_and_batching(model, graphs):
    forces, energy = run(model, graphs)
    n = sum(g.num_nodes for g in graphs)
    assert forces.shape == (n, 3) and energy.shape == (2,)
    assert torch.isfinite(forces).all() and torch.isfinite(energy).all()
    assert forces.abs().max() > 0 and energy.abs().max() > 0
    # each structure's outputs do not depend on its batch-mates (no BatchNorm by default)
    alone = [run(model, [g]) for g in graphs]
    torch.testing.assert_close(forces, torch.cat([f for f, _ in alone]))
    torch.testing.assert_close(energy, torch.cat([e for _, e in alone]))


def test_translation_invariance(model, structures):
    for atoms in structures:
        moved = atoms.copy()
        moved.translate([0.37, -1.21, 0.58])
        moved.wrap()
        f0, e0 = run(model, [graph(atoms)])
        f1, e1 = run(model, [graph(moved)])
        torch.testing.assert_close(f1, f0)
        torch.testing.assert_close(e1, e0)


def test_permutation_equivariance(model, structures):
    rng = np.random.default_rng(3)
    for atoms in structures:
        perm = rng.permutation(len(atoms))
        f0, e0 = run(model, [graph(atoms)])
        f1, e1 = run(model, [graph(atoms[perm])])
        torch.testing.assert_close(f1, f0[perm])
        torch.testing.assert_close(e1, e0)


def rotation_errors(model, graphs, seed: int = 7) -> tuple[float, float]:
    """Worst relative error of F(Rx) vs R F(x) and of E(Rx) vs E(x) over 5 rotations."""
    f0, e0 = run(model, graphs)
    worst_f = worst_e = 0.0
    for rot in Rotation.random(5, random_state=seed).as_matrix():
        f1, e1 = run(model, [rotate(g, rot) for g in graphs])
        worst_f = max(worst_f, relative(f1, f0 @ torch.from_numpy(rot).T))
        worst_e = max(worst_e, relative(e1, e0))
    return worst_f, worst_e


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_rotation_equivariant(name, graphs):
    torch.manual_seed(0)
    model = build_force_model(name, SMALL[name]).double().eval()
    force_error, energy_error = rotation_errors(model, graphs)
    print(f"\n{name}: rotation error forces {force_error:.1e}, energy {energy_error:.1e}")
    assert force_error < 1e-5 and energy_error < 1e-5


def test_forcenet_not_rotation_equivariant(graphs):
    """ForceNet's premise: no built-in symmetry (the spherical harmonics see absolute
    directions), so random weights give visibly rotated-wrong forces and energies."""
    torch.manual_seed(0)
    model = ForceNet(ForceNetConfig(**SMALL["forcenet"])).double().eval()
    force_error, energy_error = rotation_errors(model, graphs)
    print(f"\nforcenet: rotation error forces {force_error:.1e}, energy {energy_error:.1e}")
    assert force_error > 1e-2
    assert energy_error > 1e-4


def test_forcenet_rejects_edge_beyond_cutoff(structures):
    model = ForceNet(ForceNetConfig(**SMALL["forcenet"])).double()
    with pytest.raises(ValueError, match="ForceNet has a 6.0 Å cutoff but the graph has an edge"):
        model(Batch.from_data_list([graph(structures[0], cutoff=7.0)]))


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_reject_edge_beyond_cutoff(name, structures):
    model = build_force_model(name, {**SMALL[name], "cutoff": 5.0}).double()
    with pytest.raises(ValueError, match="forces has a 5.0 Å cutoff"):
        model(Batch.from_data_list([graph(structures[0])]))


def test_forcenet_force_loss_reaches_every_parameter_but_the_energy_head(graphs):
    torch.manual_seed(0)
    model = ForceNet(ForceNetConfig(**SMALL["forcenet"])).double().train()
    forces, _ = model(Batch.from_data_list(graphs))
    (forces - torch.randn_like(forces)).pow(2).mean().backward()
    for name, p in model.named_parameters():
        if name.startswith("energy_head."):
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().max() > 0, name


@pytest.mark.parametrize("basis", BASES)
def test_every_basis_runs(basis, graphs):
    n_freqs = 8
    expected = {"powersine": 7 * n_freqs, "gauss": 7 * n_freqs, "linact": 7 * n_freqs,
                "raw": 7, "sphallmul": 9 * 4}
    cfg = ForceNetConfig(**{**SMALL["forcenet"], "n_freqs": n_freqs, "basis": basis})
    model = ForceNet(cfg).double().eval()
    assert model.edge_basis.out_dim == expected[basis]
    forces, energy = run(model, graphs)
    assert forces.shape == (sum(g.num_nodes for g in graphs), 3) and energy.shape == (2,)
    assert torch.isfinite(forces).all()


def test_edge_basis_values():
    unit = torch.tensor([[0.0, 0.0, 1.0], [0.6, 0.8, 0.0]], dtype=torch.float64)
    dist = torch.tensor([[0.5, 0.3, 0.2, 1e-3], [0.25, 0.1, 0.1, 1e-3]], dtype=torch.float64)
    sine = EdgeBasis("powersine", n_freqs=3, max_freq=1.21).double()(unit, dist)  # geometric
    raw = torch.cat([unit, dist], 1)
    expected = torch.sin(raw[:, :, None] * torch.tensor([1.0, 1.1, 1.21])).flatten(1)
    torch.testing.assert_close(sine, expected.double())
    gauss = EdgeBasis("gauss", n_freqs=5).double()(unit, dist)  # centres 0, .25, ..., 1
    assert gauss.shape == (2, 35)
    assert float(gauss[0, 2 * 5 + 4]) == pytest.approx(1.0)  # z=1 -> (1+1)/2 = 1 = last centre
    assert float(gauss[0, 2 * 5 + 3]) == pytest.approx(np.exp(-0.5))  # one spacing: gamma dmu^2
    assert EdgeBasis("sphallmul", max_n=4).out_dim == 16 * 4
    with pytest.raises(ValueError, match="unknown edge basis"):
        EdgeBasis("sphsinecat")


def test_activations():
    x = torch.linspace(-2, 2, 9)
    for name in ACTIVATIONS:
        y = activation(name)(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
    assert float(activation("ssp")(torch.zeros(1))) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="swish, relu"):
        activation("sigmoid")


def test_norm_options(graphs):
    for norm in ("layer", "none"):
        model = ForceNet(ForceNetConfig(**SMALL["forcenet"], norm=norm)).double().eval()
        assert torch.isfinite(run(model, graphs)[0]).all()
    with pytest.raises(ValueError, match="unknown norm"):
        ForceNet(ForceNetConfig(norm="group"))


def test_simple_atom_features(graphs):
    model = ForceNet(ForceNetConfig(**SMALL["forcenet"], atom_features="simple")).double()
    assert run(model, graphs)[0].shape[1] == 3


def test_parameter_count_at_reference_defaults():
    """ocp's layer shapes at hidden 512, 5 interactions, sphallmul (notes: ~11.36 M). The
    LayerNorms stand where ocp has BatchNorms, with the same 2 x 512 parameters each."""
    model = ForceNet(ForceNetConfig())
    h, basis = 512, 36

    def lin(i, o):
        return i * o + o

    per_block = (lin(basis, h) + lin(3 * h, h) + 2 * lin(h, h)  # edge embedding, filter MLP
                 + lin(h, h) + h  # x' and the self vector
                 + 2 * lin(h, h) + 2 * h)  # node MLP with its normalisation
    expected = (lin(9 * 50, h) + lin(4 * 50, 4) + 5 * per_block
                + lin(h, h) + lin(h, h) + 2 * h + lin(h, 3) + lin(h, 1))
    count = count_parameters(model)
    print(f"\nForceNet parameters at the defaults: {count:,}")
    assert count == expected
    assert abs(count - 11.36e6) < 0.01e6


def test_edge_pairs_match_numpy_line_graph(graphs):
    data = Batch.from_data_list(graphs)
    dst = data.edge_index[1]
    pairs = edge_pairs_at_target(dst, data.num_nodes)
    a, b = angle_pairs(dst.numpy(), data.num_nodes)
    np.testing.assert_array_equal(pairs.numpy(), np.stack([a, b]))
    # unsorted edges give the same pairs (as a set, in original edge numbering)
    perm = torch.randperm(len(dst), generator=torch.Generator().manual_seed(1))
    shuffled = edge_pairs_at_target(dst[perm], data.num_nodes)
    assert {tuple(p) for p in perm[shuffled].T.tolist()} == {tuple(p) for p in pairs.T.tolist()}


def test_dimenet_forces_use_stored_line_graph_when_present(graphs):
    torch.manual_seed(0)
    model = build_force_model("dimenetpp_forces", SMALL["dimenetpp_forces"]).double().eval()
    with_pairs = []
    for g in graphs:
        g = GraphData(**g.to_dict())  # batches angle_index by the edge count
        a, b = angle_pairs(g.edge_index[1].numpy(), g.num_nodes)
        g.angle_index = torch.from_numpy(np.stack([a, b]))
        with_pairs.append(g)
    f0, e0 = run(model, graphs)
    f1, e1 = run(model, with_pairs)
    torch.testing.assert_close(f1, f0)
    torch.testing.assert_close(e1, e0)


def test_element_table_from_pymatgen_and_ase():
    table = forcenet_element_table()
    assert table.shape == (119, len(FORCENET_PROPERTIES)) and np.isfinite(table).all()
    assert table.min() >= 0 and table.max() <= 1 and (table[0] == 0).all()
    known = [Element.from_Z(z).X for z in range(1, 119)]
    known = np.array([x for x in known if not np.isnan(x)])
    column = FORCENET_PROPERTIES.index("electronegativity")
    expected_o = (3.44 - known.min()) / (known.max() - known.min())
    assert table[8, column] == pytest.approx(expected_o, abs=1e-6)
    valence = FORCENET_PROPERTIES.index("valence_electrons")
    raw_valence = table[[26, 29, 30, 8], valence]  # Fe 8, Cu 1, Zn 2, O 6 (scaled)
    assert raw_valence[0] > raw_valence[3] > raw_valence[2] > raw_valence[1]
    radii = covalent_radius_table()
    assert radii[29] == pytest.approx(1.32) and radii[1] == pytest.approx(0.31)

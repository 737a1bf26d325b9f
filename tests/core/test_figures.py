import logging

import matplotlib.pyplot as plt

from crystalbench.core.figures import figure_title, panel_grid, save_figure, text_problems


def test_clean_figure_has_no_text_problems():
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set(xlabel="x (Å)", ylabel="y (eV)", title="a line")
    assert text_problems(fig) == []
    plt.close(fig)


def test_overlapping_and_escaping_text_is_found():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.5, 0.5, "second label", transform=ax.transAxes)
    fig.text(0.9, 0.5, "far beyond the right edge")
    problems = text_problems(fig)
    assert "'first label' overlaps 'second label'" in problems
    assert "'far beyond the right edge' leaves the figure" in problems
    plt.close(fig)


def test_long_titles_wrap_to_the_figure_and_problems_are_logged(tmp_path, caplog):
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    figure_title(fig, "an overly long title of a study that would run far past both edges "
                      "of a narrow figure if it were not wrapped\nsecond line")
    assert fig.get_suptitle().count("\n") >= 3 and text_problems(fig) == []
    ax.text(0.5, 0.5, "a", transform=ax.transAxes)
    ax.text(0.5, 0.5, "a", transform=ax.transAxes)
    with caplog.at_level(logging.WARNING, logger="crystalbench.core.figures"):
        save_figure(fig, [tmp_path / "f.png"])
    assert "f.png: 'a' overlaps 'a'" in caplog.text and (tmp_path / "f.png").exists()


def test_text_too_small_at_the_display_width_is_found():
    """The old five-panel parity figure (22 in, 3,300 px) shrinks its 10 pt labels to about
    6 px when shown 1,000 px wide; the same panels on a three-column grid stay readable."""
    wide, axes = plt.subplots(1, 5, figsize=(22, 4.8), layout="constrained")
    for ax in axes:
        ax.set(xlabel="true energy (eV/atom)")
    assert any("px high" in p for p in text_problems(wide))
    plt.close(wide)
    fig, axes = panel_grid(5)
    assert len(axes) == 5 and len(fig.axes) == 5 and fig.get_figwidth() <= 11
    for ax in axes:
        ax.set(xlabel="true energy (eV/atom)", title="model · graph")
    assert text_problems(fig) == []
    plt.close(fig)
